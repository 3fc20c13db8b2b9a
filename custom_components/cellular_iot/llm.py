"""LLM tools (HA 2026.8 and later): the intents, offered to LLM conversation agents.

Up to HA 2026.7, the Assist API made every registered intent a tool by itself, and
HA never loads this platform (the ``llm`` integration that loads it appeared in
2026.8). From 2026.8 an integration offers its own tools here: the same intent
handlers, named ``cellular_iot__<intent>``, only to the Assist API and only while one
of our devices is exposed to the assistant that asks. So on every release the tool
appears once.
"""

from __future__ import annotations

from homeassistant.components.homeassistant.exposed_entities import (
    async_should_expose,
)
from homeassistant.components.llm import (  # type: ignore[import-not-found,unused-ignore]
    LLMTools,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import intent
from homeassistant.helpers.llm import LLM_API_ASSIST, IntentTool, LLMContext, Tool

from .const import DOMAIN
from .intent import INTENTS, async_device_states


@callback
def async_get_tools(
    hass: HomeAssistant, llm_context: LLMContext, api_id: str
) -> LLMTools | None:
    """Return the send and last-message tools while a device is exposed."""
    if api_id != LLM_API_ASSIST:
        return None
    assistant = llm_context.assistant
    if assistant is None or not any(
        async_should_expose(hass, assistant, state.entity_id)
        for state in async_device_states(hass)
    ):
        return None
    tools: list[Tool] = []
    for handler in intent.async_get(hass):
        if handler.intent_type in INTENTS:
            # HA 2026.8 takes (name, handler); 2026.11 also takes integration= and
            # reports a tool without one. The attribute serves both.
            tool = IntentTool(f"{DOMAIN}__{handler.intent_type}", handler)
            tool.integration = DOMAIN  # type: ignore[attr-defined,unused-ignore]
            tools.append(tool)
    return LLMTools(tools=tools) if tools else None

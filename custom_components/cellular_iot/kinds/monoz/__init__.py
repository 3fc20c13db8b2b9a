"""The monoZ account: downlinks to its SIMs over REST or MQTT, through the outbox.

Setup proves the API key; with a broker, the MQTT client connects in the background
and its uplinks become events (``broker.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import json
from typing import Any, ClassVar, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from ...action_errors import invalid, label
from ...const import (
    ATTR_FORMAT,
    ATTR_ICCID,
    ATTR_MESSAGE,
    ATTR_QOS,
    ATTR_TOPIC,
    ATTR_VIA,
    CONF_ORG_ID,
    SERVICE_PUBLISH_DOWNLINK,
    SERVICE_SET_SIM_STATE,
    EntryKind,
)
from ...inbound_webhook import DeliveryFormat
from ...models import CellularIoTConfigEntry, CellularIoTData
from ...outbox import OutboxItem
from ...providers.deliveries import CONTENT_TYPES, parse_monoz
from ...providers.errors import (
    ProviderBadRequestError,
    ProviderError,
)
from ...providers.monoz import (
    FORMAT_JSON,
    FORMAT_TEXT,
    MAX_MESSAGE_BYTES,
    MAX_TOPIC_BYTES,
    downlink_topic,
    split_uplink_topic,
)
from ...providers.sim import SimStatus
from ...sim_status import SimInterval
from ..base import (
    AccountKind,
    ActionHandler,
    Operation,
    async_set_sim_state,
    async_submit,
    loaded_runtime,
    raise_setup_error,
)
from .broker import MONOZ_MQTT_OPERATION, MonozData, async_setup_monoz
from .flow import FLOW

MONOZ_REST: Final = "monoz_rest"
MONOZ_MQTT: Final = MONOZ_MQTT_OPERATION


async def monoz_rest(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """POST /{org}/Publish/Message."""
    runtime = loaded_runtime(entry, MonozData)
    params = item.params
    result = await runtime.client.publish_message(
        params["iccid"],
        params["message"],
        topic=params["topic"],
        qos=params["qos"],
        message_format=FORMAT_JSON if params["format"] == "json" else FORMAT_TEXT,
    )
    return {"result": result}


async def monoz_mqtt(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """Publish to /{org}/{iccid}/sub{topic}; a broker that is down is a passing fault."""
    runtime = loaded_runtime(entry, MonozData)
    if runtime.mqtt is None:
        raise ProviderBadRequestError(f"{entry.title} has no MQTT broker any more")
    params = item.params
    message_id = await runtime.mqtt.publish(
        params["mqtt_topic"], params["message"].encode(), params["qos"], queue=False
    )
    return {"message_id": message_id}


def _downlink_payload(hass: HomeAssistant, data: Mapping[str, Any]) -> tuple[str, str]:
    """Return the message as sent and its format (``json`` or ``text``)."""
    message = data[ATTR_MESSAGE]
    if isinstance(message, (dict, list)):
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        message_format = data.get(ATTR_FORMAT, "json")
    else:
        text = message
        message_format = data.get(ATTR_FORMAT, "text")
    # The size first: a text is parsed only when it may be sent (a deep nesting of
    # 100 KB would otherwise reach the parser's recursion limit).
    size = len(text.encode())
    if not 1 <= size <= MAX_MESSAGE_BYTES:
        raise invalid(
            "too_large" if size else "empty_text",
            field=label(hass, SERVICE_PUBLISH_DOWNLINK, ATTR_MESSAGE),
            size=size,
            max=MAX_MESSAGE_BYTES,
        )
    if message_format == "json" and not isinstance(message, (dict, list)):
        try:
            json.loads(text)
        except (ValueError, RecursionError):  # any parse failure is invalid JSON
            raise invalid("invalid_json") from None
    return text, message_format


async def _async_publish_downlink(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    runtime = entry.runtime_data
    assert isinstance(runtime, MonozData)
    text, message_format = _downlink_payload(hass, data)
    topic = downlink_topic(runtime.client.org_id, data[ATTR_ICCID], data[ATTR_TOPIC])
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        raise invalid("topic_too_long", max=MAX_TOPIC_BYTES)
    via = data.get(ATTR_VIA) or ("mqtt" if runtime.mqtt is not None else "rest")
    if via == "mqtt" and runtime.mqtt is None:
        raise invalid("mqtt_not_configured", title=entry.title)
    result = await async_submit(
        hass,
        entry,
        MONOZ_MQTT if via == "mqtt" else MONOZ_REST,
        SERVICE_PUBLISH_DOWNLINK,
        [f"iccid:{data[ATTR_ICCID]}"],
        {
            "iccid": data[ATTR_ICCID],
            "message": text,
            "topic": data[ATTR_TOPIC],
            "mqtt_topic": topic,
            "qos": data[ATTR_QOS],
            "format": message_format,
        },
    )
    response: dict[str, Any] = {
        "config_entry_id": entry.entry_id,
        "via": via,
        "iccid": data[ATTR_ICCID],
        "topic": topic,
        "qos": data[ATTR_QOS],
        "format": message_format,
        "message_id": None,
        "result": None,
    }
    response.update(result)
    return response


def _split_topic(data: Mapping[str, Any], topic: str) -> tuple[str | None, list[str]]:
    """Return the SIM a webhook message's topic names and its levels, as MQTT's."""
    return split_uplink_topic(str(data[CONF_ORG_ID]), topic)


class MonozKind(AccountKind):
    """monoZ:Link organizations."""

    key = EntryKind.MONOZ.value
    provider = "monoZ"
    platforms = (
        Platform.BINARY_SENSOR,
        Platform.EVENT,
        Platform.NOTIFY,
        Platform.SENSOR,
        Platform.SWITCH,
    )
    flow = FLOW
    # Two reads per SIM, Sim/Enable and the SIM detail (monoZ lists no SIMs and
    # publishes no limits; its SIM pages were hidden in 2025, so they may answer 404:
    # then nothing shows): every 30 minutes, the SIM's state being all it shows.
    sim_interval = SimInterval(minutes=30, per_device=2)
    sim_entities = frozenset({"sim_state"})
    sim_can_pause = True
    account_model = "monoZ:Link organization"
    device_model = "monoZ SIM"
    device_key = ATTR_ICCID
    id_fields = frozenset({ATTR_ICCID})
    delivery = DeliveryFormat(
        parse_monoz, CONTENT_TYPES["monoz"], split_topic=_split_topic
    )
    actions: ClassVar[Mapping[str, ActionHandler]] = {
        SERVICE_PUBLISH_DOWNLINK: _async_publish_downlink,
        SERVICE_SET_SIM_STATE: async_set_sim_state,
    }
    operations: ClassVar[Mapping[str, Operation]] = {
        MONOZ_REST: monoz_rest,
        MONOZ_MQTT: monoz_mqtt,
    }

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> MonozData:
        """Prove the API key; start the broker connection, if there is a broker."""
        try:
            return await async_setup_monoz(hass, entry)
        except ProviderError as err:
            raise_setup_error(err)

    async def async_disconnect(self, runtime: CellularIoTData) -> None:
        """Close the broker connection."""
        if runtime.broker is not None:
            await runtime.broker.stop()

    def account_diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the organization, the uplinks received and the broker connection."""
        assert isinstance(runtime, MonozData)
        state: dict[str, Any] = {
            "org_id": runtime.client.org_id,
            "messages_received": runtime.received,
            "mqtt": None,
        }
        if runtime.mqtt is not None:
            state["mqtt"] = {
                "host": runtime.mqtt.settings.host,
                "port": runtime.mqtt.settings.port,
                "tls": runtime.mqtt.settings.tls,
                "client_id": runtime.mqtt.settings.client_id,
                "connected": runtime.mqtt.connected,
                "connections": runtime.mqtt.connect_count,
                "session_present": runtime.mqtt.session_present,
                "problems": sorted(runtime.mqtt.problems),
                "last_error": runtime.mqtt.last_error,
                "uplink_topics": runtime.uplink_topics,
                "uplinks_dropped": runtime.uplinks_dropped,
                "dropped_bad_topic": runtime.mqtt.dropped,
            }
        return state

    def matches(self, event: Mapping[str, Any], provider_id: str) -> bool:
        """Match a SIM's messages by their ICCID."""
        return event.get("iccid") == provider_id

    async def async_fetch_sims(
        self, runtime: CellularIoTData, provider_ids: list[str]
    ) -> dict[str, SimStatus]:
        """Sim/Enable and the SIM detail per SIM (an unknown or hidden SIM is left out)."""
        assert isinstance(runtime, MonozData)
        return await runtime.client.sim_statuses(provider_ids)

    def credential_check(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[object]] | None:
        """Use the setup's probe (the SIM detail of an ICCID no SIM has: 404 is good)."""
        assert isinstance(runtime, MonozData)
        return runtime.client.validate

    async def async_set_sim_active(
        self,
        runtime: CellularIoTData,
        provider_id: str,
        sim: SimStatus | None,
        active: bool,
    ) -> None:
        """``PUT /{org}/Sim/Enable`` with the ICCID and ``Enable``."""
        assert isinstance(runtime, MonozData)
        await runtime.client.set_sim_active(provider_id, active)

    def notify_call(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, message: str
    ) -> tuple[str, dict[str, Any]]:
        """Send a downlink on the device's topic and QoS."""
        defaults = subentry.data
        return SERVICE_PUBLISH_DOWNLINK, {
            "config_entry_id": entry.entry_id,
            "iccid": self.provider_id(subentry),
            "message": message,
            "topic": defaults.get(ATTR_TOPIC, ""),
            "qos": defaults.get(ATTR_QOS, 0),
        }


MONOZ: Final = MonozKind()

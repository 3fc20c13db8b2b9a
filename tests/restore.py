"""Restore-state test helpers that work on every HA release we test.

HA 2026.11 keys its restore cache by entity registry id (``last_states_by_entity_id``
and ``last_states_by_entity_registry_id``); the newest test harness still fills and
reads ``last_states``, which that release no longer reads, so a restore test there
would silently restore nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_homeassistant_custom_component.common import (
    mock_restore_cache_with_extra_data,
)

from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er, restore_state as rs


def restore_cache(
    hass: HomeAssistant, states: Sequence[tuple[State, Mapping[str, Any]]]
) -> None:
    """What HA restores at the next start: these states with their extra data."""
    mock_restore_cache_with_extra_data(hass, states)
    data = hass.data[rs.DATA_RESTORE_STATE]
    if not hasattr(data, "last_states_by_entity_id"):
        return
    # HA 2026.11+: a state is found by the entity's registry id; one for an entity
    # not registered yet is moved there when its registry entry is created (what
    # RestoreStateData's own setup subscribes to, which the harness does not run).
    registry = er.async_get(hass)
    for entity_id, stored in data.last_states.items():
        if (entry := registry.async_get(entity_id)) is not None:
            stored.entity_registry_id = entry.id
            data.last_states_by_entity_registry_id[entry.id] = stored
        else:
            data.last_states_by_entity_id[entity_id] = stored

    @callback
    def _registered(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if event.data["action"] != "create":
            return
        entity_id = event.data["entity_id"]
        if (stored := data.last_states_by_entity_id.pop(entity_id, None)) is None:
            return
        entry = registry.async_get(entity_id)
        assert entry is not None
        stored.entity_registry_id = entry.id
        data.last_states_by_entity_registry_id[entry.id] = stored

    hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, _registered)


def stored_state(
    hass: HomeAssistant, data: rs.RestoreStateData, entity_id: str
) -> rs.StoredState:
    """The state HA stored for ``entity_id`` at shutdown."""
    if not hasattr(data, "last_states_by_entity_id"):
        return data.last_states[entity_id]  # type: ignore[attr-defined,no-any-return]
    entry = er.async_get(hass).async_get(entity_id)
    found = data.last_states_by_entity_id.get(entity_id)
    if entry is not None:
        found = data.last_states_by_entity_registry_id.get(entry.id, found)
    assert found is not None, entity_id
    return found

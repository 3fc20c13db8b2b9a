"""Sensors of the on-device listener: the last message and the message count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
import inspect
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .entity import (
    AccountEntity,
    DeviceEntity,
    ListenerEntity,
    async_add_device_entities,
)
from .events import preview
from .kinds import kind_of
from .models import CellularIoTConfigEntry
from .sim_entities import sim_sensors

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255
# The unit the message count had before it had none.
LEGACY_COUNT_UNIT = "messages"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the listener's sensors, or an account's outbox sensor."""
    if kind_of(entry).account:
        async_add_entities([OutboxSensor(entry, "outbox")])
        async_add_device_entities(
            entry,
            async_add_entities,
            lambda subentry: [
                DeviceLastMessageSensor(entry, subentry, "last_message"),
                DeviceLastHeardSensor(entry, subentry, "last_heard"),
                *sim_sensors(entry, subentry),
            ],
        )
        return
    async_add_entities(
        [
            LastMessageSensor(entry, "last_message"),
            MessagesReceivedSensor(entry, "messages_received"),
        ]
    )


def message_text(event: Mapping[str, Any]) -> str:
    """Return what a last-message sensor shows of a message (255 characters at most).

    Text without its trailing line breaks (``nc`` sends the line break of the line it
    read); a binary message as its base64. The event keeps the data as it came.
    """
    text = event.get("data")
    if text is None:
        return str(event.get("data_base64", ""))[:MAX_STATE_LENGTH]
    return str(text).rstrip("\r\n")[:MAX_STATE_LENGTH]


# The attributes of the last message: where and when it came from (no secrets).
_LAST_KEYS = ("remote", "received_at", "protocol", "truncated", "data_base64")


@dataclass(slots=True)
class LastMessageStoredData(ExtraStoredData):
    """What the listener's last-message sensor keeps across restarts."""

    text: str | None
    attributes: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {"text": self.text, "attributes": self.attributes}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> LastMessageStoredData | None:
        """Return the data a previous run stored, or None when it is not ours."""
        text, attributes = stored.get("text"), stored.get("attributes")
        if not isinstance(text, str | None) or not isinstance(attributes, dict):
            return None
        return cls(text, {k: v for k, v in attributes.items() if k in _LAST_KEYS})


class LastMessageSensor(ListenerEntity, SensorEntity, RestoreEntity):
    """The text of the last message (cut to 255 characters); metadata as attributes.

    Kept across restarts, with its attributes, until the next message arrives.
    """

    _restored: LastMessageStoredData | None = None

    async def async_added_to_hass(self) -> None:
        """Take up the last message a previous run showed."""
        await super().async_added_to_hass()
        if (extra := await self.async_get_last_extra_data()) is not None:
            self._restored = LastMessageStoredData.from_dict(extra.as_dict())

    @property
    def native_value(self) -> str | None:
        """Return the last message's text, or its base64 form when it is binary."""
        last = self.runtime.last_message
        if last is None:
            return self._restored.text if self._restored is not None else None
        return message_text(last)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return where and when the last message came from.

        A binary message adds the start of its base64 (252 characters at most).
        """
        last = self.runtime.last_message
        if last is None:
            return dict(self._restored.attributes) if self._restored else None
        return {key: value for key, value in preview(last).items() if key in _LAST_KEYS}

    @property
    def extra_restore_state_data(self) -> LastMessageStoredData:
        """Return what the next run shows until a message arrives."""
        return LastMessageStoredData(
            self.native_value, self.extra_state_attributes or {}
        )


class MessagesReceivedSensor(ListenerEntity, RestoreSensor):
    """How many messages arrived; kept across restarts.

    No unit: a count needs none (the name says what is counted), and a unit such as
    "messages" reads "1 messages".
    """

    _attr_state_class = SensorStateClass.TOTAL_INCREASING

    async def async_added_to_hass(self) -> None:
        """Continue counting from the last stored value."""
        await super().async_added_to_hass()
        last = await self.async_get_last_sensor_data()
        if last is not None and isinstance(last.native_value, (int, float)):
            self.runtime.received += int(last.native_value)
        if last is not None and last.native_unit_of_measurement == LEGACY_COUNT_UNIT:
            _drop_statistics_unit(self.hass, self.entity_id)

    @property
    def native_value(self) -> int:
        """Return the number of messages received."""
        return self.runtime.received


def _drop_statistics_unit(hass: HomeAssistant, statistic_id: str) -> None:
    """Give the count's long-term statistics no unit, as the sensor now has none.

    Otherwise the recorder stops compiling them ("the unit changed") until the user
    fixes them in Developer tools. The values stay as they are: a count is a count.
    """
    if "recorder" not in hass.config.components:
        return
    update = get_instance(hass).async_update_statistics_metadata
    if "new_unit_class" in inspect.signature(update).parameters:
        # Newer HA (2026.2, not 2025.4): the unit changes only with its class.
        update(statistic_id, new_unit_class=None, new_unit_of_measurement=None)
    else:
        update(statistic_id, new_unit_of_measurement=None)


class OutboxSensor(AccountEntity, SensorEntity):
    """How many sends wait in the account's outbox for a retry.

    Available while the provider is not: that is when sends wait.
    """

    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _follows_messages = False

    @property
    def native_value(self) -> int:
        """Return the queue depth."""
        outbox = getattr(self._entry.runtime_data, "outbox", None)
        return outbox.depth if outbox is not None else 0

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the oldest waiting send and the last error."""
        outbox = getattr(self._entry.runtime_data, "outbox", None)
        oldest = outbox.oldest if outbox is not None else None
        return {
            "oldest": dt_util.utc_from_timestamp(oldest.created).isoformat()
            if oldest is not None
            else None,
            "last_error": oldest.last_error if oldest is not None else None,
        }


class DeviceLastMessageSensor(DeviceEntity, RestoreSensor):
    """The text of the device's last message (cut to 255 characters)."""

    _attr_native_value: str | None = None

    async def async_added_to_hass(self) -> None:
        """Restore the last message after a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = (
                str(last.native_value) if last.native_value is not None else None
            )

    @callback
    def _on_device_message(self, event: dict[str, Any]) -> None:
        if event.get("data") is None:
            text = f"base64:{event.get('data_base64', '')}"[:MAX_STATE_LENGTH]
        else:
            text = message_text(event)
        self._attr_native_value = text
        self.async_write_ha_state()


class DeviceLastHeardSensor(DeviceEntity, RestoreSensor):
    """When the device was last heard from (its last inbound message)."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_native_value: datetime | None = None

    async def async_added_to_hass(self) -> None:
        """Restore the time after a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_sensor_data()) is not None and isinstance(
            last.native_value, datetime
        ):
            self._attr_native_value = last.native_value

    @callback
    def _on_device_message(self, event: dict[str, Any]) -> None:
        self._attr_native_value = (
            dt_util.parse_datetime(str(event.get("received_at"))) or dt_util.utcnow()
        )
        self.async_write_ha_state()

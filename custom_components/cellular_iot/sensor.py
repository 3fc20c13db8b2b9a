"""Sensors of the on-device listener: the last message and the message count."""

from __future__ import annotations

from datetime import datetime
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
from homeassistant.util import dt as dt_util

from .const import SUBENTRY_DEVICE
from .entity import AccountEntity, DeviceEntity, ListenerEntity
from .events import preview
from .models import CellularIoTConfigEntry, OnDeviceData

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the listener's sensors, or an account's outbox sensor."""
    if not isinstance(entry.runtime_data, OnDeviceData):
        async_add_entities([OutboxSensor(entry, "outbox")])
        for subentry in entry.subentries.values():
            if subentry.subentry_type == SUBENTRY_DEVICE:
                async_add_entities(
                    [
                        DeviceLastMessageSensor(entry, subentry, "last_message"),
                        DeviceLastHeardSensor(entry, subentry, "last_heard"),
                    ],
                    config_subentry_id=subentry.subentry_id,
                )
        return
    async_add_entities(
        [
            LastMessageSensor(entry, "last_message"),
            MessagesReceivedSensor(entry, "messages_received"),
        ]
    )


class LastMessageSensor(ListenerEntity, SensorEntity):
    """The text of the last message (cut to 255 characters); metadata as attributes."""

    @property
    def native_value(self) -> str | None:
        """Return the last message's text, or its base64 form when it is binary."""
        last = self.runtime.last_message
        if last is None:
            return None
        value = last["data"]
        if value is None:
            value = last.get("data_base64", "")
        return str(value)[:MAX_STATE_LENGTH]

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return where and when the last message came from.

        A binary message adds the start of its base64 (252 characters at most).
        """
        last = self.runtime.last_message
        if last is None:
            return None
        keys = ("remote", "received_at", "protocol", "truncated", "data_base64")
        return {key: value for key, value in preview(last).items() if key in keys}


class MessagesReceivedSensor(ListenerEntity, RestoreSensor):
    """How many messages arrived; kept across restarts."""

    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_native_unit_of_measurement = "messages"

    async def async_added_to_hass(self) -> None:
        """Continue counting from the last stored value."""
        await super().async_added_to_hass()
        last = await self.async_get_last_sensor_data()
        if last is not None and isinstance(last.native_value, (int, float)):
            self.runtime.received += int(last.native_value)

    @property
    def native_value(self) -> int:
        """Return the number of messages received."""
        return self.runtime.received


class OutboxSensor(AccountEntity, SensorEntity):
    """How many sends wait in the account's outbox for a retry."""

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
        text = event.get("data")
        if text is None:
            text = f"base64:{event.get('data_base64', '')}"
        self._attr_native_value = str(text)[:MAX_STATE_LENGTH]
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

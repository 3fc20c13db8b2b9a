"""The SIM behind each device: sensors, the online binary sensor, the pause switch.

Every one reads its account's :class:`~.coordinator.SimCoordinator`. Which ones a
device gets is its provider's (``AccountKind.sim_entities``): what that API
documents. They are unavailable while the last refresh failed, while the provider's
API cannot be reached (``availability``: a send or a check got no answer or a 5xx),
and while the provider says nothing of this device's SIM: what they would show is the
last refresh's word, which the provider can no longer confirm (a SIM paused
meanwhile must not read "Active"). The next refresh that works brings them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EntityCategory, UnitOfInformation
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .const import SUBENTRY_DEVICE
from .coordinator import SimCoordinator
from .entity import DeviceEntity, api_reachable
from .kinds import AccountKind, kind_of
from .models import AccountData, CellularIoTConfigEntry
from .providers._parse import as_count
from .providers.sim import (
    SIM_ACTIVE,
    SIM_PENDING,
    SIM_STATES,
    SIM_SUSPENDED,
    SMS_PENDING,
    SMS_STATES,
    SimStatus,
)

# How long a SIM switch shows the state asked for while the provider reports the
# SIM settled in the other one (a provider that is changing it, pending, holds it).
CONFIRM_WITHIN: Final = timedelta(minutes=2)


def _count(value: int | None) -> int | None:
    """Return a count a sensor can show (0..2**63 - 1); anything else is unknown."""
    return as_count(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class SimSensorKind:
    """One SIM sensor: its key (translation key too) and how it reads the SIM."""

    key: str
    value: Callable[[SimStatus], Any]
    device_class: SensorDeviceClass | None = None
    state_class: SensorStateClass | None = None
    unit: str | None = None
    suggested_unit: str | None = None
    options: tuple[str, ...] | None = None
    diagnostic: bool = False
    enabled: bool = True


SIM_SENSORS: tuple[SimSensorKind, ...] = (
    SimSensorKind(
        "sim_state",
        lambda sim: sim.state,
        device_class=SensorDeviceClass.ENUM,
        options=SIM_STATES,
    ),
    SimSensorKind(
        "data_used",
        lambda sim: _count(sim.data_used),
        device_class=SensorDeviceClass.DATA_SIZE,
        state_class=SensorStateClass.TOTAL,
        unit=UnitOfInformation.BYTES,
        suggested_unit=UnitOfInformation.MEGABYTES,
    ),
    SimSensorKind(
        "data_remaining",
        lambda sim: _count(sim.data_remaining),
        device_class=SensorDeviceClass.DATA_SIZE,
        state_class=SensorStateClass.MEASUREMENT,
        unit=UnitOfInformation.BYTES,
        suggested_unit=UnitOfInformation.MEGABYTES,
    ),
    SimSensorKind(
        "data_expiry",
        lambda sim: sim.data_expiry,
        device_class=SensorDeviceClass.TIMESTAMP,
    ),
    SimSensorKind(
        "sms_remaining",
        lambda sim: _count(sim.sms_remaining),
        state_class=SensorStateClass.MEASUREMENT,
    ),
    SimSensorKind(
        "sms_expiry",
        lambda sim: sim.sms_expiry,
        device_class=SensorDeviceClass.TIMESTAMP,
        enabled=False,
    ),
    SimSensorKind(
        "last_session",
        lambda sim: sim.last_session,
        device_class=SensorDeviceClass.TIMESTAMP,
    ),
    SimSensorKind(
        "sms_sent",
        lambda sim: _count(sim.sms_sent),
        state_class=SensorStateClass.TOTAL,
        enabled=False,
    ),
    SimSensorKind(
        "sms_received",
        lambda sim: _count(sim.sms_received),
        state_class=SensorStateClass.TOTAL,
        enabled=False,
    ),
    SimSensorKind("iccid", lambda sim: sim.iccid, diagnostic=True, enabled=False),
    SimSensorKind("imei", lambda sim: sim.imei, diagnostic=True, enabled=False),
    SimSensorKind("msisdn", lambda sim: sim.msisdn, diagnostic=True, enabled=False),
)


def sim_coordinator(entry: CellularIoTConfigEntry) -> SimCoordinator | None:
    """Return the account's SIM coordinator, if it polls SIMs."""
    runtime = getattr(entry, "runtime_data", None)
    return runtime.sims if isinstance(runtime, AccountData) else None


def device_subentries(entry: CellularIoTConfigEntry) -> list[ConfigSubentry]:
    """Return the account's devices (subentries)."""
    return [
        subentry
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_DEVICE
    ]


def sim_sensors(
    entry: CellularIoTConfigEntry, subentry: ConfigSubentry
) -> list[SensorEntity]:
    """Return the SIM sensors of one device of the account."""
    coordinator = sim_coordinator(entry)
    if coordinator is None:
        return []
    kind = kind_of(entry)
    assert isinstance(kind, AccountKind)
    found: list[SensorEntity] = [
        SimSensor(coordinator, entry, subentry, description)
        for description in SIM_SENSORS
        if description.key in kind.sim_entities
    ]
    if "sms_delivery" in kind.sim_entities:
        found.append(SmsDeliverySensor(coordinator, entry, subentry))
    return found


class SimEntity(CoordinatorEntity[SimCoordinator], DeviceEntity):
    """An entity of a device's SIM, read from the account's coordinator."""

    _follows_messages = False
    _follows_api = True

    def __init__(
        self,
        coordinator: SimCoordinator,
        entry: CellularIoTConfigEntry,
        subentry: ConfigSubentry,
        key: str,
    ) -> None:
        """Tie the entity to the device and the account's coordinator."""
        CoordinatorEntity.__init__(self, coordinator)
        DeviceEntity.__init__(self, entry, subentry, key)

    @property
    def sim(self) -> SimStatus | None:
        """The device's SIM as last refreshed (None: the provider said nothing)."""
        return (self.coordinator.data or {}).get(self.provider_id)

    @property
    def available(self) -> bool:
        """Available while the last refresh worked, the API answers, the SIM listed."""
        return self._refreshed and self.sim is not None

    @property
    def _refreshed(self) -> bool:
        """Whether the last refresh worked and the API still answers since."""
        return self.coordinator.last_update_success and api_reachable(self._entry)


class SimSensor(SimEntity, SensorEntity):
    """One value of the device's SIM."""

    def __init__(
        self,
        coordinator: SimCoordinator,
        entry: CellularIoTConfigEntry,
        subentry: ConfigSubentry,
        description: SimSensorKind,
    ) -> None:
        """Describe the sensor as its kind says."""
        super().__init__(coordinator, entry, subentry, description.key)
        self._description = description
        self._attr_device_class = description.device_class
        self._attr_state_class = description.state_class
        self._attr_native_unit_of_measurement = description.unit
        if description.suggested_unit is not None:
            # A data size: shown in the unit the provider counts in.
            self._attr_suggested_unit_of_measurement = self._kind.sim_data_unit
            self._attr_suggested_display_precision = 1
        if description.options is not None:
            self._attr_options = list(description.options)
        if description.diagnostic:
            self._attr_entity_category = EntityCategory.DIAGNOSTIC
        self._attr_entity_registry_enabled_default = description.enabled

    @property
    def native_value(self) -> Any:
        """Return the value the provider gave (None: it gave none)."""
        sim = self.sim
        return self._description.value(sim) if sim is not None else None

    @property
    def last_reset(self) -> datetime | None:
        """The start of the period the data used counts from."""
        sim = self.sim
        if self._description.key != "data_used" or sim is None:
            return None
        return sim.period_start

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The provider's own word for the state."""
        sim = self.sim
        if self._description.key != "sim_state" or sim is None:
            return None
        return {"provider_state": sim.provider_state}


class SmsDeliverySensor(SimEntity, SensorEntity):
    """The delivery state of the last SMS sent to the device (emnify)."""

    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = list(SMS_STATES)  # noqa: RUF012 (as HA declares it)

    def __init__(
        self,
        coordinator: SimCoordinator,
        entry: CellularIoTConfigEntry,
        subentry: ConfigSubentry,
    ) -> None:
        """Describe the sensor of one device."""
        super().__init__(coordinator, entry, subentry, "sms_delivery")

    @property
    def available(self) -> bool:
        """Available while the refreshes work (a device that got no SMS: unknown)."""
        return self._refreshed

    @property
    def native_value(self) -> str | None:
        """Return the last SMS's state (pending until emnify lists it)."""
        tracker = self.coordinator.sms
        last = tracker.last.get(self.provider_id) if tracker is not None else None
        if last is None:
            return None
        return last.status or SMS_PENDING

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The ids of the last SMS (emnify's, and the outbox's from the response)."""
        tracker = self.coordinator.sms
        last = tracker.last.get(self.provider_id) if tracker is not None else None
        if last is None:
            return None
        return {"sms_id": last.sms_id, **last.reference}


class SimOnlineBinarySensor(SimEntity, BinarySensorEntity):
    """On while the SIM has a data session or is attached (as the provider says)."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY

    @property
    def is_on(self) -> bool | None:
        """Return whether the SIM is online (None: the provider did not say)."""
        sim = self.sim
        return sim.online if sim is not None else None


class SimSwitch(SimEntity, SwitchEntity):
    """On: the SIM is active. Off pauses it (no data, no SMS) until turned on.

    A change the provider took shows at once as the requested state (its
    ``requested_state`` attribute says so), until a refresh reports the SIM in
    that state, or reports it settled otherwise once a refresh after
    :data:`CONFIRM_WITHIN` (a provider still changing it, ``pending``, keeps the
    requested state).

    A configuration entity: HA does not expose those to voice assistants by default,
    so "turn off all switches" does not pause every SIM (a user may expose it by
    name, under Settings → Voice assistants → Expose).
    """

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(
        self,
        coordinator: SimCoordinator,
        entry: CellularIoTConfigEntry,
        subentry: ConfigSubentry,
    ) -> None:
        """Describe the switch of one device's SIM."""
        super().__init__(coordinator, entry, subentry, "sim_active")
        # The state asked for and when, until the provider confirms it.
        self._requested: tuple[bool, datetime] | None = None

    @property
    def available(self) -> bool:
        """Available while the SIM's state can be changed, or a change is under way."""
        sim = self.sim
        return (
            super().available
            and sim is not None
            and (sim.can_pause or self._requested is not None)
        )

    @property
    def is_on(self) -> bool | None:
        """Return whether the SIM is active (or asked to be, until confirmed)."""
        if self._requested is not None:
            return self._requested[0]
        sim = self.sim
        return sim.state == SIM_ACTIVE if sim is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The state asked for, while the provider has not confirmed it."""
        if self._requested is None:
            return None
        return {"requested_state": SIM_ACTIVE if self._requested[0] else SIM_SUSPENDED}

    def _handle_coordinator_update(self) -> None:
        """Drop the requested state once the provider confirms or settles it."""
        if self._requested is not None:
            active, since = self._requested
            sim = self.sim
            wanted = SIM_ACTIVE if active else SIM_SUSPENDED
            settled = sim is not None and sim.state != SIM_PENDING
            if sim is not None and (
                sim.state == wanted
                or (settled and dt_util.utcnow() - since >= CONFIRM_WITHIN)
            ):
                self._requested = None
        super()._handle_coordinator_update()

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Resume the SIM."""
        await self._async_set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Pause the SIM."""
        await self._async_set(False)

    async def _async_set(self, active: bool) -> None:
        await self._kind.async_change_sim(
            self.hass, self._entry, self.provider_id, active
        )
        # Sent: show it now (the refresh that confirms it comes after a debounce).
        self._requested = (active, dt_util.utcnow())
        self.async_write_ha_state()
        await self.coordinator.async_request_refresh()

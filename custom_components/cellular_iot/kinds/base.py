"""What an entry kind is: the one interface the rest of the integration asks.

A kind (a provider account, or the on-device listener) is one object in
:data:`~.KINDS`, of a subclass of :class:`Kind`. It owns its setup and unload, its
runtime data, its diagnostics, its config-flow steps (``flow``), the actions it serves
and how it sends them, and how it names and targets its devices. ``__init__.py``,
``services.py``, ``diagnostics.py``, the device targets and the platforms ask the kind;
none of them branches on which kind it is.

:class:`AccountKind` is what the three provider accounts share: an outbox, an inbound
webhook, devices (config subentries) under an account device.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, ClassVar, Final, NoReturn, NotRequired, TypedDict

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntryChange,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.const import Platform, UnitOfInformation
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .. import discovery
from ..action_errors import invalid, label, provider_error
from ..const import (
    ATTR_DEVICE_ID,
    ATTR_EXPIRY,
    ATTR_MESSAGE,
    ATTR_PHONE_NUMBER,
    ATTR_PROVIDER_ID,
    ATTR_SENDER,
    ATTR_STATE,
    CONF_ORG_ID,
    CONF_WEBHOOK_ID,
    DOMAIN,
    LOGGER,
    SERVICE_SEND_SMS,
    SUBENTRY_DEVICE,
)
from ..coordinator import SimCoordinator
from ..inbound_webhook import DeliveryFormat, InboundWebhook
from ..models import AccountData, CellularIoTConfigEntry, CellularIoTData
from ..outbox import Outbox, OutboxItem, clear_auth_issue
from ..providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
)
from ..providers.listing import AccountDevices
from ..providers.sim import SIM_ACTIVE, SimStatus, SmsDelivery
from ..providers.sms import (
    PHONE_NUMBER,
    SmsPart,
    SmsTooLongError,
    encode_sms,
    sms_length,
)
from ..sim_status import SimInterval
from .flow import KindFlow

# An action the kind serves for one of its entries: (hass, entry, validated data) ->
# the action's response.
type ActionHandler = Callable[
    [HomeAssistant, CellularIoTConfigEntry, dict[str, Any]], Awaitable[dict[str, Any]]
]
# An action that needs no entry (hass, validated data) -> the response.
type StandaloneHandler = Callable[
    [HomeAssistant, dict[str, Any]], Awaitable[dict[str, Any]]
]
# A send the outbox performs (and retries): (entry, item) -> the response's fields.
type Operation = Callable[
    [CellularIoTConfigEntry, OutboxItem], Awaitable[dict[str, Any]]
]


class DeviceFields(TypedDict):
    """The fields our devices have: for ``DeviceInfo`` and for the registry alike."""

    identifiers: set[tuple[str, str]]
    name: str
    manufacturer: str
    model: str
    entry_type: NotRequired[DeviceEntryType]
    serial_number: NotRequired[str]


class Kind:
    """One entry kind. Subclasses set the class attributes and the setup."""

    # The entry's ``kind`` (an ``EntryKind`` value) and the provider's name as shown.
    key: ClassVar[str]
    provider: ClassVar[str]
    platforms: ClassVar[tuple[Platform, ...]]
    flow: ClassVar[KindFlow]
    # Whether entries of this kind are provider accounts (devices, webhook, outbox).
    account: ClassVar[bool] = False
    # The actions it serves for its entries, and those that need no entry.
    actions: ClassVar[Mapping[str, ActionHandler]] = {}
    standalone_actions: ClassVar[Mapping[str, StandaloneHandler]] = {}
    # The sends its outbox can retry, by operation name (stored with each send).
    operations: ClassVar[Mapping[str, Operation]] = {}
    # The subentry field holding a device's provider id (None: no devices).
    device_key: ClassVar[str | None] = None
    # The action fields that name its devices by their provider ids: an action
    # given one of these, and no account, is for an entry of a kind that takes it.
    id_fields: ClassVar[frozenset[str]] = frozenset()
    # Whether the options choose how inbound messages arrive (polling, webhook, both).
    inbound_modes: ClassVar[bool] = False
    # The keys of its entries' data that the diagnostics redact, beyond every
    # kind's (diagnostics.TO_REDACT): its credentials.
    redact: ClassVar[frozenset[str]] = frozenset()

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> CellularIoTData:
        """Connect (prove the credentials, bind the listener): the runtime data."""
        raise NotImplementedError

    async def async_prepare(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Once ``entry.runtime_data`` is set, before the platforms are set up."""

    @callback
    def async_start(self, hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
        """Last step of the setup, after the platforms."""

    async def async_unload_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Stop what the setup started (the platforms are unloaded already)."""

    async def async_remove_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Delete what the kind stored of a removed entry (beside the outbox)."""

    def diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the kind's runtime state for the diagnostics (redacted later)."""
        return {"kind": self.key}

    def device_info_fields(self, entry: CellularIoTConfigEntry) -> DeviceFields:
        """Return the entry's own device."""
        raise NotImplementedError


# The account kinds by key (for the actions every account kind serves alike).
_ACCOUNT_KINDS: dict[str, AccountKind] = {}


class AccountKind(Kind):
    """A provider account: devices as subentries, an inbound webhook, an outbox."""

    def __init__(self) -> None:
        """Register the kind for the actions all accounts share."""
        _ACCOUNT_KINDS[self.key] = self

    account = True
    # The account device's and each device's model in the device registry.
    account_model: ClassVar[str]
    device_model: ClassVar[str]
    device_key: ClassVar[str | None]
    delivery: ClassVar[DeliveryFormat]

    # The SIM API: how often the SIMs are read (None: no SIM API),
    # the SIM entities a device gets, and whether the SIM can be paused.
    sim_interval: ClassVar[SimInterval | None] = None
    sim_entities: ClassVar[frozenset[str]] = frozenset()
    sim_can_pause: ClassVar[bool] = False
    # The unit the data sensors are shown in: the one the provider counts in (its
    # portal's figures), MB (10**6 bytes) unless it counts in MiB.
    sim_data_unit: ClassVar[str] = UnitOfInformation.MEGABYTES

    async def async_prepare(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Load the outbox, register the webhook and the devices."""
        runtime = entry.runtime_data
        assert isinstance(runtime, AccountData)
        clear_auth_issue(hass, entry)
        runtime.outbox = Outbox(hass, entry)
        await runtime.outbox.async_load()
        if CONF_WEBHOOK_ID in entry.data and self.webhook_enabled(entry):
            runtime.webhook = InboundWebhook(hass, entry, self.delivery)
            runtime.webhook.register()
        self.async_register_devices(hass, entry)
        # The platforms set up the entities of these devices; the others come later.
        runtime.devices_set_up = {
            subentry.subentry_id
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_DEVICE
        }
        if self.device_ids(entry):
            # An account without devices polls nothing (until one is added).
            self._async_start_sims(hass, entry, runtime)

    @callback
    def _async_start_sims(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry, runtime: AccountData
    ) -> None:
        """Make the account's SIM coordinator, where the provider has a SIM API."""
        if self.sim_interval is None:
            return
        runtime.sims = SimCoordinator(
            hass,
            entry,
            provider=self.provider,
            interval=self.sim_interval,
            provider_ids=partial(self.device_ids, entry),
            fetch=partial(self.async_fetch_sims, runtime),
            list_sms=self.sms_lister(runtime),
            check_credentials=self.credential_check(runtime),
        )
        if runtime.webhook is not None:
            # Usage the provider streams moves the SIM sensors between refreshes.
            runtime.webhook.usage_sink = runtime.sims.async_apply_usage
            if runtime.sims.sms is not None:
                # Receipts the provider pushes update the SMS it follows at once.
                runtime.webhook.receipt_sink = runtime.sims.async_apply_receipts

    @callback
    def async_start(self, hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
        """Start the outbox's worker and the first SIM refresh.

        Last: a setup that fails before this leaves no worker behind to write the
        files the next attempt loads. The SIM refresh runs in the background: the
        SIM API being slow or down does not hold the account's setup (its entities
        stay unavailable until it answers).
        """
        runtime = entry.runtime_data
        entry.async_on_unload(
            async_dispatcher_connect(
                hass,
                SIGNAL_CONFIG_ENTRY_CHANGED,
                partial(self._async_entry_changed, hass, entry),
            )
        )
        if isinstance(runtime, AccountData) and runtime.outbox is not None:
            runtime.outbox.start()
        if isinstance(runtime, AccountData) and runtime.sims is not None:
            entry.async_create_task(
                hass, runtime.sims.async_refresh(), f"{entry.title} SIM refresh"
            )
        discovery.async_start_discovery(hass, entry, self)

    @callback
    def _async_entry_changed(
        self,
        hass: HomeAssistant,
        entry: CellularIoTConfigEntry,
        change: ConfigEntryChange,
        changed: CellularIoTConfigEntry,
    ) -> None:
        """Set up a device added to the loaded account, without reloading it.

        Its device is registered and linked to the account, each platform adds its
        entities, and its SIM is read. The entities of a device removed go with its
        subentry (HA clears them from the registries). The first device of an account
        with a SIM API starts its SIM polling.
        """
        if (
            changed is not entry
            or change is not ConfigEntryChange.UPDATED
            or entry.state is not ConfigEntryState.LOADED
        ):
            return
        runtime = entry.runtime_data
        assert isinstance(runtime, AccountData)
        devices = {
            subentry.subentry_id: subentry
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_DEVICE
        }
        added = [s for i, s in devices.items() if i not in runtime.devices_set_up]
        runtime.devices_set_up = set(devices)
        if not added:
            return
        if runtime.sims is None:
            self._async_start_sims(hass, entry, runtime)
        self.async_register_devices(hass, entry)
        for subentry in added:
            LOGGER.debug("Adding device %s to %s", subentry.title, entry.title)
            for add in runtime.device_adders:
                add(subentry)
        if runtime.sims is not None:
            entry.async_create_task(
                hass, runtime.sims.async_request_refresh(), f"{entry.title} SIM refresh"
            )

    def webhook_enabled(self, entry: CellularIoTConfigEntry) -> bool:
        """Whether the entry's inbound webhook takes deliveries (its options may say no)."""
        return True

    # --- SIMs -----------------------------------------------------------------------

    def device_ids(self, entry: CellularIoTConfigEntry) -> list[str]:
        """Return the provider ids of the account's devices."""
        return [
            self.provider_id(subentry)
            for subentry in entry.subentries.values()
            if self.device_key is not None and self.device_key in subentry.data
        ]

    async def async_fetch_sims(
        self, runtime: CellularIoTData, provider_ids: list[str]
    ) -> dict[str, SimStatus]:
        """Return the SIMs of these devices, in as few requests as the API allows."""
        raise NotImplementedError

    async def async_set_sim_active(
        self,
        runtime: CellularIoTData,
        provider_id: str,
        sim: SimStatus | None,
        active: bool,
    ) -> None:
        """Resume (``active``) or pause the SIM of a device."""
        raise NotImplementedError

    async def async_change_sim(
        self,
        hass: HomeAssistant,
        entry: CellularIoTConfigEntry,
        provider_id: str,
        active: bool,
    ) -> None:
        """Resume or pause a device's SIM, for the action and the switch.

        A refusal is the provider's translated error. The caller refreshes.
        """
        runtime = entry.runtime_data
        sims = runtime.sims if isinstance(runtime, AccountData) else None
        sim = (sims.data or {}).get(provider_id) if sims is not None else None
        try:
            await self.async_set_sim_active(runtime, provider_id, sim, active)
        except ProviderError as err:
            raise provider_error(hass, entry, err) from err

    def sms_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[str], Awaitable[list[SmsDelivery]]] | None:
        """Return how to list a device's SMS with their delivery state, if any."""
        return None

    def device_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[AccountDevices]] | None:
        """Return how to list every device of the account (discovery.py), if any.

        None: the provider lists no devices (they are typed when added).
        """
        return None

    def credential_check(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[object]] | None:
        """Return the cheapest call that proves the account's credentials.

        Made only after a SIM read was refused (401/403): re-authentication starts
        only if this call is refused too. None: every refusal counts.
        """
        return None

    async def async_unload_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Remove the webhook, stop the outbox, then disconnect."""
        runtime = entry.runtime_data
        assert isinstance(runtime, AccountData)
        if runtime.webhook is not None:
            runtime.webhook.unregister()
        if runtime.outbox is not None:
            await runtime.outbox.stop()
        await self.async_disconnect(runtime)

    async def async_disconnect(self, runtime: CellularIoTData) -> None:
        """Close what stays open after the outbox stopped (an MQTT connection)."""

    def diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the kind, the account's own state and its SIM polling."""
        result = {"kind": self.key, **self.account_diagnostics(runtime)}
        sims = runtime.sims if isinstance(runtime, AccountData) else None
        if sims is not None:
            result["sims"] = {
                "interval_minutes": sims.update_interval.total_seconds() / 60
                if sims.update_interval
                else None,
                "last_update_success": sims.last_update_success,
                "failures": sims.failures,
                "sims": [
                    {
                        "state": sim.state,
                        "provider_state": sim.provider_state,
                        "online": sim.online,
                        "data_used": sim.data_used,
                        "iccid": sim.iccid,
                        "imei": sim.imei,
                        "msisdn": sim.msisdn,
                    }
                    for sim in (sims.data or {}).values()
                ],
                "sms_followed": len(sims.sms.followed) if sims.sms is not None else 0,
            }
        return result

    def account_diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the account's own runtime state."""
        return {}

    # --- devices -------------------------------------------------------------------

    def device_info_fields(self, entry: CellularIoTConfigEntry) -> DeviceFields:
        """Return the account's own device (a service device)."""
        model = self.account_model
        if org_id := entry.data.get(CONF_ORG_ID):
            model = f"{model} {org_id}"
        return {
            "identifiers": {(DOMAIN, entry.entry_id)},
            "name": entry.title,
            "manufacturer": self.provider,
            "model": model,
            "entry_type": DeviceEntryType.SERVICE,
        }

    def provider_id(self, subentry: ConfigSubentry) -> str:
        """Return the provider's id of a device (a subentry)."""
        assert self.device_key is not None
        return str(subentry.data[self.device_key])

    def subentry_device_fields(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry
    ) -> DeviceFields:
        """One device of the account."""
        return {
            "identifiers": {(DOMAIN, f"{entry.entry_id}_{subentry.subentry_id}")},
            "name": subentry.title,
            "manufacturer": self.provider,
            "model": self.device_model,
            "serial_number": self.provider_id(subentry),
        }

    def matches(self, event: Mapping[str, Any], provider_id: str) -> bool:
        """Return whether an inbound message came from the device with that id."""
        return str(event.get("device_id")) == provider_id

    def notify_call(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, message: str
    ) -> tuple[str, dict[str, Any]]:
        """Return the action and its data that send ``message`` to the device."""
        raise NotImplementedError

    @callback
    def async_register_devices(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Register the account's device and its devices, each linked to the account.

        Done here, before the platforms add entities, so the link is made with
        ``async_update_device(via_device_id=...)``, which every supported HA has.
        """
        registry = dr.async_get(hass)
        account = registry.async_get_or_create(
            config_entry_id=entry.entry_id, **self.device_info_fields(entry)
        )
        for subentry in entry.subentries.values():
            device = registry.async_get_or_create(
                config_entry_id=entry.entry_id,
                config_subentry_id=subentry.subentry_id,
                **self.subentry_device_fields(entry, subentry),
            )
            if device.via_device_id != account.id:
                registry.async_update_device(device.id, via_device_id=account.id)


async def async_set_sim_state(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    """``set_sim_state``: pause or resume the SIM of one device, then refresh."""
    kind = _ACCOUNT_KINDS[entry.runtime_data.kind]
    runtime = entry.runtime_data
    assert isinstance(runtime, AccountData)
    provider_id = str(data[ATTR_PROVIDER_ID])
    if provider_id not in kind.device_ids(entry):
        raise invalid("sim_device_unknown", device=provider_id, title=entry.title)
    coordinator = runtime.sims
    if coordinator is None or not kind.sim_can_pause:
        raise invalid("sim_state_not_supported", provider=kind.provider)
    await kind.async_change_sim(
        hass, entry, provider_id, data[ATTR_STATE] == SIM_ACTIVE
    )
    await coordinator.async_refresh()
    after = (coordinator.data or {}).get(provider_id)
    return {
        "config_entry_id": entry.entry_id,
        "device_id": provider_id,
        "requested": data[ATTR_STATE],
        "sim_state": after.state if after is not None else None,
    }


async def async_submit(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    operation: str,
    action: str,
    targets: list[str],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Send through the entry's outbox: sent now, queued, or refused (raised)."""
    runtime = entry.runtime_data
    assert isinstance(runtime, AccountData)
    assert runtime.outbox is not None
    try:
        return await runtime.outbox.async_submit(operation, action, targets, params)
    except ProviderError as err:
        raise provider_error(hass, entry, err) from err


# The most parts one SMS is split into (a provider that does not split: one
# request each, emnify and 1NCE).
MAX_SMS_PARTS: Final = 32


def sms_parts_params(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the outbox parameters of an SMS sent in parts, from the action's data.

    GSM-7 or UCS-2 as the text allows, split into parts with their UDH; the sender
    a number (without its ``+``) or alphanumeric; the expiry as given.
    """
    message: str = data[ATTR_MESSAGE]
    try:
        parts = encode_sms(message, max_parts=MAX_SMS_PARTS)
    except SmsTooLongError as err:
        raise invalid("sms_too_long", parts=err.parts, max=err.max_parts) from None
    sender: str | None = data.get(ATTR_SENDER)
    alphanumeric = sender is not None and not PHONE_NUMBER.fullmatch(sender)
    return {
        "parts": [
            {"payload": part.payload, "dcs": part.dcs, "udh": part.udh}
            for part in parts
        ],
        "source_address": sender.lstrip("+") if sender and not alphanumeric else sender,
        "alphanumeric": alphanumeric,
        "expiry_date": data.get(ATTR_EXPIRY),
        "encoding": sms_length(message)[0],
    }


async def async_send_sms_parts(
    runtime: AccountData,
    item: OutboxItem,
    device_id: str,
    send: Callable[[SmsPart], Awaitable[str | None]],
) -> dict[str, Any]:
    """Send the parts of an SMS not sent yet, one request each (``send``).

    Progress is kept on the outbox item, so a retry sends only what is left. Each
    part is then followed by the id the provider gave it, from its delivery
    receipts and the device's SMS list (a part without one, by its text and time).
    """
    parts = item.params["parts"]
    sent: list[dict[str, Any]] = item.progress_record().setdefault("sent", [])
    for number in range(len(sent) + 1, len(parts) + 1):
        raw = parts[number - 1]
        part = SmsPart(payload=raw["payload"], dcs=raw.get("dcs"), udh=raw.get("udh"))
        sent.append({"part": number, "sms_id": await send(part)})
    if runtime.sims is not None and runtime.sims.sms is not None:
        runtime.sims.sms.follow(
            device_id,
            [raw["payload"] for raw in parts],
            {"outbox_id": item.id},
            [entry["sms_id"] for entry in sent],
        )
        runtime.sims.async_update_listeners()
    return {
        "encoding": item.params["encoding"],
        "parts": len(parts),
        "messages": sent,
        "outbox_id": item.id,
    }


def reject_fields(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    action: str,
    data: Mapping[str, Any],
    fields: tuple[str, ...],
) -> None:
    """Refuse the fields of an action that another provider's accounts use."""
    for field in fields:
        if field in data:
            raise invalid(
                "field_not_supported",
                title=entry.title,
                field=label(hass, action, field),
            )


def check_account_sms(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> None:
    """Refuse an SMS to a phone number: an account sends to its own devices."""
    if ATTR_PHONE_NUMBER in data:
        raise invalid(
            "phone_number_not_supported",
            title=entry.title,
            field=label(hass, SERVICE_SEND_SMS, ATTR_DEVICE_ID),
        )
    if ATTR_DEVICE_ID not in data:
        raise invalid("device_id_required")


def loaded_runtime[T: CellularIoTData](
    entry: CellularIoTConfigEntry, runtime_type: type[T]
) -> T:
    """Return the runtime data of a loaded entry; a send to an unloaded one waits.

    The outbox retries a ``ProviderConnectionError`` (the entry may be reloading).
    """
    runtime = getattr(entry, "runtime_data", None)
    if not isinstance(runtime, runtime_type):
        raise ProviderConnectionError(f"{entry.title} is not loaded")
    return runtime


def raise_setup_error(err: ProviderError) -> NoReturn:
    """Refused credentials start re-authentication; anything else retries later."""
    if isinstance(err, ProviderAuthError):
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    raise ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="cannot_connect",
        translation_placeholders={"error": err.reason},
    ) from err

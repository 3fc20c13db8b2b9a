"""The Hologram account: cloud messages and SMS to its devices, through the outbox.

Setup proves the API key (``GET /users/me``); the entities follow whether the API
answers. The device webhook action (``send_to_device_webhook``) needs no account: it
posts to a device's own webhook URL on dashboard.hologram.io.

Inbound (options, ``inbound_mode``): ``polling`` reads the account's messages from the
REST API (``poller.py``; every account can), ``webhook`` takes a route's deliveries
(routes are limited to certain legacy organizations), ``both`` does both and fires
each message once. New entries poll; entries made before polling existed keep their
webhook (no option stored: ``webhook``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, ClassVar, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ...action_errors import invalid
from ...availability import LINK_API, Reachability
from ...const import (
    ATTR_DATA,
    ATTR_DATA_BASE64,
    ATTR_DEVICE_ID,
    ATTR_DEVICE_IDS,
    ATTR_ENCRYPTED,
    ATTR_EXPIRY,
    ATTR_ICCID,
    ATTR_MESSAGE,
    ATTR_PORT,
    ATTR_PROTOCOL,
    ATTR_SEND_WHEN_ACTIVE,
    ATTR_SENDER,
    ATTR_WEBHOOK_URL,
    CONF_API_KEY,
    CONF_INBOUND_MODE,
    CONF_ORG_ID,
    CONF_SEND_AS,
    DOMAIN,
    INBOUND_BOTH,
    INBOUND_MODES,
    INBOUND_POLLING,
    INBOUND_WEBHOOK,
    SEND_AS_SMS,
    SERVICE_SEND_CLOUD_MESSAGE,
    SERVICE_SEND_SMS,
    SERVICE_SEND_TO_DEVICE_WEBHOOK,
    SERVICE_SET_SIM_STATE,
    EntryKind,
)
from ...inbound_webhook import DeliveryFormat
from ...models import CellularIoTConfigEntry, CellularIoTData
from ...outbox import OutboxItem
from ...providers.deliveries import CONTENT_TYPES, parse_hologram
from ...providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
)
from ...providers.hologram import (
    MAX_LISTED_DEVICES,
    CloudMessageResult,
    HologramClient,
    is_system_pause,
    send_to_device_webhook,
)
from ...providers.listing import AccountDevices
from ...providers.sim import SimStatus
from ...providers.sms import PHONE_NUMBER
from ...sim_status import SimInterval
from ..base import (
    AccountKind,
    ActionHandler,
    Operation,
    StandaloneHandler,
    async_set_sim_state,
    async_submit,
    check_account_sms,
    loaded_runtime,
    raise_setup_error,
    reject_fields,
)
from .data import HologramData
from .flow import FLOW
from .poller import HologramPoller, async_remove_state as async_remove_poll_state

HOLOGRAM_CLOUD_MESSAGE: Final = "hologram_cloud_message"
HOLOGRAM_SMS: Final = "hologram_sms"


# --- sends (outbox operations) ---------------------------------------------------------


def cloud_message_ids(results: list[CloudMessageResult]) -> list[dict[str, Any]]:
    """Return the devices a cloud message was queued for, with Hologram's ids."""
    return [
        {"device_id": result.device_id, "message_id": result.message_id}
        for result in results
    ]


async def hologram_cloud_message(
    entry: CellularIoTConfigEntry, item: OutboxItem
) -> dict[str, Any]:
    """POST /devices/messages for every device at once."""
    runtime = loaded_runtime(entry, HologramData)
    params = item.params
    results = await runtime.client.send_cloud_message(
        params["device_ids"],
        port=params["port"],
        protocol=params["protocol"],
        data=params.get("data"),
        data_base64=params.get("data_base64"),
        encrypted=params["encrypted"],
    )
    return {"messages": cloud_message_ids(results)}


async def hologram_sms(
    entry: CellularIoTConfigEntry, item: OutboxItem
) -> dict[str, Any]:
    """POST /sms/incoming to one device."""
    runtime = loaded_runtime(entry, HologramData)
    params = item.params
    result = await runtime.client.send_sms(
        [params["device_id"]], params["message"], from_number=params.get("sender")
    )
    count = result.get("msgcount") if isinstance(result, dict) else None
    return {"message_count": count if isinstance(count, int) else None}


# --- actions ---------------------------------------------------------------------------


async def _async_send_cloud_message(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    action = SERVICE_SEND_CLOUD_MESSAGE
    reject_fields(hass, entry, action, data, (ATTR_ICCID, ATTR_SEND_WHEN_ACTIVE))
    params = {
        "device_ids": data[ATTR_DEVICE_IDS],
        "port": data[ATTR_PORT],
        "protocol": data.get(ATTR_PROTOCOL, "TCP"),
        "data": data.get(ATTR_DATA),
        "data_base64": data.get(ATTR_DATA_BASE64),
        "encrypted": data[ATTR_ENCRYPTED],
    }
    targets = [f"device:{device_id}" for device_id in data[ATTR_DEVICE_IDS]]
    result = await async_submit(
        hass,
        entry,
        HOLOGRAM_CLOUD_MESSAGE,
        SERVICE_SEND_CLOUD_MESSAGE,
        targets,
        params,
    )
    return {"config_entry_id": entry.entry_id, **result}


async def _async_send_sms(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    reject_fields(hass, entry, SERVICE_SEND_SMS, data, (ATTR_ICCID,))
    check_account_sms(hass, entry, data)
    sender = data.get(ATTR_SENDER)
    if sender is not None and not PHONE_NUMBER.fullmatch(sender):
        raise invalid("invalid_sender", value=sender)
    if ATTR_EXPIRY in data:
        raise invalid("expiry_not_supported", title=entry.title)
    result = await async_submit(
        hass,
        entry,
        HOLOGRAM_SMS,
        SERVICE_SEND_SMS,
        [f"device:{data[ATTR_DEVICE_ID]}"],
        {
            "device_id": data[ATTR_DEVICE_ID],
            "message": data[ATTR_MESSAGE],
            "sender": sender,
        },
    )
    return {
        "config_entry_id": entry.entry_id,
        "device_id": data[ATTR_DEVICE_ID],
        **result,
    }


def _webhook_error(err: ProviderError) -> HomeAssistantError:
    """Return a fixed, translated error: nothing the answering server wrote."""
    placeholders: dict[str, str] = {}
    if isinstance(err, ProviderNotFoundError):
        key = "webhook_not_found"
    elif isinstance(err, ProviderRateLimitedError):
        key = "webhook_rate_limited"
    elif isinstance(err, ProviderConnectionError):
        key = "webhook_unreachable"
    else:
        key = "webhook_failed"
        placeholders["status"] = str(err.status) if err.status else "-"
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


async def _async_send_to_device_webhook(
    hass: HomeAssistant, data: dict[str, Any]
) -> dict[str, Any]:
    try:
        results = await send_to_device_webhook(
            async_get_clientsession(hass), data[ATTR_WEBHOOK_URL], data[ATTR_DATA]
        )
    except ProviderError as err:
        raise _webhook_error(err) from err
    return {"status": "sent", "messages": cloud_message_ids(results)}


# --- inbound ---------------------------------------------------------------------------


def inbound_mode(entry: CellularIoTConfigEntry) -> str:
    """How the entry's inbound messages arrive (no option: an entry of before, webhook)."""
    mode = entry.options.get(CONF_INBOUND_MODE)
    return mode if mode in INBOUND_MODES else INBOUND_WEBHOOK


# --- the kind --------------------------------------------------------------------------


class HologramKind(AccountKind):
    """Hologram accounts."""

    key = EntryKind.HOLOGRAM.value
    provider = "Hologram"
    platforms = (
        Platform.BINARY_SENSOR,
        Platform.EVENT,
        Platform.NOTIFY,
        Platform.SENSOR,
        Platform.SWITCH,
    )
    flow = FLOW
    # One GET /devices page per 100 devices a refresh: every 15 minutes (Hologram
    # publishes no numeric rate limit; docs/sim.md#polling says why 15).
    sim_interval = SimInterval(minutes=15, per_page=100)
    sim_entities = frozenset(
        {"sim_state", "online", "data_used", "last_session", "iccid", "msisdn"}
    )
    sim_can_pause = True
    account_model = "Hologram account"
    device_model = "Hologram device"
    device_key = ATTR_DEVICE_ID
    id_fields = frozenset({ATTR_DEVICE_ID, ATTR_DEVICE_IDS})
    delivery = DeliveryFormat(parse_hologram, CONTENT_TYPES["hologram"])
    actions: ClassVar[Mapping[str, ActionHandler]] = {
        SERVICE_SEND_CLOUD_MESSAGE: _async_send_cloud_message,
        SERVICE_SEND_SMS: _async_send_sms,
        SERVICE_SET_SIM_STATE: async_set_sim_state,
    }
    standalone_actions: ClassVar[Mapping[str, StandaloneHandler]] = {
        SERVICE_SEND_TO_DEVICE_WEBHOOK: _async_send_to_device_webhook
    }
    operations: ClassVar[Mapping[str, Operation]] = {
        HOLOGRAM_CLOUD_MESSAGE: hologram_cloud_message,
        HOLOGRAM_SMS: hologram_sms,
    }

    inbound_modes = True

    def webhook_enabled(self, entry: CellularIoTConfigEntry) -> bool:
        """Take deliveries on the webhook in the webhook and both modes."""
        return inbound_mode(entry) != INBOUND_POLLING

    async def async_prepare(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Load the message cursor (polling), then the webhook, outbox and devices.

        The webhook and the poller share the ids of the messages fired lately, so a
        message that comes both ways fires once.
        """
        runtime = entry.runtime_data
        assert isinstance(runtime, HologramData)
        mode = inbound_mode(entry)
        runtime.inbound_mode = mode
        poller: HologramPoller | None = None
        if mode in (INBOUND_POLLING, INBOUND_BOTH):
            poller = HologramPoller(hass, entry, runtime.client, mode=mode)
            await poller.async_load()
        await super().async_prepare(hass, entry)
        # (No await since the webhook was registered: no delivery comes in between.)
        if poller is not None:
            runtime.poller = poller
            if runtime.webhook is not None:
                poller.recent.add(runtime.webhook.recent.ids())
                runtime.webhook.recent = poller.recent

    @callback
    def async_start(self, hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
        """Start the outbox and the SIM refresh, then the first poll."""
        super().async_start(hass, entry)
        runtime = entry.runtime_data
        if isinstance(runtime, HologramData) and runtime.poller is not None:
            runtime.poller.start()

    async def async_remove_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Delete the stored cursor of the account's messages."""
        await async_remove_poll_state(hass, entry.entry_id)

    async def async_unload_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Stop polling (the cursor is written), then what every account stops."""
        runtime = entry.runtime_data
        if isinstance(runtime, HologramData) and runtime.poller is not None:
            await runtime.poller.async_stop()
        await super().async_unload_entry(hass, entry)

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> HologramData:
        """Prove the API key; follow whether the API answers."""
        client = HologramClient(
            async_get_clientsession(hass),
            entry.data[CONF_API_KEY],
            org_id=entry.data.get(CONF_ORG_ID),
        )
        try:
            user = await client.get_me()
        except ProviderError as err:
            raise_setup_error(err)
        runtime = HologramData(kind=EntryKind.HOLOGRAM, client=client, user=user)
        reachability = Reachability(hass, entry.entry_id, entry.title)
        reachability.add_link(LINK_API, "the Hologram API", probe=client.get_me)
        client.observer = partial(reachability.report, LINK_API)
        runtime.reachability = reachability
        entry.async_on_unload(reachability.stop)
        return runtime

    def account_diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the user and organization the key belongs to."""
        assert isinstance(runtime, HologramData)
        return {
            "user_id": runtime.user.user_id,
            "org_id": runtime.client.org_id,
            "email": runtime.user.email,
            "inbound_mode": runtime.inbound_mode,
            "polling": runtime.poller.diagnostics()
            if runtime.poller is not None
            else None,
        }

    async def async_fetch_sims(
        self, runtime: CellularIoTData, provider_ids: list[str]
    ) -> dict[str, SimStatus]:
        """Read the devices' SIMs from the device list (one request per page of 100)."""
        assert isinstance(runtime, HologramData)
        wanted = set(provider_ids)
        sims = await runtime.client.sim_statuses(
            [int(i) for i in wanted if i.isdecimal()]
        )
        return {key: sim for key, sim in sims.items() if key in wanted}

    def device_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[AccountDevices]] | None:
        """``GET /devices``, every page (up to the picker's 5,000 devices)."""
        assert isinstance(runtime, HologramData)
        client = runtime.client

        async def list_devices() -> AccountDevices:
            devices = await client.list_devices()
            return AccountDevices(
                {str(device.device_id): device.name for device in devices},
                complete=len(devices) < MAX_LISTED_DEVICES,
            )

        return list_devices

    def credential_check(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[object]] | None:
        """``GET /users/me``: the API key itself."""
        assert isinstance(runtime, HologramData)
        return runtime.client.get_me

    async def async_set_sim_active(
        self,
        runtime: CellularIoTData,
        provider_id: str,
        sim: SimStatus | None,
        active: bool,
    ) -> None:
        """``POST /devices/{id}/state`` with ``live`` or ``pause``.

        Not for a SIM Hologram paused itself (``PAUSED-SYS``): only Hologram
        resumes it, once the balance or limit is dealt with, so neither a resume
        nor a pause on top is sent; the switch is unavailable meanwhile.
        """
        assert isinstance(runtime, HologramData)
        if sim is not None and is_system_pause(sim.provider_state):
            raise invalid(
                "sim_paused_by_provider",
                device=provider_id,
                provider=self.provider,
                state=sim.provider_state,
            )
        await runtime.client.set_sim_active(int(provider_id), active)

    def notify_call(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, message: str
    ) -> tuple[str, dict[str, Any]]:
        """Send a cloud message on the device's port and protocol, or an SMS."""
        defaults = subentry.data
        device_id = int(self.provider_id(subentry))
        data: dict[str, Any] = {"config_entry_id": entry.entry_id}
        if defaults.get(CONF_SEND_AS) == SEND_AS_SMS:
            return SERVICE_SEND_SMS, {
                **data,
                "device_id": device_id,
                "message": message,
            }
        return SERVICE_SEND_CLOUD_MESSAGE, {
            **data,
            "device_ids": [device_id],
            "port": defaults.get(ATTR_PORT, 4010),
            "protocol": defaults.get(ATTR_PROTOCOL, "TCP"),
            "data": message,
        }


HOLOGRAM: Final = HologramKind()

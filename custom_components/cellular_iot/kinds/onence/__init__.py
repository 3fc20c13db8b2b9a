"""The 1NCE account: SMS and UDP downlinks to its SIMs, via the outbox.

Setup proves the API client's id and secret (1NCE's OAuth2 token endpoint); the
client keeps the token and renews it before it expires. Inbound, the account's
webhook takes what 1NCE posts: the SMS Forwarder (SMS from devices, and delivery
reports as PATCH), the Data Streamer (events, usage records, SMS events) and
1NCE OS telemetry (the devices' UDP/CoAP/LwM2M data).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform, UnitOfInformation
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ...action_errors import invalid, label
from ...availability import LINK_API, Reachability
from ...const import (
    ATTR_DATA,
    ATTR_DATA_BASE64,
    ATTR_DEVICE_ID,
    ATTR_DEVICE_IDS,
    ATTR_ICCID,
    ATTR_PORT,
    ATTR_PROTOCOL,
    ATTR_SEND_WHEN_ACTIVE,
    CONF_CLIENT_ID,
    SERVICE_SEND_CLOUD_MESSAGE,
    SERVICE_SEND_SMS,
    SERVICE_SET_SIM_STATE,
)
from ...inbound_webhook import DeliveryFormat
from ...models import AccountData, CellularIoTConfigEntry, CellularIoTData
from ...outbox import OutboxItem
from ...providers.deliveries import NO_CONTENT_TYPE
from ...providers.errors import ProviderError
from ...providers.listing import AccountDevices
from ...providers.onence import MAX_UDP_PAYLOAD_BYTES, OneNceClient, valid_iccid
from ...providers.onence_deliveries import (
    CONTENT_TYPES_1NCE,
    ONENCE_MAX_BODY_BYTES,
    parse_onence,
    parse_onence_receipts,
)
from ...providers.sim import SimStatus, SmsDelivery
from ...providers.sms import SmsPart
from ...sim_status import SimInterval
from ..base import (
    AccountKind,
    ActionHandler,
    Operation,
    async_send_sms_parts,
    async_set_sim_state,
    async_submit,
    loaded_runtime,
    raise_setup_error,
    reject_fields,
    sms_parts_params,
)
from .flow import CONF_CLIENT_SECRET, FLOW, KIND

ONENCE_SMS: Final = "1nce_sms"
ONENCE_UDP: Final = "1nce_udp"


@dataclass(slots=True)
class OneNceData(AccountData):
    """A loaded 1NCE account: its client (which keeps the token)."""

    client: OneNceClient


# --- sends (outbox operations) ---------------------------------------------------------


async def onence_sms(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """Send the SMS's parts not sent yet to the SIM, one request each.

    Each part is followed by the id 1NCE gave it (v2: the body; v1: Location).
    """
    runtime = loaded_runtime(entry, OneNceData)
    params = item.params

    async def send(part: SmsPart) -> str | None:
        return await runtime.client.send_sms(
            params["iccid"],
            part,
            source_address=params.get("source_address"),
            alphanumeric_sender=params.get("alphanumeric", False),
            expiry_date=params.get("expiry_date"),
        )

    return await async_send_sms_parts(runtime, item, params["iccid"], send)


async def onence_udp(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """Hand a UDP downlink to 1NCE OS (now, or when the device is next active)."""
    runtime = loaded_runtime(entry, OneNceData)
    params = item.params
    request_id = await runtime.client.send_udp(
        params["iccid"],
        params["payload"],
        base64_payload=params["base64"],
        port=params["port"],
        when_active=params["when_active"],
    )
    return {"request_id": request_id, "outbox_id": item.id}


# --- actions ---------------------------------------------------------------------------


def _iccid(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    action: str,
    data: dict[str, Any],
) -> str:
    """Return the ICCID an action names: ``iccid``, or ``device_id`` holding one."""
    if ATTR_ICCID in data and ATTR_DEVICE_ID in data:
        raise invalid("device_or_id", field=label(hass, action, ATTR_DEVICE_ID))
    value = data.get(ATTR_ICCID, data.get(ATTR_DEVICE_ID))
    if value is None:
        raise invalid("missing_field", field=label(hass, action, ATTR_ICCID))
    if not valid_iccid(str(value)):
        # (A check character after the digits, which monoZ takes, 1NCE does not.)
        raise invalid("invalid_iccid", value=value)
    return str(value)


async def _async_send_sms(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    action = SERVICE_SEND_SMS
    if "phone_number" in data:
        raise invalid(
            "phone_number_not_supported",
            title=entry.title,
            field=label(hass, action, ATTR_ICCID),
        )
    iccid = _iccid(hass, entry, action, data)
    params = sms_parts_params(data)
    result = await async_submit(
        hass, entry, ONENCE_SMS, action, [f"iccid:{iccid}"], {"iccid": iccid, **params}
    )
    return {
        "config_entry_id": entry.entry_id,
        "iccid": iccid,
        "encoding": params["encoding"],
        "parts": len(params["parts"]),
        **result,
    }


async def _async_send_udp(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    """``send_cloud_message`` to a 1NCE device: a UDP downlink through 1NCE OS."""
    action = SERVICE_SEND_CLOUD_MESSAGE
    reject_fields(hass, entry, action, data, (ATTR_DEVICE_IDS,))
    iccid = _iccid(hass, entry, action, data)
    if data.get(ATTR_PROTOCOL, "UDP") != "UDP":
        raise invalid(
            "protocol_not_supported",
            title=entry.title,
            protocol=data[ATTR_PROTOCOL],
            supported="UDP",
        )
    is_base64 = ATTR_DATA_BASE64 in data
    payload: str = data[ATTR_DATA_BASE64] if is_base64 else data[ATTR_DATA]
    size = len(base64.b64decode(payload) if is_base64 else payload.encode())
    if size > MAX_UDP_PAYLOAD_BYTES:
        raise invalid(
            "too_large",
            field=label(hass, action, ATTR_DATA_BASE64 if is_base64 else ATTR_DATA),
            size=size,
            max=MAX_UDP_PAYLOAD_BYTES,
        )
    result = await async_submit(
        hass,
        entry,
        ONENCE_UDP,
        action,
        [f"iccid:{iccid}"],
        {
            "iccid": iccid,
            "payload": payload,
            "base64": is_base64,
            "port": data[ATTR_PORT],
            "when_active": bool(data.get(ATTR_SEND_WHEN_ACTIVE, False)),
        },
    )
    return {"config_entry_id": entry.entry_id, "iccid": iccid, **result}


class OneNceKind(AccountKind):
    """1NCE accounts (one per 1NCE customer)."""

    key = KIND
    provider = "1NCE"
    platforms = (
        Platform.BINARY_SENSOR,
        Platform.EVENT,
        Platform.NOTIFY,
        Platform.SENSOR,
        Platform.SWITCH,
    )
    flow = FLOW
    # A refresh: GET /v2/sims (100 a page) plus three reads per SIM (its
    # connectivity, its data quota, its SMS quota). 1NCE allows 10 requests a second
    # per customer on /sims; the SIMs take at most half of that (1,500 in five
    # minutes, the client spacing its requests): every 15 minutes up to 1,495 SIMs,
    # longer beyond (docs/1nce.md#polling).
    sim_interval = SimInterval(minutes=15, per_page=100, per_device=3, budget=1500)
    sim_entities = frozenset(
        {
            "sim_state",
            "online",
            "data_used",
            "data_remaining",
            "data_expiry",
            "sms_remaining",
            "sms_expiry",
            "iccid",
            "imei",
            "msisdn",
            "sms_delivery",
        }
    )
    sim_can_pause = True
    # 1NCE counts volumes in MiB ("MiB - Binary unit based", its v2 docs).
    sim_data_unit = UnitOfInformation.MEBIBYTES
    account_model = "1NCE account"
    device_model = "1NCE SIM"
    device_key = ATTR_ICCID
    # device_id: an ICCID given there (of up to 19 digits) is taken too.
    id_fields = frozenset({ATTR_ICCID, ATTR_DEVICE_ID})
    redact = frozenset({CONF_CLIENT_ID, CONF_CLIENT_SECRET})
    # SMS delivery reports come as PATCH (the SMS Forwarder); the Data Streamer
    # posts up to 3,000 records at once.
    # 1NCE OS does not say which Content-Type its webhook sends ("JSON-Format"):
    # a body without one is read as JSON too, rather than refused until 1NCE
    # disables the integration.
    delivery = DeliveryFormat(
        parse_onence,
        CONTENT_TYPES_1NCE | {NO_CONTENT_TYPE},
        receipts=parse_onence_receipts,
        max_body_bytes=ONENCE_MAX_BODY_BYTES,
    )
    actions: ClassVar[Mapping[str, ActionHandler]] = {
        SERVICE_SEND_SMS: _async_send_sms,
        SERVICE_SEND_CLOUD_MESSAGE: _async_send_udp,
        SERVICE_SET_SIM_STATE: async_set_sim_state,
    }
    operations: ClassVar[Mapping[str, Operation]] = {
        ONENCE_SMS: onence_sms,
        ONENCE_UDP: onence_udp,
    }

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> OneNceData:
        """Prove the client id and secret; follow whether the API answers."""
        client = OneNceClient(
            async_get_clientsession(hass),
            entry.data[CONF_CLIENT_ID],
            entry.data[CONF_CLIENT_SECRET],
        )
        try:
            await client.authenticate()
        except ProviderError as err:
            raise_setup_error(err)
        runtime = OneNceData(kind=KIND, client=client)
        reachability = Reachability(hass, entry.entry_id, entry.title)
        reachability.add_link(LINK_API, "the 1NCE API", probe=client.reauthenticate)
        client.observer = partial(reachability.report, LINK_API)
        runtime.reachability = reachability
        entry.async_on_unload(reachability.stop)
        return runtime

    async def async_fetch_sims(
        self, runtime: CellularIoTData, provider_ids: list[str]
    ) -> dict[str, SimStatus]:
        """Read the SIM list, then each SIM's connectivity and quotas."""
        assert isinstance(runtime, OneNceData)
        return await runtime.client.sim_statuses(provider_ids)

    async def async_set_sim_active(
        self,
        runtime: CellularIoTData,
        provider_id: str,
        sim: SimStatus | None,
        active: bool,
    ) -> None:
        """``PUT /v2/sims/{iccid}`` with the status Enabled or Disabled."""
        assert isinstance(runtime, OneNceData)
        await runtime.client.set_sim_active(provider_id, active)

    def sms_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[str], Awaitable[list[SmsDelivery]]] | None:
        """``GET /v2/sims/{iccid}/sms``: the SMS and their delivery state."""
        assert isinstance(runtime, OneNceData)
        return runtime.client.list_sms

    def device_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[AccountDevices]] | None:
        """``GET /v2/sims``, every page: the account's SIMs."""
        assert isinstance(runtime, OneNceData)
        return runtime.client.list_sims

    def credential_check(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[object]] | None:
        """Ask for a new token: the client id and secret themselves."""
        assert isinstance(runtime, OneNceData)
        return runtime.client.reauthenticate

    def account_diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return how often the client asked for a token."""
        assert isinstance(runtime, OneNceData)
        return {"token_requests": runtime.client.token_requests}

    def matches(self, event: Mapping[str, Any], provider_id: str) -> bool:
        """Match a SIM's messages by their ICCID."""
        return event.get("iccid") == provider_id

    def notify_call(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, message: str
    ) -> tuple[str, dict[str, Any]]:
        """Send an SMS to the SIM."""
        return SERVICE_SEND_SMS, {
            "config_entry_id": entry.entry_id,
            "iccid": self.provider_id(subentry),
            "message": message,
        }


ONENCE: Final = OneNceKind()

"""The emnify account: SMS to its endpoints (one request per part), via the outbox.

Setup proves the application token (``POST /authenticate``); the client keeps the
auth token and renews it. The entities follow whether the API answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ...action_errors import invalid
from ...availability import LINK_API, Reachability
from ...const import (
    ATTR_DEVICE_ID,
    ATTR_ICCID,
    CONF_APPLICATION_TOKEN,
    SERVICE_SEND_SMS,
    SERVICE_SET_SIM_STATE,
    EntryKind,
)
from ...inbound_webhook import DeliveryFormat
from ...models import AccountData, CellularIoTConfigEntry, CellularIoTData
from ...outbox import OutboxItem
from ...providers.deliveries import (
    CONTENT_TYPES,
    EMNIFY_MAX_BODY_BYTES,
    parse_emnify,
    parse_emnify_receipts,
)
from ...providers.emnify import EmnifyClient
from ...providers.errors import ProviderError
from ...providers.listing import AccountDevices
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
    check_account_sms,
    loaded_runtime,
    raise_setup_error,
    reject_fields,
    sms_parts_params,
)
from .flow import FLOW

EMNIFY_SMS: Final = "emnify_sms"


@dataclass(slots=True)
class EmnifyData(AccountData):
    """A loaded emnify account: its client (which caches the auth token)."""

    client: EmnifyClient


async def emnify_sms(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """Send the SMS's parts not sent yet to the endpoint, one request each.

    Each part is followed by the id emnify gave it (its 201's Location).
    """
    runtime = loaded_runtime(entry, EmnifyData)
    params = item.params

    async def send(part: SmsPart) -> str | None:
        result = await runtime.client.send_sms(
            params["device_id"],
            [part],
            source_address=params.get("source_address"),
            alphanumeric_sender=params.get("alphanumeric", False),
            expiry_date=params.get("expiry_date"),
        )
        return result[0].sms_id

    return await async_send_sms_parts(runtime, item, str(params["device_id"]), send)


async def _async_send_sms(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    reject_fields(hass, entry, SERVICE_SEND_SMS, data, (ATTR_ICCID,))
    check_account_sms(hass, entry, data)
    params = sms_parts_params(data)
    result = await async_submit(
        hass,
        entry,
        EMNIFY_SMS,
        SERVICE_SEND_SMS,
        [f"endpoint:{data[ATTR_DEVICE_ID]}"],
        {"device_id": data[ATTR_DEVICE_ID], **params},
    )
    return {
        "config_entry_id": entry.entry_id,
        "device_id": data[ATTR_DEVICE_ID],
        "encoding": params["encoding"],
        "parts": len(params["parts"]),
        **result,
    }


class EmnifyKind(AccountKind):
    """emnify organizations."""

    key = EntryKind.EMNIFY.value
    provider = "emnify"
    platforms = (
        Platform.BINARY_SENSOR,
        Platform.EVENT,
        Platform.NOTIFY,
        Platform.SENSOR,
        Platform.SWITCH,
    )
    flow = FLOW
    # A refresh: GET /endpoint (1,000 a page; an endpoint further on than those
    # pages may cost one read of its own) plus /connectivity and /stats per
    # endpoint. emnify allows 2,000 requests per IP in 5 minutes; the SIMs take at
    # most half of that, the rest is left for sending (see SimInterval.budget):
    # every 15 minutes up to 999 endpoints, longer beyond (docs/sim.md#polling).
    sim_interval = SimInterval(minutes=15, per_page=1000, per_device=3, budget=1000)
    sim_entities = frozenset(
        {
            "sim_state",
            "online",
            "data_used",
            "iccid",
            "imei",
            "msisdn",
            "sms_sent",
            "sms_received",
            "sms_delivery",
        }
    )
    sim_can_pause = True
    account_model = "emnify organization"
    device_model = "emnify endpoint"
    device_key = ATTR_DEVICE_ID
    id_fields = frozenset({ATTR_DEVICE_ID})
    # Data Streamer bulks are larger than any other delivery; SMS delivery receipts
    # come as PATCH.
    delivery = DeliveryFormat(
        parse_emnify,
        CONTENT_TYPES["emnify"],
        receipts=parse_emnify_receipts,
        max_body_bytes=EMNIFY_MAX_BODY_BYTES,
    )
    actions: ClassVar[Mapping[str, ActionHandler]] = {
        SERVICE_SEND_SMS: _async_send_sms,
        SERVICE_SET_SIM_STATE: async_set_sim_state,
    }
    operations: ClassVar[Mapping[str, Operation]] = {EMNIFY_SMS: emnify_sms}

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> EmnifyData:
        """Prove the application token; follow whether the API answers."""
        client = EmnifyClient(
            async_get_clientsession(hass), entry.data[CONF_APPLICATION_TOKEN]
        )
        try:
            await client.authenticate()
        except ProviderError as err:
            raise_setup_error(err)
        runtime = EmnifyData(kind=EntryKind.EMNIFY, client=client)
        reachability = Reachability(hass, entry.entry_id, entry.title)
        reachability.add_link(LINK_API, "the emnify API", probe=client.reauthenticate)
        client.observer = partial(reachability.report, LINK_API)
        runtime.reachability = reachability
        entry.async_on_unload(reachability.stop)
        return runtime

    async def async_fetch_sims(
        self, runtime: CellularIoTData, provider_ids: list[str]
    ) -> dict[str, SimStatus]:
        """Read the endpoint list, then each endpoint's connectivity and stats."""
        assert isinstance(runtime, EmnifyData)
        return await runtime.client.sim_statuses([int(i) for i in provider_ids])

    async def async_set_sim_active(
        self,
        runtime: CellularIoTData,
        provider_id: str,
        sim: SimStatus | None,
        active: bool,
    ) -> None:
        """Enable or disable the endpoint, then activate or suspend its SIM."""
        assert isinstance(runtime, EmnifyData)
        if sim is None or sim.sim_id is None:
            raise invalid("sim_not_known_yet", device=provider_id)
        await runtime.client.set_sim_active(int(provider_id), int(sim.sim_id), active)

    def sms_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[str], Awaitable[list[SmsDelivery]]] | None:
        """``GET /endpoint/{id}/sms``: the SMS and their delivery state."""
        assert isinstance(runtime, EmnifyData)
        client = runtime.client

        async def list_sms(device_id: str) -> list[SmsDelivery]:
            return await client.list_sms(int(device_id))

        return list_sms

    def device_lister(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[AccountDevices]] | None:
        """``GET /endpoint``, every page: the organization's endpoints."""
        assert isinstance(runtime, EmnifyData)
        return runtime.client.list_endpoints

    def credential_check(
        self, runtime: CellularIoTData
    ) -> Callable[[], Awaitable[object]] | None:
        """``POST /authenticate``: the application token itself."""
        assert isinstance(runtime, EmnifyData)
        return runtime.client.reauthenticate

    def account_diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the organization and how often the client authenticated."""
        assert isinstance(runtime, EmnifyData)
        return {
            "org_id": runtime.client.account.org_id,
            "authentications": runtime.client.authentications,
        }

    def notify_call(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, message: str
    ) -> tuple[str, dict[str, Any]]:
        """Send an SMS to the endpoint."""
        return SERVICE_SEND_SMS, {
            "config_entry_id": entry.entry_id,
            "device_id": int(self.provider_id(subentry)),
            "message": message,
        }


EMNIFY: Final = EmnifyKind()

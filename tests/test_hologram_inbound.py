"""Hologram inbound as Hologram really sends it (issue 24, rows 4 and 5).

Row 4: system records (``_DATALIMIT_``, ``_IMEI_FIRST_``) and a device's SMS replies
(``_SMS_DO_``) are ordinary records; the event keeps every topic and says its
``kind``. Row 5: routes are limited to certain legacy organizations, so an account
reads its messages from ``GET /api/1/csr/rdm`` on a stored cursor.

The recordings: tests/fixtures/recorded/hologram/csr_rdm_docs_example.yaml
(docs.hologram.io's "List Data Engine Messages" example) and csr_rdm_sms_reply.yaml
(help.hologram.io's SMS reply in the log history).
"""

from __future__ import annotations

from datetime import timedelta
import json
import re
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.kinds.hologram import poller as poller_module
from custom_components.cellular_iot.kinds.hologram.poller import HologramPoller
from custom_components.cellular_iot.providers.deliveries import parse_hologram
from custom_components.cellular_iot.providers.errors import ProviderResponseError
from custom_components.cellular_iot.providers.hologram import HologramClient
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from . import recorded
from .conftest import API_KEY, hologram_entry, record_events, setup_entry
from .fakes.hologram import FakeHologram

RECORDED_BASE = "https://dashboard.hologram.io/api/1"
WEBHOOK_ID = "b" * 64
SECRET = "s3cret-webhook-token-0123456789"
DATALIMIT_TEXT = (
    '{"deviceid":1827718,"plan_amount":0,"overage_limit":15000,"planid":202,'
    '"msg":"Device 1827718 paused due to data limit"}'
)
IMEI_TEXT = (
    '{"new_imei": "352656109207277", "msg": "Device 1876148 first attach with '
    '352656109207277"}'
)


def _events(hass: HomeAssistant) -> list[Event]:
    return record_events(hass, EVENT_MESSAGE_RECEIVED)


def _account(mode: str | None, **options: Any) -> MockConfigEntry:
    """A Hologram account with its webhook, in an inbound mode (None: of before)."""
    entry = hologram_entry()
    opts: dict[str, Any] = {"webhook_secret": SECRET, **options}
    if mode is not None:
        opts["inbound_mode"] = mode
    return MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        data={**entry.data, "webhook_id": WEBHOOK_ID},
        options=opts,
        unique_id=entry.unique_id,
    )


def _poller(entry: MockConfigEntry) -> HologramPoller:
    poller = entry.runtime_data.poller  # type: ignore[attr-defined]
    assert isinstance(poller, HologramPoller)
    return poller


# --- row 4: the records as recorded, through the real parser ---------------------------


def _docs_records() -> list[dict[str, Any]]:
    rec = recorded.load("hologram", "csr_rdm_docs_example.yaml")
    body = json.loads(rec.find("GET", "/csr/rdm").response.body)
    records: list[dict[str, Any]] = body["data"]
    return records


def test_recorded_system_records_are_kind_system_with_their_topics() -> None:
    datalimit, imei = _docs_records()
    (message,) = parse_hologram(datalimit)
    assert message.topics == ["_DATALIMIT_", "_DEVICE_1827718_"]
    assert message.extra["kind"] == "system"
    assert message.payload.decode() == DATALIMIT_TEXT
    assert message.message_id == "c5e2e5a8-5b0b-11ed-90a8-0242ac110003"
    assert message.device_id == "1827718"
    assert message.extra["device_name"] == "Unnamed Device (21680)"
    (message,) = parse_hologram(imei)
    assert message.topics == ["_DEVICE_1876148_", "_IMEI_FIRST_"]
    assert message.extra["kind"] == "system"
    assert message.payload.decode() == IMEI_TEXT


def _sms_reply_message() -> dict[str, Any]:
    """The message of the article's record (its "data": the object a route posts).

    The article's answer as a whole is not JSON (``"orgid": 0024``); the record's
    "data" string is, and is read out of the recorded bytes as they are.
    """
    rec = recorded.load("hologram", "csr_rdm_sms_reply.yaml")
    raw = rec.interactions[0].response.body.decode()
    match = re.search(r'"data": ("\{(?:[^"\\]|\\.)*\}")', raw)
    assert match is not None
    inner: dict[str, Any] = json.loads(json.loads(match.group(1)))
    return inner


def test_recorded_sms_reply_is_kind_sms() -> None:
    (message,) = parse_hologram(_sms_reply_message())
    assert message.extra["kind"] == "sms"
    assert message.topics == ["_TAG_1245_", "_DEVICE_1502_", "_SMS_DO_"]
    assert message.payload == b"Reply"
    assert message.message_id == "6eac80-73f8-11e8-a662-0242ac0002"


async def test_recorded_sms_reply_through_the_webhook(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram: FakeHologram,
) -> None:
    """A route posting that message: the event says it is an SMS from the device."""
    await setup_entry(hass, _account("webhook"))
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}", json=_sms_reply_message()
    )
    assert response.status == 200
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["kind"] == "sms"
    assert event.data["source"] == "webhook"
    assert event.data["topics"] == ["_TAG_1245_", "_DEVICE_1502_", "_SMS_DO_"]
    assert event.data["data"] == "Reply"


# --- row 5: GET /csr/rdm through the real client ------------------------------------


async def test_recorded_list_replays_through_the_client(socket_enabled: None) -> None:
    rec = recorded.load("hologram", "csr_rdm_docs_example.yaml")
    async with (
        recorded.RecordedServer(rec.interactions) as server,
        aiohttp.ClientSession() as session,
    ):
        client = HologramClient(
            session, API_KEY, org_id=7391, base_url=server.base_url(RECORDED_BASE)
        )
        page = await client.list_messages(timestart=1667430000)
    assert [m.id for m in page.messages] == [77430390, 77430389]
    assert page.continues is True
    assert page.next_after == 77430389
    assert page.messages[0].logged is not None
    assert page.messages[0].logged.isoformat() == "2022-11-03T00:09:24+00:00"
    (sent,) = server.received
    assert sent.path == "/api/1/csr/rdm"
    assert parse_qs(sent.query) == {
        "limit": ["100"],
        "orgid": ["7391"],
        "timestart": ["1667430000"],
    }


async def test_recorded_sms_reply_answer_is_a_provider_error(
    socket_enabled: None,
) -> None:
    """The article's answer as published is not JSON: an error, never a crash."""
    rec = recorded.load("hologram", "csr_rdm_sms_reply.yaml")
    async with (
        recorded.RecordedServer(rec.interactions) as server,
        aiohttp.ClientSession() as session,
    ):
        client = HologramClient(
            session, API_KEY, base_url=server.base_url(RECORDED_BASE)
        )
        with pytest.raises(ProviderResponseError):
            await client.list_messages(device_ids=[1502])
    assert parse_qs(server.received[0].query)["deviceid"] == ["1502"]


async def test_recorded_list_replays_through_the_poller(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """The recorded page through the real poller and HA's bus: oldest first, once;
    the next page is asked for as the answer's links say (startafter=77430389)."""
    entry = _account("polling")
    entry.add_to_hass(hass)
    events = _events(hass)
    rec = recorded.load("hologram", "csr_rdm_docs_example.yaml")
    async with (
        recorded.RecordedServer(rec.interactions) as server,
        aiohttp.ClientSession() as session,
    ):
        client = HologramClient(
            session, API_KEY, base_url=server.base_url(RECORDED_BASE)
        )
        poller = HologramPoller(hass, entry, client, mode="polling")
        await poller.async_load()
        wait = await poller.async_poll()  # the second page has no recording: 599
        await hass.async_block_till_done()
    assert [e.data["message_id"] for e in events] == [
        "c0855956-5b0b-11ed-90a8-0242ac110003",
        "c5e2e5a8-5b0b-11ed-90a8-0242ac110003",
    ]
    assert [e.data["data"] for e in events] == [IMEI_TEXT, DATALIMIT_TEXT]
    assert {e.data["source"] for e in events} == {"poll"}
    assert {e.data["kind"] for e in events} == {"system"}
    assert events[1].data["topics"] == ["_DATALIMIT_", "_DEVICE_1827718_"]
    assert events[1].data["received_at"] == "2022-11-03T00:09:23+00:00"
    assert parse_qs(server.unmatched[0].query)["startafter"] == ["77430389"]
    assert wait is not None  # the failed page backs off
    assert poller.walk_next == 77430389  # and is asked for again next time
    # Asked again, the same records fire no second event.
    poller.walk_top = poller.walk_next = None
    async with (
        recorded.RecordedServer(rec.interactions) as server,
        aiohttp.ClientSession() as session,
    ):
        poller._client = HologramClient(
            session, API_KEY, base_url=server.base_url(RECORDED_BASE)
        )
        await poller.async_poll()
    await hass.async_block_till_done()
    assert len(events) == 2
    await poller.async_stop()


# --- row 5: a new account, through HA -------------------------------------------------


async def test_new_entry_polls_by_default(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "hologram"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": API_KEY}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"]["inbound_mode"] == "polling"
    assert len(hologram.calls("/csr/rdm")) == 1  # its first poll


async def test_new_account_without_routes_gets_its_messages_once(
    hass: HomeAssistant, hologram: FakeHologram, hass_storage: dict[str, Any]
) -> None:
    hologram.add_message(123456, "21.5C", tags=["TEMP"])
    hologram.add_message(234567, "Reply", tags=["_SMS_DO_"])
    hologram.add_message(123456, b"\x00\x01", tags=["_DATALIMIT_"])
    events = _events(hass)
    entry = await setup_entry(hass, _account("polling"))
    assert [e.data["kind"] for e in events] == ["message", "sms", "system"]
    first = events[0].data
    assert first["provider"] == "hologram"
    assert first["source"] == "poll"
    assert first["device_id"] == "123456"
    assert first["topics"] == ["TEMP", "_DEVICE_123456_"]
    assert first["data"] == "21.5C"
    assert first["device_name"] == "Van tracker"
    assert events[2].data["data_base64"] == "AAE="
    # Every poll after it: one request, nothing again.
    for _ in range(3):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
        await hass.async_block_till_done()
    assert len(events) == 3
    assert len(hologram.calls("/csr/rdm")) == 4
    query = hologram.calls("/csr/rdm")[-1].query
    assert query["orgid"] == "7001"
    assert query["limit"] == "100"
    # A new message: the next poll fires it alone.
    hologram.add_message(234567, "later")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=122))
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events[3:]] == ["later"]
    # The webhook is not registered in polling mode: a route's post fires nothing.
    key = poller_module.storage_key(entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)
    assert hass_storage[key]["data"]["last_id"] == hologram.messages[-1]["id"]


async def test_restart_doubles_nothing_and_misses_nothing(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.add_message(123456, "one")
    events = _events(hass)
    entry = await setup_entry(hass, _account("polling"))
    assert [e.data["data"] for e in events] == ["one"]
    await hass.config_entries.async_unload(entry.entry_id)
    hologram.add_message(123456, "while stopped")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == ["one", "while stopped"]
    # A reload mid-way: still once each.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(events) == 2


async def test_backlog_is_read_over_polls_within_the_page_bound(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "PAGE_SIZE", 2)
    monkeypatch.setattr(poller_module, "MAX_PAGES_PER_POLL", 2)
    for number in range(7):
        hologram.add_message(123456, f"m{number}")
    events = _events(hass)
    entry = await setup_entry(hass, _account("polling"))
    # First poll: two pages, the four newest (oldest first).
    assert [e.data["data"] for e in events] == ["m3", "m4", "m5", "m6"]
    assert len(hologram.calls("/csr/rdm")) == 2
    assert _poller(entry).walk_next is not None
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events[4:]] == ["m0", "m1", "m2"]
    assert _poller(entry).walk_next is None
    hologram.add_message(123456, "m7")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=122))
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events[7:]] == ["m7"]
    assert sorted(e.data["data"] for e in events) == [f"m{n}" for n in range(8)]
    # Pages ask for older records by the last id of the page before.
    starts = [c.query.get("startafter") for c in hologram.calls("/csr/rdm")]
    assert starts[:2] == [None, str(hologram.messages[5]["id"])]


async def test_both_ways_fire_once(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram: FakeHologram,
) -> None:
    """A route delivers the same message the API lists: one event, whichever first."""
    events = _events(hass)
    entry = await setup_entry(hass, _account("both"))
    client = await hass_client_no_auth()
    url = f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}"
    # The route first (its post: the record's message, with no record id).
    first = hologram.add_message(123456, "route first")
    route_body = json.loads(first["data"])
    del route_body["record_id"]
    response = await client.post(url, json=route_body)
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()
    assert [e.data["source"] for e in events] == ["webhook"]
    assert _poller(entry).duplicates == 1
    # The API first, then the route.
    second = hologram.add_message(234567, "poll first")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=122))
    await hass.async_block_till_done()
    response = await client.post(url, json=json.loads(second["data"]))
    assert await response.json() == {"accepted": 0, "duplicates": 1}
    await hass.async_block_till_done()
    assert [e.data["source"] for e in events] == ["webhook", "poll"]
    # Across a restart: the route delivers, HA restarts, the poll finds it.
    third = hologram.add_message(123456, "route then restart")
    route_body = json.loads(third["data"])
    del route_body["record_id"]
    response = await client.post(url, json=route_body)
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == [
        "route first",
        "poll first",
        "route then restart",
    ]


async def test_an_entry_of_before_keeps_its_webhook_and_polls_nothing(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.add_message(123456, "old")
    entry = await setup_entry(hass, _account(None))
    assert entry.runtime_data.poller is None  # type: ignore[attr-defined]
    assert entry.runtime_data.webhook is not None  # type: ignore[attr-defined]
    assert hologram.calls("/csr/rdm") == []


async def test_polling_mode_has_no_webhook(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram: FakeHologram,
) -> None:
    entry = await setup_entry(hass, _account("polling"))
    assert entry.runtime_data.webhook is None  # type: ignore[attr-defined]
    events = _events(hass)
    client = await hass_client_no_auth()
    await client.post(
        f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}",
        json={"device_id": 1, "decdata": "x"},
    )
    await hass.async_block_till_done()
    assert events == []


async def test_options_choose_the_mode(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = await setup_entry(hass, _account(None))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = {str(key): key for key in result["data_schema"].schema}  # type: ignore[union-attr]
    assert fields["inbound_mode"].default() == "webhook"
    # Polling is chosen by the integration, not the user (HA's rule for polling).
    assert "poll_interval" not in fields
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "outbox_max_age": 24,
            "outbox_max_depth": 1000,
            "inbound_mode": "both",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()  # the mode changed: reloaded
    assert entry.state is ConfigEntryState.LOADED
    poller = _poller(entry)
    assert poller.interval == timedelta(seconds=60)
    assert entry.runtime_data.webhook is not None  # type: ignore[attr-defined]
    assert len(hologram.calls("/csr/rdm")) == 1
    # A mode that is not one of the three is refused by the form.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                "outbox_max_age": 24,
                "outbox_max_depth": 1000,
                "inbound_mode": "sometimes",
            },
        )


async def test_emnify_has_no_inbound_mode(
    hass: HomeAssistant, emnify_account: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(emnify_account.entry_id)
    assert "inbound_mode" not in {str(k) for k in result["data_schema"].schema}  # type: ignore[union-attr]


# --- row 5: failures ----------------------------------------------------------------


async def test_rate_limit_backs_off_at_least_retry_after(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = await setup_entry(hass, _account("polling"))
    poller = _poller(entry)
    hologram.fail(
        "/csr/rdm",
        429,
        {"success": False, "error": "API rate limit exceeded"},
        headers={"Retry-After": "900"},
        times=3,  # the client's own two retries, then the poll gives up
    )
    assert await poller.async_poll() == timedelta(seconds=900)
    assert poller.failures == 1
    assert poller.last_error is not None


async def test_server_errors_and_garbage_back_off_doubling(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.add_message(123456, "kept")
    entry = await setup_entry(hass, _account("polling"))
    events = _events(hass)
    hologram.add_message(123456, "after the faults")
    poller = _poller(entry)
    hologram.fail("/csr/rdm", 500)
    assert await poller.async_poll() == timedelta(seconds=120)
    hologram.fail("/csr/rdm", 200, raw=b"<html>not json</html>")
    assert await poller.async_poll() == timedelta(seconds=240)
    hologram.fail("/csr/rdm", 200, body={"success": True, "data": "nope"})
    assert await poller.async_poll() == timedelta(seconds=480)
    assert events == []
    assert await poller.async_poll() == timedelta(seconds=60)
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == ["after the faults"]
    assert poller.failures == 0


async def test_garbage_records_are_skipped_not_fatal(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = await setup_entry(hass, _account("polling"))
    events = _events(hass)
    good = hologram.add_message(123456, "good")
    hologram.messages.append({**good, "id": good["id"] + 1, "data": "%%%"})
    hologram.messages.append({"id": "x", "data": 5})
    hologram.messages.append({**good, "id": good["id"] + 2, "data": 7})
    poller = _poller(entry)
    hologram.fail(
        "/csr/rdm",
        200,
        body={"success": True, "data": [*reversed(hologram.messages), 3, None]},
    )
    assert await poller.async_poll() == timedelta(seconds=60)
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == ["good"]
    assert poller.skipped == 5


async def test_refused_key_starts_reauth_and_stops_polling(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = await setup_entry(hass, _account("polling"))
    poller = _poller(entry)
    hologram.fail("/csr/rdm", 401, {"success": False, "error": "Invalid API key"})
    assert await poller.async_poll() is None
    assert poller.stopped
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    # The one repair (issue 26): no issue of ours beside the reauth.
    assert [k for k in ir.async_get(hass).issues if k[0] == DOMAIN] == []
    calls = len(hologram.calls("/csr/rdm"))
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(hours=2))
    await hass.async_block_till_done()
    assert len(hologram.calls("/csr/rdm")) == calls


async def test_diagnostics_show_the_polling(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.add_message(123456, "x")
    entry = await setup_entry(hass, _account("polling"))
    kind_diag = entry.runtime_data  # type: ignore[attr-defined]
    from custom_components.cellular_iot.kinds import KINDS

    diag = KINDS["hologram"].diagnostics(kind_diag)
    assert diag["inbound_mode"] == "polling"
    assert diag["polling"]["fired"] == 1
    assert diag["polling"]["requests"] == 1


async def test_removing_the_entry_removes_its_cursor(
    hass: HomeAssistant, hologram: FakeHologram, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry(hass, _account("polling"))
    await hass.config_entries.async_unload(entry.entry_id)
    key = poller_module.storage_key(entry.entry_id)
    assert key in hass_storage
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage

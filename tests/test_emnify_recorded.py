"""emnify as it really answers: our client and webhook fed its recorded traffic.

The recordings are the emnify SDK's VCR cassettes (real API traffic, gzip bodies as
sent) and emnify's published examples, under ``tests/fixtures/recorded/emnify/``; each
names its source on its first line. They are served byte for byte on a loopback socket
(:class:`~tests.recorded.RecordedServer`) to our real :class:`EmnifyClient`, or posted
through HA's real HTTP stack to the entry's webhook, and the tests assert the values the
recordings hold.

The SDK's first request of each cassette went out without a usable token ("Bearer
None", or none) and was answered 401; our client authenticates first, so those 401s
are left out of the replay (:func:`_replay`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
import gzip
import itertools
from typing import Any
import zlib

from aiohttp import ClientSession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.providers import emnify as emnify_module
from custom_components.cellular_iot.providers.emnify import EmnifyClient
from custom_components.cellular_iot.providers.errors import ProviderResponseError
from custom_components.cellular_iot.providers.sim import (
    SIM_ACTIVE,
    SMS_EXPIRED,
    SimStatus,
)
from custom_components.cellular_iot.providers.sms import encode_sms
from custom_components.cellular_iot.sim_status import EVENT_SMS_STATUS
from homeassistant.core import HomeAssistant

from . import recorded
from .conftest import (
    device_subentry,
    emnify_entry,
    record_events,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import NO_TRAFFIC_STATS, FakeEmnify

BASE = "https://cdn.emnify.net/api/v1"
SECRET = "emnify-recorded-secret-0123456789"
WEBHOOK_ID = "e" * 64
SIM_NO_SIM = "no_sim"  # (providers.sim.SIM_NO_SIM)


def _replay(*names: str) -> list[recorded.Interaction]:
    """The interactions of these recordings, without the SDK's unauthenticated 401s."""
    return [
        item
        for name in names
        for item in recorded.load("emnify", name).interactions
        if item.response.status != 401
        or item.request.headers.get("authorization", "Bearer None") != "Bearer None"
    ]


@pytest.fixture
async def replay(
    socket_enabled: None,
) -> AsyncGenerator[Callable[..., Awaitable[recorded.RecordedServer]]]:
    """Start replay servers for a test (closed after it)."""
    servers: list[recorded.RecordedServer] = []

    async def start(*items: recorded.Interaction) -> recorded.RecordedServer:
        server = recorded.RecordedServer(items)
        servers.append(await server.start())
        return server

    yield start
    for server in servers:
        await server.close()


def _client(session: ClientSession, server: recorded.RecordedServer) -> EmnifyClient:
    return EmnifyClient(session, "test", base_url=server.base_url(BASE))


# --- row 7: the SMS id is in the Location of the 201 ---------------------------------


async def test_send_sms_takes_the_id_from_the_location_of_the_201(
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
) -> None:
    """send_sms_to_device.yaml: 201, text/html, no body, Location …/sms/19649276."""
    answer = recorded.load("emnify", "send_sms_to_device.yaml").find(
        "POST", "/endpoint/11379224/sms"
    )
    assert answer.response.status == 201
    assert answer.response.body == b""
    assert answer.response.headers["Content-Type"] == "text/html; charset=UTF-8"
    server = await replay(*_replay("send_sms_to_device.yaml"))
    async with ClientSession() as session:
        sent = await _client(session, server).send_sms(
            11379224, encode_sms("sample_test_payload")
        )
    assert [(part.part, part.sms_id) for part in sent] == [(1, "19649276")]
    assert server.unmatched == []
    [post] = [r for r in server.received if r.method == "POST" and "sms" in r.path]
    assert post.body == b'{"payload":"sample_test_payload"}'


async def test_the_recorded_sms_list_with_gzip_body(
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
) -> None:
    """get_all_device_sms.yaml (gzip): ids, states and times as recorded."""
    server = await replay(*_replay("get_all_device_sms.yaml"))
    async with ClientSession() as session:
        listed = await _client(session, server).list_sms(11379224)
    assert [(sms.sms_id, sms.status, sms.payload) for sms in listed[:3]] == [
        ("19649318", SMS_EXPIRED, "qwe"),
        ("19649317", SMS_EXPIRED, "qwe"),
        ("19649276", SMS_EXPIRED, "sample_test_payload"),
    ]
    # The same text twice, 40 s apart: only the id tells them apart.
    assert listed[0].submitted == datetime(2022, 8, 4, 1, 45, 24, tzinfo=UTC)
    assert listed[1].submitted == datetime(2022, 8, 4, 1, 44, 44, tzinfo=UTC)
    assert listed[2].final == datetime(2022, 3, 29, 0, 37, 31, tzinfo=UTC)


async def test_send_sms_answers_the_id_and_delivery_follows_it(
    hass: HomeAssistant,
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The action answers emnify's id; the recorded list is matched by id, so the
    two "qwe" sent 40 s apart (19649317, 19649318) are each followed as themselves.

    The SIM read is scripted: its per-endpoint calls are not in these recordings.
    """
    recorded_emnify = await replay(
        *_replay(
            "send_sms_to_device.yaml",  # authenticate, POST …/sms → Location
            "get_all_device_sms.yaml",  # authenticate, GET …/sms
            "get_all_device_sms.yaml",
        )
    )
    monkeypatch.setattr(
        emnify_module, "DEFAULT_BASE_URL", recorded_emnify.base_url(BASE)
    )

    async def statuses(self: EmnifyClient, ids: list[int]) -> dict[str, SimStatus]:
        return {str(i): SimStatus(str(i), SIM_ACTIVE) for i in ids}

    monkeypatch.setattr(EmnifyClient, "sim_statuses", statuses)
    entry = await setup_entry(
        hass,
        with_webhook(
            emnify_entry("test"),
            WEBHOOK_ID,
            SECRET,
            device_subentry("Luboi", device_id="11379224"),
        ),
    )
    events = record_events(hass, EVENT_SMS_STATUS)
    response = await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"device_id": 11379224, "message": "sample_test_payload"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["messages"] == [{"part": 1, "sms_id": "19649276"}]
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert [(e.data["sms_id"], e.data["status"]) for e in events] == [
        ("19649276", "expired")
    ]
    assert events[0].data["outbox_id"] == response["outbox_id"]
    # The second of two equal texts 40 s apart, followed by the id its send gave.
    coordinator.sms.follow("11379224", ["qwe"], {"outbox_id": "b"}, ["19649318"])
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert [(e.data["sms_id"], e.data["outbox_id"]) for e in events[1:]] == [
        ("19649318", "b")
    ]
    assert recorded_emnify.unmatched == []


# --- row 6: an endpoint without a SIM ------------------------------------------------


async def test_endpoints_without_a_sim_show_no_sim(
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """get_all_devices.yaml: the two Disabled endpoints have no ``sim`` key."""

    async def not_recorded(*args: Any) -> None:
        return None  # /connectivity and /stats of these endpoints: not recorded

    monkeypatch.setattr(emnify_module, "_unless_missing", not_recorded)
    server = await replay(*_replay("get_all_devices.yaml"))
    async with ClientSession() as session:
        found = await _client(session, server).sim_statuses(
            [11379224, 11379818, 11379819]
        )
    with_sim, no_sim = found["11379224"], found["11379818"]
    assert (with_sim.state, with_sim.provider_state) == (SIM_ACTIVE, "Activated")
    assert (with_sim.iccid, with_sim.sim_id) == ("8988303000006734768", "4397515")
    assert (no_sim.state, no_sim.provider_state) == (SIM_NO_SIM, "Disabled")
    assert (no_sim.iccid, no_sim.sim_id, no_sim.can_pause) == (None, None, False)
    assert found["11379819"].state == SIM_NO_SIM
    assert server.unmatched == []


async def test_one_endpoint_read_as_recorded(
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
) -> None:
    """test_update_device.yaml: ``GET /endpoint/11898581`` (gzip), the read the device
    form makes to check the organisation has the endpoint (issue 26 A5)."""
    server = await replay(*_replay("test_update_device.yaml"))
    async with ClientSession() as session:
        endpoint = await _client(session, server).endpoint(11898581)
    assert endpoint.provider_id == "11898581"
    # Disabled, and without a ``sim`` key.
    assert endpoint.state == SIM_NO_SIM
    assert server.unmatched == []
    assert [r.path for r in server.received][-1] == "/api/v1/endpoint/11898581"


# --- row 9: stats ------------------------------------------------------------------


async def test_stats_as_published_and_without_traffic(
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
) -> None:
    """The API reference's example (volumes as decimal text), then the answer of an
    endpoint without traffic (no current_month): 0, not unknown."""
    server = await replay(
        recorded.load("emnify", "get_all_devices.yaml").find("POST", "/authenticate"),
        *_replay("endpoint_stats.yaml", "endpoint_stats_no_traffic.yaml"),
    )
    async with ClientSession() as session:
        client = _client(session, server)
        # current_month: data 0.848157 MB, SMS 2 sent (tx) and 1 received (rx),
        # read as sim_statuses reads each endpoint's answer.
        answer = await client._request("GET", "/endpoint/166/stats")
        assert emnify_module._parse_stats(answer) == (848_157, 2, 1)
        assert await client.endpoint_stats(166) == (0, 0, 0)
    assert server.unmatched == []


async def test_an_idle_sim_shows_zero_and_a_failed_read_unknown(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    """Through the fake, which answers as the API reference says: no traffic is 0;
    a stats call that finds nothing (404) stays unknown."""
    emnify.stats[1001] = NO_TRAFFIC_STATS
    entry = with_webhook(
        emnify_entry(emnify.application_token),
        WEBHOOK_ID,
        SECRET,
        device_subentry("Pump", device_id="1001"),
        device_subentry("Valve", device_id="1002"),
    )
    emnify.fail("/endpoint/1002/stats", 404)
    await setup_entry(hass, entry)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.pump_data_used_this_period")
    assert state is not None
    assert state.state == "0.0"
    valve = hass.states.get("sensor.valve_data_used_this_period")
    assert valve is not None
    assert valve.state == "unknown"


# --- row 8: delivery receipts PATCHed to the webhook -----------------------------------


async def test_a_patched_receipt_fires_the_status_at_once_and_once(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    hass_client_no_auth: Any,
) -> None:
    """sms_delivery_receipt.yaml through HA's HTTP stack: the SMS the action sent
    (id 46638644 from its Location) is delivered now; the next refresh, whose list
    says the same, fires nothing more."""
    receipt = recorded.load("emnify", "sms_delivery_receipt.yaml").interactions[0]
    assert receipt.request.method == "PATCH"
    emnify.endpoints.add(10830095)
    emnify._ids = itertools.count(46638644)
    entry = await setup_entry(
        hass,
        with_webhook(
            emnify_entry(emnify.application_token),
            WEBHOOK_ID,
            SECRET,
            device_subentry("Chargepoint Berlin", device_id="10830095"),
        ),
    )
    events = record_events(hass, EVENT_SMS_STATUS)
    response = await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"device_id": 10830095, "message": "start charging"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["messages"] == [{"part": 1, "sms_id": "46638644"}]
    client = await hass_client_no_auth()
    url = f"/api/webhook/{WEBHOOK_ID}"
    # The secret applies to a PATCH as to a POST.
    refused = await client.patch(
        url, data=receipt.request.body, headers=dict(receipt.request.headers)
    )
    assert refused.status == 401
    answer = await client.patch(
        f"{url}?secret={SECRET}",
        data=receipt.request.body,
        headers=dict(receipt.request.headers),
    )
    assert answer.status == 200
    assert await answer.json() == {"receipts": 1, "applied": 1}
    await hass.async_block_till_done()
    assert [event.data for event in events] == [
        {
            "provider": "emnify",
            "config_entry_id": entry.entry_id,
            "device_id": "10830095",
            "sms_id": "46638644",
            "status": "delivered",
            "previous_status": "unknown",
            "outbox_id": response["outbox_id"],
            "part": 1,
        }
    ]
    delivery = hass.states.get("sensor.chargepoint_berlin_last_sms_delivery")
    assert delivery is not None
    assert delivery.state == "delivered"
    # Polling, the fallback, sees the same state: no second event.
    emnify.set_sms_status(46638644, 4)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    await coordinator.async_refresh()
    # The same receipt again (a retry): nothing more either.
    again = await client.patch(
        f"{url}?secret={SECRET}",
        data=receipt.request.body,
        headers=dict(receipt.request.headers),
    )
    assert await again.json() == {"receipts": 1, "applied": 0}
    await hass.async_block_till_done()
    assert len(events) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"status": {"status": "DELIVERED", "id": 4}}', 400),  # no id
        (b'{"id": 5, "status": "DELIVERED"}', 400),
        (b'{"id": "x", "status": {"id": 4}}', 400),
        (b"[]", 400),
        (b"not json", 400),
        (b'{"id": "77", "status": {"description": "FAILED"}}', 200),
        (b'{"id": 78, "status": {"id": 42}}', 200),
    ],
)
async def test_receipts_that_are_not_receipts_get_a_4xx(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    hass_client_no_auth: Any,
    body: bytes,
    status: int,
) -> None:
    await setup_entry(
        hass, with_webhook(emnify_entry(emnify.application_token), WEBHOOK_ID, SECRET)
    )
    client = await hass_client_no_auth()
    answer = await client.patch(
        f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == status
    # Another id answers 200 and tells nothing, as HA's webhook does.
    other = await client.patch(f"/api/webhook/{'f' * 64}", data=body)
    assert other.status == 200


async def test_an_unloaded_entry_takes_no_receipts(
    hass: HomeAssistant, emnify: FakeEmnify, hass_client_no_auth: Any
) -> None:
    entry: MockConfigEntry = await setup_entry(
        hass, with_webhook(emnify_entry(emnify.application_token), WEBHOOK_ID, SECRET)
    )
    await hass.config_entries.async_unload(entry.entry_id)
    client = await hass_client_no_auth()
    answer = await client.patch(
        f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}",
        data=b'{"id": 1, "status": {"id": 4}}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 200
    assert await answer.read() == b""


# --- gzip as emnify's CDN sends it: inflated, within the cap --------------------------


@pytest.mark.parametrize(
    ("coding", "body", "error"),
    [
        ("gzip", gzip.compress(b"[]")[:-6], "cut short"),
        ("gzip", b"not gzip at all", "does not inflate"),
        ("br", b"\x00", "unknown coding"),
        ("deflate", zlib.compress(b" " * (5 * 1024 * 1024)), "more than"),
    ],
)
async def test_a_compressed_answer_that_cannot_be_read_is_refused(
    emnify: FakeEmnify, coding: str, body: bytes, error: str
) -> None:
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token)
        await client.authenticate()
        emnify.fail(
            "/endpoint/1001/sms",
            200,
            body,
            headers={"Content-Encoding": coding, "Content-Type": "application/json"},
        )
        with pytest.raises(ProviderResponseError, match=error):
            await client.list_sms(1001)
        emnify.fail(
            "/endpoint/1001/sms",
            200,
            zlib.compress(b"[]"),
            headers={"Content-Encoding": "deflate", "Content-Type": "application/json"},
        )
        assert await client.list_sms(1001) == []


# --- discovery: the organisation's endpoints -------------------------------------------


async def test_list_endpoints_names_every_endpoint(
    replay: Callable[..., Awaitable[recorded.RecordedServer]],
) -> None:
    """get_all_devices.yaml: the listing discovery.py offers new endpoints from."""
    server = await replay(*_replay("get_all_devices.yaml"))
    async with ClientSession() as session:
        listing = await _client(session, server).list_endpoints()
    assert dict(listing.devices) == {
        "11379224": "Luboi",
        "11379818": "no sms 1",
        "11379819": "sms experiment 2",
    }
    assert listing.complete
    assert server.unmatched == []

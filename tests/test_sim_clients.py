"""The provider clients' SIM methods against the local fakes: shapes, requests, errors."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import ClientSession
import pytest

from custom_components.cellular_iot.providers.emnify import EmnifyClient
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderResponseError,
)
from custom_components.cellular_iot.providers.hologram import HologramClient
from custom_components.cellular_iot.providers.monoz import PROBE_ICCID, MonozClient
from custom_components.cellular_iot.providers.onence import OneNceClient
from custom_components.cellular_iot.providers.sim import (
    SIM_ACTIVE,
    SIM_INACTIVE,
    SIM_NO_SIM,
    SIM_PENDING,
    SIM_SUSPENDED,
    SIM_UNKNOWN,
    SMS_DELIVERED,
    SMS_EXPIRED,
    SMS_PENDING,
    SMS_UNKNOWN,
    SimStatus,
)
from custom_components.cellular_iot.providers.sms import encode_sms

from .conftest import API_KEY
from .fakes.emnify import FakeEmnify
from .fakes.hologram import DROP, FakeHologram
from .fakes.monoz import API_KEY as MONOZ_KEY, ICCID, ORG_ID, FakeMonoz
from .fakes.onence import (
    CLIENT_ID as ONENCE_CLIENT_ID,
    CLIENT_SECRET as ONENCE_SECRET,
    FakeOneNce,
)
from .guards import HANG_GUARD

OTHER_ICCID = "8981100005819480001"


# --- Hologram ---------------------------------------------------------------------------


async def _hologram_statuses(**kwargs: object) -> dict[str, SimStatus]:
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, timeout=HANG_GUARD, **kwargs)  # type: ignore[arg-type]
        return await client.sim_statuses()


async def test_hologram_statuses_documented_shape(hologram: FakeHologram) -> None:
    statuses = await _hologram_statuses(org_id=7001)
    assert set(statuses) == {"123456", "234567"}
    van = statuses["123456"]
    assert van == SimStatus(
        provider_id="123456",
        state=SIM_ACTIVE,
        provider_state="LIVE",
        online=False,
        data_used=1_048_576,
        # whenexpires 2025-03-31 12:00 less the SIM's 30-day billing period.
        period_start=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        last_session=datetime(2025, 3, 10, 9, 30, tzinfo=UTC),
        iccid="8901000000000123456",
        imei=None,
        msisdn="+8823400123456",
        can_pause=True,
    )
    (page,) = hologram.calls("/devices")
    assert page.method == "GET"
    assert page.query == {"limit": "100", "orgid": "7001"}


async def test_hologram_statuses_page_through_500_devices(
    hologram: FakeHologram,
) -> None:
    hologram.add_devices(500)
    statuses = await _hologram_statuses(org_id=7001)
    assert len(statuses) == 502
    pages = hologram.calls("/devices")
    assert len(pages) == 6  # 100 a page, one request per page
    assert [p.query.get("startafter") for p in pages] == [
        None,
        "100",
        "200",
        "300",
        "400",
        "500",
    ]
    assert all(p.query["limit"] == "100" for p in pages)


@pytest.mark.parametrize(
    ("provider_state", "state", "can_pause"),
    [
        ("LIVE", SIM_ACTIVE, True),
        ("PAUSED-USER", SIM_SUSPENDED, True),
        # A system pause: only Hologram resumes it (test_hologram_recorded.py).
        ("PAUSED-SYS", SIM_SUSPENDED, False),
        ("PAUSED-PENDING-USER", SIM_PENDING, False),
        ("LIVE-PENDING", SIM_PENDING, False),
        ("INACTIVE", SIM_INACTIVE, False),
        ("DEAD", SIM_INACTIVE, False),
        ("TEST-ACTIVATE", SIM_UNKNOWN, False),
    ],
)
async def test_hologram_states(
    hologram: FakeHologram, provider_state: str, state: str, can_pause: bool
) -> None:
    hologram.set_device(123456, state=provider_state)
    status = (await _hologram_statuses(org_id=7001))["123456"]
    assert (status.state, status.provider_state, status.can_pause) == (
        state,
        provider_state,
        can_pause,
    )


async def test_hologram_missing_and_garbage_fields(hologram: FakeHologram) -> None:
    hologram.set_device(
        123456,
        state=DROP,
        msisdn=DROP,
        lastsession=DROP,
        cur_billing_data_used="lots",
        whenexpires="next tuesday",
        last_connect_time="2025-01-02T03:04:05Z",
        imei="356938035643809",
    )
    hologram.set_device(
        234567,
        lastsession={"active": "yes", "session_begin": "2025-03-01 10:00:00"},
        cur_billing_data_used=-5,
        whenexpires="2025-01-15T00:00:00+01:00",
        imei="not-an-imei",
    )
    statuses = await _hologram_statuses(org_id=7001)
    first = statuses["123456"]
    assert first.state == SIM_UNKNOWN
    assert first.provider_state is None
    assert first.msisdn is None
    assert first.online is None
    assert first.data_used is None
    assert first.period_start is None
    assert first.last_session == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.imei == "356938035643809"
    second = statuses["234567"]
    assert second.online is None  # not a bool
    assert second.last_session == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert second.data_used is None
    assert second.period_start == datetime(2024, 12, 15, 23, tzinfo=UTC)
    assert second.imei is None


async def test_hologram_malformed_devices_are_skipped(hologram: FakeHologram) -> None:
    hologram.fail(
        "/devices",
        200,
        {
            "success": True,
            "data": [
                "junk",
                {"id": "x"},
                {"id": 7, "links": "no"},
                {"id": 8, "links": {"cellular": [{"state": 5, "sim": ["x"]}]}},
            ],
        },
    )
    statuses = await _hologram_statuses()
    assert set(statuses) == {"7", "8"}
    assert statuses["7"].state == SIM_UNKNOWN
    assert statuses["8"].provider_state == "5"
    assert statuses["8"].iccid is None


async def test_hologram_pause_and_resume(hologram: FakeHologram) -> None:
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, org_id=7001, timeout=HANG_GUARD)
        await client.set_sim_active(123456, False)
        assert (await client.sim_statuses())["123456"].state == SIM_SUSPENDED
        await client.set_sim_active(123456, True)
        assert (await client.sim_statuses())["123456"].state == SIM_ACTIVE
        with pytest.raises(TypeError):
            await client.set_sim_active(123456, 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await client.set_sim_active(0, True)
        with pytest.raises(ProviderBadRequestError):
            await client.set_sim_active(345678 + 1, True)
    assert hologram.state_changes == [(123456, "pause"), (123456, "live")]
    bodies = [r.body for r in hologram.calls("/devices/123456/state")]
    assert bodies == [{"state": "pause"}, {"state": "live"}]


async def test_hologram_fake_refuses_deactivate(hologram: FakeHologram) -> None:
    hologram.expect_violations = True  # type: ignore[attr-defined]
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, timeout=HANG_GUARD)
        with pytest.raises(ProviderBadRequestError):
            await client._request(
                "POST", "/devices/123456/state", json_body={"state": "deactivate"}
            )
    assert hologram.violations
    assert hologram.state_changes == []


@pytest.mark.parametrize(
    ("status", "body", "raw", "error"),
    [
        (401, None, None, ProviderAuthError),
        (404, None, None, ProviderNotFoundError),
        (429, None, None, ProviderRateLimitedError),
        (500, None, None, ProviderResponseError),
        (200, None, b"<html>", ProviderResponseError),
        (
            200,
            {"success": True, "data": {"not": "a list"}},
            None,
            ProviderResponseError,
        ),
        (200, {"success": False, "error": "nope"}, None, ProviderBadRequestError),
    ],
)
async def test_hologram_sim_errors(
    hologram: FakeHologram,
    status: int,
    body: object,
    raw: bytes | None,
    error: type[Exception],
) -> None:
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, timeout=HANG_GUARD)
        hologram.fail("/devices", status, body, raw=raw, times=3)
        with pytest.raises(error):
            await client.sim_statuses()
        hologram.faults.clear()
        if body == {"success": True, "data": {"not": "a list"}}:
            return  # a fine answer to a state change
        hologram.fail("/devices/123456/state", status, body, raw=raw, times=3)
        with pytest.raises(error):
            await client.set_sim_active(123456, False)
    assert hologram.state_changes == []


# --- emnify -----------------------------------------------------------------------------


def _emnify(session: ClientSession, emnify: FakeEmnify) -> EmnifyClient:
    return EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)


async def test_emnify_statuses_documented_shape(emnify: FakeEmnify) -> None:
    async with ClientSession() as session:
        statuses = await _emnify(session, emnify).sim_statuses([1001, 1002, 999])
    assert set(statuses) == {"1001", "1002"}
    assert statuses["1001"] == SimStatus(
        provider_id="1001",
        state=SIM_ACTIVE,
        provider_state="Activated",
        online=True,
        data_used=1_500_000,  # 1.5 MB
        period_start=datetime(2027, 1, 1, tzinfo=UTC),  # the fake's clock: 2027-01-15
        last_session=None,
        iccid="8988303000000001001",
        imei="350000000001001",
        msisdn="423770001001",
        sms_sent=2,
        sms_received=1,
        sim_id="501001",
        can_pause=True,
    )
    (listing,) = emnify.calls("/endpoint")
    assert listing[0] == "GET"
    assert listing[2] == {"page": "1", "per_page": "1000", "sort": "id"}
    assert len(emnify.calls("/endpoint/1001/connectivity")) == 1
    assert len(emnify.calls("/endpoint/1001/stats")) == 1


async def test_emnify_statuses_page_through_and_bound_concurrency(
    emnify: FakeEmnify,
) -> None:
    ids = emnify.add_endpoints(2500)  # 2502 endpoints: 3 pages of 1000
    wanted = [1001, *ids[::50], ids[-1]]
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        statuses = await client.sim_statuses(wanted)
        assert set(statuses) == {str(i) for i in wanted}
        pages = emnify.calls("/endpoint")
        assert [p[2]["page"] for p in pages] == ["1", "2", "3"]
        assert emnify.max_in_flight <= 5
        connectivity = [r for r in emnify.requests if r[1].endswith("/connectivity")]
        assert len(connectivity) == len(set(wanted))
        # Everything wanted is on the first page: one page is read.
        emnify.requests.clear()
        assert set(await client.sim_statuses([1001, 1002])) == {"1001", "1002"}
        assert len(emnify.calls("/endpoint")) == 1
        emnify.requests.clear()
        assert await client.sim_statuses([]) == {}
        assert emnify.requests == []


@pytest.mark.parametrize(
    ("endpoint_status", "sim_status", "state", "can_pause"),
    [
        (0, 1, SIM_ACTIVE, True),
        (1, 1, SIM_SUSPENDED, True),
        (0, 2, SIM_SUSPENDED, True),
        (2, 1, SIM_INACTIVE, True),
        (0, 3, SIM_INACTIVE, False),
        (0, 0, SIM_INACTIVE, False),
        (0, 4, SIM_ACTIVE, False),
        (0, 9, SIM_UNKNOWN, False),
        (None, 1, SIM_UNKNOWN, True),
    ],
)
async def test_emnify_states(
    emnify: FakeEmnify,
    endpoint_status: int | None,
    sim_status: int,
    state: str,
    can_pause: bool,
) -> None:
    endpoint = emnify.endpoint(1001)
    endpoint["status"] = (
        {"id": endpoint_status, "description": "x"}
        if endpoint_status is not None
        else "garbage"
    )
    endpoint["sim"]["status"] = {"id": sim_status, "description": f"S{sim_status}"}
    async with ClientSession() as session:
        status = (await _emnify(session, emnify).sim_statuses([1001]))["1001"]
    assert (status.state, status.can_pause) == (state, can_pause)
    assert status.provider_state == f"S{sim_status}"


async def test_emnify_missing_and_garbage_fields(emnify: FakeEmnify) -> None:
    emnify.endpoint(1001).update(sim=None, imei=["x"])
    emnify.endpoint(1002)["sim"] = {"id": "7", "iccid": 12, "status": "?"}
    emnify.connectivity[1001] = "SOMETHING"
    emnify.stats[1001] = {"current_month": {}}
    emnify.stats[1002] = {"current_month": {"data": {"volume": "1"}, "sms": {}}}
    emnify.add_endpoints(1, first_id=1003)
    emnify.stats[1003] = {"last_month": {}}
    emnify.endpoint_data[1004] = {"id": True}
    emnify.endpoints.add(1004)
    async with ClientSession() as session:
        statuses = await _emnify(session, emnify).sim_statuses([1001, 1002, 1003, 1004])
    assert set(statuses) == {"1001", "1002", "1003"}
    first = statuses["1001"]
    # A null sim is no SIM, as a missing one is (the endpoint's own state is kept).
    assert (first.state, first.provider_state) == (SIM_NO_SIM, "Enabled")
    assert (first.iccid, first.imei, first.sim_id, first.online) == (None,) * 4
    # No traffic this month: emnify leaves the keys out.
    assert (first.data_used, first.sms_sent, first.sms_received) == (0, 0, 0)
    second = statuses["1002"]
    assert (second.state, second.iccid, second.sim_id) == (SIM_UNKNOWN, "12", None)
    # "1" (MB, as decimal text) is read; an sms object without its volumes is not.
    assert (second.data_used, second.sms_sent, second.sms_received) == (
        1_000_000,
        None,
        None,
    )
    # No current_month at all: emnify's answer for an endpoint without traffic.
    third = statuses["1003"]
    assert (third.data_used, third.sms_sent, third.sms_received) == (0, 0, 0)


async def test_emnify_per_endpoint_404_and_errors(emnify: FakeEmnify) -> None:
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        emnify.fail("/endpoint/1001/connectivity", 404)
        emnify.fail("/endpoint/1002/stats", 404)
        statuses = await client.sim_statuses([1001, 1002])
        assert statuses["1001"].online is None
        assert statuses["1001"].data_used == 1_500_000
        assert statuses["1002"].online is True
        assert statuses["1002"].data_used is None
        emnify.fail("/endpoint/1002/stats", 500)
        with pytest.raises(ProviderResponseError):
            await client.sim_statuses([1001, 1002])
        emnify.fail("/endpoint/1001/connectivity", 200, [1, 2])
        assert (await client.sim_statuses([1001]))["1001"].online is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, None, ProviderRateLimitedError),
        (500, None, ProviderResponseError),
        (403, None, ProviderAuthError),
        (200, "garbage", ProviderResponseError),
        (200, {"not": "a list"}, ProviderResponseError),
        (422, None, ProviderBadRequestError),
    ],
)
async def test_emnify_listing_errors(
    emnify: FakeEmnify, status: int, body: object, error: type[Exception]
) -> None:
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        emnify.fail("/endpoint", status, body)
        with pytest.raises(error):
            await client.sim_statuses([1001])
        emnify.fail("/endpoint/1001/sms", status, body)
        with pytest.raises(error):
            await client.list_sms(1001)


async def test_emnify_401_renews_for_every_new_call(emnify: FakeEmnify) -> None:
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        await client.authenticate()
        for call in (
            lambda: client.sim_statuses([1001]),
            lambda: client.set_sim_active(1001, 501001, True),
            lambda: client.list_sms(1001),
        ):
            emnify.expire_all()
            before = emnify.auth_calls
            await call()
            assert emnify.auth_calls == before + 1
        emnify.expire_all()
        emnify.application_tokens.clear()
        with pytest.raises(ProviderAuthError):
            await client.sim_statuses([1001])


async def test_emnify_pause_and_resume(emnify: FakeEmnify) -> None:
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        await client.set_sim_active(1001, 501001, False)
        status = (await client.sim_statuses([1001]))["1001"]
        assert (status.state, status.provider_state) == (SIM_SUSPENDED, "Suspended")
        await client.set_sim_active(1001, 501001, True)
        assert (await client.sim_statuses([1001]))["1001"].state == SIM_ACTIVE
        emnify.endpoint(1002)["sim"]["status"] = {"id": 0, "description": "Issued"}
        with pytest.raises(ProviderBadRequestError):
            await client.set_sim_active(1002, 501002, True)
        with pytest.raises(TypeError):
            await client.set_sim_active(1001, 501001, "yes")  # type: ignore[arg-type]
        emnify.fail("/sim/501001", 404)
        with pytest.raises(ProviderNotFoundError):
            await client.set_sim_active(1001, 501001, False)
    assert emnify.patches[:4] == [
        ("/endpoint/1001", {"status": {"id": 1}}),
        ("/sim/501001", {"status": {"id": 2}}),
        ("/endpoint/1001", {"status": {"id": 0}}),
        ("/sim/501001", {"status": {"id": 1}}),
    ]


async def test_emnify_sms_delivery(emnify: FakeEmnify) -> None:
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        assert await client.list_sms(1001) == []
        [first] = await client.send_sms(1001, encode_sms("first"))
        [second] = await client.send_sms(1001, encode_sms("second"))
        await client.send_sms(1002, encode_sms("elsewhere"))
        # The ids come from each send's Location; emnify lists the newest first.
        assert (first.sms_id, second.sms_id) == ("19650001", "19650002")
        pending = await client.list_sms(1001)
        assert [(d.sms_id, d.status, d.payload) for d in pending] == [
            ("19650002", SMS_PENDING, "second"),
            ("19650001", SMS_PENDING, "first"),
        ]
        assert pending[1].submitted == datetime(2027, 1, 15, 8, tzinfo=UTC)
        assert pending[1].final is None
        emnify.set_sms_status(19650001, 4, final_date="2027-01-15 08:00:05")
        emnify.set_sms_status(19650002, 6)
        emnify.sms_records[19650002]["delivery_date"] = "2027-01-15T09:00:00+01:00"
        expired, delivered = await client.list_sms(1001)
    assert (delivered.status, delivered.final) == (
        SMS_DELIVERED,
        datetime(2027, 1, 15, 8, 0, 5, tzinfo=UTC),
    )
    assert expired.final == datetime(2027, 1, 15, 8, tzinfo=UTC)
    methods = [r[0] for r in emnify.calls("/endpoint/1001/sms")]
    assert methods == ["GET", "POST", "POST", "GET", "GET"]


async def test_emnify_sms_garbage_items(emnify: FakeEmnify) -> None:
    items = [
        "junk",
        {"payload": "no id"},
        {"id": 5, "status": {"id": 99}, "payload": 7, "submit_date": "soon"},
        {"id": "6", "status": "x", "final_date": 12},
    ] + [{"id": n, "status": {"id": 1}} for n in range(100, 1200)]
    async with ClientSession() as session:
        client = _emnify(session, emnify)
        emnify.fail("/endpoint/1001/sms", 200, items)
        deliveries = await client.list_sms(1001)
        with pytest.raises(TypeError):
            await client.list_sms("1001")  # type: ignore[arg-type]
    assert len(deliveries) == 998  # 1000 items read, 2 without an id
    odd, other = deliveries[:2]
    assert (odd.sms_id, odd.status, odd.payload, odd.submitted) == (
        "5",
        SMS_UNKNOWN,
        None,
        None,
    )
    assert (other.sms_id, other.status, other.final) == ("6", SMS_UNKNOWN, None)


# --- monoZ ------------------------------------------------------------------------------


def _monoz(session: ClientSession) -> MonozClient:
    return MonozClient(session, ORG_ID, MONOZ_KEY, timeout=HANG_GUARD)


async def test_monoz_statuses_and_enable(monoz: FakeMonoz) -> None:
    async with ClientSession() as session:
        client = _monoz(session)
        statuses = await client.sim_statuses(
            [ICCID, OTHER_ICCID, "8981100005819489999"]
        )
        # State from Sim/Enable's Data.Enabled; the detail's integer Status as text.
        assert statuses == {
            iccid: SimStatus(
                provider_id=iccid,
                state=SIM_ACTIVE,
                provider_state="1",
                iccid=iccid,
                can_pause=True,
            )
            for iccid in (ICCID, OTHER_ICCID)
        }
        await client.set_sim_active(ICCID, False)
        status = (await client.sim_statuses([ICCID]))[ICCID]
        assert (status.state, status.provider_state) == (SIM_SUSPENDED, "1")
        await client.set_sim_active(ICCID, True)
        with pytest.raises(ValueError):
            await client.set_sim_active("not-an-iccid", True)
        with pytest.raises(TypeError):
            await client.set_sim_active(ICCID, 0)  # type: ignore[arg-type]
        with pytest.raises(ProviderNotFoundError):
            await client.set_sim_active("8981100005819489999", True)
        # The validate() probe still answers 404.
        await client.validate()
    assert monoz.enable_calls == [
        {"ICCID": ICCID, "Enable": False},
        {"ICCID": ICCID, "Enable": True},
        {"ICCID": "8981100005819489999", "Enable": True},
    ]
    assert [m for m, _ in monoz.calls("/Sim/Enable")] == ["PUT"] * 3
    assert [m for m, _ in monoz.calls(f"/Sim/Enable/{ICCID}")] == ["GET"] * 2
    assert monoz.calls(f"/{ORG_ID}/Device/Sim/Detail/{ICCID}")[0][0] == "GET"
    assert PROBE_ICCID in monoz.detail_calls


@pytest.mark.parametrize(
    ("enabled", "state"),
    [
        (True, SIM_ACTIVE),
        (False, SIM_SUSPENDED),
        ("true", SIM_UNKNOWN),
        (1, SIM_UNKNOWN),
        (None, SIM_UNKNOWN),
    ],
)
async def test_monoz_state_is_data_enabled(
    monoz: FakeMonoz, enabled: object, state: str
) -> None:
    monoz.fail(
        f"/Sim/Enable/{ICCID}",
        200,
        {
            "Error": False,
            "Message": "FetchSuccess",
            "StatusCode": 200,
            "Data": {"Enabled": enabled},
        },
    )
    async with ClientSession() as session:
        status = (await _monoz(session).sim_statuses([ICCID]))[ICCID]
    assert status.state == state
    assert status.can_pause is (state != SIM_UNKNOWN)
    assert status.data_used is None  # Volume is what remains, never data_used


@pytest.mark.parametrize(
    ("raw", "text"),
    [(0, "0"), (2, "2"), (17, "17"), ("Terminated", "Terminated"), (True, None)],
)
async def test_monoz_raw_status_is_kept_never_mapped(
    monoz: FakeMonoz, raw: object, text: str | None
) -> None:
    """No values of Status are documented: whatever it says, Enabled is the state."""
    monoz.sim_data[ICCID] = {"Status": raw}
    async with ClientSession() as session:
        status = (await _monoz(session).sim_statuses([ICCID]))[ICCID]
    assert (status.state, status.provider_state) == (SIM_ACTIVE, text)


async def test_monoz_hidden_pages_fail_soft(monoz: FakeMonoz) -> None:
    async with ClientSession() as session:
        client = _monoz(session)
        monoz.sims_hidden = True
        assert await client.sim_statuses([ICCID, OTHER_ICCID]) == {}
        monoz.sims_hidden = False
        for iccid in (ICCID, OTHER_ICCID):
            monoz.fail(f"Detail/{iccid}", 405)
            monoz.fail(f"Enable/{iccid}", 405)
        assert await client.sim_statuses([ICCID, OTHER_ICCID]) == {}
        # Error: true with StatusCode 404 under HTTP 200 is a 404 too.
        not_found = {"Error": True, "StatusCode": 404, "Message": "NotFound"}
        monoz.fail(f"Detail/{ICCID}", 200, not_found)
        monoz.fail(f"Enable/{ICCID}", 200, not_found)
        assert set(await client.sim_statuses([ICCID, OTHER_ICCID])) == {OTHER_ICCID}
        # One page hidden: the other still says what it knows.
        monoz.fail(f"Enable/{ICCID}", 404)
        status = (await client.sim_statuses([ICCID]))[ICCID]
        assert (status.state, status.provider_state, status.can_pause) == (
            SIM_UNKNOWN,
            "1",
            False,
        )
        monoz.fail(f"Detail/{ICCID}", 404)
        status = (await client.sim_statuses([ICCID]))[ICCID]
        assert (status.state, status.provider_state) == (SIM_ACTIVE, None)
        # A detail answer that is not monoZ's JSON leaves the raw status out only.
        monoz.fail(f"Detail/{ICCID}", 200, {"Error": False, "Data": "junk"})
        status = (await client.sim_statuses([ICCID, "bad iccid"]))[ICCID]
        assert (status.state, status.provider_state) == (SIM_ACTIVE, None)
        monoz.fail(f"Detail/{ICCID}", 200, b"<html>")
        status = (await client.sim_statuses([ICCID]))[ICCID]
        assert (status.state, status.provider_state) == (SIM_ACTIVE, None)
        monoz.fail(f"Enable/{ICCID}", 200, {"Error": False, "Data": "junk"})
        status = (await client.sim_statuses([ICCID]))[ICCID]
        assert (status.state, status.provider_state) == (SIM_UNKNOWN, "1")
        assert await client.sim_statuses([]) == {}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, None, ProviderAuthError),
        (429, None, ProviderRateLimitedError),
        (500, None, ProviderResponseError),
        (200, b"<html>", ProviderResponseError),
        (200, [1, 2], ProviderResponseError),
        (400, None, ProviderBadRequestError),
    ],
)
async def test_monoz_errors(
    monoz: FakeMonoz, status: int, body: object, error: type[Exception]
) -> None:
    async with ClientSession() as session:
        client = _monoz(session)
        monoz.fail(f"/Sim/Enable/{ICCID}", status, body)
        with pytest.raises(error):
            await client.sim_statuses([ICCID])
        if status >= 300:  # the detail page fails the same way (not its garbage)
            monoz.fail(f"Detail/{ICCID}", status, body)
            with pytest.raises(error):
                await client.sim_statuses([ICCID])
        monoz.fail("/Sim/Enable", status, body)
        with pytest.raises(error):
            await client.set_sim_active(ICCID, False)
        with pytest.raises(ProviderAuthError):
            await MonozClient(session, ORG_ID, "wrong").sim_statuses([ICCID])
    assert monoz.sim_enabled == {}


# --- 1NCE -------------------------------------------------------------------------------

ONENCE_PUMP = "8988228066602301001"
ONENCE_MISSING = "8988228066609999999"


def _onence(session: ClientSession) -> OneNceClient:
    return OneNceClient(session, ONENCE_CLIENT_ID, ONENCE_SECRET, timeout=HANG_GUARD)


async def test_onence_statuses_documented_shape(onence: FakeOneNce) -> None:
    """The list, then each SIM's status, data quota and SMS quota (recorded shapes)."""
    onence.add_sim(ONENCE_PUMP, label="Pump")
    async with ClientSession() as session:
        statuses = await _onence(session).sim_statuses([ONENCE_PUMP, ONENCE_MISSING])
    assert set(statuses) == {ONENCE_PUMP}
    sim = statuses[ONENCE_PUMP]
    assert sim.state == SIM_ACTIVE
    assert sim.provider_state == "Enabled"
    assert sim.online is True
    assert sim.iccid == ONENCE_PUMP
    assert sim.msisdn == "882285602301001"
    assert sim.imei == "8682390502301001"
    assert sim.can_pause is True
    # The recorded quota: 500 MB, 479.949998 left (MB of 1024 kB), until 2031-11-26.
    assert sim.data_remaining == round(479.949998 * 1024 * 1024)
    assert sim.data_used == round((500 - 479.949998) * 1024 * 1024)
    assert sim.data_expiry == datetime(2031, 11, 26, tzinfo=UTC)
    assert sim.sms_remaining == 240
    (listing,) = onence.calls("/v2/sims")
    assert listing[0] == "GET"
    assert listing[2] == {"page": "1", "pageSize": "100"}
    for path in ("status", "quota/data", "quota/sms"):
        assert len(onence.calls(f"/v2/sims/{ONENCE_PUMP}/{path}")) == 1, path
    # The SIM not on the (only) page is not read by itself: the list was complete.
    assert onence.calls(f"/v2/sims/{ONENCE_MISSING}") == []


async def test_onence_statuses_page_through_and_bound_concurrency(
    onence: FakeOneNce,
) -> None:
    iccids = onence.add_sims(250)  # 3 pages of 100
    wanted = [*iccids[::25], iccids[-1]]
    async with ClientSession() as session:
        client = _onence(session)
        statuses = await client.sim_statuses(wanted)
        assert set(statuses) == set(wanted)
        pages = onence.calls("/v2/sims")
        assert [p[2]["page"] for p in pages] == ["1", "2", "3"]
        assert onence.max_in_flight <= 5
        onence.requests.clear()
        assert set(await client.sim_statuses(iccids[:2])) == set(iccids[:2])
        assert len(onence.calls("/v2/sims")) == 1
        onence.requests.clear()
        assert await client.sim_statuses([]) == {}
        assert onence.requests == []


@pytest.mark.parametrize(
    ("word", "state", "can_pause"),
    [
        ("Enabled", SIM_ACTIVE, True),
        ("Disabled", SIM_SUSPENDED, True),
        ("Issued", SIM_INACTIVE, False),
        ("Something new", SIM_UNKNOWN, False),
    ],
)
async def test_onence_states(
    onence: FakeOneNce, word: str, state: str, can_pause: bool
) -> None:
    onence.add_sim(ONENCE_PUMP, status=word)
    async with ClientSession() as session:
        status = (await _onence(session).sim_statuses([ONENCE_PUMP]))[ONENCE_PUMP]
    assert status.state == state
    assert status.provider_state == word
    assert status.can_pause is can_pause


async def test_onence_missing_and_garbage_fields(onence: FakeOneNce) -> None:
    onence.add_sim(ONENCE_PUMP, quota={"volume": "lots", "expiry_date": 7})
    onence.sims[ONENCE_PUMP].update(imei=["x"], msisdn=None, status=12)
    onence.sms_quota[ONENCE_PUMP] = {"volume": 2.5}
    onence.connectivity[ONENCE_PUMP] = "SOMETHING"
    async with ClientSession() as session:
        status = (await _onence(session).sim_statuses([ONENCE_PUMP]))[ONENCE_PUMP]
    assert status.state == SIM_UNKNOWN
    assert status.imei is None
    assert status.msisdn is None
    assert status.online is None
    assert status.data_used is None
    assert status.data_remaining is None
    assert status.data_expiry is None
    assert status.sms_remaining is None


async def test_onence_per_sim_404_and_errors(onence: FakeOneNce) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    async with ClientSession() as session:
        client = _onence(session)
        onence.fail(f"/v2/sims/{ONENCE_PUMP}/status", 404)
        onence.fail(f"/v2/sims/{ONENCE_PUMP}/quota/data", 404)
        status = (await client.sim_statuses([ONENCE_PUMP]))[ONENCE_PUMP]
        assert status.state == SIM_ACTIVE
        assert status.online is None
        assert status.data_remaining is None
        assert status.sms_remaining == 240
        onence.fail(f"/v2/sims/{ONENCE_PUMP}/quota/sms", 500)
        with pytest.raises(ProviderError):
            await client.sim_statuses([ONENCE_PUMP])


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, None, ProviderError),
        (429, None, ProviderRateLimitedError),
        (200, "garbage", ProviderResponseError),
        (200, {"not": "a list"}, ProviderResponseError),
    ],
)
async def test_onence_listing_errors(
    onence: FakeOneNce, status: int, body: object, error: type[Exception]
) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    async with ClientSession() as session:
        client = _onence(session)
        onence.fail("/v2/sims", status, body)
        with pytest.raises(error):
            await client.sim_statuses([ONENCE_PUMP])
        onence.fail("/v2/sims", status, body)
        with pytest.raises(error):
            await client.list_sims()


async def test_onence_401_renews_the_token_once_per_call(onence: FakeOneNce) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    async with ClientSession() as session:
        client = _onence(session)
        await client.sim_statuses([ONENCE_PUMP])
        assert onence.token_calls == 1
        for _ in range(2):
            onence.expire_all()
            before = onence.token_calls
            await client.sim_statuses([ONENCE_PUMP])
            assert onence.token_calls == before + 1
        # The secret revoked: the renewal is refused (400, as recorded), an auth error.
        onence.expire_all()
        onence.credentials.clear()
        with pytest.raises(ProviderAuthError):
            await client.sim_statuses([ONENCE_PUMP])


async def test_onence_pause_and_resume(onence: FakeOneNce) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    async with ClientSession() as session:
        client = _onence(session)
        await client.set_sim_active(ONENCE_PUMP, False)
        status = (await client.sim_statuses([ONENCE_PUMP]))[ONENCE_PUMP]
        assert status.state == SIM_SUSPENDED
        await client.set_sim_active(ONENCE_PUMP, True)
        onence.fail(f"/v2/sims/{ONENCE_PUMP}", 404)
        with pytest.raises(ProviderNotFoundError):
            await client.set_sim_active(ONENCE_PUMP, False)
    assert onence.puts == [
        (ONENCE_PUMP, {"iccid": ONENCE_PUMP, "status": "Disabled"}),
        (ONENCE_PUMP, {"iccid": ONENCE_PUMP, "status": "Enabled"}),
    ]


async def test_onence_sms_delivery(onence: FakeOneNce) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    async with ClientSession() as session:
        client = _onence(session)
        ids = [
            await client.send_sms(ONENCE_PUMP, part)
            for part in encode_sms("x" * 200, max_parts=4)
        ]
        assert all(ids)
        listed = {sms.sms_id: sms for sms in await client.list_sms(ONENCE_PUMP)}
        assert {listed[i].status for i in ids} == {SMS_PENDING}
        onence.set_sms_status(ids[0], 4, final_date="2027-01-15T08:00:05.000+0000")
        onence.set_sms_status(ids[1], 6)
        listed = {sms.sms_id: sms for sms in await client.list_sms(ONENCE_PUMP)}
    assert listed[ids[0]].status == SMS_DELIVERED
    assert listed[ids[0]].final == datetime(2027, 1, 15, 8, 0, 5, tzinfo=UTC)
    assert listed[ids[1]].status == SMS_EXPIRED
    assert listed[ids[0]].direction == "MT"

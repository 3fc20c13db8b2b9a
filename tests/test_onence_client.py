"""The 1NCE client against the local fake: every call, every error.

The fake (tests/fakes/onence.py) checks each request the way 1NCE documents it and
answers in the recorded shapes; the client runs on the fake's clock (the ``onence``
fixture), so its limiter's spacing costs no real time and shows in the request times.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
import hashlib
import itertools

from aiohttp import ClientSession
import pytest

from custom_components.cellular_iot.providers import onence as onence_module
from custom_components.cellular_iot.providers._http import basic_authorization
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from custom_components.cellular_iot.providers.onence import (
    BYTES_PER_MB,
    DEFAULT_BASE_URL,
    MAX_REQUESTS_PER_SECOND,
    REQUEST_RATE,
    OneNceAccount,
    OneNceClient,
    token_claims,
)
from custom_components.cellular_iot.providers.sim import (
    SIM_ACTIVE,
    SIM_INACTIVE,
    SIM_SUSPENDED,
    SIM_UNKNOWN,
    SMS_DELIVERED,
    SMS_MT,
    SMS_PENDING,
)
from custom_components.cellular_iot.providers.sms import SmsPart, encode_sms

from .fakes.onence import CLIENT_ID, CLIENT_SECRET, CUSTOMER_ID, FakeOneNce

ICCID = "8988228066602306770"
OTHER = "8988228066602307120"
UNKNOWN = "8988228066602399999"


@pytest.fixture
async def session(onence: FakeOneNce) -> AsyncGenerator[ClientSession]:
    """A session that stamps each request with the time the limiter let it go."""
    async with ClientSession(trace_configs=[onence.time.trace_config()]) as http:
        yield http


@pytest.fixture
def fake(onence: FakeOneNce) -> FakeOneNce:
    onence.add_sim(ICCID, label="Test API")
    onence.add_sim(OTHER)
    return onence


def _client(session: ClientSession) -> OneNceClient:
    return OneNceClient(session, CLIENT_ID, CLIENT_SECRET)


def test_the_documented_host_and_limits() -> None:
    assert DEFAULT_BASE_URL == "https://api.1nce.com/management-api"
    assert MAX_REQUESTS_PER_SECOND == 10
    assert REQUEST_RATE <= MAX_REQUESTS_PER_SECOND / 2


def test_empty_credentials_are_refused_before_any_request(
    session: ClientSession,
) -> None:
    with pytest.raises(ValueError):
        OneNceClient(session, "", CLIENT_SECRET)
    with pytest.raises(ValueError):
        OneNceClient(session, CLIENT_ID, "")


# --- the token ---------------------------------------------------------------------


async def test_authenticate_names_the_customer_of_the_token(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    account = await client.authenticate()
    assert account == OneNceAccount(customer_id=CUSTOMER_ID, name=None)
    assert client.account == account
    assert client.token_requests == fake.token_calls == 1
    await client.authenticate()  # the token is reused
    assert fake.token_calls == 1


async def test_reauthenticate_asks_for_a_new_token_each_time(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await client.authenticate()
    assert await client.reauthenticate() == OneNceAccount(CUSTOMER_ID, None)
    await client.reauthenticate()
    assert fake.token_calls == client.token_requests == 3


async def test_a_token_without_a_customer_falls_back_to_a_hash_of_the_client_id(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(
        "/oauth/token",
        200,
        {"status_code": 200, "access_token": "opaque", "expires_in": 3600},
    )
    account = await _client(session).authenticate()
    digest = hashlib.sha256(CLIENT_ID.encode()).hexdigest()[:16]
    assert account.customer_id == f"client-{digest}"
    assert CLIENT_ID not in account.customer_id
    assert CLIENT_SECRET not in account.customer_id


async def test_the_token_may_name_the_customer(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.extra_claims = {"name": "Poltrax sp. z o.o."}
    account = await _client(session).authenticate()
    assert account == OneNceAccount(CUSTOMER_ID, "Poltrax sp. z o.o.")


def test_token_claims_reads_a_plain_jwt_and_refuses_garbage() -> None:
    from .fakes.onence import make_jwt

    assert token_claims(make_jwt({"custom:customerId": "7"})) == {
        "custom:customerId": "7"
    }
    assert token_claims("not a token") == {}
    assert token_claims("") == {}


async def test_bad_credentials_are_an_auth_error_without_the_secret(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = OneNceClient(session, CLIENT_ID, "wrong-secret-123")
    with pytest.raises(ProviderAuthError) as err:
        await client.authenticate()
    assert err.value.status == 400
    assert err.value.detail is not None
    assert "CognitoAuthenticationError" in err.value.detail
    assert "Incorrect username or password." in str(err.value)
    assert "wrong-secret-123" not in str(err.value)
    assert client.token_requests == 1


async def test_a_malformed_token_request_is_not_an_auth_error(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(
        "/oauth/token",
        400,
        {
            "statusCode": 400,
            "errorCode": "BodyValidationError",
            "message": "Request body validation error: Missing attributes 'grant_type'",
        },
    )
    with pytest.raises(ProviderBadRequestError):
        await _client(session).authenticate()


async def test_no_usable_token_is_a_response_error(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail("/oauth/token", 200, {"access_token": "has a space"})
    with pytest.raises(ProviderResponseError):
        await _client(session).authenticate()


async def test_the_token_is_renewed_shortly_before_it_runs_out(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await client.list_sims()
    fake.now += 3600 - onence_module.RENEW_MARGIN - 10
    await client.list_sims()
    assert fake.token_calls == 1
    fake.now += 20
    await client.list_sims()
    assert fake.token_calls == 2
    assert fake.unauthorized == 0  # renewed before 1NCE refused it


async def test_at_most_one_token_request_an_hour_in_normal_use(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    for _ in range(10 * 12):  # ten hours of a refresh every five minutes
        await client.sim_statuses([ICCID, OTHER])
        fake.now += 300
    # One per 59 minutes (renewed a minute early): 11 in ten hours.
    assert fake.token_calls <= 11
    assert fake.unauthorized == 0


async def test_concurrent_callers_share_one_renewal(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await asyncio.gather(*(client.sim(ICCID) for _ in range(10)))
    assert fake.token_calls == 1
    fake.expire_all()
    fake.now += 3600
    await asyncio.gather(*(client.list_sims() for _ in range(10)))
    assert fake.token_calls == 2


async def test_a_401_renews_the_token_once_and_retries_once(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await client.authenticate()
    fake.expire_all()  # 1NCE stops taking a token we believed valid
    listed = await client.list_sims()
    assert set(listed.devices) == {ICCID, OTHER}
    assert fake.token_calls == 2
    assert fake.unauthorized == 1
    assert len(fake.calls("/v2/sims")) == 2


async def test_a_second_401_is_an_auth_error(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await client.authenticate()
    fake.fail("/v2/sims", 401, {"status": 401, "message": "The token is invalid"})
    fake.fail("/v2/sims", 401, {"status": 401, "message": "The token is invalid"})
    with pytest.raises(ProviderAuthError) as err:
        await client.list_sims()
    assert err.value.status == 401
    assert fake.token_calls == 2
    assert len(fake.calls("/v2/sims")) == 2


async def test_a_403_is_not_retried(fake: FakeOneNce, session: ClientSession) -> None:
    client = _client(session)
    fake.fail("/v2/sims", 403, None)
    with pytest.raises(ProviderAuthError) as err:
        await client.list_sims()
    assert err.value.status == 403
    assert fake.token_calls == 1


# --- SIMs -----------------------------------------------------------------------------


async def test_list_sims_reads_every_page(
    onence: FakeOneNce, session: ClientSession
) -> None:
    iccids = onence.add_sims(250)
    onence.add_sim(ICCID)  # no label: named by its ICCID
    listed = await _client(session).list_sims()
    assert listed.complete
    assert len(listed.devices) == 251
    assert listed.devices[iccids[0]] == f"Sensor {iccids[0][-4:]}"
    assert listed.devices[ICCID] == ICCID
    pages = onence.calls("/v2/sims")
    assert [(q["page"], q["pageSize"]) for _, _, q, _ in pages] == [
        ("1", "100"),
        ("2", "100"),
        ("3", "100"),
    ]


async def test_list_sims_is_incomplete_past_the_page_cap(
    onence: FakeOneNce, session: ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onence_module, "MAX_SIM_PAGES", 2)
    onence.add_sims(250)
    listed = await _client(session).list_sims()
    assert not listed.complete
    assert len(listed.devices) == 200
    assert len(onence.calls("/v2/sims")) == 2


async def test_one_sim_with_its_connectivity_and_quotas(
    fake: FakeOneNce, session: ClientSession
) -> None:
    status = await _client(session).sim(ICCID)
    assert status is not None
    assert status.provider_id == status.iccid == ICCID
    # GET one SIM says Activated where the list says Enabled (recorded).
    assert (status.state, status.provider_state) == (SIM_ACTIVE, "Activated")
    assert status.can_pause
    assert status.online is True
    assert status.msisdn == fake.sims[ICCID]["msisdn"]
    assert status.imei == fake.sims[ICCID]["imei"]
    # 500 MB provisioned, 479.949998 MB left; 1 MB = 1024 kB = 1048576 bytes.
    assert status.data_used == round((500 - 479.949998) * BYTES_PER_MB)
    assert status.data_remaining == round(479.949998 * BYTES_PER_MB)
    assert status.data_expiry == datetime(2031, 11, 26, tzinfo=UTC)
    assert status.sms_remaining == 240
    assert status.sms_expiry == datetime(2031, 11, 26, tzinfo=UTC)
    assert [c[1].removeprefix("/management-api") for c in fake.requests[1:]] == [
        f"/v2/sims/{ICCID}",
        f"/v2/sims/{ICCID}/status",
        f"/v2/sims/{ICCID}/quota/data",
        f"/v2/sims/{ICCID}/quota/sms",
    ]


async def test_an_unknown_sim_is_none(fake: FakeOneNce, session: ClientSession) -> None:
    client = _client(session)
    assert await client.sim(UNKNOWN) is None  # 200, empty body
    fake.fail(f"/v2/sims/{ICCID}", 404, None)
    assert await client.sim(ICCID) is None


async def test_a_sim_answer_without_a_sim_is_a_response_error(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(f"/v2/sims/{ICCID}", 200, {"something": "else"})
    with pytest.raises(ProviderResponseError):
        await _client(session).sim(ICCID)


async def test_a_sim_by_its_iccid_with_the_luhn_digit(
    fake: FakeOneNce, session: ClientSession
) -> None:
    """1NCE's ICCID has 19 digits; the card prints 20 (the list's iccid_with_luhn):
    the refresh finds the SIM by either. Whether GET /v2/sims/{20 digits} answers is
    not documented: the fake says it does not know it (200, empty)."""
    luhn = fake.sims[ICCID]["iccid_with_luhn"]
    client = _client(session)
    statuses = await client.sim_statuses([luhn, OTHER])
    assert set(statuses) == {luhn, OTHER}
    assert (statuses[luhn].provider_id, statuses[luhn].iccid) == (luhn, ICCID)
    assert len(fake.calls(f"/v2/sims/{ICCID}/status")) == 1
    assert await client.sim(luhn) is None


async def test_an_answer_for_another_sim_is_refused(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(f"/v2/sims/{ICCID}", 200, fake.sims[OTHER])
    with pytest.raises(ProviderResponseError):
        await _client(session).sim(ICCID)


async def test_an_iccid_must_be_digits(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    for bad in ("", "89882280666023067x0", "1" * 23, "../sims"):
        with pytest.raises(ValueError):
            await client.sim(bad)
    assert fake.requests == []


async def test_numbers_as_text_read_the_same(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.numbers_as_text = True
    status = await _client(session).sim(ICCID)
    assert status is not None
    assert status.data_used == round((500 - 479.949998) * BYTES_PER_MB)
    assert status.sms_remaining == 240


async def test_an_overdrawn_quota_has_nothing_left(
    onence: FakeOneNce, session: ClientSession
) -> None:
    onence.add_sim(
        ICCID,
        quota={
            "volume": -12.5,
            "total_volume": 100,
            "expiry_date": "2029-01-01T00:00:00.000Z",
        },
        sms_quota={"volume": "garbage", "total_volume": 250},
    )
    status = await _client(session).sim(ICCID)
    assert status is not None
    assert status.data_remaining == 0
    assert status.data_used == round(112.5 * BYTES_PER_MB)
    assert status.data_expiry == datetime(2029, 1, 1, tzinfo=UTC)
    assert status.sms_remaining is None
    assert status.sms_expiry is None


@pytest.mark.parametrize(
    ("word", "state", "can_pause"),
    [
        ("Enabled", SIM_ACTIVE, True),
        ("Disabled", SIM_SUSPENDED, True),
        ("Suspended", SIM_SUSPENDED, False),
        ("Issued", SIM_INACTIVE, False),
        ("Terminated", SIM_UNKNOWN, False),
    ],
)
async def test_sim_states(
    onence: FakeOneNce,
    session: ClientSession,
    word: str,
    state: str,
    can_pause: bool,
) -> None:
    onence.add_sim(ICCID, status=word)
    statuses = await _client(session).sim_statuses([ICCID])
    assert statuses[ICCID].provider_state == word
    assert (statuses[ICCID].state, statuses[ICCID].can_pause) == (state, can_pause)


@pytest.mark.parametrize(
    ("connectivity", "online"),
    [("ONLINE", True), ("ATTACHED", True), ("OFFLINE", False), ("BLOCKED", False)],
)
async def test_online_from_the_connectivity_status(
    onence: FakeOneNce, session: ClientSession, connectivity: str, online: bool
) -> None:
    onence.add_sim(ICCID, connectivity=connectivity)
    assert (await _client(session).sim_statuses([ICCID]))[ICCID].online is online


async def test_sim_statuses_lists_then_three_calls_per_sim(
    onence: FakeOneNce, session: ClientSession
) -> None:
    iccids = onence.add_sims(250)
    statuses = await _client(session).sim_statuses(iccids)
    assert set(statuses) == set(iccids)
    assert all(s.state == SIM_ACTIVE and s.online for s in statuses.values())
    assert len(onence.requests) == 1 + 3 + 3 * 250  # token, pages, per SIM


async def test_a_few_sims_of_a_large_account_are_read_by_themselves(
    onence: FakeOneNce, session: ClientSession
) -> None:
    iccids = onence.add_sims(450)
    wanted = [iccids[10], iccids[300], UNKNOWN]
    statuses = await _client(session).sim_statuses(wanted)
    assert set(statuses) == {iccids[10], iccids[300]}  # the unknown one left out
    assert len(onence.calls("/v2/sims")) == 1  # then single reads, not 4 more pages
    assert len(onence.calls(f"/v2/sims/{iccids[300]}")) == 1
    assert len(onence.calls(f"/v2/sims/{UNKNOWN}")) == 1
    assert statuses[iccids[300]].provider_state == "Activated"


async def test_sim_statuses_of_nothing_asks_nothing(
    fake: FakeOneNce, session: ClientSession
) -> None:
    assert await _client(session).sim_statuses([]) == {}
    assert fake.requests == []


async def test_a_missing_quota_leaves_its_fields_unknown(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(f"/v2/sims/{ICCID}/quota/data", 404, None)
    fake.fail(f"/v2/sims/{ICCID}/status", 403, None)
    status = (await _client(session).sim_statuses([ICCID]))[ICCID]
    assert status.data_used is status.data_remaining is status.online is None
    assert status.sms_remaining == 240


async def test_set_sim_active_puts_the_status(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await client.set_sim_active(ICCID, False)
    assert fake.puts == [(ICCID, {"iccid": ICCID, "status": "Disabled"})]
    assert fake.sims[ICCID]["status"] == "Disabled"
    await client.set_sim_active(ICCID, True)
    assert fake.sims[ICCID]["status"] == "Enabled"
    with pytest.raises(ProviderNotFoundError):
        await client.set_sim_active(UNKNOWN, True)


# --- SMS --------------------------------------------------------------------------------


async def test_send_sms_one_post_per_part_and_the_ids(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    parts = encode_sms("x" * 300, reference=0xCC)
    ids = [await client.send_sms(ICCID, part) for part in parts]
    assert ids == ["7363281", "7363282"]
    assert [(s["dcs"], s["udh"]) for s in fake.sms] == [
        (0, "050003CC0201"),
        (0, "050003CC0202"),
    ]
    assert "".join(s["payload"] for s in fake.sms) == "x" * 300


async def test_send_sms_ucs2_senders_and_expiry(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    [part] = encode_sms("Grüße 😀")
    assert part.dcs == 8
    await client.send_sms(
        ICCID,
        part,
        source_address="HomeAssist",
        alphanumeric_sender=True,
        expiry_date="2027-01-16T08:00:00.000+00:00",
    )
    await client.send_sms(ICCID, SmsPart("hi", None, None), source_address="4912345")
    assert fake.sms[0] == {
        "iccid": ICCID,
        "payload": "Grüße 😀",
        "dcs": 8,
        "source_address": "HomeAssist",
        "source_address_type": {"id": 208},
        "expiry_date": "2027-01-16T08:00:00.000+00:00",
    }
    assert fake.sms[1]["source_address_type"] == {"id": 145}


async def test_send_sms_reads_the_id_of_a_v1_location(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.v1_sms_answer = True
    assert await _client(session).send_sms(ICCID, SmsPart("hi", None, None)) == (
        "7363281"
    )


async def test_send_sms_without_an_id_is_none(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(f"/v2/sims/{ICCID}/sms", 201, b"", headers={"Location": "/v1/other/5"})
    assert await _client(session).send_sms(ICCID, SmsPart("hi", None, None)) is None


async def test_send_sms_to_an_unknown_sim(
    fake: FakeOneNce, session: ClientSession
) -> None:
    with pytest.raises(ProviderNotFoundError) as err:
        await _client(session).send_sms(UNKNOWN, SmsPart("hi", None, None))
    assert err.value.detail == "NotFound: Element not found"


async def test_list_sms_follows_the_delivery(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    sms_id = await client.send_sms(ICCID, SmsPart("hello", None, None))
    [sms] = await client.list_sms(ICCID)
    assert (sms.sms_id, sms.status, sms.payload, sms.direction) == (
        sms_id,
        SMS_PENDING,
        "hello",
        SMS_MT,
    )
    assert sms.submitted == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert sms_id is not None
    fake.set_sms_status(sms_id, 4, final_date="2027-01-15T08:00:05.000+0000")
    [sms] = await client.list_sms(ICCID)
    assert sms.status == SMS_DELIVERED
    assert sms.final == datetime(2027, 1, 15, 8, 0, 5, tzinfo=UTC)
    assert await client.list_sms(OTHER) == []


async def test_list_sms_reads_the_pages(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    for n in range(120):
        await client.send_sms(ICCID, SmsPart(f"m{n}", None, None))
    listed = await client.list_sms(ICCID)
    assert len(listed) == 120
    assert [q for _, _, q, _ in fake.calls(f"/v2/sims/{ICCID}/sms") if "page" in q] == [
        {"page": "1", "per_page": "100"},
        {"page": "2", "per_page": "100"},
    ]


async def test_list_sms_that_is_no_list(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail(f"/v2/sims/{ICCID}/sms", 200, {"not": "a list"})
    with pytest.raises(ProviderResponseError):
        await _client(session).list_sms(ICCID)


# --- 1NCE OS UDP ----------------------------------------------------------------------


async def test_send_udp(fake: FakeOneNce, session: ClientSession) -> None:
    client = _client(session)
    first = await client.send_udp(
        ICCID, "enable_sensor", base64_payload=False, port=3000, when_active=False
    )
    second = await client.send_udp(
        ICCID, "AQID", base64_payload=True, port=4445, when_active=True
    )
    assert (first, second) == ("trx000001", "trx000002")
    assert [
        (u["payload"], u["payloadType"], u["port"], u["requestMode"]) for u in fake.udp
    ] == [
        ("enable_sensor", "STRING", 3000, "SEND_NOW"),
        ("AQID", "BASE64", 4445, "SEND_WHEN_ACTIVE"),
    ]
    assert fake.calls(f"/v1/integrate/devices/{ICCID}/actions/UDP")


async def test_send_udp_checks_before_sending(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    with pytest.raises(ValueError):
        await client.send_udp(
            ICCID, "not base64!", base64_payload=True, port=1, when_active=False
        )
    for port in (0, 65536):
        with pytest.raises(ValueError):
            await client.send_udp(
                ICCID, "x", base64_payload=False, port=port, when_active=False
            )
    with pytest.raises(ValueError):
        await client.send_udp(
            ICCID, "", base64_payload=False, port=1, when_active=False
        )
    assert fake.requests == []


async def test_send_udp_to_an_unknown_device(
    fake: FakeOneNce, session: ClientSession
) -> None:
    with pytest.raises(ProviderNotFoundError) as err:
        await _client(session).send_udp(
            UNKNOWN, "x", base64_payload=False, port=1, when_active=False
        )
    assert err.value.detail == f"Not Found: Device {UNKNOWN}"


# --- errors and the limiter --------------------------------------------------------------


async def test_429_is_a_rate_limit_error_with_the_wait(
    fake: FakeOneNce, session: ClientSession
) -> None:
    fake.fail("/v2/sims", 429, None, headers={"Retry-After": "2"})
    with pytest.raises(ProviderRateLimitedError) as err:
        await _client(session).list_sims()
    assert err.value.retry_after == 2.0


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, None, ProviderResponseError),
        (200, "garbage", ProviderResponseError),
        (200, {"not": "a list"}, ProviderResponseError),
        (400, None, ProviderBadRequestError),
        (404, None, ProviderNotFoundError),
    ],
)
async def test_error_answers(
    fake: FakeOneNce,
    session: ClientSession,
    status: int,
    body: object,
    error: type[Exception],
) -> None:
    fake.fail("/v2/sims", status, body)
    with pytest.raises(error) as err:
        await _client(session).list_sims()
    assert CLIENT_SECRET not in str(err.value)


async def test_an_echoed_secret_is_redacted(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await client.authenticate()
    fake.fail(
        "/v2/sims",
        400,
        {
            "error_code": 1000,
            "error_token": "BadRequest",
            "message": f"x {CLIENT_SECRET}",
        },
    )
    with pytest.raises(ProviderBadRequestError) as err:
        await client.list_sims()
    assert err.value.detail == "BadRequest: x **REDACTED**"
    assert CLIENT_SECRET not in str(err.value)


async def test_no_answer_in_time_is_a_timeout_and_the_observer_hears(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    heard: list[str | None] = []
    client.observer = heard.append
    await client.authenticate()
    fake.fail("/v2/sims", 0, None, hang=True)
    with pytest.raises(ProviderTimeoutError):
        await client.list_sims()
    fake.fail("/v2/sims", 503, None)
    with pytest.raises(ProviderResponseError):
        await client.list_sims()
    assert heard[0] is None
    assert heard[1] == "1NCE did not answer in time"
    assert heard[2] == "1NCE failed (HTTP 503)"


async def test_the_limiter_spaces_every_request(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    start = fake.now
    await asyncio.gather(*(client.sim(ICCID) for _ in range(10)))
    assert len(fake.requests) == len(fake.time.stamps) == 41
    assert fake.time.max_rate() == REQUEST_RATE
    # 41 requests at 5 a second: the last one 8 s after the first, evenly spaced.
    stamps = sorted(fake.time.stamps)
    assert stamps[-1] - start == pytest.approx(40 / REQUEST_RATE)
    assert {round(b - a, 6) for a, b in itertools.pairwise(stamps)} == {0.2}


async def test_one_limiter_for_all_calls_of_a_client(
    fake: FakeOneNce, session: ClientSession
) -> None:
    client = _client(session)
    await asyncio.gather(
        client.list_sims(),
        client.list_sms(ICCID),
        client.set_sim_active(ICCID, True),
        client.send_sms(ICCID, SmsPart("hi", None, None)),
        client.send_udp(ICCID, "x", base64_payload=False, port=1, when_active=False),
        client.sim_statuses([ICCID, OTHER]),
    )
    assert len(fake.time.stamps) == len(fake.requests) == 13
    assert fake.time.max_rate() == REQUEST_RATE


# --- the fake refuses what 1NCE documents as wrong ---------------------------------------


async def _raw(
    session: ClientSession,
    method: str,
    path: str,
    body: object = None,
    *,
    params: dict[str, str] | None = None,
) -> int:
    """One request with a fresh token, as a client might send it; its status."""
    base = onence_module.DEFAULT_BASE_URL
    async with session.post(
        f"{base}/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={"Authorization": basic_authorization(CLIENT_ID, CLIENT_SECRET)},
    ) as answer:
        access = (await answer.json())["access_token"]
    async with session.request(
        method,
        f"{base}{path}",
        json=body,
        params=params,
        headers={"Authorization": f"Bearer {access}"},
    ) as answer:
        return answer.status


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("GET", "/v2/sims", None, {"page": "1", "pageSize": "101"}),
        ("PUT", f"/v2/sims/{ICCID}", {"iccid": ICCID, "status": "Activated"}, None),
        ("PUT", f"/v2/sims/{ICCID}", {"status": "Enabled"}, None),
        ("POST", f"/v2/sims/{ICCID}/sms", {"payload": "x" * 161, "dcs": 0}, None),
        ("POST", f"/v2/sims/{ICCID}/sms", {"payload": "é" * 71, "dcs": 8}, None),
        ("POST", f"/v2/sims/{ICCID}/sms", {"payload": "hi", "dcs": 8}, None),
        ("POST", f"/v2/sims/{ICCID}/sms", {"payload": "zz", "dcs": 4}, None),
        (
            "POST",
            f"/v2/sims/{ICCID}/sms",
            {"payload": "hi", "udh": "050003CC0104"},
            None,
        ),
        (
            "POST",
            f"/v2/sims/{ICCID}/sms",
            {"payload": "hi", "source_address": "HomeAssist"},
            None,
        ),
        (
            "POST",
            f"/v2/sims/{ICCID}/sms",
            {"payload": "hi", "expiry_date": "tomorrow"},
            None,
        ),
        (
            "POST",
            f"/v1/integrate/devices/{ICCID}/actions/UDP",
            {"payload": "x", "payloadType": "HEX", "port": 1},
            None,
        ),
        (
            "POST",
            f"/v1/integrate/devices/{ICCID}/actions/UDP",
            {"payload": "x", "payloadType": "STRING", "port": 70000},
            None,
        ),
    ],
)
async def test_the_fake_refuses_what_1nce_documents_as_wrong(
    fake: FakeOneNce,
    session: ClientSession,
    method: str,
    path: str,
    body: object,
    params: dict[str, str] | None,
) -> None:
    assert await _raw(session, method, path, body, params=params) == 400
    assert len(fake.violations) == 1
    fake.violations.clear()


async def test_the_fake_wants_basic_auth_and_a_bearer_token(
    fake: FakeOneNce, session: ClientSession
) -> None:
    base = onence_module.DEFAULT_BASE_URL
    async with session.post(
        f"{base}/oauth/token", json={"grant_type": "client_credentials"}
    ) as answer:
        assert answer.status == 400
        assert (await answer.json())["errorCode"] == "AuthValidationError"
    async with session.get(
        f"{base}/v2/sims", headers={"Authorization": "Bearer nope"}
    ) as answer:
        assert answer.status == 401
        assert set(await answer.json()) == {
            "timestamp",
            "status",
            "error",
            "message",
            "path",
        }
    assert fake.token_calls == 0

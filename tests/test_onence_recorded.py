"""1NCE as it really answers: our client fed its recorded traffic and its examples.

The recordings are PadawanBreslau/ince-api's VCR cassettes (live 1NCE API traffic of
November 2021, v1 paths) and the examples of 1NCE's OpenAPI specs and docs
(``spec_*.yaml``), under ``tests/fixtures/recorded/1nce/``; each names its source on
its first line. They are served byte for byte on a loopback socket
(:class:`~tests.recorded.RecordedServer`) to our real :class:`OneNceClient`.

Our client calls v2 where the recordings are v1: 1NCE's migration guide moves the
paths from ``/v1/`` to ``/v2/`` for the same calls, and the v2 spec gives the same
shapes, so a v1 recording is served at its v2 path (:func:`_v2`). The client runs on
a virtual clock (its limiter waits no real time).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
import json
from pathlib import Path

from aiohttp import ClientSession
import pytest

from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderResponseError,
)
from custom_components.cellular_iot.providers.onence import (
    BYTES_PER_MB,
    OneNceAccount,
    OneNceClient,
)
from custom_components.cellular_iot.providers.sim import (
    SIM_ACTIVE,
    SIM_SUSPENDED,
    SMS_DELIVERED,
    SMS_MT,
)
from custom_components.cellular_iot.providers.sms import SmsPart

from . import recorded
from .fakes.onence import VirtualClock

BASE = "https://api.1nce.com/management-api"
ICCID = "8988228066602306770"  # the SIM of the recordings
SPEC_ICCID = "8988303000123456789"  # the SimsSim schema's example
Replay = Callable[..., Awaitable[recorded.RecordedServer]]
# Recordings of calls our client does not make (v1 usage, v1 bulk update): kept
# for what they show, checked by test_the_recordings_the_client_does_not_read.
NOT_READ = {
    "get_sim_usage.yaml",
    "get_sims_usage_with_params.yaml",
    "update_sims_empty_list.yaml",
    "update_sims_label_change.yaml",
}


def _load(name: str) -> recorded.Recording:
    return recorded.load("1nce", name)


def _v2(name: str, *, iccid: str | None = None) -> list[recorded.Interaction]:
    """A recording's interactions, a v1 SIM path served at its v2 path.

    ``iccid`` serves them for that SIM instead of the one in the recorded URI.
    """
    items = []
    for item in _load(name).interactions:
        uri = item.request.uri.replace(
            "/management-api/v1/sims", "/management-api/v2/sims"
        )
        if iccid is not None:
            parts = uri.split("/")
            parts[parts.index("sims") + 1] = iccid
            uri = "/".join(parts)
        items.append(replace(item, request=replace(item.request, uri=uri)))
    return items


@pytest.fixture
async def replay(socket_enabled: None) -> AsyncGenerator[Replay]:
    """Start replay servers for a test (closed after it)."""
    servers: list[recorded.RecordedServer] = []

    async def start(*items: recorded.Interaction) -> recorded.RecordedServer:
        server = recorded.RecordedServer(items)
        servers.append(await server.start())
        return server

    yield start
    for server in servers:
        await server.close()
        assert server.unmatched == []


@pytest.fixture
async def session() -> AsyncGenerator[ClientSession]:
    async with ClientSession() as http:
        yield http


def _client(session: ClientSession, server: recorded.RecordedServer) -> OneNceClient:
    clock = VirtualClock(0.0)
    return OneNceClient(
        session,
        "recorded-client",
        "recorded-secret",
        base_url=server.base_url(BASE),
        clock=clock.clock,
        sleep=clock.sleep,
    )


# --- the token ---------------------------------------------------------------------


async def test_the_recorded_token_names_the_customer(
    replay: Replay, session: ClientSession
) -> None:
    """valid_credentials.yaml: the token is base64 of {"idtoken", "accesstoken"}, not a
    JWT; the id token's custom:customerId is 4697283466; "userId" is just "user"."""
    answer = _load("valid_credentials.yaml").find("POST", "/oauth/token")
    body = json.loads(answer.response.body)
    assert body["userId"] == "user"
    assert body["access_token"].count(".") == 0
    server = await replay(*_v2("valid_credentials.yaml"))
    client = _client(session, server)
    assert await client.authenticate() == OneNceAccount("4697283466", None)
    assert client.token_requests == 1
    [sent] = server.received
    assert sent.headers["Authorization"].startswith("Basic ")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == b'{"grant_type":"client_credentials"}'


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("invalid_credentials.yaml", "User does not exist."),
        ("invalid_password.yaml", "Incorrect username or password."),
    ],
)
async def test_refused_credentials_are_an_auth_error(
    replay: Replay, session: ClientSession, name: str, text: str
) -> None:
    """400 CognitoAuthenticationError, an unknown user or a wrong password (recorded)."""
    server = await replay(*_v2(name))
    with pytest.raises(ProviderAuthError) as err:
        await _client(session, server).authenticate()
    assert err.value.status == 400
    assert err.value.detail == f"CognitoAuthenticationError: {text}"
    assert "recorded-secret" not in str(err.value)


async def test_the_documented_bad_credentials_are_an_auth_error(
    replay: Replay, session: ClientSession
) -> None:
    server = await replay(*_v2("spec_oauth_bad_credentials.yaml"))
    with pytest.raises(ProviderAuthError) as err:
        await _client(session, server).authenticate()
    assert err.value.detail == "BadCredentials: User does not exist."


async def test_the_documented_token_names_no_customer(
    replay: Replay, session: ClientSession
) -> None:
    """The spec's example token ("eyJpzhr...") tells nothing: the client id's hash."""
    server = await replay(*_v2("spec_oauth_token.yaml"))
    account = await _client(session, server).authenticate()
    assert account.customer_id.startswith("client-")
    assert "recorded-client" not in account.customer_id


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("get_sims_wrong_token.yaml", "list_sims"),
        ("get_sim_wrong_token.yaml", "sim"),
    ],
)
async def test_a_refused_token_is_renewed_once_then_an_auth_error(
    replay: Replay, session: ClientSession, name: str, call: str
) -> None:
    """The recorded 401 {"timestamp", "status", "error", "message", "path"}, twice."""
    server = await replay(
        *_v2("valid_credentials.yaml"),
        *_v2(name),
        *_v2("valid_credentials.yaml"),
        *_v2(name),
    )
    client = _client(session, server)
    pending = client.sim("8988228066602306711") if call == "sim" else client.list_sims()
    with pytest.raises(ProviderAuthError) as err:
        await pending
    assert err.value.status == 401
    assert err.value.detail == "The token is invalid: Illegal base64 character 20"
    assert client.token_requests == 2


# --- SIMs --------------------------------------------------------------------------------


async def test_the_recorded_sim_list(replay: Replay, session: ClientSession) -> None:
    """get_sims.yaml: a bare array, X-Total-Pages 1; imei and label may be absent."""
    server = await replay(*_v2("valid_credentials.yaml"), *_v2("get_sims.yaml"))
    listed = await _client(session, server).list_sims()
    assert listed.complete
    assert len(listed.devices) == 10
    assert listed.devices[ICCID] == "Test API"
    assert sum(label.isdigit() for label in listed.devices.values()) == 9


async def test_the_recorded_pages_of_five(
    replay: Replay, session: ClientSession
) -> None:
    """1NCE answered pages of 5 (X-Total-Pages 2): the header decides, not the size."""
    server = await replay(
        *_v2("valid_credentials.yaml"),
        *_v2("get_sims_with_params_page_1.yaml"),
        *_v2("get_sims_with_params.yaml"),
    )
    listed = await _client(session, server).list_sims()
    assert listed.complete
    assert len(listed.devices) == 10
    pages = [r.query for r in server.received if r.path.endswith("/v2/sims")]
    assert pages == ["page=1&pageSize=100", "page=2&pageSize=100"]


def _sim_details(iccid: str = ICCID) -> list[recorded.Interaction]:
    return [
        *_v2("get_sim_status.yaml", iccid=iccid),
        *_v2("get_sim_data_quota.yaml", iccid=iccid),
        *_v2("get_sim_sms_quota.yaml", iccid=iccid),
    ]


async def test_the_recorded_sim_status_and_quotas(
    replay: Replay, session: ClientSession
) -> None:
    """get_sim.yaml says Activated; /status ATTACHED (v1: a bare string); the quotas
    in MB with dates "2031-11-26 00:00:00".

    The cassette asks for …6711 and answers the SIM …6770 (an edit of its author, as
    the other cassettes ask for …6770): it is served at the ICCID its body names.
    """
    get_sim = _load("get_sim.yaml").interactions[0]
    assert get_sim.request.uri.endswith("/v1/sims/8988228066602306711")
    assert json.loads(get_sim.response.body)["iccid"] == ICCID
    server = await replay(
        *_v2("valid_credentials.yaml"),
        *_v2("get_sim.yaml", iccid=ICCID),
        *_sim_details(),
    )
    status = await _client(session, server).sim(ICCID)
    assert status is not None
    assert (status.provider_id, status.iccid) == (ICCID, ICCID)
    assert (status.state, status.provider_state, status.can_pause) == (
        SIM_ACTIVE,
        "Activated",
        True,
    )
    assert status.online is True  # ATTACHED
    assert (status.imei, status.msisdn) == ("8682390510114404", "882285102306770")
    assert status.data_used == round((500 - 479.949998) * BYTES_PER_MB)
    assert status.data_remaining == round(479.949998 * BYTES_PER_MB)
    assert status.data_expiry == datetime(2031, 11, 26, tzinfo=UTC)
    assert status.sms_remaining == 240
    assert status.sms_expiry == datetime(2031, 11, 26, tzinfo=UTC)


async def test_an_answer_for_another_sim_is_refused(
    replay: Replay, session: ClientSession
) -> None:
    """get_sim.yaml as recorded: asked …6711, answered …6770."""
    server = await replay(*_v2("valid_credentials.yaml"), *_v2("get_sim.yaml"))
    with pytest.raises(ProviderResponseError):
        await _client(session, server).sim("8988228066602306711")


async def test_the_refresh_of_a_recorded_sim(
    replay: Replay, session: ClientSession
) -> None:
    """The list says Enabled; the refresh reads the list, then three calls."""
    server = await replay(
        *_v2("valid_credentials.yaml"), *_v2("get_sims.yaml"), *_sim_details()
    )
    statuses = await _client(session, server).sim_statuses([ICCID])
    assert list(statuses) == [ICCID]
    assert statuses[ICCID].provider_state == "Enabled"
    assert statuses[ICCID].state == SIM_ACTIVE
    assert statuses[ICCID].sms_remaining == 240
    assert len(server.received) == 1 + 1 + 3


async def test_an_unknown_iccid_is_200_with_nothing(
    replay: Replay, session: ClientSession
) -> None:
    """get_sim_wrong_iccid.yaml: 200, empty body: the SIM is not there."""
    answer = _load("get_sim_wrong_iccid.yaml").interactions[0]
    assert (answer.response.status, answer.response.body) == (200, b"")
    server = await replay(
        *_v2("valid_credentials.yaml"), *_v2("get_sim_wrong_iccid.yaml")
    )
    assert await _client(session, server).sim("11111222233444") is None


@pytest.mark.parametrize(
    "name", ["update_sim_label_change.yaml", "update_sim_no_change.yaml"]
)
async def test_pause_takes_the_recorded_put_answer(
    replay: Replay, session: ClientSession, name: str
) -> None:
    """PUT answered 200, an empty body (recorded); we send iccid and status."""
    server = await replay(*_v2("valid_credentials.yaml"), *_v2(name))
    await _client(session, server).set_sim_active(ICCID, False)
    [put] = [r for r in server.received if r.method == "PUT"]
    assert put.path == f"/management-api/v2/sims/{ICCID}"
    assert json.loads(put.body) == {"iccid": ICCID, "status": "Disabled"}


async def test_the_spec_sim_with_its_status_and_quota(
    replay: Replay, session: ClientSession
) -> None:
    """The v2 examples: Disabled, ONLINE, 435.787951 of 500 MB (SMS quota: the
    recorded one, served for this SIM; the spec has no SMS quota example)."""
    server = await replay(
        *_v2("valid_credentials.yaml"),
        *_v2("spec_v2_sim.yaml"),
        *_v2("spec_v2_status.yaml"),
        *_v2("spec_v2_quota_data.yaml"),
        *_v2("get_sim_sms_quota.yaml", iccid=SPEC_ICCID),
    )
    status = await _client(session, server).sim(SPEC_ICCID)
    assert status is not None
    assert (status.state, status.provider_state, status.can_pause) == (
        SIM_SUSPENDED,
        "Disabled",
        True,
    )
    assert status.online is True
    assert status.imei == "0000000000000018"
    assert status.data_remaining == round(435.787951 * BYTES_PER_MB)
    assert status.data_used == round((500 - 435.787951) * BYTES_PER_MB)
    assert status.data_expiry == datetime(2029, 1, 1, tzinfo=UTC)


async def test_the_exhausted_example_is_read_by_its_volumes(
    replay: Replay, session: ClientSession
) -> None:
    """EndpointQuota's example: "EXHAUSTED" with 95.5 of 100 MB left; volumes win."""
    server = await replay(
        *_v2("valid_credentials.yaml"),
        *_v2("spec_v2_sim.yaml"),
        *_v2("spec_v2_status.yaml"),
        *_v2("spec_v2_quota_exhausted.yaml"),
        *_v2("get_sim_sms_quota.yaml", iccid=SPEC_ICCID),
    )
    status = await _client(session, server).sim(SPEC_ICCID)
    assert status is not None
    assert status.data_remaining == round(95.5 * BYTES_PER_MB)
    assert status.data_used == round(4.5 * BYTES_PER_MB)
    assert status.data_expiry == datetime(2027, 7, 26, 13, 13, 21, tzinfo=UTC)


async def test_the_documented_404_is_no_sim(
    replay: Replay, session: ClientSession
) -> None:
    server = await replay(
        *_v2("valid_credentials.yaml"), *_v2("spec_v2_not_found.yaml")
    )
    assert await _client(session, server).sim(SPEC_ICCID) is None


# --- SMS and UDP --------------------------------------------------------------------------


async def test_the_recorded_sms_id_is_in_the_location(
    replay: Replay, session: ClientSession
) -> None:
    """create_sms.yaml (v1): 201, empty body, Location …/v1/sims/{iccid}/sms/7363280."""
    answer = _load("create_sms.yaml").interactions[0]
    assert (answer.response.status, answer.response.body) == (201, b"")
    server = await replay(*_v2("valid_credentials.yaml"), *_v2("create_sms.yaml"))
    sms_id = await _client(session, server).send_sms(
        ICCID, SmsPart("test SMS", None, None)
    )
    assert sms_id == "7363280"
    [post] = [r for r in server.received if r.path.endswith("/sms")]
    assert json.loads(post.body) == {"payload": "test SMS", "dcs": 0}


async def test_the_documented_v2_sms_id_is_in_the_body(
    replay: Replay, session: ClientSession
) -> None:
    """The v2 201 {"id": "<string>"}; our request has the example's fields."""
    server = await replay(
        *_v2("valid_credentials.yaml"), *_v2("spec_v2_create_sms.yaml")
    )
    sms_id = await _client(session, server).send_sms(
        SPEC_ICCID,
        SmsPart("This is an SMS message.", None, "050003CC0301"),
        source_address="1234567890",
        expiry_date="2028-03-14T16:10:29.000+00:00",
    )
    assert sms_id == "7476638"
    example = json.loads(
        _load("spec_v2_create_sms.yaml").interactions[0].request.body or b""
    )
    [post] = [r for r in server.received if r.path.endswith("/sms")]
    assert json.loads(post.body) == example


async def test_the_documented_sms_list(replay: Replay, session: ClientSession) -> None:
    """The docs' list: DELIVERED (4), MT (1), dates with "+0000", retry_count "0"."""
    server = await replay(*_v2("valid_credentials.yaml"), *_v2("spec_sms_list.yaml"))
    [sms] = await _client(session, server).list_sms(SPEC_ICCID)
    assert (sms.sms_id, sms.status, sms.direction, sms.payload) == (
        "7476638",
        SMS_DELIVERED,
        SMS_MT,
        "This is a 1NCE MT-SMS Test!",
    )
    assert sms.submitted == datetime(2021, 12, 1, 7, 43, 34, tzinfo=UTC)
    assert sms.final == datetime(2021, 12, 1, 7, 43, 35, tzinfo=UTC)


async def test_the_documented_udp_action(
    replay: Replay, session: ClientSession
) -> None:
    """1NCE OS: 202 {"id", "message"}; our request is the example's."""
    server = await replay(*_v2("valid_credentials.yaml"), *_v2("spec_os_udp.yaml"))
    action = await _client(session, server).send_udp(
        SPEC_ICCID, "enable_sensor", base64_payload=False, port=3000, when_active=False
    )
    assert action == "trxHeBL0d234fsfds"
    example = json.loads(_load("spec_os_udp.yaml").interactions[0].request.body or b"")
    [post] = [r for r in server.received if r.path.endswith("/UDP")]
    assert json.loads(post.body) == example


# --- what is not read ---------------------------------------------------------------------


def test_the_recordings_the_client_does_not_read() -> None:
    """Usage (v1 only; values as text) and the bulk update (201, empty) are not
    called by the client; they stay as evidence of 1NCE's shapes."""
    usage = json.loads(_load("get_sim_usage.yaml").interactions[0].response.body)
    day = usage["stats"][0]
    assert isinstance(day["data"]["volume"], str)
    bulk = _load("update_sims_label_change.yaml").interactions[0]
    assert (bulk.response.status, bulk.response.body) == (201, b"")
    _load("get_sims_usage_with_params.yaml")
    _load("update_sims_empty_list.yaml")


def test_every_recording_is_read_by_a_test_here() -> None:
    """Every 1NCE API recording is named by a test of this file (none forgotten).

    (The webhook deliveries beside them, webhook_*.yaml, are test_onence_deliveries'.)
    """
    source = Path(__file__).read_text(encoding="utf-8")
    names = {
        path.name
        for path in (recorded.RECORDED / "1nce").iterdir()
        if not path.name.startswith("webhook_")
    }
    assert {name for name in names if f'"{name}"' not in source} == set()
    assert names >= NOT_READ

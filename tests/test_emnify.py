"""The emnify account: flow, token caching and renewal, and SMS sent whole."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.providers.emnify import EmnifyClient, jwt_claims
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
)
from custom_components.cellular_iot.providers.sms import encode_sms
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .conftest import emnify_entry
from .fakes.emnify import FakeEmnify, make_jwt
from .guards import HANG_GUARD

# A client timeout that only guards against a hang: no test waits for it.


async def _form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "emnify"}
    )
    assert result["step_id"] == "emnify"
    return result["flow_id"]


async def _sms(hass: HomeAssistant, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, "send_sms", data, blocking=True, return_response=True
    )


# --- config flow ----------------------------------------------------------------------


async def test_flow_creates_entry(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"application_token": emnify.application_token}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "emnify Fleet GmbH"
    assert result["result"].unique_id == "emnify-org-4242"
    assert result["data"].pop("webhook_id")
    assert result["data"] == {
        "kind": "emnify",
        "application_token": emnify.application_token,
    }


@pytest.mark.parametrize(
    ("token", "fault", "error"),
    [
        ("not-a-known-token", None, {"base": "invalid_auth"}),
        ("  ", None, {"application_token": "invalid_auth"}),
        (None, 500, {"base": "cannot_connect"}),
        (None, "hang", {"base": "cannot_connect"}),
        (None, "garbage", {"base": "cannot_connect"}),
        (None, 429, {"base": "cannot_connect"}),
    ],
)
async def test_flow_errors(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    token: str | None,
    fault: int | str | None,
    error: dict[str, str],
) -> None:
    flow_id = await _form(hass)
    if fault == "hang":
        emnify.fail("/authenticate", 200, hang=True)
    elif fault == "garbage":
        emnify.fail("/authenticate", 200, "garbage")
    elif fault is not None:
        emnify.fail("/authenticate", fault)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"application_token": token or emnify.application_token}
    )
    assert result["errors"] == error
    # The token typed stays in the (masked) field (issue 26 A11: it was emptied).
    (marker,) = result["data_schema"].schema
    assert marker.description == {"suggested_value": token or emnify.application_token}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"application_token": emnify.application_token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_flow_unknown_error(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    flow_id = await _form(hass)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EmnifyClient, "authenticate", _boom)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"application_token": emnify.application_token}
        )
    assert result["errors"] == {"base": "unknown"}


async def _boom(self: EmnifyClient) -> None:
    raise RuntimeError("boom")


async def test_flow_duplicate_and_token_without_org(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    emnify_entry(emnify.application_token).add_to_hass(hass)
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"application_token": emnify.application_token}
    )
    assert result["reason"] == "already_configured"

    plain = "opaque-token-without-claims"
    emnify.application_tokens[plain] = (77, "Other")
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"application_token": plain}
    )
    # The auth token names the organisation even when the application token does not.
    assert result["result"].unique_id == "emnify-org-77"


async def test_reauth_and_reconfigure(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    entry = emnify_entry("revoked")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert flows[0]["context"]["source"] == SOURCE_REAUTH
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"application_token": "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"application_token": emnify.application_token}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert entry.state is ConfigEntryState.LOADED

    other = make_jwt({"esc.org": 9999})
    emnify.application_tokens[other] = (9999, "Someone else")
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"application_token": other}
    )
    assert result["reason"] == "wrong_account"

    rotated = make_jwt({"esc.org": 4242, "rotated": True})
    emnify.application_tokens[rotated] = (4242, "Fleet GmbH")
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"application_token": rotated}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["application_token"] == rotated


async def test_setup_retries_when_down(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    emnify.fail("/authenticate", 503)
    entry = emnify_entry(emnify.application_token)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


# --- client: token cache --------------------------------------------------------------


async def test_token_cached_renewed_before_expiry_and_on_401(
    emnify: FakeEmnify,
) -> None:
    parts = encode_sms("hi")
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token)
        for _ in range(5):
            await client.send_sms(1001, parts)
        assert emnify.auth_calls == 1
        emnify.now += 3600 - 59  # inside the renewal margin
        await client.send_sms(1001, parts)
        assert emnify.auth_calls == 2
        emnify.expire_all()  # revoked by emnify: a 401 renews once and retries
        await client.send_sms(1001, parts)
        assert emnify.auth_calls == 3
        assert len(emnify.sms) == 7


async def test_concurrent_callers_share_one_renewal(emnify: FakeEmnify) -> None:
    """Twenty callers share one renewal, at first and after a 401 storm.

    Deterministic: each renewal is held at the fake until every caller is known to
    wait for it, and the client's timeout is only a hang guard (it was the fixture's
    0.5 s per request, which twenty concurrent requests on a loaded machine missed).
    """
    emnify.auth_gate = asyncio.Event()
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        tasks = [
            asyncio.create_task(client.send_sms(1001, encode_sms(f"m{i}")))
            for i in range(20)
        ]
        async with asyncio.timeout(HANG_GUARD):
            await emnify.auth_waiting.wait()
        assert not any(task.done() for task in tasks)
        emnify.auth_gate.set()
        await asyncio.gather(*tasks)
        assert emnify.auth_calls == 1

        emnify.auth_gate = asyncio.Event()
        emnify.auth_waiting.clear()
        emnify.expire_all()
        tasks = [
            asyncio.create_task(client.send_sms(1001, encode_sms(f"n{i}")))
            for i in range(20)
        ]
        async with asyncio.timeout(HANG_GUARD):
            # Every caller's token was refused, and the renewal is under way.
            await emnify.wait_until(lambda: emnify.unauthorized == 20)
            await emnify.auth_waiting.wait()
        emnify.auth_gate.set()
        await asyncio.gather(*tasks)
    assert emnify.auth_calls == 2
    assert len(emnify.sms) == 40


@pytest.mark.parametrize("iat", [True, False], ids=["with-iat", "without-iat"])
async def test_short_lived_tokens_are_kept_a_minute(
    emnify: FakeEmnify, iat: bool
) -> None:
    """A token living less than the renewal margin is not renewed on every send."""
    emnify.token_lifetime = 30
    emnify.issue_iat = iat
    parts = encode_sms("hi")
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        for _ in range(10):
            await client.send_sms(1001, parts)
        assert emnify.auth_calls == 1
        # emnify stops taking it after 30 s: its 401 renews once, the send is retried.
        emnify.now += 31
        for _ in range(10):
            await client.send_sms(1001, parts)
        assert emnify.auth_calls == 2
        assert emnify.unauthorized == 1
    assert len(emnify.sms) == 20


@pytest.mark.parametrize("iat", [True, False], ids=["with-iat", "without-iat"])
@pytest.mark.parametrize("skew", [7200.0, 3600.0, -7200.0])
async def test_clock_off_does_not_renew_every_send(
    emnify: FakeEmnify, iat: bool, skew: float
) -> None:
    """A local clock ahead of emnify's (or behind it) costs no /authenticate per send."""
    emnify.issue_iat = iat
    parts = encode_sms("hi")
    async with ClientSession() as session:
        client = EmnifyClient(
            session,
            emnify.application_token,
            timeout=HANG_GUARD,
            clock=lambda: emnify.now + skew,
        )
        for _ in range(10):
            await client.send_sms(1001, parts)
    assert emnify.auth_calls == 1
    assert emnify.unauthorized == 0
    assert len(emnify.sms) == 10


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**400},
        {"exp": 1e308, "iat": -1e308},
        {"exp": "soon", "iat": None},
        {"exp": True},
        {"exp": 1_800_000_000, "iat": 1_800_000_000},
        {"exp": 1_700_000_000, "iat": 1_900_000_000},
    ],
    ids=["huge-int", "huge-float", "text", "bool", "zero-lifetime", "iat-after-exp"],
)
async def test_odd_token_claims_keep_a_token_for_a_while(
    emnify: FakeEmnify, claims: dict[str, Any]
) -> None:
    """Whatever exp and iat say, a token is used for a while, then renewed."""
    emnify.extra_claims = claims
    parts = encode_sms("hi")
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        for _ in range(5):
            await client.send_sms(1001, parts)
        assert emnify.auth_calls == 1
        emnify.now += 2 * 86400  # no token is kept longer than a day
        await client.send_sms(1001, parts)
    assert emnify.auth_calls == 2


@pytest.mark.parametrize(
    "token",
    ["abc\r\nX-Injected: 1", "a b", "é" * 10, "x" * 20000, "", 42, None],
    ids=["crlf", "space", "non-ascii", "huge", "empty", "number", "null"],
)
async def test_unusable_auth_token_is_a_provider_error(
    emnify: FakeEmnify, token: Any
) -> None:
    """An auth token that cannot go into a header is refused, not sent."""
    emnify.fail("/authenticate", 200, {"auth_token": token})
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        with pytest.raises(ProviderResponseError):
            await client.send_sms(1001, encode_sms("hi"))
    assert emnify.sms == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"[" * 200_000),
        (500, b'{"message": ' * 100_000),
        (201, b"\xff\xfe\x00{not utf-8"),
        (422, b'{"error_description": "\xff\xfe bad"}'),
    ],
    ids=["nested-ok", "nested-error", "not-utf8-ok", "not-utf8-error"],
)
async def test_hostile_answers_are_provider_errors(
    emnify: FakeEmnify, status: int, body: bytes
) -> None:
    """Deeply nested or non-UTF-8 answers become provider errors, never a crash."""
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        await client.authenticate()
        emnify.fail("/endpoint/1001/sms", status, body)
        with pytest.raises(ProviderError):
            await client.send_sms(1001, encode_sms("hi"))


async def test_error_text_never_quotes_the_tokens(emnify: FakeEmnify) -> None:
    """emnify's error text is kept, minus any token it quotes and line breaks."""
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        await client.authenticate()
        auth_token = next(iter(emnify.valid_tokens))
        emnify.fail(
            "/endpoint/1001/sms",
            422,
            {
                "error_description": f"bad token {auth_token} from "
                f"{emnify.application_token}\nERROR forged log line"
            },
        )
        with pytest.raises(ProviderError) as err:
            await client.send_sms(1001, encode_sms("hi"))
    text = f"{err.value} {err.value.detail}"
    assert auth_token not in text
    assert emnify.application_token not in text
    assert "\n" not in text
    assert "bad token" in text


async def test_refused_after_renewal_is_auth_error(emnify: FakeEmnify) -> None:
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token)
        await client.authenticate()
        emnify.expire_all()
        emnify.application_tokens.clear()  # the application token was revoked
        with pytest.raises(ProviderAuthError):
            await client.send_sms(1001, encode_sms("hi"))


async def test_client_edge_cases(emnify: FakeEmnify) -> None:
    assert jwt_claims("a.b") == {}
    assert jwt_claims("a.!!!.c") == {}
    assert jwt_claims(make_jwt({"x": 1}).replace(".", ".W10", 1)) == {}
    async with ClientSession() as session:
        with pytest.raises(ValueError):
            EmnifyClient(session, "")
        client = EmnifyClient(session, emnify.application_token)
        with pytest.raises(ValueError):
            await client.send_sms(1001, [])
        emnify.fail("/authenticate", 200, {"no": "token"})
        with pytest.raises(ProviderResponseError):
            await client.authenticate()
        opaque = "opaque"
        emnify.application_tokens[opaque] = (1, "x")
        assert EmnifyClient(session, opaque).account.org_id is None


# --- send_sms -------------------------------------------------------------------------


async def test_single_gsm7_sms(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    response = await _sms(hass, device_id=1001, message="Report position [now]")
    assert emnify.sms == [{"endpoint": 1001, "payload": "Report position [now]"}]
    assert response["encoding"] == "gsm7"
    assert response["parts"] == 1
    assert response["status"] == "sent"
    assert response["config_entry_id"] == emnify_account.entry_id


async def test_long_ucs2_sms_is_concatenated(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    text = "Привет 👋 " * 20
    response = await _sms(hass, device_id=1001, message=text)
    assert response["encoding"] == "ucs2"
    assert response["parts"] == len(emnify.sms) > 1
    assert "".join(s["payload"] for s in emnify.sms) == text
    refs = {s["udh"][6:8] for s in emnify.sms}
    assert len(refs) == 1
    assert [int(s["udh"][10:], 16) for s in emnify.sms] == list(
        range(1, len(emnify.sms) + 1)
    )
    assert all(s["dcs"] == 8 for s in emnify.sms)


async def test_senders_and_expiry(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    await _sms(hass, device_id=1001, message="a", sender="+4915112345678")
    await _sms(
        hass,
        device_id=1001,
        message="b",
        sender="FleetCo",
        expiry="2026-12-01T18:00:00+01:00",
    )
    await hass.config.async_set_time_zone("Europe/Berlin")
    await _sms(hass, device_id=1001, message="c", expiry="2026-12-01 18:00")
    assert emnify.sms[0]["source_address"] == "4915112345678"
    assert "source_address_type" not in emnify.sms[0]
    assert emnify.sms[1]["source_address"] == "FleetCo"
    assert emnify.sms[1]["source_address_type"] == {"id": 208}
    assert emnify.sms[1]["expiry_date"] == "2026-12-01T17:00:00+00:00"
    assert emnify.sms[2]["expiry_date"] == "2026-12-01T17:00:00+00:00"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"sender": "TwelveChars1"}, "invalid_sender"),
        ({"sender": "Fleet-Co"}, "invalid_sender"),
        ({"expiry": "tomorrow"}, "invalid_expiry"),
        ({"expiry": 5}, "invalid_expiry"),
        ({"message": "x" * 4897}, "sms_too_long"),
        ({"phone_number": "+4915112345678"}, "phone_number_not_supported"),
    ],
)
async def test_sms_validation(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    emnify_account: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _sms(hass, **({"device_id": 1001, "message": "hi"} | data))
    assert err.value.translation_key == key
    assert emnify.sms == []


async def test_longest_allowed_message(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    response = await _sms(hass, device_id=1001, message="x" * 4896)
    assert response["parts"] == 32


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("a" * 1000, "gsm7", 7),
        ("é" * 1000, "gsm7", 7),
        ("€" * 1000, "gsm7", 14),
        ("Grüße 👋 " * 125, "ucs2", 17),
        ("👋" * 1000, "ucs2", 31),
    ],
    ids=["ascii", "accents", "extension", "mixed-emoji", "all-emoji"],
)
async def test_thousand_characters_arrive_whole(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    emnify_account: MockConfigEntry,
    text: str,
    encoding: str,
    parts: int,
) -> None:
    response = await _sms(hass, device_id=1001, message=text)
    assert (response["encoding"], response["parts"]) == (encoding, parts)
    assert "".join(s["payload"] for s in emnify.sms) == text
    assert emnify.auth_calls == 1


@pytest.mark.parametrize(
    ("status", "key"),
    [
        (404, "provider_not_found"),
        (422, "provider_bad_request"),
        (403, "provider_auth"),
    ],
)
async def test_sms_provider_errors(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    emnify_account: MockConfigEntry,
    status: int,
    key: str,
) -> None:
    emnify.fail("/endpoint/1001/sms", status, headers={"Retry-After": "x"})
    with pytest.raises(HomeAssistantError) as err:
        await _sms(hass, device_id=1001, message="hi")
    assert err.value.translation_key == key


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_sms_passing_faults_are_queued(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    emnify_account: MockConfigEntry,
    status: int,
) -> None:
    emnify.fail("/endpoint/1001/sms", status, headers={"Retry-After": "x"})
    response = await _sms(hass, device_id=1001, message="hi")
    assert response["status"] == "queued"
    assert len(response["outbox_id"]) == 32
    assert str(status) in response["error"]
    assert emnify.sms == []


async def test_unknown_endpoint_and_timeout(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    with pytest.raises(HomeAssistantError) as err:
        await _sms(hass, device_id=999, message="hi")
    assert err.value.translation_key == "provider_not_found"
    # One sentence: the kind of failure once, then who answered what (issue 26 A9).
    assert str(err.value) == (
        f"{emnify_account.title}: the provider does not know the target "
        "(emnify, HTTP 404: Endpoint with Id '999' not found.)"
    )
    emnify.fail("/endpoint/1001/sms", 201, hang=True)
    response = await _sms(hass, device_id=1001, message="hi")
    assert response["status"] == "queued"
    # The endpoint has a queued send: the next one waits behind it, in order.
    response = await _sms(hass, device_id=1001, message="hi")
    assert response["status"] == "queued"
    emnify.fail("/endpoint/1002/sms", 201, "garbage")
    with pytest.raises(HomeAssistantError) as err:
        await _sms(hass, device_id=1002, message="hi")
    assert err.value.translation_key == "provider_error"


async def test_hologram_rejects_emnify_only_fields(
    hass: HomeAssistant, hologram: Any, hologram_account: MockConfigEntry
) -> None:
    for data, key in (
        ({"sender": "FleetCo"}, "invalid_sender"),
        ({"expiry": "2026-12-01T18:00:00Z"}, "expiry_not_supported"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _sms(hass, **({"device_id": 123456, "message": "hi"} | data))
        assert err.value.translation_key == key


@pytest.mark.parametrize(
    "body",
    [
        {"payload": "x" * 161},
        {"payload": "ж" * 71, "dcs": 8},
        {"payload": "plain", "dcs": 8},
        {"payload": "x" * 154, "udh": "050003CC0201"},
        {"payload": "x", "udh": "050003CC0203"},
        {"payload": "x", "source_address": "FleetCompany1"},
        {"payload": "x", "source_address": "Fleet"},
        {"payload": "x", "expiry_date": "soon"},
        {"payload": "ж"},
        {"payload": ""},
        {"payload": "x", "unknown": 1},
    ],
)
async def test_fake_rejects_what_emnify_would(
    emnify: FakeEmnify, body: dict[str, Any]
) -> None:
    """The fake is only useful if it can fail: each of these breaks emnify's rules."""
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token)
        token = await client._token()
        base = emnify_module_base()
        async with session.post(
            f"{base}/endpoint/1001/sms",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 422
    assert len(emnify.violations) == 1
    emnify.violations.clear()


def emnify_module_base() -> str:
    from custom_components.cellular_iot.providers import emnify as module

    return module.DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("location", "sms_id"),
    [
        ("https://cdn.emnify.net/api/v1/endpoint/1001/sms/19649276", "19649276"),
        ("/api/v1/endpoint/1001/sms/77", "77"),
        ("https://cdn.emnify.net/api/v1/endpoint/1002/sms/77", None),
        ("https://cdn.emnify.net/api/v1/endpoint/1001/sms/", None),
        ("https://cdn.emnify.net/api/v1/endpoint/1001/sms/abc", None),
        ("https://cdn.emnify.net/api/v1/endpoint/1001/sms/0", None),
        ("https://cdn.emnify.net/api/v1/endpoint/1001/sms/7?x=1", None),
        ("https://cdn.emnify.net/api/v1/endpoint/1001/sms/" + "9" * 20, None),
        ("https://cdn.emnify.net/api/v1/endpoint/1001/operator/7", None),
        ("https://cdn.emnify.net/api/v1/sms/7", None),
        ("http://[::1/endpoint/1001/sms/7", None),
        (None, None),
    ],
)
async def test_sms_id_from_the_location_of_the_201(
    emnify: FakeEmnify, location: str | None, sms_id: str | None
) -> None:
    """The id is the digits ending a Location of this endpoint's SMS, else None."""
    headers = {"Content-Type": "text/html; charset=UTF-8"}
    if location is not None:
        headers["Location"] = location
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        await client.authenticate()
        emnify.fail("/endpoint/1001/sms", 201, b"", headers=headers)
        sent = await client.send_sms(1001, encode_sms("hi"))
    assert [part.sms_id for part in sent] == [sms_id]

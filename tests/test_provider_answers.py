"""Hostile answers from a REST provider: each is a provider error, never a crash.

What every REST client shares (``providers/_http.py``) is tried here through the
monoZ client, and the 1NCE client; the Hologram and emnify clients have their own
tests of the same in tests/test_hologram_client.py and tests/test_emnify.py.
"""

from __future__ import annotations

from aiohttp import ClientSession, web
import pytest

from custom_components.cellular_iot.providers.errors import (
    ProviderBadRequestError,
    ProviderError,
    ProviderResponseError,
)
from custom_components.cellular_iot.providers.monoz import MonozClient
from custom_components.cellular_iot.providers.onence import OneNceClient
from custom_components.cellular_iot.providers.sms import SmsPart

from .fakes.monoz import API_KEY, ICCID, ORG_ID, FakeMonoz
from .fakes.onence import (
    CLIENT_ID as ONENCE_CLIENT_ID,
    CLIENT_SECRET as ONENCE_SECRET,
    FakeOneNce,
)
from .guards import HANG_GUARD

# A client timeout that only guards against a hang: no test waits for it.


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"[" * 200_000),
        (400, b'{"Message": ' * 100_000),
        (200, b"\xff\xfe not UTF-8"),
        (200, b'{"Error": false, "Message": "\xff"}'),
    ],
    ids=["nested", "nested-error", "not-utf8", "not-utf8-string"],
)
async def test_monoz_hostile_json_is_a_provider_error(
    monoz: FakeMonoz, status: int, body: bytes
) -> None:
    monoz.fail("/Publish/Message", status, body)
    async with ClientSession() as session:
        client = MonozClient(session, ORG_ID, API_KEY, timeout=HANG_GUARD)
        with pytest.raises(ProviderError):
            await client.publish_message(ICCID, "x")


async def test_monoz_error_text_never_quotes_the_api_key(monoz: FakeMonoz) -> None:
    monoz.fail(
        "/Publish/Message",
        400,
        {
            "Error": True,
            "StatusCode": 400,
            "Message": f"bad key {API_KEY}\r\nERROR forged line",
        },
    )
    async with ClientSession() as session:
        client = MonozClient(session, ORG_ID, API_KEY, timeout=HANG_GUARD)
        with pytest.raises(ProviderBadRequestError) as err:
            await client.publish_message(ICCID, "x")
    text = f"{err.value} {err.value.detail}"
    assert API_KEY not in text
    assert "\n" not in text
    assert "\r" not in text
    assert "forged line" in text


async def test_monoz_redirect_is_not_followed(monoz: FakeMonoz) -> None:
    """A 3xx is an error (a POST is never replayed elsewhere with the key)."""
    location = {"Location": f"/api/v1/{ORG_ID}/Publish/Message"}
    monoz.fail("/Publish/Message", 307, web.Response(status=307, headers=location))
    async with ClientSession() as session:
        client = MonozClient(session, ORG_ID, API_KEY, timeout=HANG_GUARD)
        with pytest.raises(ProviderResponseError) as err:
            await client.publish_message(ICCID, "x")
    assert err.value.status == 307
    assert monoz.published == []


def test_decode_json_and_provider_text() -> None:
    from custom_components.cellular_iot.providers._http import (
        decode_json,
        provider_text,
    )

    assert decode_json(b"") is None
    assert decode_json(b"[" * 100_000) is None
    assert decode_json(b'{"a": 1}') == {"a": 1}
    assert provider_text(None) is None
    assert provider_text("") is None
    assert provider_text(" \n ") is None
    assert provider_text("x" * 1000) == "x" * 300
    assert provider_text("key=abc\x00 ok", ["abc", ""]) == "key=**REDACTED**  ok"


# --- the same through the 1NCE client -----------------------------------------------

ONENCE_SIM = "8988228066602301001"


async def _onence_client(session: ClientSession, onence: FakeOneNce) -> OneNceClient:
    onence.add_sim(ONENCE_SIM, label="Pump")
    return OneNceClient(session, ONENCE_CLIENT_ID, ONENCE_SECRET, timeout=HANG_GUARD)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"[" * 200_000),
        (400, b'{"message": ' * 100_000),
        (200, b"\xff\xfe not UTF-8"),
        (200, b'{"iccid": "\xff"}'),
    ],
    ids=["nested", "nested-error", "not-utf8", "not-utf8-string"],
)
async def test_onence_hostile_json_is_a_provider_error(
    onence: FakeOneNce, status: int, body: bytes
) -> None:
    onence.fail("/v2/sims", status, body)
    async with ClientSession() as session:
        client = await _onence_client(session, onence)
        with pytest.raises(ProviderError):
            await client.sim_statuses([ONENCE_SIM])


async def test_onence_error_text_never_quotes_the_credentials_or_token(
    onence: FakeOneNce,
) -> None:
    async with ClientSession() as session:
        client = await _onence_client(session, onence)
        await client.authenticate()
        (token,) = onence.valid_tokens
        onence.fail(
            f"/v2/sims/{ONENCE_SIM}/sms",
            400,
            {
                "error_code": 1000,
                "error_token": "BadRequest",
                "message": f"bad {ONENCE_CLIENT_ID}:{ONENCE_SECRET} {token}"
                "\r\nERROR forged line",
            },
        )
        with pytest.raises(ProviderBadRequestError) as err:
            await client.send_sms(ONENCE_SIM, SmsPart(payload="x", dcs=None, udh=None))
    text = f"{err.value} {err.value.detail}"
    for secret in (ONENCE_CLIENT_ID, ONENCE_SECRET, token):
        assert secret not in text
    assert "\n" not in text
    assert "\r" not in text
    assert "forged line" in text


async def test_onence_redirect_is_not_followed(onence: FakeOneNce) -> None:
    """A 3xx is an error: the SMS (and the bearer token) are not sent elsewhere."""
    location = {"Location": f"/management-api/v2/sims/{ONENCE_SIM}/sms"}
    onence.fail(f"/v2/sims/{ONENCE_SIM}/sms", 307, b"", headers=location)
    async with ClientSession() as session:
        client = await _onence_client(session, onence)
        with pytest.raises(ProviderResponseError) as err:
            await client.send_sms(ONENCE_SIM, SmsPart(payload="x", dcs=None, udh=None))
    assert err.value.status == 307
    assert onence.sms == []
    assert len(onence.calls(f"/v2/sims/{ONENCE_SIM}/sms")) == 1

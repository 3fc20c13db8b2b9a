"""The webhook holds no body for a sender without the secret (issue 25 suspicion).

In 94932c4 every request's body was read (up to 256 KB, emnify 8 MB, for up to 30 s)
before the secret was checked, so anyone who knew the URL could make Home Assistant
hold 8 MB per connection. Now a secret in the query or a header is checked before a
byte of the body is read; only a body that may carry the secret itself (a Hologram
form's ``key``) is read without it, capped, and only a few at a time.

Through HA's real HTTP server on 127.0.0.1, with test_webhook's raw client: the head
is written, and the test waits for the handler to start before anything else.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
import json
from urllib.parse import urlencode

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot import inbound_webhook
from custom_components.cellular_iot.providers.deliveries import EMNIFY_MAX_BODY_BYTES
from custom_components.cellular_iot.providers.onence_deliveries import (
    ONENCE_MAX_BODY_BYTES,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .test_webhook import (  # noqa: F401 - fixtures
    BODY_TIMEOUT,
    HOLOGRAM_PAYLOAD,
    MONOZ_BODY,
    ONENCE_BODY,
    SECRET,
    URL,
    _exchange,
    _head,
    _response,
    emnify_hook,
    handler_started,
    hologram_hook,
    monoz_hook,
    onence_hook,
    probe,
)

FORM_TYPE = b"Content-Type: application/x-www-form-urlencoded"


def _time_passes(hass: HomeAssistant) -> None:
    """Move the clock past the body deadline: a handler still reading gives up (408)."""
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=BODY_TIMEOUT + 1)
    )


@pytest.mark.parametrize(
    "secret_header",
    [None, b"X-Webhook-Secret: wrong", b"Authorization: Bearer not.a.jwt"],
    ids=["no secret", "wrong header secret", "wrong bearer"],
)
async def test_emnify_without_the_secret_is_refused_before_its_8_mb_body(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,  # noqa: F811
    handler_started: asyncio.Queue[None],  # noqa: F811
    secret_header: bytes | None,
) -> None:
    client = await hass_client_no_auth()
    headers = [b"Content-Type: application/json"]
    if secret_header is not None:
        headers.append(secret_header)
    head = _head(*headers, length=EMNIFY_MAX_BODY_BYTES)
    # Only the head is sent: the answer cannot wait for the 8 MB (94932c4 waited
    # for them until the deadline and answered 408).
    status, answer = await _exchange(
        client, head, [], handler_started, lambda: _time_passes(hass)
    )
    assert (status, answer) == (401, {"error": "missing or wrong secret"})


def _basic(password: str) -> bytes:
    return b"Authorization: Basic " + base64.b64encode(f"ha:{password}".encode())


@pytest.mark.parametrize(
    "secret_header",
    [None, b"X-Webhook-Secret: wrong", _basic("wrong")],
    ids=["no secret", "wrong header secret", "wrong basic auth"],
)
async def test_onence_without_the_secret_is_refused_before_its_12_mb_body(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    onence_hook: MockConfigEntry,  # noqa: F811
    handler_started: asyncio.Queue[None],  # noqa: F811
    secret_header: bytes | None,
) -> None:
    """1NCE's Data Streamer may post 3,000 records (12 MB): none read without it."""
    client = await hass_client_no_auth()
    headers = [b"Content-Type: application/json"]
    if secret_header is not None:
        headers.append(secret_header)
    head = _head(*headers, length=ONENCE_MAX_BODY_BYTES)
    status, answer = await _exchange(
        client, head, [], handler_started, lambda: _time_passes(hass)
    )
    assert (status, answer) == (401, {"error": "missing or wrong secret"})


async def test_onence_basic_auth_takes_the_body(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    onence_hook: MockConfigEntry,  # noqa: F811
    handler_started: asyncio.Queue[None],  # noqa: F811
) -> None:
    """The Data Streamer's Basic Auth Header (the secret as its password)."""
    client = await hass_client_no_auth()
    head = _head(
        b"Content-Type: application/json", _basic(SECRET), length=len(ONENCE_BODY)
    )
    status, answer = await _exchange(
        client, head + ONENCE_BODY[:5], [ONENCE_BODY[5:]], handler_started
    )
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})


async def test_a_json_body_without_the_secret_is_not_read(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,  # noqa: F811
    handler_started: asyncio.Queue[None],  # noqa: F811
) -> None:
    """A "key" in a JSON body is no secret: it is refused on the head alone."""
    client = await hass_client_no_auth()
    head = _head(b"Content-Type: application/json", length=len(MONOZ_BODY))
    status, answer = await _exchange(
        client, head, [], handler_started, lambda: _time_passes(hass)
    )
    assert (status, answer) == (401, {"error": "missing or wrong secret"})


async def test_the_secret_in_the_header_still_takes_the_body(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,  # noqa: F811
    handler_started: asyncio.Queue[None],  # noqa: F811
) -> None:
    client = await hass_client_no_auth()
    head = _head(
        b"Content-Type: application/json",
        b"X-API-Key: " + SECRET.encode(),
        length=len(MONOZ_BODY),
    )
    status, answer = await _exchange(
        client, head + MONOZ_BODY[:5], [MONOZ_BODY[5:]], handler_started
    )
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})


def _hologram_form(key: str, padding: int = 0) -> bytes:
    payload = {**HOLOGRAM_PAYLOAD, "pad": "x" * padding}
    return urlencode({"payload": json.dumps(payload), "key": key}).encode()


async def test_a_hologram_form_read_without_the_secret_is_capped(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,  # noqa: F811
) -> None:
    """A form may carry the secret as "key", so its body is read: 64 KB at most."""
    client = await hass_client_no_auth()
    large = _hologram_form(SECRET, padding=100 * 1024)
    unauthenticated = await client.post(
        URL, data=large, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unauthenticated.status == 413
    assert await unauthenticated.json() == {"error": "body too large"}
    # With the secret in the URL the same form is read in full (up to 256 KB).
    authenticated = await client.post(
        f"{URL}?secret={SECRET}",
        data=large,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert authenticated.status == 200
    # A small form with the right key is taken as before.
    small = await client.post(
        URL,
        data=_hologram_form(SECRET),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert small.status == 200


async def test_unauthenticated_form_bodies_are_read_a_few_at_a_time(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,  # noqa: F811
    handler_started: asyncio.Queue[None],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Senders that trickle forms without the secret hold a few slots, no more; a
    request with the secret in the URL is served all the while."""
    # (No held body may time out while the test runs, however slow the machine.)
    monkeypatch.setattr(
        inbound_webhook, "UNAUTHENTICATED_BODY_TIMEOUT", 3600.0, raising=False
    )
    client = await hass_client_no_auth()
    wrong = _hologram_form("not-the-secret")
    held = []
    try:
        for _ in range(4):
            reader, writer = await asyncio.open_connection(client.host, client.port)
            held.append((reader, writer))
            writer.write(_head(FORM_TYPE, length=len(wrong)) + wrong[:10])
            await writer.drain()
            async with asyncio.timeout(3 * BODY_TIMEOUT):  # a hang guard only
                await handler_started.get()
        # A fifth is answered at once, on its head.
        status, answer = await _exchange(
            client,
            _head(FORM_TYPE, length=len(wrong)) + wrong[:10],
            [],
            handler_started,
            lambda: _time_passes(hass),
        )
        assert (status, answer) == (429, {"error": "busy: put the secret in the URL"})
        # The secret in the URL is not held up.
        good = await client.post(
            f"{URL}?secret={SECRET}",
            data=_hologram_form("", padding=10),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert good.status == 200
        # The held senders finish: their key is wrong.
        for reader, writer in held:
            writer.write(wrong[10:])
            await writer.drain()
            async with asyncio.timeout(3 * BODY_TIMEOUT):  # a hang guard only
                assert await _response(reader) == (
                    401,
                    {"error": "missing or wrong secret"},
                )
    finally:
        for _, writer in held:
            writer.close()
    # The slots are free again.
    again = await client.post(
        URL,
        data=_hologram_form(SECRET),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert again.status == 200

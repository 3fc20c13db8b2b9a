"""No secret in logs, exceptions or diagnostics: every action, flow and failure path.

Each test runs with every logger at DEBUG and, at the end, searches every log record
(message, arguments, traceback), every exception an action or flow raised, and the
diagnostics of every entry for the secrets in play: API keys, the emnify application
and auth tokens, webhook secrets and ids, the MQTT broker password, the Socket API key.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.outbox import policy as outbox_module
from custom_components.cellular_iot.providers import hologram_socket
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import MATCH_ALL
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component

from .conftest import (
    API_KEY,
    broker_data,
    emnify_entry,
    hologram_entry,
    monoz_entry,
    onence_entry,
    onence_sims,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import FakeMonoz
from .fakes.onence import CLIENT_ID as ONENCE_CLIENT_ID, FakeOneNce
from .fakes.tcp import LoopbackServer
from .mosquitto import Mosquitto

WEBHOOK_SECRET = "whsec-0123456789abcdefghijklmnop"
WEBHOOK_ID = "b" * 64
BROKER_PASSWORD = "broker-pass-9f8e7d"
SOCKET_KEY = "aB3$k3Y!"


class Seen:
    """Everything the integration said: exceptions collected by the tests."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def call(self, awaitable: Awaitable[Any]) -> Any:
        try:
            return await awaitable
        except HomeAssistantError as err:
            self.errors.append(f"{err!s} {err!r} {err.translation_placeholders}")
            return None


def _texts(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        if record.name == "aiohttp.access":
            # The web server's access log writes every request line, query included,
            # as it does for the webhook ID itself: a secret given as ?secret= is
            # visible there (the README says to prefer a header). Not our logging.
            continue
        parts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


@pytest.fixture
def seen(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Seen:
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    caplog.set_level(logging.DEBUG)
    return Seen()


def _assert_clean(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"secret {secret[:4]}… leaked: {text[:300]}"


def _with_webhook(entry: MockConfigEntry) -> MockConfigEntry:
    return with_webhook(entry, WEBHOOK_ID, WEBHOOK_SECRET)


async def _action(hass: HomeAssistant, action: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )


async def _diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry
) -> str:
    return json.dumps(await get_diagnostics_for_config_entry(hass, hass_client, entry))


async def _flow(hass: HomeAssistant, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": kind}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    if result.get("flow_id") and result["type"] == "form":
        hass.config_entries.flow.async_abort(result["flow_id"])
    return dict(result)


async def test_hologram_paths_leak_no_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    seen: Seen,
    hologram: FakeHologram,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    await _flow(hass, "hologram", {"api_key": "wrong-key-123"})
    await _flow(hass, "hologram", {"api_key": API_KEY, "org_id": "9999"})
    entry = _with_webhook(hologram_entry())
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await seen.call(
        _action(hass, "send_cloud_message", device_ids=[123456], port=1, data="x")
    )
    hologram.fail("/devices/messages", 503)
    await seen.call(
        _action(hass, "send_cloud_message", device_ids=[234567], port=1, data="x")
    )
    hologram.fail("/sms/incoming", 400, {"success": False, "error": "bad"})
    await seen.call(_action(hass, "send_sms", device_id=123456, message="hi"))
    hologram.fail("/devices/messages", 401)
    await seen.call(
        _action(hass, "send_cloud_message", device_ids=[345678], port=1, data="x")
    )
    await seen.call(
        _action(
            hass,
            "send_to_device_webhook",
            webhook_url="http://127.0.0.1:1/api/1/devices/messages/1/abc",
            data="x",
        )
    )
    client = await hass_client_no_auth()
    for query in ("?secret=wrong", f"?secret={WEBHOOK_SECRET}"):
        await client.post(
            f"/api/webhook/{WEBHOOK_ID}{query}", json={"device_id": 1, "decdata": "x"}
        )
    await hass.async_block_till_done()
    diagnostics = await _diagnostics(hass, hass_client, entry)
    # HA's own http and webhook modules log the webhook ID at DEBUG: the ID is not
    # the secret (that is why deliveries need the shared secret too).
    _assert_clean(
        [API_KEY, WEBHOOK_SECRET], _texts(caplog.records), "\n".join(seen.errors)
    )
    _assert_clean([API_KEY, WEBHOOK_SECRET, WEBHOOK_ID], diagnostics)
    assert seen.errors  # the failure paths really ran


async def test_emnify_paths_leak_no_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    seen: Seen,
    emnify: FakeEmnify,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    token = emnify.application_token
    await _flow(hass, "emnify", {"application_token": "not-a-token"})
    entry = _with_webhook(emnify_entry(token))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await seen.call(_action(hass, "send_sms", device_id=1001, message="hi"))
    emnify.expire_all()
    await seen.call(_action(hass, "send_sms", device_id=1001, message="again"))
    emnify.fail("/endpoint/1002/sms", 500)
    await seen.call(_action(hass, "send_sms", device_id=1002, message="queued"))
    await seen.call(_action(hass, "send_sms", device_id=999, message="unknown"))
    await hass.async_block_till_done()
    diagnostics = await _diagnostics(hass, hass_client, entry)
    secrets = [token, WEBHOOK_SECRET, *emnify.valid_tokens]
    _assert_clean(secrets, _texts(caplog.records), "\n".join(seen.errors), diagnostics)
    assert WEBHOOK_ID not in diagnostics
    assert seen.errors


def _onence_tokens(issued: set[str]) -> list[str]:
    """Every token the fake issued, and the two JWTs inside each (as recorded)."""
    tokens: list[str] = []
    for token in issued:
        tokens.append(token)
        inner = json.loads(base64.b64decode(token))
        tokens.extend([inner["idtoken"], inner["accesstoken"]])
    return tokens


async def test_onence_paths_leak_no_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    seen: Seen,
    onence: FakeOneNce,
) -> None:
    """The client id AND secret, the Basic header made of them, every token."""
    from .conftest import ONENCE_OTHER, ONENCE_PUMP
    from .fakes.onence import CLIENT_SECRET

    events: list[Event] = []
    hass.bus.async_listen(MATCH_ALL, events.append)
    issued: set[str] = set()
    expire_all = onence.expire_all

    def keep_and_expire() -> None:
        issued.update(onence.valid_tokens)
        expire_all()

    onence.expire_all = keep_and_expire  # type: ignore[method-assign]
    assert await async_setup_component(hass, "diagnostics", {})
    await _flow(hass, "1nce", {"client_id": ONENCE_CLIENT_ID, "client_secret": "no"})
    await _flow(hass, "1nce", {"client_id": "nobody", "client_secret": CLIENT_SECRET})
    onence_sims(onence)
    entry = _with_webhook(onence_entry())
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await seen.call(_action(hass, "send_sms", iccid=ONENCE_PUMP, message="hi"))
    onence.expire_all()  # a 401: the client renews its token
    await seen.call(_action(hass, "send_sms", iccid=ONENCE_PUMP, message="again"))
    onence.fail(f"/v2/sims/{ONENCE_OTHER}/sms", 500)
    await seen.call(_action(hass, "send_sms", iccid=ONENCE_OTHER, message="queued"))
    await seen.call(
        _action(hass, "send_sms", iccid="8988228066609999999", message="unknown")
    )
    # An error answer quoting what was sent: the secret and the token.
    token = next(iter(onence.valid_tokens))
    onence.fail(
        f"/v2/sims/{ONENCE_PUMP}/sms",
        400,
        {
            "error_code": 1000,
            "error_token": "BadRequest",
            "message": f"bad request for {CLIENT_SECRET} with Bearer {token}",
        },
    )
    await seen.call(_action(hass, "send_sms", iccid=ONENCE_PUMP, message="echo"))
    # Refused credentials meet the token endpoint: setup of a second copy fails.
    onence.expire_all()
    onence.fail(
        "/oauth/token",
        400,
        {
            "statusCode": 400,
            "errorCode": "CognitoAuthenticationError",
            "message": f"Incorrect username or password for {ONENCE_CLIENT_ID}",
        },
    )
    await seen.call(
        _action(hass, "set_sim_state", iccid=ONENCE_PUMP, state="suspended")
    )
    client = await hass_client_no_auth()
    for query in ("?secret=wrong", f"?secret={WEBHOOK_SECRET}"):
        await client.post(
            f"/api/webhook/{WEBHOOK_ID}{query}",
            json={"iccid": ONENCE_PUMP, "payload": "x"},
        )
    await hass.async_block_till_done()
    diagnostics = await _diagnostics(hass, hass_client, entry)
    basic = base64.b64encode(f"{ONENCE_CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets = [
        ONENCE_CLIENT_ID,
        CLIENT_SECRET,
        basic,
        WEBHOOK_SECRET,
        *_onence_tokens(issued | set(onence.valid_tokens)),
    ]
    assert len(secrets) >= 4 + 3 * 2  # two tokens at least, before and after a 401
    _assert_clean(
        secrets,
        _texts(caplog.records),
        "\n".join(seen.errors),
        diagnostics,
        "\n".join(repr(event.data) for event in events),
    )
    assert WEBHOOK_ID not in diagnostics
    assert seen.errors


async def test_monoz_paths_leak_no_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    seen: Seen,
    monoz: FakeMonoz,
    tmp_path: Path,
    fast_reconnect: None,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    broker = Mosquitto(tmp_path, users={"ha": BROKER_PASSWORD})
    broker.start()
    try:
        await _flow(
            hass, "monoz", {"org_id": "mti", "api_key": "nope", "use_mqtt": False}
        )
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "monoz"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"org_id": "mti", "api_key": monoz.api_key, "use_mqtt": True},
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "tls": False,
                "verify_tls": True,
                "username": "ha",
                "password": BROKER_PASSWORD + "x",
            },
        )
        assert result["errors"] == {"base": "mqtt_invalid_auth"}
        hass.config_entries.flow.async_abort(result["flow_id"])
        entry = _with_webhook(
            monoz_entry(broker_data(broker, username="ha", password=BROKER_PASSWORD))
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        iccid = "8981100005819480000"
        await seen.call(
            _action(hass, "publish_downlink", iccid=iccid, message="m", via="rest")
        )
        await seen.call(
            _action(hass, "publish_downlink", iccid=iccid, message={"a": 1})
        )
        monoz.api_key = "rotated"
        await seen.call(
            _action(
                hass,
                "publish_downlink",
                iccid="8981100005819480001",
                message="x",
                via="rest",
            )
        )
        monoz.api_key = FakeMonoz().api_key
        monoz.fail("/Publish/Message", 500)
        await seen.call(
            _action(hass, "publish_downlink", iccid=iccid, message="q", via="rest")
        )
        await hass.async_block_till_done()
        diagnostics = await _diagnostics(hass, hass_client, entry)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()
    secrets = [FakeMonoz().api_key, WEBHOOK_SECRET, BROKER_PASSWORD]
    _assert_clean(secrets, _texts(caplog.records), "\n".join(seen.errors), diagnostics)
    assert WEBHOOK_ID not in diagnostics
    assert seen.errors


async def test_on_device_paths_leak_no_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    seen: Seen,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    # A refused key, a message that could not be parsed, no answer (the SDK's codes).
    answers = [b"[3,0]", b"2", b""]

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\r")
        writer.write(answers.pop(0) if answers else b"")
        await writer.drain()
        writer.close()

    server = LoopbackServer(handle)
    monkeypatch.setattr(hologram_socket, "DEFAULT_HOST", "127.0.0.1")
    monkeypatch.setattr(hologram_socket, "DEFAULT_PORT", await server.start())
    monkeypatch.setattr(
        hologram_socket, "DEFAULT_TIMEOUT", 60.0
    )  # the fake answers and closes
    try:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Listener",
            data={
                "kind": "on_device",
                "protocol": "UDP",
                "port": 0,
                "host": "127.0.0.1",
                "device_key": SOCKET_KEY,
            },
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await seen.call(_action(hass, "send_to_cloud", data="x"))
        await seen.call(
            _action(hass, "send_sms", phone_number="+15551234567", message="m")
        )
        await seen.call(_action(hass, "send_to_cloud", data="y"))
        diagnostics = await _diagnostics(hass, hass_client, entry)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await server.stop()
    # The key is 4 characters: look for the Socket API request that would carry it.
    _assert_clean(
        [
            SOCKET_KEY,
            "aB3$k3",
            "k3Y!",
        ],
        _texts(caplog.records),
        "\n".join(seen.errors),
    )
    assert SOCKET_KEY not in diagnostics
    assert len(seen.errors) == 3

"""Tests for the Hologram Socket API client against a local fake cloudsocket server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import contextlib
import json
import socket

import pytest

from custom_components.cellular_iot.providers import (
    hologram_socket as socket_module,
)
from custom_components.cellular_iot.providers.errors import (
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from custom_components.cellular_iot.providers.hologram_socket import (
    HologramSocketClient,
    validate_credentials,
    validate_e164,
)

from .fakes.tcp import LoopbackServer

SOURCE_ID = "ABCD"
KEY = "WXYZ"


class FakeCloudSocket:
    """A fake cloudsocket.hologram.io: records requests, answers per ``mode``."""

    def __init__(self) -> None:
        self.mode = "ok-json"
        self.error_answer = b"[1,0]"
        self.requests: list[bytes] = []
        self.server = LoopbackServer(self._handle)
        self.port = 0
        self._release = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.port = await self.server.start()

    async def stop(self) -> None:
        self._release.set()
        await self.server.stop()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            self.requests.append(await reader.readuntil(b"\n\n"))
            if self.mode == "ok-json":
                writer.write(b"[0,0]")
            elif self.mode == "ok-sms":
                writer.write(b"00")
            elif self.mode == "error":
                writer.write(self.error_answer)
            elif self.mode == "echo":
                # A refusal that quotes the request back, credentials and all.
                writer.write(self.error_answer + self.requests[-1])
            elif self.mode == "hang":
                await self._release.wait()
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@pytest.fixture
async def cloudsocket(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[FakeCloudSocket]:
    """Run a fake cloudsocket server and point the client's defaults at it."""
    fake = FakeCloudSocket()
    await fake.start()
    monkeypatch.setattr(socket_module, "DEFAULT_HOST", "127.0.0.1")
    monkeypatch.setattr(socket_module, "DEFAULT_PORT", fake.port)
    monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 0.3)
    yield fake
    await fake.stop()


def _client() -> HologramSocketClient:
    return HologramSocketClient(SOURCE_ID, KEY)


def _assert_no_key(err: ProviderError) -> None:
    assert KEY not in str(err)
    assert KEY not in repr(err)
    assert err.detail is None or KEY not in err.detail


# --- cloud messages -----------------------------------------------------------------


async def test_send_to_cloud_with_topic(cloudsocket: FakeCloudSocket) -> None:
    await _client().send_to_cloud("Hello, World!", ["TOPIC1"])
    assert cloudsocket.requests == [
        b'{"s":"ABCD","c":"WXYZ","d":"Hello, World!","t":["TOPIC1"]}\n\n'
    ]


async def test_send_to_cloud_several_topics(cloudsocket: FakeCloudSocket) -> None:
    await _client().send_to_cloud("x", ("A", "B"))
    assert cloudsocket.requests == [
        b'{"s":"ABCD","c":"WXYZ","d":"x","t":["A","B"]}\n\n'
    ]


@pytest.mark.parametrize("topics", [None, []])
async def test_send_to_cloud_without_topics(
    cloudsocket: FakeCloudSocket, topics: list[str] | None
) -> None:
    await _client().send_to_cloud("Hello, World!", topics)
    assert cloudsocket.requests == [b'{"s":"ABCD","c":"WXYZ","d":"Hello, World!"}\n\n']
    assert "t" not in json.loads(cloudsocket.requests[0])


async def test_send_to_cloud_non_ascii(cloudsocket: FakeCloudSocket) -> None:
    await _client().send_to_cloud("Grüße 🌍", ["température"])
    expected = '{"s":"ABCD","c":"WXYZ","d":"Grüße 🌍","t":["température"]}\n\n'
    assert cloudsocket.requests == [expected.encode("utf-8")]
    assert b"\\u" not in cloudsocket.requests[0]


async def test_send_to_cloud_escapes_newlines(cloudsocket: FakeCloudSocket) -> None:
    """A newline in the data is JSON-escaped, so it cannot end the message early."""
    await _client().send_to_cloud('a\n\nb"')
    assert cloudsocket.requests == [b'{"s":"ABCD","c":"WXYZ","d":"a\\n\\nb\\""}\n\n']


async def test_send_to_cloud_max_size(cloudsocket: FakeCloudSocket) -> None:
    data = "é" * (socket_module.MAX_DATA_BYTES // 2)
    await _client().send_to_cloud(data)
    assert json.loads(cloudsocket.requests[0])["d"] == data


async def test_send_to_cloud_error_answer(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "error"
    with pytest.raises(ProviderBadRequestError) as exc:
        await _client().send_to_cloud("Hello, World!")
    assert exc.value.detail == "[1,0]"
    assert "[1,0]" in str(exc.value)
    _assert_no_key(exc.value)


async def test_send_to_cloud_sms_answer_is_not_success(
    cloudsocket: FakeCloudSocket,
) -> None:
    cloudsocket.mode = "ok-sms"
    with pytest.raises(ProviderBadRequestError) as exc:
        await _client().send_to_cloud("Hello, World!")
    assert exc.value.detail == "00"
    _assert_no_key(exc.value)


async def test_error_answer_echoing_key_is_not_leaked(
    cloudsocket: FakeCloudSocket,
) -> None:
    """Only the answer text reaches the error; it is what the server sent."""
    cloudsocket.mode = "error"
    cloudsocket.error_answer = b"\x00bad\x01 " + b"x" * 300
    with pytest.raises(ProviderBadRequestError) as exc:
        await _client().send_to_cloud("Hello, World!")
    assert exc.value.detail is not None
    assert len(exc.value.detail) == 100
    assert exc.value.detail.startswith("?bad? x")
    assert exc.value.detail.isprintable()
    _assert_no_key(exc.value)


async def test_send_to_cloud_silent_close(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "silent"
    with pytest.raises(ProviderResponseError, match="without an answer") as exc:
        await _client().send_to_cloud("Hello, World!")
    _assert_no_key(exc.value)
    assert cloudsocket.requests == [b'{"s":"ABCD","c":"WXYZ","d":"Hello, World!"}\n\n']


async def test_send_to_cloud_timeout(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "hang"
    with pytest.raises(ProviderTimeoutError) as exc:
        await _client().send_to_cloud("Hello, World!")
    assert isinstance(exc.value, ProviderConnectionError)
    _assert_no_key(exc.value)


async def test_explicit_timeout_overrides_default(
    cloudsocket: FakeCloudSocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 60.0)
    cloudsocket.mode = "hang"
    client = HologramSocketClient(SOURCE_ID, KEY, timeout=0.2)
    with pytest.raises(ProviderTimeoutError, match=r"0\.2 s"):
        await client.send_to_cloud("Hello, World!")


async def test_explicit_host_and_port(
    cloudsocket: FakeCloudSocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket_module, "DEFAULT_HOST", "invalid.invalid")
    monkeypatch.setattr(socket_module, "DEFAULT_PORT", 1)
    client = HologramSocketClient(
        SOURCE_ID, KEY, host="127.0.0.1", port=cloudsocket.port
    )
    await client.send_to_cloud("x")
    assert len(cloudsocket.requests) == 1


@pytest.mark.parametrize("data", ["", "x" * (socket_module.MAX_DATA_BYTES + 1)])
async def test_send_to_cloud_bad_data(cloudsocket: FakeCloudSocket, data: str) -> None:
    with pytest.raises(ValueError):
        await _client().send_to_cloud(data)
    assert cloudsocket.requests == []


async def test_send_to_cloud_too_many_utf8_bytes(
    cloudsocket: FakeCloudSocket,
) -> None:
    """The limit counts UTF-8 bytes, not characters."""
    with pytest.raises(ValueError):
        await _client().send_to_cloud("é" * (socket_module.MAX_DATA_BYTES // 2 + 1))
    assert cloudsocket.requests == []


# --- SMS ----------------------------------------------------------------------------


async def test_send_sms(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "ok-sms"
    await _client().send_sms("+13125551212", "Hello, SMS!")
    assert cloudsocket.requests == [b"SABCDWXYZ+13125551212 Hello, SMS!\n\n"]


async def test_send_sms_non_ascii(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "ok-sms"
    await _client().send_sms("+4915112345678", "Grüße")
    assert cloudsocket.requests == ["SABCDWXYZ+4915112345678 Grüße\n\n".encode()]


async def test_send_sms_error_answer(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "error"
    cloudsocket.error_answer = b"01"
    with pytest.raises(ProviderBadRequestError) as exc:
        await _client().send_sms("+13125551212", "Hello, SMS!")
    assert exc.value.detail == "01"
    _assert_no_key(exc.value)


async def test_send_sms_json_answer_is_not_success(
    cloudsocket: FakeCloudSocket,
) -> None:
    cloudsocket.mode = "ok-json"
    with pytest.raises(ProviderBadRequestError) as exc:
        await _client().send_sms("+13125551212", "Hello, SMS!")
    assert exc.value.detail == "[0,0]"
    _assert_no_key(exc.value)


async def test_send_sms_silent_close(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "silent"
    with pytest.raises(ProviderResponseError, match="without an answer") as exc:
        await _client().send_sms("+13125551212", "Hello, SMS!")
    _assert_no_key(exc.value)


async def test_send_sms_timeout(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "hang"
    with pytest.raises(ProviderTimeoutError) as exc:
        await _client().send_sms("+13125551212", "Hello, SMS!")
    _assert_no_key(exc.value)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        ("13125551212", "hi"),
        ("+03125551212", "hi"),
        ("+1", "hi"),
        ("+1234567890123456", "hi"),
        ("+1312555121a", "hi"),
        ("+13125551212\n", "hi"),
        ("+13125551212", ""),
        ("+13125551212", "line\nbreak"),
        ("+13125551212", "ends\n\n"),
    ],
)
async def test_send_sms_bad_arguments(
    cloudsocket: FakeCloudSocket, number: str, text: str
) -> None:
    with pytest.raises(ValueError):
        await _client().send_sms(number, text)
    assert cloudsocket.requests == []


# --- a refusal that quotes the request ------------------------------------------------


def _assert_no_credentials(err: ProviderError, *secrets: str) -> None:
    for text in (str(err), repr(err), err.detail or ""):
        for secret in secrets:
            assert secret not in text, text


@pytest.mark.parametrize("method", ["cloud", "sms"])
@pytest.mark.parametrize(
    ("source_id", "key"),
    [("ABCD", "WXYZ"), ('a"\\b', 'W"Z\\'), ("1234", "1234")],
    ids=["plain", "json-escaped", "same"],
)
async def test_refusal_quoting_the_request_leaks_no_credentials(
    cloudsocket: FakeCloudSocket,
    caplog: pytest.LogCaptureFixture,
    method: str,
    source_id: str,
    key: str,
) -> None:
    """``ERR: S<id><key>+1312… x``: the id and key are scrubbed, raw or JSON-escaped."""
    cloudsocket.mode = "echo"
    cloudsocket.error_answer = b"ERR: "
    client = HologramSocketClient(source_id, key)
    call = (
        client.send_to_cloud("Hello, World!")
        if method == "cloud"
        else client.send_sms("+13125551212", "Hello, SMS!")
    )
    with pytest.raises(ProviderBadRequestError) as exc:
        await call
    escaped = [json.dumps(value)[1:-1] for value in (source_id, key)]
    _assert_no_credentials(exc.value, source_id, key, *escaped)
    assert exc.value.detail is not None
    assert exc.value.detail.startswith("ERR: ")
    assert "****" in exc.value.detail
    assert key not in caplog.text


async def test_refusal_cut_inside_the_key_leaks_none_of_it(
    cloudsocket: FakeCloudSocket,
) -> None:
    """An answer cut at the read limit in the middle of the key: that end is dropped."""
    cloudsocket.mode = "echo"
    cloudsocket.error_answer = b" " * (socket_module.MAX_ANSWER_BYTES - 7)
    with pytest.raises(ProviderError) as exc:
        await _client().send_sms("+13125551212", "Hello, SMS!")
    # The answer read was 249 spaces, then "SABCDWX": the id, and half the key.
    _assert_no_credentials(exc.value, SOURCE_ID, KEY, "WX")


@pytest.mark.parametrize("text", ["nul\x00byte", "bell\x07", "cr\r", "c1\x85"])
async def test_send_sms_refuses_control_characters(
    cloudsocket: FakeCloudSocket, text: str
) -> None:
    with pytest.raises(ValueError):
        await _client().send_sms("+13125551212", text)
    assert cloudsocket.requests == []


# --- connection failures --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("method", ["cloud", "sms"])
async def test_connection_refused(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 5.0)
    port = _closed_port()
    client = HologramSocketClient(SOURCE_ID, KEY, host="127.0.0.1", port=port)
    call = (
        client.send_to_cloud("Hello, World!")
        if method == "cloud"
        else client.send_sms("+13125551212", "Hello, SMS!")
    )
    with pytest.raises(ProviderConnectionError) as exc:
        await call
    assert not isinstance(exc.value, ProviderTimeoutError)
    assert f"127.0.0.1:{port}" in str(exc.value)
    _assert_no_key(exc.value)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_id", "key"),
    [
        ("ABC", "WXYZ"),
        ("ABCDE", "WXYZ"),
        ("ABCD", ""),
        ("AB D", "WXYZ"),
        ("ABCD", "WX\tZ"),
        ("ABCD", "WXYÉ"),
        ("ABC\x7f", "WXYZ"),
        ("ABCD", "WXY\n"),
    ],
)
def test_bad_credentials(source_id: str, key: str) -> None:
    with pytest.raises(ValueError) as exc:
        validate_credentials(source_id, key)
    assert not key or key not in str(exc.value)
    with pytest.raises(ValueError):
        HologramSocketClient(source_id, key)


@pytest.mark.parametrize(("source_id", "key"), [("ABCD", "WXYZ"), ("a1!~", "{}[]")])
def test_good_credentials(source_id: str, key: str) -> None:
    validate_credentials(source_id, key)
    client = HologramSocketClient(source_id, key)
    assert key not in repr(client)
    assert source_id in repr(client)


@pytest.mark.parametrize("number", ["+13125551212", "+12", "+123456789012345"])
def test_good_e164(number: str) -> None:
    validate_e164(number)


@pytest.mark.parametrize(
    "number", ["", "+", "+0123", "+1", "13125551212", "+1234567890123456", "+1 312"]
)
def test_bad_e164(number: str) -> None:
    with pytest.raises(ValueError):
        validate_e164(number)

"""Tests for the Hologram Socket API client against a local fake cloudsocket server.

The fake answers as Hologram's SDK and docs show: a cloud message ``[0,0]``
("On success, the server will return the text [0,0]"), an SMS with digits (the SDK
reads its answer digit by digit, the first being the result code), an error with
another first number. It reads a message up to the SDK's ``\r\r``. The recorded
frames themselves are replayed in test_hologram_socket_recorded.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import contextlib
import json
import socket

import pytest

from custom_components.cellular_iot.providers import (
    hologram_socket as socket_module,
)
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from custom_components.cellular_iot.providers.hologram_socket import (
    HologramSocketClient,
    validate_credentials,
    validate_device_key,
    validate_e164,
)

from .fakes.tcp import LoopbackServer

KEY = "ABCDWXYZ"
# The legacy credentials of entries made before the device key.
SOURCE_ID = "ABCD"
LEGACY_KEY = "WXYZ"


class FakeCloudSocket:
    """A fake cloudsocket.hologram.io: records requests, answers per ``mode``."""

    def __init__(self) -> None:
        self._mode = "ok-json"
        self.on_hang: Callable[[], None] = lambda: None
        self.error_answer = b"[3,0]"
        self.requests: list[bytes] = []
        self.server = LoopbackServer(self._handle)
        self.port = 0
        self._release = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self._mode = mode
        if mode == "hang":
            self.on_hang()

    async def start(self) -> None:
        self.port = await self.server.start()

    async def stop(self) -> None:
        self._release.set()
        await self.server.stop()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            self.requests.append(await reader.readuntil(b"\r\r"))
            if self.mode == "ok-json":
                writer.write(b"[0,0]")
            elif self.mode == "ok-sms":
                writer.write(b"0")
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
    # A timeout no busy machine reaches (the fake answers and closes), shortened
    # only when a test makes the fake hang and waits for that timeout.
    monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 60.0)
    fake.on_hang = lambda: monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 0.3)
    yield fake
    await fake.stop()


def _client() -> HologramSocketClient:
    return HologramSocketClient(KEY)


def _legacy_client() -> HologramSocketClient:
    return HologramSocketClient(LEGACY_KEY, source_id=SOURCE_ID)


def _assert_no_key(err: ProviderError) -> None:
    assert KEY not in str(err)
    assert KEY not in repr(err)
    assert err.detail is None or KEY not in err.detail


# --- cloud messages -----------------------------------------------------------------


async def test_send_to_cloud_with_topic(cloudsocket: FakeCloudSocket) -> None:
    await _client().send_to_cloud("Hello, World!", ["TOPIC1"])
    assert cloudsocket.requests == [
        b'{"k": "ABCDWXYZ", "t": ["TOPIC1"], "d": "Hello, World!"}\r\r'
    ]


async def test_send_to_cloud_several_topics(cloudsocket: FakeCloudSocket) -> None:
    await _client().send_to_cloud("x", ("A", "B"))
    assert cloudsocket.requests == [b'{"k": "ABCDWXYZ", "t": ["A", "B"], "d": "x"}\r\r']


@pytest.mark.parametrize("topics", [None, []])
async def test_send_to_cloud_without_topics(
    cloudsocket: FakeCloudSocket, topics: list[str] | None
) -> None:
    await _client().send_to_cloud("Hello, World!", topics)
    assert cloudsocket.requests == [b'{"k": "ABCDWXYZ", "d": "Hello, World!"}\r\r']
    assert "t" not in json.loads(cloudsocket.requests[0])


async def test_send_to_cloud_non_ascii(cloudsocket: FakeCloudSocket) -> None:
    """ASCII on the wire, the rest escaped, as the SDK's json.dumps writes it."""
    await _client().send_to_cloud("Grüße 🌍", ["température"])
    (request,) = cloudsocket.requests
    assert request.isascii()
    assert b'"Gr\\u00fc\\u00dfe \\ud83c\\udf0d"' in request
    assert json.loads(request) == {
        "k": KEY,
        "t": ["température"],
        "d": "Grüße 🌍",
    }


async def test_send_to_cloud_escapes_newlines(cloudsocket: FakeCloudSocket) -> None:
    """A newline in the data is JSON-escaped, so it cannot end the message early."""
    await _client().send_to_cloud('a\r\r\n\nb"')
    assert cloudsocket.requests == [b'{"k": "ABCDWXYZ", "d": "a\\r\\r\\n\\nb\\""}\r\r']


async def test_send_to_cloud_max_size(cloudsocket: FakeCloudSocket) -> None:
    data = "é" * (socket_module.MAX_DATA_BYTES // 2)
    await _client().send_to_cloud(data)
    assert json.loads(cloudsocket.requests[0])["d"] == data


async def test_send_to_cloud_error_answer(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "error"
    with pytest.raises(ProviderAuthError) as exc:
        await _client().send_to_cloud("Hello, World!")
    assert exc.value.detail == "[3,0]"
    assert "Auth section of the message was invalid (3)" in str(exc.value)
    _assert_no_key(exc.value)


@pytest.mark.parametrize(
    "answer", [b"[0,0]", b"[1,0]", b"0", b"00", b"1", b" [0, 0]\r\n"]
)
@pytest.mark.parametrize("method", ["cloud", "sms"])
async def test_every_form_of_success_is_success(
    cloudsocket: FakeCloudSocket, answer: bytes, method: str
) -> None:
    """Result code 0 or 1, as an array or as digits, is what the SDK counts as sent."""
    cloudsocket.mode = "error"
    cloudsocket.error_answer = answer
    client = _client()
    if method == "cloud":
        await client.send_to_cloud("Hello, World!")
    else:
        await client.send_sms("+13125551212", "Hello, SMS!")
    assert len(cloudsocket.requests) == 1


async def test_error_answer_echoing_key_is_not_leaked(
    cloudsocket: FakeCloudSocket,
) -> None:
    """Only the answer text reaches the error; it is what the server sent."""
    cloudsocket.mode = "error"
    cloudsocket.error_answer = b"\x00bad\x01 " + b"x" * 300
    with pytest.raises(ProviderResponseError, match="not a result code") as exc:
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
    assert cloudsocket.requests == [b'{"k": "ABCDWXYZ", "d": "Hello, World!"}\r\r']


async def test_send_to_cloud_timeout(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "hang"
    with pytest.raises(ProviderTimeoutError) as exc:
        await _client().send_to_cloud("Hello, World!")
    assert isinstance(exc.value, ProviderConnectionError)
    _assert_no_key(exc.value)


async def test_explicit_timeout_overrides_default(
    cloudsocket: FakeCloudSocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudsocket.mode = "hang"
    monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 60.0)
    client = HologramSocketClient(KEY, timeout=0.2)
    with pytest.raises(ProviderTimeoutError, match=r"0\.2 s"):
        await client.send_to_cloud("Hello, World!")


async def test_explicit_host_and_port(
    cloudsocket: FakeCloudSocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket_module, "DEFAULT_HOST", "invalid.invalid")
    monkeypatch.setattr(socket_module, "DEFAULT_PORT", 1)
    client = HologramSocketClient(KEY, host="127.0.0.1", port=cloudsocket.port)
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
    assert cloudsocket.requests == [b"SABCDWXYZ+13125551212 Hello, SMS!\r\r"]


async def test_send_sms_non_ascii(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "ok-sms"
    await _client().send_sms("+4915112345678", "Grüße")
    assert cloudsocket.requests == ["SABCDWXYZ+4915112345678 Grüße\r\r".encode()]


async def test_send_sms_error_answer(cloudsocket: FakeCloudSocket) -> None:
    cloudsocket.mode = "error"
    cloudsocket.error_answer = b"20"
    with pytest.raises(ProviderBadRequestError) as exc:
        await _client().send_sms("+13125551212", "Hello, SMS!")
    assert exc.value.detail == "20"
    assert "Failed to parse the message (2)" in str(exc.value)
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
        ("+13125551212", "ends\r\r"),
        # HologramCloud.MAX_SMS_LENGTH.
        ("+13125551212", "x" * 161),
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
    [
        (None, "ABCDWXYZ"),
        (None, 'a"\\bW"Z\\'),
        ("ABCD", "WXYZ"),
        ('a"\\b', 'W"Z\\'),
        ("1234", "1234"),
    ],
    ids=["plain", "json-escaped", "legacy", "legacy-json-escaped", "legacy-same"],
)
async def test_refusal_quoting_the_request_leaks_no_credentials(
    cloudsocket: FakeCloudSocket,
    caplog: pytest.LogCaptureFixture,
    method: str,
    source_id: str | None,
    key: str,
) -> None:
    """``ERR: S<key>+1312… x``: the key is scrubbed, raw or JSON-escaped."""
    cloudsocket.mode = "echo"
    cloudsocket.error_answer = b"ERR: "
    client = HologramSocketClient(key, source_id=source_id)
    call = (
        client.send_to_cloud("Hello, World!")
        if method == "cloud"
        else client.send_sms("+13125551212", "Hello, SMS!")
    )
    with pytest.raises(ProviderResponseError) as exc:
        await call
    values = [key] if source_id is None else [source_id, key]
    escaped = [json.dumps(value)[1:-1] for value in values]
    _assert_no_credentials(exc.value, *values, *escaped)
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
    # The answer read was 249 spaces, then "SABCDWX": 6 of the key's 8 characters.
    _assert_no_credentials(exc.value, KEY, "ABCDWX", "CDWX")


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
    monkeypatch.setattr(socket_module, "DEFAULT_TIMEOUT", 60.0)
    port = _closed_port()
    client = HologramSocketClient(KEY, host="127.0.0.1", port=port)
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
def test_bad_legacy_credentials(source_id: str, key: str) -> None:
    with pytest.raises(ValueError) as exc:
        validate_credentials(source_id, key)
    assert not key or key not in str(exc.value)
    with pytest.raises(ValueError):
        HologramSocketClient(key, source_id=source_id)


@pytest.mark.parametrize(("source_id", "key"), [("ABCD", "WXYZ"), ("a1!~", "{}[]")])
def test_good_legacy_credentials(source_id: str, key: str) -> None:
    validate_credentials(source_id, key)
    client = HologramSocketClient(key, source_id=source_id)
    assert client.legacy
    assert key not in repr(client)
    assert source_id not in repr(client)


@pytest.mark.parametrize(
    "key",
    ["ABCDWXY", "ABCDWXYZ1", "", "ABCD WXY", "ABCDWXY\t", "ABCDWXYÉ", "ABCDWXY\x7f"],
)
def test_bad_device_key(key: str) -> None:
    with pytest.raises(ValueError) as exc:
        validate_device_key(key)
    assert not key or key not in str(exc.value)
    with pytest.raises(ValueError):
        HologramSocketClient(key)


@pytest.mark.parametrize("key", ["ABCDWXYZ", "a1!~{}[]", "12345678"])
def test_good_device_key(key: str) -> None:
    validate_device_key(key)
    client = HologramSocketClient(key)
    assert not client.legacy
    assert key not in repr(client)


# --- the legacy credentials -------------------------------------------------------


async def test_legacy_cloud_message(cloudsocket: FakeCloudSocket) -> None:
    """The frame the SDK sent with a source ID and key (hologram-python v0.3,
    CSRPSKAuthentication: "s", "c", then "t", "d"; ended by \\r\\r)."""
    await _legacy_client().send_to_cloud("Hello, World!", ["TOPIC1"])
    assert cloudsocket.requests == [
        b'{"s": "ABCD", "c": "WXYZ", "t": ["TOPIC1"], "d": "Hello, World!"}\r\r'
    ]


async def test_legacy_sms_is_the_same_bytes(cloudsocket: FakeCloudSocket) -> None:
    """S + source ID + key is S + the 8 characters: one frame for both."""
    cloudsocket.mode = "ok-sms"
    await _legacy_client().send_sms("+13125551212", "Hello, SMS!")
    await _client().send_sms("+13125551212", "Hello, SMS!")
    assert cloudsocket.requests == [b"SABCDWXYZ+13125551212 Hello, SMS!\r\r"] * 2


@pytest.mark.parametrize("number", ["+13125551212", "+12", "+123456789012345"])
def test_good_e164(number: str) -> None:
    validate_e164(number)


@pytest.mark.parametrize(
    "number", ["", "+", "+0123", "+1", "13125551212", "+1234567890123456", "+1 312"]
)
def test_bad_e164(number: str) -> None:
    with pytest.raises(ValueError):
        validate_e164(number)

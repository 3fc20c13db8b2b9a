r"""Async client for the Hologram Socket API (``cloudsocket.hologram.io:9999``).

The Socket API is a plain TCP interface: the client connects, sends one API message
and reads the server's answer until it closes the connection. Written as Hologram's
own SDK writes it (hologram-io/hologram-python, ``CSRPSKAuthentication.py`` and
``HologramCloud.py``):

* a cloud message is ``{"k": "<device key>", "t": [topics], "d": "<data>"}`` (JSON as
  Python's ``json.dumps`` writes it) followed by ``\r\r``, answered ``[0,0]``;
* SMS-over-IP is ``S<device key><+number> <text>\r\r``, answered with digits;
* the first number of the answer is the result code of the SDK's table
  (:data:`RESULT_CODES`): 0 and 1 are success (1, "connection was closed so we
  couldn't read the whole message", the SDK counts as sent: "message might be
  fine"), every other code an error of its own kind.

The credential is the 8-character device key the Hologram dashboard shows (device →
*Receive from Device*). Entries made with the legacy credentials (a 4-character source
ID and a 4-character key, which the SDK sent as ``{"s": …, "c": …}`` up to v0.3)
keep sending that frame: see :class:`HologramSocketClient`. No credential appears in
an error message, not even when the server's answer quotes the request back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
import json
import re
from typing import Final

from .errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
)

# Module globals read at call time, so tests can monkeypatch them.
DEFAULT_HOST = "cloudsocket.hologram.io"
DEFAULT_PORT = 9999
DEFAULT_TIMEOUT = 10.0

PROVIDER: Final = "Hologram Socket API"
# CSRPSKAuthentication.DEVICE_KEY_LEN; the legacy source ID and key were 4 each.
DEVICE_KEY_LENGTH: Final = 8
CREDENTIAL_LENGTH: Final = 4
MAX_DATA_BYTES: Final = 10 * 1024
# HologramCloud.MAX_SMS_LENGTH: "SMS cannot be more than 160 characters long".
MAX_SMS_CHARS: Final = 160
MAX_ANSWER_BYTES: Final = 256
MAX_DETAIL_CHARS: Final = 100
# What the SDK ends every message with (CSRPSKAuthentication.buildPayloadString and
# buildSMSPayloadString, at every version since the SDK was published).
MESSAGE_END: Final = b"\r\r"
E164: Final = re.compile(r"\+[1-9]\d{1,14}")  # applied with fullmatch

# HologramCloud.py's result codes and their meaning, as the SDK words them.
RESULT_OK: Final = 0
RESULT_CONNECTION_CLOSED: Final = 1
RESULT_CODES: Final = {
    0: "Message sent successfully",
    1: "Connection was closed so we couldn't read the whole message",
    2: "Failed to parse the message",
    3: "Auth section of the message was invalid",
    4: "Payload type was invalid",
    5: "Protocol type was invalid",
    6: "Internal error in Hologram Cloud",
    7: "Metadata was formatted incorrectly",
    8: "Topic was formatted incorrectly",
    -1: "Unknown error",
}
# HologramCloud.resultWasSuccess: "result_code in (ERR_OK, ERR_CONNCLOSED)".
SUCCESS_CODES: Final = frozenset({RESULT_OK, RESULT_CONNECTION_CLOSED})
_AUTH_CODES: Final = frozenset({3})
_REQUEST_CODES: Final = frozenset({2, 4, 5, 7, 8})
_ANSWER_CODE: Final = re.compile(rb"\s*(?:\[\s*(-?\d+)\s*(?:,[^\]]*)?\]|(\d))")


def _is_credential_text(value: str, length: int) -> bool:
    return len(value) == length and all("!" <= char <= "~" for char in value)


def validate_device_key(device_key: str) -> None:
    """Raise ValueError unless the key is 8 printable ASCII characters without spaces."""
    if not _is_credential_text(device_key, DEVICE_KEY_LENGTH):
        raise ValueError(
            f"The Hologram device key must be exactly {DEVICE_KEY_LENGTH} printable "
            "ASCII characters without whitespace"
        )


def validate_credentials(source_id: str, key: str) -> None:
    """Raise ValueError unless both legacy credentials are 4 printable ASCII characters."""
    for name, value in (("source ID", source_id), ("key", key)):
        if not _is_credential_text(value, CREDENTIAL_LENGTH):
            raise ValueError(
                f"The Hologram Socket API {name} must be exactly "
                f"{CREDENTIAL_LENGTH} printable ASCII characters without whitespace"
            )


def result_code(answer: bytes) -> int | None:
    """Return the result code an answer starts with, or None if it holds none.

    A cloud message is answered with a JSON array (``[0,0]``: the SDK takes its
    first number), an SMS with digits (``00``: the SDK takes the first digit).
    """
    match = _ANSWER_CODE.match(answer)
    if match is None:
        return None
    digits = match.group(1) if match.group(1) is not None else match.group(2)
    return int(digits) if len(digits) <= 3 else None


def error_for_code(code: int | None, what: str, detail: str) -> ProviderError:
    """Map an answer's result code (not a success) to the error hierarchy."""
    meaning = (
        RESULT_CODES.get(code, "Unknown response code") if code is not None else None
    )
    if code in _AUTH_CODES:
        return ProviderAuthError(
            f"{PROVIDER} refused the device key for the {what}: {meaning} ({code})",
            detail=detail,
            reason=f"{meaning} ({code})",
        )
    if code in _REQUEST_CODES:
        return ProviderBadRequestError(
            f"{PROVIDER} refused the {what}: {meaning} ({code})",
            detail=detail,
            reason=f"{PROVIDER}: {meaning} ({code})",
        )
    if code is None:
        return ProviderResponseError(
            f"{PROVIDER} answered the {what} with something that is not a result "
            f"code: {detail}",
            detail=detail,
        )
    return ProviderResponseError(
        f"{PROVIDER} failed the {what}: {meaning} ({code})", detail=detail
    )


def validate_e164(number: str) -> None:
    """Raise ValueError unless the number is in E.164 form (``+`` and 2-15 digits)."""
    if not E164.fullmatch(number):
        raise ValueError(
            "The destination number must be in E.164 form, e.g. +13125551212"
        )


REDACTED: Final = "****"


def _printable(answer: bytes, secrets: Sequence[str] = ()) -> str:
    """Return the server's answer as printable text of at most 100 characters.

    Every ``secrets`` string is replaced first. When the answer filled the read
    buffer, its last characters are dropped before that: they could be the start
    of a secret cut short, which no replacement would find.
    """
    text = answer.decode("utf-8", errors="replace")
    if len(answer) >= MAX_ANSWER_BYTES:
        text = text[: -2 * DEVICE_KEY_LENGTH]
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return "".join(char if char.isprintable() else "?" for char in text.strip())[
        :MAX_DETAIL_CHARS
    ]


class HologramSocketClient:
    """A small typed client for the Hologram Socket API's cloud message and SMS.

    ``HologramSocketClient(device_key)`` sends as the SDK does today.
    ``HologramSocketClient(key, source_id=...)`` is an entry made with the legacy
    credentials: its cloud message is the SDK's frame of that time,
    ``{"s": source_id, "c": key, …}`` (hologram-python v0.3); its SMS frame is the
    same bytes either way (``S`` + source ID + key = ``S`` + 8 characters).
    """

    def __init__(
        self,
        key: str,
        *,
        source_id: str | None = None,
        host: str | None = None,
        port: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Check the credential's form and keep the connection settings."""
        if source_id is None:
            validate_device_key(key)
        else:
            validate_credentials(source_id, key)
        self._source_id = source_id
        self._key = key
        # As the requests carry them: raw (SMS) and JSON-escaped (cloud message),
        # the legacy pair each alone and together.
        values = [key] if source_id is None else [source_id, key, source_id + key]
        self._secrets = tuple(
            {form for value in values for form in (value, json.dumps(value)[1:-1])}
        )
        self._host = host
        self._port = port
        self._timeout = timeout

    @property
    def legacy(self) -> bool:
        """Whether the client sends with the legacy source ID and key."""
        return self._source_id is not None

    def __repr__(self) -> str:
        """Describe the client without its key."""
        return f"HologramSocketClient(legacy={self.legacy})"

    def cloud_frame(self, data: str, topics: Sequence[str] | None = None) -> bytes:
        r"""Return the bytes of a cloud message, as the SDK builds them.

        ``json.dumps`` with its default separators and ASCII escapes, the keys in
        the SDK's order (authentication, topics, data), then ``\r\r``. The SDK's
        ``"m"`` (its own modem type and version) is not sent: the Socket API
        documents ``k``, ``d`` and ``t`` only, and this is not that SDK.
        """
        message: dict[str, str | list[str]] = (
            {"k": self._key}
            if self._source_id is None
            else {"s": self._source_id, "c": self._key}
        )
        if topics:
            message["t"] = list(topics)
        message["d"] = data
        return json.dumps(message).encode("ascii") + MESSAGE_END

    def sms_frame(self, number: str, text: str) -> bytes:
        """Return the bytes of an SMS-over-IP request, as the SDK builds them."""
        credential = (self._source_id or "") + self._key
        return f"S{credential}{number} {text}".encode() + MESSAGE_END

    async def send_to_cloud(
        self, data: str, topics: Sequence[str] | None = None
    ) -> None:
        """Send a message to the Hologram Cloud as the device, with optional topics.

        Raise ValueError for empty data or data over 10 KiB (UTF-8), and a
        :class:`ProviderError` unless the answer's result code is a success.
        """
        if not data:
            raise ValueError("The cloud message data must not be empty")
        if len(data.encode("utf-8")) > MAX_DATA_BYTES:
            raise ValueError(
                f"The cloud message data must be at most {MAX_DATA_BYTES} bytes (UTF-8)"
            )
        await self._exchange(self.cloud_frame(data, topics), "cloud message")

    async def send_sms(self, number: str, text: str) -> None:
        """Send an SMS through Hologram's SMS-over-IP to an E.164 number.

        Raise ValueError for an invalid number, an empty text, a text over 160
        characters (the SDK's limit) or one containing a newline or another control
        character (a carriage return ends the message), and a
        :class:`ProviderError` unless the answer's result code is a success.
        """
        validate_e164(number)
        if not text:
            raise ValueError("The SMS text must not be empty")
        if len(text) > MAX_SMS_CHARS:
            raise ValueError(
                f"The SMS text must be at most {MAX_SMS_CHARS} characters long"
            )
        if any(char < " " or "\x7f" <= char <= "\x9f" for char in text):
            raise ValueError(
                "The SMS text must not contain a newline or another control character"
            )
        await self._exchange(self.sms_frame(number, text), "SMS")

    async def _exchange(self, request: bytes, what: str) -> None:
        """Send one request, read the answer and raise unless it is a success.

        The answer is read until the server closes the connection. If the timeout
        ends the wait after some of it came, that part is read as the SDK does (it
        stops reading at its socket timeout and parses what it has).
        """
        host = self._host if self._host is not None else DEFAULT_HOST
        port = self._port if self._port is not None else DEFAULT_PORT
        timeout = self._timeout if self._timeout is not None else DEFAULT_TIMEOUT
        received = bytearray()
        try:
            async with asyncio.timeout(timeout):
                await self._send(host, port, request, received)
        except TimeoutError as err:
            if not received:
                raise ProviderTimeoutError(
                    f"{PROVIDER} did not answer the {what} within {timeout:g} s"
                ) from err
        except OSError as err:
            raise ProviderConnectionError(
                f"Cannot reach the {PROVIDER} at {host}:{port}: "
                f"{err.strerror or type(err).__name__}",
                reason=f"{host}:{port}: {err.strerror or type(err).__name__}",
            ) from err
        answer = bytes(received)
        if not answer.strip():
            raise ProviderResponseError(
                f"{PROVIDER} closed the connection without an answer to the {what}"
            )
        code = result_code(answer)
        if code in SUCCESS_CODES:
            return
        raise error_for_code(code, what, _printable(answer, self._secrets))

    @staticmethod
    async def _send(host: str, port: int, request: bytes, received: bytearray) -> None:
        """Write the request; add the answer to ``received`` up to EOF (256 bytes)."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            await writer.drain()
            while len(received) < MAX_ANSWER_BYTES:
                chunk = await reader.read(MAX_ANSWER_BYTES - len(received))
                if not chunk:
                    break
                received += chunk
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

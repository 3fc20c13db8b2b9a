"""Async client for the Hologram Socket API (``cloudsocket.hologram.io:9999``).

The Socket API is a plain TCP interface: the client connects, sends one API message
ended by two newline characters and reads the server's answer until it closes the
connection. Two procedures are covered:

* a cloud message, sent as compact JSON (``{"s": id, "c": key, "d": data, "t": [...]}``)
  and answered with ``[0,0]`` on success;
* SMS-over-IP, sent as ``S<id><key><+number> <text>`` and answered with ``00`` on
  success.

Authentication uses a device's 4-character Source ID and 4-character Source Key (the
Cloud Services Router credentials). Neither appears in an error message, not even
when the server's answer quotes the request back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
import json
import re
from typing import Final

from .errors import (
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeoutError,
)

# Module globals read at call time, so tests can monkeypatch them.
DEFAULT_HOST = "cloudsocket.hologram.io"
DEFAULT_PORT = 9999
DEFAULT_TIMEOUT = 10.0

PROVIDER: Final = "Hologram Socket API"
CREDENTIAL_LENGTH: Final = 4
MAX_DATA_BYTES: Final = 10 * 1024
MAX_ANSWER_BYTES: Final = 256
MAX_DETAIL_CHARS: Final = 100
MESSAGE_END: Final = b"\n\n"
CLOUD_SUCCESS: Final = b"[0,0]"
SMS_SUCCESS: Final = b"00"
E164: Final = re.compile(r"\+[1-9]\d{1,14}")  # applied with fullmatch


def validate_credentials(source_id: str, key: str) -> None:
    """Raise ValueError unless both are 4 printable ASCII characters without spaces."""
    for name, value in (("source ID", source_id), ("key", key)):
        if not (
            len(value) == CREDENTIAL_LENGTH
            and all("!" <= char <= "~" for char in value)
        ):
            raise ValueError(
                f"The Hologram Socket API {name} must be exactly "
                f"{CREDENTIAL_LENGTH} printable ASCII characters without whitespace"
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
        text = text[: -2 * CREDENTIAL_LENGTH]
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return "".join(char if char.isprintable() else "?" for char in text.strip())[
        :MAX_DETAIL_CHARS
    ]


class HologramSocketClient:
    """A small typed client for the Hologram Socket API's cloud message and SMS."""

    def __init__(
        self,
        source_id: str,
        key: str,
        *,
        host: str | None = None,
        port: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Check the device's credentials and keep the connection settings."""
        validate_credentials(source_id, key)
        self._source_id = source_id
        self._key = key
        # As the requests carry them: raw (SMS) and JSON-escaped (cloud message).
        self._secrets = tuple(
            {
                form
                for value in (source_id, key)
                for form in (value, json.dumps(value)[1:-1])
            }
        )
        self._host = host
        self._port = port
        self._timeout = timeout

    def __repr__(self) -> str:
        """Describe the client without its key."""
        return f"HologramSocketClient(source_id={self._source_id!r})"

    async def send_to_cloud(
        self, data: str, topics: Sequence[str] | None = None
    ) -> None:
        """Send a message to the Hologram Cloud as the device, with optional topics.

        Raise ValueError for empty data or data over 10 KiB (UTF-8), and a
        :class:`ProviderError` when the server does not answer ``[0,0]``.
        """
        if not data:
            raise ValueError("The cloud message data must not be empty")
        if len(data.encode("utf-8")) > MAX_DATA_BYTES:
            raise ValueError(
                f"The cloud message data must be at most {MAX_DATA_BYTES} bytes (UTF-8)"
            )
        message: dict[str, str | list[str]] = {
            "s": self._source_id,
            "c": self._key,
            "d": data,
        }
        if topics:
            message["t"] = list(topics)
        payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        await self._exchange(
            payload.encode("utf-8") + MESSAGE_END, CLOUD_SUCCESS, "cloud message"
        )

    async def send_sms(self, number: str, text: str) -> None:
        """Send an SMS through Hologram's SMS-over-IP to an E.164 number.

        Raise ValueError for an invalid number, an empty text or a text containing a
        newline (two newlines end the message) or another control character (NUL …),
        and a :class:`ProviderError` when the server does not answer ``00``.
        """
        validate_e164(number)
        if not text:
            raise ValueError("The SMS text must not be empty")
        if any(char < " " or "\x7f" <= char <= "\x9f" for char in text):
            raise ValueError(
                "The SMS text must not contain a newline or another control character"
            )
        request = f"S{self._source_id}{self._key}{number} {text}".encode()
        await self._exchange(request + MESSAGE_END, SMS_SUCCESS, "SMS")

    async def _exchange(self, request: bytes, success: bytes, what: str) -> None:
        """Send one request, read the answer to EOF and raise unless it is success."""
        host = self._host if self._host is not None else DEFAULT_HOST
        port = self._port if self._port is not None else DEFAULT_PORT
        timeout = self._timeout if self._timeout is not None else DEFAULT_TIMEOUT
        try:
            async with asyncio.timeout(timeout):
                answer = await self._send(host, port, request)
        except TimeoutError as err:
            raise ProviderTimeoutError(
                f"{PROVIDER} did not answer the {what} within {timeout:g} s"
            ) from err
        except OSError as err:
            raise ProviderConnectionError(
                f"Cannot reach the {PROVIDER} at {host}:{port}: "
                f"{err.strerror or type(err).__name__}"
            ) from err
        if answer.strip() == success:
            return
        if not answer.strip():
            raise ProviderResponseError(
                f"{PROVIDER} closed the connection without an answer to the {what}"
            )
        detail = _printable(answer, self._secrets)
        raise ProviderBadRequestError(
            f"{PROVIDER} refused the {what} (credentials or format): {detail}",
            detail=detail,
        )

    @staticmethod
    async def _send(host: str, port: int, request: bytes) -> bytes:
        """Write the request and return the answer read to EOF (at most 256 bytes)."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            await writer.drain()
            answer = b""
            while len(answer) < MAX_ANSWER_BYTES:
                chunk = await reader.read(MAX_ANSWER_BYTES - len(answer))
                if not chunk:
                    break
                answer += chunk
            return answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

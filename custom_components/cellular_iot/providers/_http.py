"""The HTTP exchange every REST provider client shares: one request, errors mapped.

An answer is read in bounded chunks up to a size cap (a provider, or anything posing
as one, cannot make the client hold more than that), redirects are never followed, and
the whole exchange, body included, runs under the client's timeout. The client asks for
an uncompressed answer (``Accept-Encoding: identity``); one that comes gzip or deflate
anyway (emnify's CDN answers gzip, as its recorded traffic shows) is inflated here,
never past the same cap, so a small body cannot inflate into a large one.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
import functools
import json
from typing import Any, Final
import zlib

import aiohttp
import orjson

from .errors import ProviderConnectionError, ProviderResponseError, ProviderTimeoutError

# The largest answer read from a provider's REST API; a Hologram device page of 100
# devices is a few hundred KB.
MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024
_CHUNK_BYTES: Final = 64 * 1024
# What is kept of a provider's own error text.
MAX_DETAIL_CHARS: Final = 300
REDACTED: Final = "**REDACTED**"
# The content codings an answer may come in, and the zlib window of each.
_INFLATE_WBITS: Final = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}

# Told after every exchange whether the provider could be reached: None when it
# answered (whatever the answer, a 4xx included), else why not (no connection, no
# answer in time, HTTP 5xx).
type ReachabilityObserver = Callable[[str | None], None]


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What a provider answered, before the client interprets it."""

    status: int
    body: bytes
    retry_after: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    """The answer's headers (case-insensitive), for the clients that read some."""


@functools.lru_cache(maxsize=64)
def client_timeout(total: float) -> aiohttp.ClientTimeout:
    """Return the timeout of a whole exchange (one object per value, not per call)."""
    return aiohttp.ClientTimeout(total=total)


def basic_authorization(login: str, password: str) -> str:
    """Return the ``Authorization`` value for HTTP Basic authentication.

    Built here rather than with ``aiohttp.BasicAuth``/``auth=``, which aiohttp
    deprecates for 4.0 (HA 2026.10+ runs with the warning on).
    """
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


async def exchange(
    session: aiohttp.ClientSession,
    provider: str,
    method: str,
    url: str,
    *,
    timeout: aiohttp.ClientTimeout,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
    json_body: Mapping[str, Any] | None = None,
    max_bytes: int = MAX_ANSWER_BYTES,
    observer: ReachabilityObserver | None = None,
) -> RawResponse:
    """Send one request and read the answer (at most ``max_bytes``).

    Network failures become :class:`ProviderConnectionError`, a timeout (the body
    included) :class:`ProviderTimeoutError`, a larger answer (before or after it is
    inflated) :class:`ProviderResponseError`, and so do an answer in another coding
    than gzip or deflate, one that does not inflate, and a redirect (HTTP 3xx),
    which is never followed. The ``observer`` learns whether the provider could be
    reached.
    """
    request_headers = {**headers, "Accept-Encoding": "identity"}
    body: bytes | None = None
    if json_body is not None:
        body = _json_bytes(json_body)
        request_headers["Content-Type"] = "application/json"
    try:
        async with session.request(
            method,
            url,
            params=params,
            data=body,
            timeout=timeout,
            headers=request_headers,
            allow_redirects=False,
            auto_decompress=False,
        ) as response:
            status = response.status
            answer_headers = response.headers  # (read-only, case-insensitive)
            if 300 <= status < 400 or "Content-Encoding" in answer_headers:
                _check_form(provider, status, answer_headers)
            length = response.content_length
            if length is not None:
                # The parser stops at Content-Length: one read, at most that much.
                if length > max_bytes:
                    raise _too_large(provider, max_bytes, status)
                answer = await response.read()
            else:  # chunked, or until the connection closes: counted as it comes
                buffer = bytearray()
                while chunk := await response.content.read(_CHUNK_BYTES):
                    buffer += chunk
                    if len(buffer) > max_bytes:
                        raise _too_large(provider, max_bytes, status)
                answer = bytes(buffer)
            coding = answer_headers.get("Content-Encoding", "").strip().lower()
            if coding not in ("", "identity"):
                answer = _inflate(provider, coding, answer, max_bytes, status)
    except ProviderResponseError:
        if observer is not None:
            observer(None)  # it answered, with something we do not accept
        raise
    except (TimeoutError, aiohttp.ClientError) as err:
        failure: ProviderConnectionError = (
            ProviderTimeoutError(
                f"{provider} did not answer in time",
                reason=f"{provider}: no answer in time",
            )
            if isinstance(err, TimeoutError)
            else ProviderConnectionError(
                f"Cannot reach {provider}: {type(err).__name__}",
                reason=f"{provider}: {type(err).__name__}",
            )
        )
        if observer is not None:
            observer(str(failure))
        raise failure from err
    if observer is not None:
        observer(f"{provider} failed (HTTP {status})" if status >= 500 else None)
    return RawResponse(
        status, answer, answer_headers.get("Retry-After"), answer_headers
    )


def _check_form(provider: str, status: int, headers: Mapping[str, str]) -> None:
    """Refuse a redirect (never followed) and a coding other than gzip/deflate."""
    if 300 <= status < 400:
        raise ProviderResponseError(
            f"{provider} answered with a redirect (HTTP {status}), "
            "which is not followed",
            status=status,
        )
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity") and encoding not in _INFLATE_WBITS:
        raise ProviderResponseError(
            f"{provider} answered with a body compressed in an unknown coding",
            status=status,
        )


def _inflate(
    provider: str, coding: str, raw: bytes, max_bytes: int, status: int
) -> bytes:
    """Return a gzip or deflate body inflated, never more than ``max_bytes`` of it."""
    if not raw:  # (a 204 may name a coding and carry nothing)
        return raw
    inflater = zlib.decompressobj(_INFLATE_WBITS[coding])
    try:
        body = inflater.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise ProviderResponseError(
            f"{provider} answered with a compressed body that does not inflate",
            status=status,
        ) from None
    if len(body) > max_bytes:
        raise _too_large(provider, max_bytes, status)
    if not inflater.eof:
        raise ProviderResponseError(
            f"{provider} answered with a compressed body cut short", status=status
        )
    return body


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    """Return a request body as JSON (orjson, as HA's own session encodes it)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # such as an integer over 64 bits: Python's encoder takes it
        return json.dumps(value).encode()


def _too_large(provider: str, max_bytes: int, status: int) -> ProviderResponseError:
    return ProviderResponseError(
        f"{provider} answered with more than {max_bytes} bytes", status=status
    )


def decode_json(raw: bytes) -> Any:
    """Return the JSON value of an answer, or None when it is not JSON.

    Bytes that are not UTF-8, and JSON nested too deeply for the parser, are "not
    JSON" too, never an exception.
    """
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass  # orjson refuses some JSON Python reads (an integer over 64 bits)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def provider_text(value: Any, secrets: Iterable[str] = ()) -> str | None:
    """Return a provider's error text fit for a message and a log line, or None.

    Only printable characters are kept (a newline cannot forge a log line), every
    secret the request carried is replaced, and the text is cut to 300 characters.
    """
    if not isinstance(value, str) or not value:
        return None
    for secret in secrets:
        if secret:
            value = value.replace(secret, REDACTED)
    if not value.isprintable():  # (most texts are: kept without a pass per char)
        value = "".join(char if char.isprintable() else " " for char in value)
    text = value.strip()
    return text[:MAX_DETAIL_CHARS] or None

"""Inbound webhook of an account entry: provider deliveries become HA events.

One webhook per account entry, registered with HA's ``webhook`` component (so Home
Assistant Cloud can relay it too: a relayed delivery arrives as HA's ``MockRequest``,
which the handler reads like a real request). Every request must carry the entry's
shared secret (query parameter ``secret``, header ``X-Webhook-Secret`` / ``X-API-Key``,
or the ``Authorization`` header as the bare secret, ``Bearer <secret>``, Basic auth
whose password is the secret, or an HMAC-signed JWT with an ``exp``). The body is read
to its end (however it is split or chunked) up to 256 KB and within a deadline. The
handler answers at once and never raises: a bad request gets a 4xx with a short reason
and a debug log line, nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
import hashlib
import hmac
from http import HTTPStatus
import json
import math
import re
import secrets
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestPayloadError

from homeassistant.components import webhook
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest

from .const import (
    CONF_KIND,
    CONF_ORG_ID,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    LOGGER,
    EntryKind,
)
from .events import async_fire_message, message_event
from .models import CellularIoTConfigEntry
from .providers.inbound import (
    CONTENT_TYPES,
    FORM,
    JSON,
    NO_CONTENT_TYPE,
    PARSERS,
    Form,
    InboundFormatError,
    InboundMessage,
)
from .providers.monoz import iccid_from_topic

# Deliveries are small (monoZ: 10 packets of 6 KB; emnify: batches of events).
MAX_BODY_BYTES: Final = 256 * 1024
# The whole body must arrive within this time (a sender that trickles gets 408).
BODY_TIMEOUT: Final = 30.0
# A Hologram form has four fields; anything with many more is not one.
MAX_FORM_FIELDS: Final = 16
# Longer header or query values are not our secret (32 characters) and are not compared.
MAX_SECRET_CHARS: Final = 512
MAX_JWT_CHARS: Final = 4096
# Clock difference allowed when checking a JWT's "exp" and "nbf" (seconds).
JWT_LEEWAY: Final = 60
# Message ids remembered per entry to drop a delivery the provider retries.
DEDUP_SIZE: Final = 4096
SECRET_HEADERS: Final = ("X-Webhook-Secret", "X-API-Key")
AUTH_HEADERS: Final = ("Authorization", "Authentication")


def new_webhook_secret() -> str:
    """Return a fresh shared secret (URL-safe)."""
    return secrets.token_urlsafe(24)


def webhook_url(hass: HomeAssistant, webhook_id: str) -> str:
    """Return the full URL of the webhook, or its path when HA knows no URL."""
    try:
        return webhook.async_generate_url(hass, webhook_id)
    except NoURLAvailableError:
        return webhook.async_generate_path(webhook_id)


def url_with_secret(url: str, secret: str) -> str:
    """Return the URL to paste at a provider that cannot send headers."""
    return f"{url}?secret={secret}"


type DeliveryRequest = web.Request | MockRequest
"""A delivery: from HA's HTTP server, or relayed by Home Assistant Cloud."""


class _RejectedError(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _source(request: DeliveryRequest) -> str | None:
    """Return who sent the request, for the log: its address, or the relay's name."""
    if isinstance(request, MockRequest):
        return request.mock_source
    return request.remote


def _raw(value: str) -> bytes | None:
    """Return a header or query value as the bytes that were sent.

    aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so any byte comes
    back; a relayed value (JSON text) may hold lone surrogates, which no secret has.
    """
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _presented(request: DeliveryRequest) -> Iterator[tuple[bytes | None, bool]]:
    """Yield each presented secret, and whether it may be a JWT (a Bearer token).

    Every value of a repeated header counts.
    """
    for value in request.query.getall("secret", ()):
        yield _raw(value), False
    for name in SECRET_HEADERS:
        for value in request.headers.getall(name, ()):
            yield _raw(value.strip()), False
    for name in AUTH_HEADERS:
        for value in request.headers.getall(name, ()):
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                yield _raw(rest.strip()), True
            elif scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(rest.strip(), validate=True)
                except (binascii.Error, ValueError):
                    continue
                yield decoded.partition(b":")[2], False
            else:
                yield _raw(value.strip()), False


def _check_secret(
    request: DeliveryRequest, expected: str, form_key: str | None
) -> None:
    """Accept the secret from the query, a header, or a form's "key" (Hologram).

    Every value is compared in constant time; a value that cannot be the secret (too
    long, not encodable) is skipped, never an error.
    """
    if not expected:
        raise _RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")
    expected_bytes = expected.encode()
    candidates = [
        (value, maybe_jwt)
        for value, maybe_jwt in _presented(request)
        if value is not None
    ]
    if form_key is not None and (key := _raw(form_key)) is not None:
        candidates.append((key, False))
    for value, _ in candidates:
        if len(value) <= MAX_SECRET_CHARS and hmac.compare_digest(
            value, expected_bytes
        ):
            return
    now = dt_util.utcnow().timestamp()
    for value, maybe_jwt in candidates:
        if maybe_jwt and jwt_signed_with(value, expected_bytes, now):
            return
    raise _RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")


class _BadTokenError(ValueError):
    """A JWT part that is not what the JWT rules allow."""


_JWT_HASHES: Final = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}
_B64URL: Final = re.compile(rb"[A-Za-z0-9_-]*")


def _b64url(part: bytes) -> bytes:
    """Decode unpadded base64url strictly: its alphabet only, canonical, no padding."""
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise _BadTokenError("not base64url")
    decoded = base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
    # Stray bits in the last character would let one signature have many spellings.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != part:
        raise _BadTokenError("not canonical base64url")
    return decoded


def _claim_time(claims: Mapping[str, Any], name: str) -> float | None:
    """Return a numeric time claim, None if absent; refuse any other value."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _BadTokenError(f"{name} is not a number")
    if not math.isfinite(value):
        raise _BadTokenError(f"{name} is not finite")
    return float(value)


def jwt_signed_with(token: bytes, key: bytes, now: float) -> bool:
    """Return whether ``token`` is a JWT signed with ``key`` (HMAC) and valid at ``now``.

    emnify signs its SMS callbacks this way with the service profile's API secret.
    The token must carry a numeric ``exp`` (a token without one would be good
    forever) that has not passed, and a ``nbf`` if present must have come; both with
    :data:`JWT_LEEWAY` for clock differences. Every part must be strict base64url.
    """
    parts = token.split(b".")
    if len(parts) != 3 or len(token) > MAX_JWT_CHARS:
        return False
    try:
        header = json.loads(_b64url(parts[0]))
        signature = _b64url(parts[2])
        if not isinstance(header, dict) or "crit" in header:
            return False
        digest = _JWT_HASHES.get(str(header.get("alg")))
        if digest is None:
            return False
        expected = hmac.new(key, parts[0] + b"." + parts[1], digest).digest()
        if not hmac.compare_digest(signature, expected):
            return False
        claims = json.loads(_b64url(parts[1]))
        if not isinstance(claims, dict):
            return False
        exp = _claim_time(claims, "exp")
        nbf = _claim_time(claims, "nbf")
    except (ValueError, RecursionError):
        return False
    if exp is None or exp + JWT_LEEWAY < now:
        return False
    return nbf is None or nbf - JWT_LEEWAY <= now


async def _read_raw(request: DeliveryRequest) -> bytes:
    """Read the body to its end: it may come in many pieces, chunked, or compressed.

    The declared length is checked first; the cap holds for what arrives too (a
    chunked or compressed body declares none), and the whole body must arrive within
    :data:`BODY_TIMEOUT`.
    """
    if (
        not isinstance(request, MockRequest)
        and request.content_length is not None
        and request.content_length > MAX_BODY_BYTES
    ):
        raise _RejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    content = request.content  # a MockRequest makes a new reader at each access
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while chunk := await content.read(MAX_BODY_BYTES + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _RejectedError(
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large"
                    )
    except TimeoutError:
        raise _RejectedError(
            HTTPStatus.REQUEST_TIMEOUT, "body not received in time"
        ) from None
    except (
        RequestPayloadError,
        http_exceptions.HttpProcessingError,
        ConnectionError,
    ) as err:
        # aiohttp 3.13 refuses a body that decompresses to more than its own limit.
        too_large = getattr(http_exceptions, "DecompressSizeError", ())
        if too_large and isinstance(err.__cause__, too_large):
            raise _RejectedError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large"
            ) from None
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body could not be read") from None
    return b"".join(chunks)


def _media_type(request: DeliveryRequest) -> str:
    """Return the request's media type (lower case, no parameters), "" if none."""
    values = request.headers.getall("Content-Type", ())
    if len(values) > 1:
        raise _RejectedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "one Content-Type")
    if not values:
        return NO_CONTENT_TYPE
    return values[0].partition(";")[0].strip().lower()


def _form(raw: bytes) -> Form:
    """Decode a form body: UTF-8, each field once, a handful of fields."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:  # also UnicodeDecodeError
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "form is not valid") from None
    form = Form(pairs)
    if len(form) != len(pairs):
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "form repeats a field")
    return form


def _form_or_none(raw: bytes) -> Form | None:
    try:
        return _form(raw)
    except _RejectedError:
        return None  # refused with its reason once the secret has been checked


def _decode(raw: bytes, media_type: str) -> Any:
    """Decode a JSON body (any accepted type but a form), or a form into a Form."""
    if not raw.strip():
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "empty body")
    if media_type == FORM:
        return _form(raw)
    try:
        # JSON is UTF-8; a byte order mark, which some senders put first, is dropped.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body is not UTF-8") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None


def _check_media_type(media_type: str, accepted: frozenset[str]) -> None:
    """Refuse a media type the provider never posts (415, naming what is accepted)."""
    if media_type in accepted:
        return
    names = [JSON] if JSON in accepted else []
    if FORM in accepted:
        names.append("a form")
    raise _RejectedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "use " + " or ".join(names))


class InboundWebhook:
    """The webhook of one account entry."""

    def __init__(self, hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
        """Bind the webhook to its entry (the secret is read at each request)."""
        self._hass = hass
        self._entry = entry
        self._kind = EntryKind(entry.data[CONF_KIND])
        self._parser: Callable[[Any], list[InboundMessage]] = PARSERS[self._kind]
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.webhook_id: str = entry.data[CONF_WEBHOOK_ID]
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self.last_rejection: str | None = None

    @callback
    def register(self) -> None:
        """Register with HA's webhook component (POST only, reachable from outside)."""
        webhook.async_register(
            self._hass,
            DOMAIN,
            f"{self._entry.title} inbound",
            self.webhook_id,
            self.handle,
            local_only=False,
            allowed_methods=["POST"],
        )

    @callback
    def unregister(self) -> None:
        """Remove the webhook."""
        webhook.async_unregister(self._hass, self.webhook_id)

    async def handle(
        self, hass: HomeAssistant, webhook_id: str, request: DeliveryRequest
    ) -> web.Response:
        """Answer one delivery; never raise."""
        try:
            raw = await _read_raw(request)
            media_type = _media_type(request)
            accepted = CONTENT_TYPES[self._kind]
            # A Hologram form carries the secret in its "key" field.
            form = (
                _form_or_none(raw) if media_type == FORM and FORM in accepted else None
            )
            _check_secret(
                request,
                self._entry.options.get(CONF_WEBHOOK_SECRET, ""),
                form.get("key") if form is not None else None,
            )
            _check_media_type(media_type, accepted)
            body = form if form is not None else _decode(raw, media_type)
            try:
                messages = self._parser(body)
            except InboundFormatError as err:
                raise _RejectedError(HTTPStatus.BAD_REQUEST, str(err)) from None
        except _RejectedError as err:
            self.rejected += 1
            self.last_rejection = err.reason
            LOGGER.debug(
                "%s webhook: rejected a request from %s (%s): %s",
                self._entry.title,
                _source(request),
                int(err.status),
                err.reason,
            )
            return web.json_response({"error": err.reason}, status=err.status)
        except Exception:  # noqa: BLE001 - a webhook must answer, whatever happens
            LOGGER.exception("%s webhook: unexpected error", self._entry.title)
            return web.json_response(
                {"error": "internal error"}, status=HTTPStatus.INTERNAL_SERVER_ERROR
            )
        new = 0
        for message in messages:
            if message.message_id in self._seen:
                self.duplicates += 1
                continue
            self._remember(message.message_id)
            self._fire(message)
            new += 1
        self.accepted += new
        return web.json_response(
            {"accepted": new, "duplicates": len(messages) - new}, status=HTTPStatus.OK
        )

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        while len(self._seen) > DEDUP_SIZE:
            self._seen.popitem(last=False)

    def _fire(self, message: InboundMessage) -> None:
        iccid = message.iccid
        if iccid is None and self._kind is EntryKind.MONOZ and message.topics:
            iccid = iccid_from_topic(
                str(self._entry.data[CONF_ORG_ID]), message.topics[0]
            )
        event = message_event(
            provider=self._kind.value,
            source="webhook",
            entry_id=self._entry.entry_id,
            payload=message.payload,
            device_id=message.device_id,
            iccid=iccid,
            topics=message.topics,
            received_at=message.received_at,
            message_id=message.message_id,
            **message.extra,
        )
        async_fire_message(self._hass, self._entry.entry_id, event)

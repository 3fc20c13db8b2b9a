"""Inbound webhook of an account entry: provider deliveries become HA events.

One webhook per account entry, registered with HA's ``webhook`` component (so Home
Assistant Cloud can relay it too). Every request must carry the entry's shared secret
(query parameter ``secret``, header ``X-Webhook-Secret`` / ``X-API-Key``, or the
``Authorization`` header as the bare secret, ``Bearer <secret>`` or Basic auth whose
password is the secret). The handler answers at once and never raises: a bad request
gets a 4xx with a short reason and a debug log line, nothing else.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable
import hashlib
import hmac
from http import HTTPStatus
import json
import secrets
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from homeassistant.components import webhook
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.util import dt as dt_util

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
from .providers.inbound import PARSERS, InboundFormatError, InboundMessage
from .providers.monoz import iccid_from_topic

# Deliveries are small (monoZ: 10 packets of 6 KB; emnify: batches of events).
MAX_BODY_BYTES: Final = 256 * 1024
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


class _RejectedError(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _presented_secrets(request: web.Request, jwts: list[str]) -> list[str]:
    found: list[str] = []
    if value := request.query.get("secret"):
        found.append(value)
    found.extend(
        value.strip() for name in SECRET_HEADERS if (value := request.headers.get(name))
    )
    for name in AUTH_HEADERS:
        value = request.headers.get(name, "").strip()
        if not value:
            continue
        scheme, _, rest = value.partition(" ")
        if scheme.lower() == "bearer":
            found.append(rest.strip())
            jwts.append(rest.strip())
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode()
            except (binascii.Error, ValueError):
                continue
            found.append(decoded.partition(":")[2])
        else:
            found.append(value)
    return found


def _check_secret(request: web.Request, expected: str, form_key: str | None) -> None:
    """Accept the secret from the query, a header, or a form's "key" (Hologram)."""
    jwts: list[str] = []
    presented = _presented_secrets(request, jwts)
    if form_key:
        presented.append(form_key)
    expected_bytes = expected.encode()
    if not expected:
        raise _RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")
    for value in presented:
        if hmac.compare_digest(value.encode(), expected_bytes):
            return
    if any(jwt_signed_with(token, expected_bytes) for token in jwts):
        return
    raise _RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")


_JWT_HASHES: Final = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_signed_with(token: str, key: bytes) -> bool:
    """Return whether ``token`` is a JWT signed with ``key`` (HMAC) and not expired.

    emnify signs its SMS callbacks this way with the service profile's API secret.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 4096:
        return False
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error):
        return False
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return False
    digest = _JWT_HASHES.get(str(header.get("alg")))
    if digest is None:
        return False
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), digest).digest()
    if not hmac.compare_digest(signature, expected):
        return False
    exp = claims.get("exp")
    return not (
        isinstance(exp, (int, float))
        and not isinstance(exp, bool)
        and exp < dt_util.utcnow().timestamp()
    )


async def _read_raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _RejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise _RejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    return raw


def _decode(request: web.Request, raw: bytes) -> Any:
    """Decode a JSON body, or a form into a mapping of its (first) values."""
    if not raw.strip():
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "empty body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body is not UTF-8") from None
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    if content_type in ("application/json", "text/plain", "application/octet-stream"):
        # Some provider routes send JSON as text/plain: JSON is what is accepted.
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise _RejectedError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
    raise _RejectedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "use JSON or a form")


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
            allowed_methods=["POST"],
        )

    @callback
    def unregister(self) -> None:
        """Remove the webhook."""
        webhook.async_unregister(self._hass, self.webhook_id)

    async def handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Answer one delivery; never raise."""
        try:
            raw = await _read_raw(request)
            form_key: str | None = None
            if request.content_type == "application/x-www-form-urlencoded":
                form_key = dict(parse_qsl(raw.decode("utf-8", "replace"))).get("key")
            _check_secret(
                request, self._entry.options.get(CONF_WEBHOOK_SECRET, ""), form_key
            )
            body = _decode(request, raw)
            if isinstance(body, dict) and form_key is not None:
                body.pop("key", None)
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
                request.remote,
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

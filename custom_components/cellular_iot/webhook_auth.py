"""Who may deliver to an account's webhook: the entry's shared secret, however sent.

The secret may come as the query parameter ``secret``, a header ``X-Webhook-Secret``
or ``X-API-Key``, the ``Authorization`` header (the bare secret, ``Bearer <secret>``,
Basic auth whose password is the secret, or a JWT signed with the secret by HMAC, as
emnify signs its API callbacks), or a Hologram form's ``key`` field. Every comparison takes constant time; a value that
cannot be the secret is skipped, never an error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
import hashlib
import hmac
from http import HTTPStatus
import json
import math
import re
from typing import Any, Final

from aiohttp import web

from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest

# Longer header or query values are not our secret (32 characters) and are not compared.
MAX_SECRET_CHARS: Final = 512
MAX_JWT_CHARS: Final = 4096
# Clock difference allowed when checking a JWT's "exp", "nbf" and "iat" (seconds).
JWT_LEEWAY: Final = 60
# A JWT with an "iat" but no "exp" is taken this long after it was issued (seconds):
# a provider may send a delivery again with the token it signed first (1NCE's SMS
# forwarder, on emnify's platform, retries for 24 hours).
JWT_MAX_AGE: Final = 24 * 3600
SECRET_HEADERS: Final = ("X-Webhook-Secret", "X-API-Key")
AUTH_HEADERS: Final = ("Authorization", "Authentication")


type DeliveryRequest = web.Request | MockRequest
"""A delivery: from HA's HTTP server, or relayed by Home Assistant Cloud."""


class RejectedError(Exception):
    """A delivery refused with an HTTP status and a short reason."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        """Keep the status and the reason."""
        super().__init__(reason)
        self.status = status
        self.reason = reason


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
                if (password := _basic_password(rest)) is not None:
                    yield password, False
            else:
                yield _raw(value.strip()), False
                # A Basic value sent without its scheme (a provider that puts the
                # value it was given as the whole header, as 1NCE's Data Streamer
                # may: its Portal asks for the "Basic Auth Header").
                if (password := _basic_password(value)) is not None:
                    yield password, False


def _basic_password(value: str) -> bytes | None:
    """Return the password of a Basic credential (base64 of user:password), if one."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    _user, colon, password = decoded.partition(b":")
    return password if colon else None


def check_secret(request: DeliveryRequest, expected: str, form_key: str | None) -> None:
    """Accept the secret from the query, a header, or a form's "key" (Hologram).

    Every value is compared in constant time; a value that cannot be the secret (too
    long, not encodable) is skipped, never an error.
    """
    if not expected:
        raise RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")
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
    raise RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")


def secret_presented(request: DeliveryRequest, expected: str) -> bool:
    """Tell whether the query or a header carries the secret (the body is not read).

    The same values :func:`check_secret` takes, but a form's ``key``.
    """
    try:
        check_secret(request, expected, None)
    except RejectedError:
        return False
    return True


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

    emnify signs its API callbacks this way with the service profile's API secret,
    and documents nothing else of the token: no claim, so neither ``exp`` nor ``iat``
    can be required. The time claims present are checked, each with
    :data:`JWT_LEEWAY` for clock differences: ``exp`` must not have passed, ``nbf``
    must have come, and an ``iat`` without an ``exp`` must be no older than
    :data:`JWT_MAX_AGE` (and not in the future). A token without time claims is the
    same text at every request, a fixed credential made from the secret, no weaker
    than the bare secret this header also takes; a replayed delivery is dropped by
    its message id (the webhook remembers them). Every part must be strict base64url.
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
        iat = _claim_time(claims, "iat")
    except (ValueError, RecursionError):
        return False
    if exp is not None and exp + JWT_LEEWAY < now:
        return False
    if (
        exp is None
        and iat is not None
        and not (now - JWT_MAX_AGE - JWT_LEEWAY <= iat <= now + JWT_LEEWAY)
    ):
        return False
    return nbf is None or nbf - JWT_LEEWAY <= now

"""Async client for the emnify REST API (https://cdn.emnify.net/api/v1).

An application token is exchanged for an auth token at ``POST /authenticate``. The auth
token is cached and renewed shortly before its JWT ``exp`` and after a 401, and
concurrent callers share one renewal. A token is kept for at least a minute whatever
its claims or the local clock say (a short-lived token, or a clock running ahead of
emnify's, must not cost one ``/authenticate`` per request): if emnify stops taking
it sooner, its 401 renews it once and the request is retried once. SMS texts are
split and encoded by :mod:`.sms`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import json
import math
import time
from typing import Any, Final

import aiohttp

from ._http import ReachabilityObserver, decode_json, exchange, provider_text
from .errors import (
    ProviderAuthError,
    ProviderResponseError,
    error_for_status,
)
from .sms import SmsPart

DEFAULT_BASE_URL: Final = "https://cdn.emnify.net/api/v1"
DEFAULT_TIMEOUT: Final = 15.0
# Renew the auth token this many seconds before it expires.
RENEW_MARGIN: Final = 60.0
# When a token carries no usable exp claim, keep it this long.
DEFAULT_TOKEN_LIFETIME: Final = 3600.0
# Keep a token at least this long (emnify allows 100 /authenticate per 5 minutes),
# and at most this long, whatever its claims say.
MIN_TOKEN_LIFETIME: Final = 60.0
MAX_TOKEN_LIFETIME: Final = 86400.0
ALPHANUMERIC_SENDER_TYPE: Final = 208
MAX_TOKEN_CHARS: Final = 16 * 1024


def jwt_claims(token: str) -> dict[str, Any]:
    """Return the (unverified) claims of a JWT, or {} when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


@dataclass(frozen=True, slots=True)
class EmnifyAccount:
    """The organisation an application token belongs to (from its JWT claims)."""

    org_id: str | None
    org_name: str | None


@dataclass(frozen=True, slots=True)
class SentSmsPart:
    """One SMS request emnify accepted."""

    part: int
    sms_id: str | None


class EmnifyClient:
    """A small typed client for emnify's authentication and SMS endpoints."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        application_token: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Build a client on an existing session (the session is not closed here)."""
        if not application_token:
            raise ValueError("application_token must not be empty")
        self._session = session
        self._application_token = application_token
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = timeout
        self._clock = clock or _now
        self._auth_token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.authentications = 0
        # Told after every request whether emnify could be reached.
        self.observer: ReachabilityObserver | None = None

    @property
    def account(self) -> EmnifyAccount:
        """The organisation named in the application token or the auth token."""
        claims = jwt_claims(self._auth_token or "") or jwt_claims(
            self._application_token
        )
        org = claims.get("esc.org")
        name = claims.get("esc.orgName")
        return EmnifyAccount(
            org_id=str(org) if org is not None else None,
            org_name=name if isinstance(name, str) else None,
        )

    async def authenticate(self) -> EmnifyAccount:
        """Exchange the application token for an auth token now."""
        await self._renew(None)
        return self.account

    async def reauthenticate(self) -> EmnifyAccount:
        """Exchange the application token for a new auth token, even if one is cached.

        One request that proves emnify answers (and the token is still good).
        """
        await self._renew(self._auth_token)
        return self.account

    async def send_sms(
        self,
        endpoint_id: int,
        parts: list[SmsPart],
        *,
        source_address: str | None = None,
        alphanumeric_sender: bool = False,
        expiry_date: str | None = None,
    ) -> list[SentSmsPart]:
        """Send each part with ``POST /endpoint/{id}/sms``, in order."""
        if not parts:
            raise ValueError("no SMS parts to send")
        sent: list[SentSmsPart] = []
        for number, part in enumerate(parts, start=1):
            body: dict[str, Any] = {"payload": part.payload}
            if part.dcs is not None:
                body["dcs"] = part.dcs
            if part.udh is not None:
                body["udh"] = part.udh
            if source_address:
                body["source_address"] = source_address
                if alphanumeric_sender:
                    body["source_address_type"] = {"id": ALPHANUMERIC_SENDER_TYPE}
            if expiry_date:
                body["expiry_date"] = expiry_date
            result = await self._request(
                "POST", f"/endpoint/{int(endpoint_id)}/sms", body
            )
            sms_id = result.get("id") if isinstance(result, Mapping) else None
            sent.append(SentSmsPart(part=number, sms_id=_short_id(sms_id)))
        return sent

    async def _token(self) -> str:
        if self._auth_token is None or self._clock() >= self._expires_at:
            await self._renew(self._auth_token)
        assert self._auth_token is not None
        return self._auth_token

    async def _renew(self, stale: str | None) -> None:
        """Get a new auth token unless another caller already replaced ``stale``."""
        async with self._lock:
            # Another caller renewed while this one waited: use its token.
            if (
                self._auth_token is not None
                and self._auth_token != stale
                and self._clock() < self._expires_at
            ):
                return
            result = await self._call(
                "POST",
                "/authenticate",
                {"application_token": self._application_token},
                token=None,
            )
            token = result.get("auth_token") if isinstance(result, Mapping) else None
            if not _usable_token(token):
                raise ProviderResponseError("emnify returned no usable auth_token")
            assert isinstance(token, str)
            self.authentications += 1
            now = self._clock()
            self._auth_token = token
            self._expires_at = now + _keep_for(jwt_claims(token), now)

    async def _request(self, method: str, path: str, body: Mapping[str, Any]) -> Any:
        token = await self._token()
        try:
            return await self._call(method, path, body, token=token)
        except ProviderAuthError as err:
            if err.status != 401:
                raise
        await self._renew(token)
        return await self._call(method, path, body, token=await self._token())

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str | None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        answer = await exchange(
            self._session,
            "emnify",
            method,
            f"{self._base_url}{path}",
            timeout=aiohttp.ClientTimeout(total=self._timeout or DEFAULT_TIMEOUT),
            headers=headers,
            json_body=body,
            observer=self.observer,
        )
        status, raw = answer.status, answer.body
        payload = decode_json(raw) if raw else {}
        detail = _error_text(
            payload, (self._application_token, self._auth_token, token)
        )
        if status >= 400:
            raise error_for_status("emnify", status, detail, answer.retry_after)
        if payload is None:
            raise ProviderResponseError(
                "emnify answered with something that is not JSON", status=status
            )
        return payload


def _keep_for(claims: Mapping[str, Any], now: float) -> float:
    """Return how many seconds to use a new token before renewing it.

    The lifetime is ``exp - iat`` when the token has both (emnify's own clock, so a
    local clock that is off does not matter), else ``exp`` minus the local time.
    Renewal comes a minute before the end, or half-way through a short lifetime,
    never sooner than :data:`MIN_TOKEN_LIFETIME` and never later than a day.
    """
    exp = _timestamp(claims.get("exp"))
    iat = _timestamp(claims.get("iat"))
    if exp is None:
        lifetime = DEFAULT_TOKEN_LIFETIME
    elif iat is not None and iat < exp:
        lifetime = exp - iat
    else:
        lifetime = exp - now
    keep = max(lifetime - RENEW_MARGIN, lifetime / 2, MIN_TOKEN_LIFETIME)
    return min(keep, MAX_TOKEN_LIFETIME)


def _short_id(value: Any) -> str | None:
    """Return an ID from emnify's answer if it is a short text or number."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value) if isinstance(value, str) or abs(value) < 10**64 else ""
    return text if 0 < len(text) <= 64 and text.isprintable() else None


def _usable_token(token: Any) -> bool:
    """Tell whether a token can go into a header: printable ASCII, no spaces."""
    return (
        isinstance(token, str)
        and 0 < len(token) <= MAX_TOKEN_CHARS
        and token.isascii()
        and token.isprintable()
        and " " not in token
    )


def _timestamp(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _now() -> float:
    """Wall-clock seconds (JWT ``exp`` is wall-clock too); a seam for tests."""
    return time.time()


def _error_text(payload: Any, secrets: tuple[str | None, ...]) -> str | None:
    if isinstance(payload, Mapping):
        known = [secret for secret in secrets if secret]
        for key in ("error_description", "message", "error"):
            if text := provider_text(payload.get(key), known):
                return text
    return None

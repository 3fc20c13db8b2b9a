"""Async client for the 1NCE management API (https://api.1nce.com/management-api).

Which call uses which version (v2 first; v1 retires at the end of 2026, and v2 has
everything this client needs):

- ``POST /oauth/token`` (no version): the bearer token, Basic auth, JSON
  ``{"grant_type": "client_credentials"}``.
- v2 SIM management: ``GET /v2/sims`` (pages), ``GET|PUT /v2/sims/{iccid}``,
  ``GET /v2/sims/{iccid}/status``, ``/quota/data``, ``/quota/sms``,
  ``POST|GET /v2/sims/{iccid}/sms``.
- 1NCE OS (its only version): ``POST /v1/integrate/devices/{iccid}/actions/UDP``.
- v1 SIM management: nothing (its only extra calls, usage and connectivity_info, are
  not read here).

The token is kept and renewed :data:`RENEW_MARGIN` seconds before ``expires_in``
runs out (3600 s: one token request every 59 minutes in normal use); concurrent
callers share one renewal, and a 401 on a call with a token believed valid renews
it once and retries the call once. Every request, the token's included, waits for
its turn at one limiter per client: at most :data:`REQUEST_RATE` requests a second,
half of 1NCE's limit of :data:`MAX_REQUESTS_PER_SECOND` for ``/sims`` per customer.

What 1NCE really answered (``tests/fixtures/recorded/1nce/``, live traffic of 2021):
the access token is not a JWT but base64 of ``{"idtoken": <JWT>, "accesstoken":
<JWT>}``, and the id token's ``custom:customerId`` names the customer (the body's
``userId`` is the constant ``"user"``); bad credentials are answered 400
``CognitoAuthenticationError``; an unknown ICCID is 200 with an empty body; one SIM
says ``"Activated"`` where the list says ``"Enabled"``; quota dates are
``"YYYY-MM-DD HH:MM:SS"`` (UTC); an SMS sent on v1 is 201 with an empty body and
its URL in ``Location`` (v2 documents 201 ``{"id"}``: both are read).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
import hashlib
import json
import math
import re
import time
from typing import Any, Final
from urllib.parse import quote, urlsplit

import aiohttp

from ._http import (
    ReachabilityObserver,
    basic_authorization,
    client_timeout,
    decode_json,
    exchange,
    provider_text,
)
from ._parse import MAX_COUNT, as_count, as_short_text, as_time
from .errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFoundError,
    ProviderResponseError,
    error_for_status,
)
from .listing import AccountDevices
from .sim import (
    SIM_ACTIVE,
    SIM_INACTIVE,
    SIM_SUSPENDED,
    SIM_UNKNOWN,
    SMS_BUFFERED,
    SMS_CANCELED,
    SMS_DELIVERED,
    SMS_EXPIRED,
    SMS_FAILED,
    SMS_IN_PROGRESS,
    SMS_MO,
    SMS_MT,
    SMS_PENDING,
    SMS_UNKNOWN,
    SimStatus,
    SmsDelivery,
)
from .sms import SmsPart

PROVIDER: Final = "1NCE"
DEFAULT_BASE_URL: Final = "https://api.1nce.com/management-api"
DEFAULT_TIMEOUT: Final = 30.0
# 1NCE's limit for /sims per customer (its API rate limits page).
MAX_REQUESTS_PER_SECOND: Final = 10
# What this client allows itself: half the limit, the rest for the user's other tools.
REQUEST_RATE: Final = 5.0
# Renew the token this long before expires_in runs out; keep it at least
# MIN_TOKEN_LIFETIME and at most MAX_TOKEN_LIFETIME whatever expires_in says.
RENEW_MARGIN: Final = 60.0
DEFAULT_TOKEN_LIFETIME: Final = 3600.0
MIN_TOKEN_LIFETIME: Final = 60.0
MAX_TOKEN_LIFETIME: Final = 86400.0
MAX_TOKEN_CHARS: Final = 16 * 1024
# GET /v2/sims: pageSize at most 100 (documented); never more pages than this.
SIM_PAGE_SIZE: Final = 100
MAX_SIM_PAGES: Final = 100
# The calls per SIM of a refresh: /status, /quota/data, /quota/sms.
CALLS_PER_SIM: Final = 3
# Per-SIM calls in flight at once (the limiter spaces them; this hides latency).
MAX_IN_FLIGHT: Final = 5
# GET /v2/sims/{iccid}/sms: per_page at most 1000 (v2), pages read at most.
SMS_PAGE_SIZE: Final = 100
MAX_SMS_PAGES: Final = 10
# 1NCE's data volumes are MB of 1024 kB ("1 megabyte = 1024 kilobytes", v2 spec):
# 1 MB = 1024 * 1024 bytes.
BYTES_PER_MB: Final = 1024 * 1024
# The largest UDP downlink payload sent (bytes, decoded). 1NCE documents no limit;
# its largest documented datagram is a CoAP uplink's 1,024 bytes (I: the same here).
MAX_UDP_PAYLOAD_BYTES: Final = 1024
# source_address_type ids (documented): international number, alphanumeric.
INTERNATIONAL_SENDER_TYPE: Final = 145
ALPHANUMERIC_SENDER_TYPE: Final = 208
# GSM 7-bit is dcs 0 for 1NCE (SmsPart leaves it None).
DCS_GSM7: Final = 0
_MAX_LABEL_CHARS: Final = 100
_ICCID: Final = re.compile(r"[0-9]{6,22}")
_NUMBER: Final = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
# The token errors that mean "these credentials are refused" (400, recorded and
# documented), not "the request is malformed".
_CREDENTIAL_ERRORS: Final = frozenset(
    {"CognitoAuthenticationError", "BadCredentials", "AuthValidationError"}
)
# SIM status words: Enabled/Disabled documented, Activated recorded (one SIM),
# Issued/Activated/Suspended in the event texts.
_ACTIVE_WORDS: Final = frozenset({"enabled", "activated"})
_PAUSABLE_WORDS: Final = frozenset({"enabled", "activated", "disabled"})
_SIM_STATES: Final = {
    "enabled": SIM_ACTIVE,
    "activated": SIM_ACTIVE,
    "disabled": SIM_SUSPENDED,
    "suspended": SIM_SUSPENDED,
    "deactivated": SIM_SUSPENDED,
    "issued": SIM_INACTIVE,
}
# Connectivity (v1 "status": "ATTACHED"; v2 "status": {"description": …}).
# ATTACHED: the network last saw the SIM attached; it lingers 1-2 days after the
# device goes quiet, but it is what the network believes now (as emnify's ATTACHED).
_ONLINE: Final = {"ONLINE": True, "ATTACHED": True, "OFFLINE": False, "BLOCKED": False}
# SMS status ids (v2 spec, MO SMS example) and texts.
_SMS_STATES: Final = {
    2: SMS_PENDING,
    3: SMS_BUFFERED,
    4: SMS_DELIVERED,
    5: SMS_FAILED,
    6: SMS_EXPIRED,
}
_SMS_TEXTS: Final = {
    "PENDING": SMS_PENDING,
    "IN PROGRESS": SMS_IN_PROGRESS,
    "BUFFERED": SMS_BUFFERED,
    "DELIVERED": SMS_DELIVERED,
    "FAILED": SMS_FAILED,
    "EXPIRED": SMS_EXPIRED,
    "CANCELED": SMS_CANCELED,
    "CANCELLED": SMS_CANCELED,
}
_SMS_TYPES: Final = {1: SMS_MT, 2: SMS_MO}


@dataclass(frozen=True, slots=True)
class OneNceAccount:
    """The 1NCE customer the credentials belong to."""

    customer_id: str
    """The token's ``custom:customerId``, else ``client-`` + a hash of the client id."""
    name: str | None
    """A name for the entry title if the token tells one, else None."""


def token_claims(token: str) -> dict[str, Any]:
    """Return the (unverified) claims that name the customer in a 1NCE token.

    1NCE's access token (recorded) is base64 of ``{"idtoken": <JWT>,
    "accesstoken": <JWT>}``; the id token's claims come first, then the access
    token's. A token that is itself a JWT gives its own claims; else {}.
    """
    claims = _jwt_claims(token)
    if claims:
        return claims
    try:
        wrapper = json.loads(base64.b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, RecursionError):
        return {}
    if not isinstance(wrapper, dict):
        return {}
    merged: dict[str, Any] = {}
    for key in ("accesstoken", "idtoken"):  # the id token's claims win
        inner = wrapper.get(key)
        if isinstance(inner, str):
            merged.update(_jwt_claims(inner))
    return merged


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


class _Limiter:
    """Spaces requests to at most ``rate`` a second (one slot per request)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf

    async def wait(self) -> None:
        """Wait for this request's slot (reserved at once, so callers queue in order)."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)


class OneNceClient:
    """A small typed client for the 1NCE SIM, SMS and 1NCE OS calls."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        client_id: str,
        client_secret: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Build a client on an existing session (the session is not closed here)."""
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        self._session = session
        self._client_id = client_id
        self._client_secret = client_secret
        self._basic = basic_authorization(client_id, client_secret)
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = timeout
        self._clock: Callable[[], float] = clock or _default_clock
        self._limiter = _Limiter(REQUEST_RATE, self._clock, sleep or _default_sleep)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.token_requests = 0
        # Told after every exchange whether 1NCE could be reached.
        self.observer: ReachabilityObserver | None = None

    @property
    def account(self) -> OneNceAccount:
        """The customer the current token names (a hash of the client id before one)."""
        claims = token_claims(self._token or "")
        customer = as_short_text(claims.get("custom:customerId"))
        name = as_short_text(claims.get("name"), 100)
        if customer is None:
            digest = hashlib.sha256(self._client_id.encode()).hexdigest()[:16]
            customer = f"client-{digest}"
        return OneNceAccount(customer_id=customer, name=name)

    async def authenticate(self) -> OneNceAccount:
        """Get a token if there is none or it is near its end (else reuse it)."""
        await self._valid_token()
        return self.account

    async def reauthenticate(self) -> OneNceAccount:
        """Get a new token now: the check that the credentials still work."""
        await self._renew(self._token)
        return self.account

    # --- SIMs -------------------------------------------------------------------

    async def list_sims(self) -> AccountDevices:
        """Every SIM of the customer: ICCID -> label (or the ICCID).

        ``GET /v2/sims`` 100 a page, up to :data:`MAX_SIM_PAGES` pages (the listing
        is incomplete beyond them).
        """
        devices: dict[str, str] = {}
        for page in range(1, MAX_SIM_PAGES + 1):
            items, last, _ = await self._sim_page(page)
            for item in items:
                iccid = _iccid_of(item)
                if iccid is not None:
                    devices[iccid] = (
                        as_short_text(item.get("label"), _MAX_LABEL_CHARS) or iccid
                    )
            if last:
                return AccountDevices(devices, complete=True)
        return AccountDevices(devices, complete=False)

    async def sim(self, iccid: str) -> SimStatus | None:
        """One SIM with its connectivity and quotas; None when 1NCE does not know it.

        ``GET /v2/sims/{iccid}`` (an unknown ICCID is answered 200 with an empty
        body, or 404), then its status, data quota and SMS quota.
        """
        number = _checked_iccid(iccid)
        item = await self._one_sim(number)
        if item is None:
            return None
        status = await self._with_details(item, asyncio.Semaphore(1))
        return replace(status, provider_id=number)

    async def sim_statuses(self, iccids: Sequence[str]) -> dict[str, SimStatus]:
        """Return the SIMs of ``iccids`` that 1NCE knows, by ICCID (others left out).

        The list first (``GET /v2/sims``, 100 a page); once a page tells how many
        pages there are, a SIM still missing is read by itself (``GET
        /v2/sims/{iccid}``) when that is fewer requests than the pages left. Then
        :data:`CALLS_PER_SIM` calls per SIM found (status, data quota, SMS quota),
        at most :data:`MAX_IN_FLIGHT` at once: ``pages + 3 n`` requests for ``n``
        SIMs of an account listed in full.
        """
        wanted = {_checked_iccid(iccid) for iccid in iccids}
        if not wanted:
            return {}
        found: dict[str, Mapping[str, Any]] = {}
        for page in range(1, MAX_SIM_PAGES + 1):
            items, last, total = await self._sim_page(page)
            for item in items:
                for key in _keys(item) & wanted:
                    found[key] = item
            missing = sorted(wanted - set(found))
            if last or not missing:
                break
            pages_left = (total if total is not None else MAX_SIM_PAGES) - page
            if len(missing) <= pages_left:
                for iccid in missing:
                    single = await self._one_sim(iccid)
                    if single is not None:
                        found[iccid] = single
                break
        limit = asyncio.Semaphore(MAX_IN_FLIGHT)
        keys = list(found)
        results = await asyncio.gather(
            *(self._with_details(found[key], limit) for key in keys)
        )
        # Keyed (and provider_id) by the ICCID asked for, the Luhn form included.
        return {
            key: replace(status, provider_id=key)
            for key, status in zip(keys, results, strict=True)
        }

    async def set_sim_active(self, iccid: str, active: bool) -> None:
        """Resume (``Enabled``) or pause (``Disabled``): ``PUT /v2/sims/{iccid}``."""
        number = _checked_iccid(iccid)
        if not isinstance(active, bool):
            raise TypeError("active must be a boolean")
        await self._request(
            "PUT",
            f"/v2/sims/{number}",
            {"iccid": number, "status": "Enabled" if active else "Disabled"},
        )

    # --- SMS and 1NCE OS ----------------------------------------------------------

    async def send_sms(
        self,
        iccid: str,
        part: SmsPart,
        *,
        source_address: str | None = None,
        alphanumeric_sender: bool = False,
        expiry_date: str | None = None,
    ) -> str | None:
        """Send one SMS part: ``POST /v2/sims/{iccid}/sms``; return 1NCE's SMS id.

        The id is v2's body ``{"id"}``, else (v1's answer) the last segment of the
        ``Location`` of this SIM's SMS; None when 1NCE gave neither.
        """
        number = _checked_iccid(iccid)
        if not part.payload:
            raise ValueError("an SMS needs a payload")
        body: dict[str, Any] = {
            "payload": part.payload,
            "dcs": part.dcs if part.dcs is not None else DCS_GSM7,
        }
        if part.udh is not None:
            body["udh"] = part.udh
        if source_address:
            body["source_address"] = source_address
            body["source_address_type"] = {
                "id": ALPHANUMERIC_SENDER_TYPE
                if alphanumeric_sender
                else INTERNATIONAL_SENDER_TYPE
            }
        if expiry_date:
            body["expiry_date"] = expiry_date
        payload, headers = await self._request_with_headers(
            "POST", f"/v2/sims/{number}/sms", body
        )
        if isinstance(payload, Mapping) and (sms_id := _short_id(payload.get("id"))):
            return sms_id
        return sms_id_from_location(headers.get("Location"), number)

    async def list_sms(self, iccid: str) -> list[SmsDelivery]:
        """Return the SIM's SMS (MT and MO) with their delivery state.

        ``GET /v2/sims/{iccid}/sms`` 100 a page, up to :data:`MAX_SMS_PAGES` pages.
        """
        number = _checked_iccid(iccid)
        deliveries: list[SmsDelivery] = []
        for page in range(1, MAX_SMS_PAGES + 1):
            items, headers = await self._request_with_headers(
                "GET",
                f"/v2/sims/{number}/sms",
                params={"page": str(page), "per_page": str(SMS_PAGE_SIZE)},
            )
            if not isinstance(items, list):
                raise ProviderResponseError(f"{PROVIDER} returned no list of SMS")
            for item in items:
                delivery = _parse_sms(item)
                if delivery is not None:
                    deliveries.append(delivery)
            total = as_count(headers.get("X-Total-Pages"))
            if not items or (
                page >= total if total is not None else len(items) < SMS_PAGE_SIZE
            ):
                break
        return deliveries

    async def send_udp(
        self,
        iccid: str,
        payload: str,
        *,
        base64_payload: bool,
        port: int,
        when_active: bool,
    ) -> str | None:
        """Send a UDP message through 1NCE OS; return the action request's id.

        ``POST /v1/integrate/devices/{iccid}/actions/UDP`` ``{payload, payloadType
        STRING|BASE64, port, requestMode SEND_NOW|SEND_WHEN_ACTIVE}``, answered 202
        ``{"id", "message"}``.
        """
        number = _checked_iccid(iccid)
        if not isinstance(payload, str) or not payload:
            raise ValueError("a UDP message needs a payload")
        if (
            isinstance(port, bool)
            or not isinstance(port, int)
            or not 1 <= port <= 65535
        ):
            raise ValueError("port must be from 1 to 65535")
        try:
            raw = (
                base64.b64decode(payload, validate=True)
                if base64_payload
                else payload.encode()
            )
        except (binascii.Error, ValueError):
            raise ValueError("the payload is not base64") from None
        if len(raw) > MAX_UDP_PAYLOAD_BYTES:
            raise ValueError(f"a UDP payload is at most {MAX_UDP_PAYLOAD_BYTES} bytes")
        answer = await self._request(
            "POST",
            f"/v1/integrate/devices/{number}/actions/UDP",
            {
                "payload": payload,
                "payloadType": "BASE64" if base64_payload else "STRING",
                "port": port,
                "requestMode": "SEND_WHEN_ACTIVE" if when_active else "SEND_NOW",
            },
        )
        return _short_id(answer.get("id")) if isinstance(answer, Mapping) else None

    # --- reading ----------------------------------------------------------------

    async def _sim_page(
        self, page: int
    ) -> tuple[list[Mapping[str, Any]], bool, int | None]:
        """One page of ``GET /v2/sims``, whether it is the last, the pages in all."""
        items, headers = await self._request_with_headers(
            "GET",
            "/v2/sims",
            params={"page": str(page), "pageSize": str(SIM_PAGE_SIZE)},
        )
        if not isinstance(items, list):
            raise ProviderResponseError(f"{PROVIDER} returned no list for /v2/sims")
        total = as_count(headers.get("X-Total-Pages"))
        # X-Total-Pages decides (a page may hold fewer than asked: the recordings
        # show pages of 5); without it, a short page is the last.
        last = (
            page >= total if total is not None else len(items) < SIM_PAGE_SIZE
        ) or not items
        return [item for item in items if isinstance(item, Mapping)], last, total

    async def _one_sim(self, iccid: str) -> Mapping[str, Any] | None:
        """``GET /v2/sims/{iccid}``: None for 200 with an empty body and for 404."""
        try:
            item = await self._request("GET", f"/v2/sims/{iccid}")
        except ProviderNotFoundError:
            return None
        if item == {} or item is None:
            return None
        if not isinstance(item, Mapping) or _iccid_of(item) is None:
            raise ProviderResponseError(
                f"{PROVIDER} answered /v2/sims/{iccid} without a SIM"
            )
        # The ICCID asked for, or the same with its Luhn digit (iccid_with_luhn).
        if iccid not in (item["iccid"], item.get("iccid_with_luhn")) and (
            iccid[:-1] != item["iccid"]
        ):
            raise ProviderResponseError(
                f"{PROVIDER} answered /v2/sims/{iccid} with another SIM"
            )
        return item

    async def _with_details(
        self, item: Mapping[str, Any], limit: asyncio.Semaphore
    ) -> SimStatus:
        """Return the SIM of a listing item with its status and quotas read."""
        status = _parse_sim(item)
        iccid = status.provider_id
        connectivity = await self._optional(limit, f"/v2/sims/{iccid}/status")
        data = await self._optional(limit, f"/v2/sims/{iccid}/quota/data")
        sms = await self._optional(limit, f"/v2/sims/{iccid}/quota/sms")
        data_used, data_remaining, data_expiry = _parse_data_quota(data)
        sms_remaining, sms_expiry = _parse_sms_quota(sms)
        return replace(
            status,
            online=_parse_online(connectivity),
            data_used=data_used,
            data_remaining=data_remaining,
            data_expiry=data_expiry,
            sms_remaining=sms_remaining,
            sms_expiry=sms_expiry,
        )

    async def _optional(self, limit: asyncio.Semaphore, path: str) -> Any:
        """One per-SIM read; None when 1NCE has nothing (404, 403, empty body)."""
        async with limit:
            try:
                return await self._request("GET", path)
            except ProviderNotFoundError:
                return None
            except ProviderAuthError as err:
                if err.status != 403:
                    raise
                return None

    # --- the token and the exchange -------------------------------------------------

    async def _valid_token(self) -> str:
        if self._token is None or self._clock() >= self._expires_at:
            await self._renew(self._token)
        assert self._token is not None
        return self._token

    async def _renew(self, stale: str | None) -> None:
        """Get a new token unless another caller already replaced ``stale``."""
        async with self._lock:
            if (
                self._token is not None
                and self._token != stale
                and self._clock() < self._expires_at
            ):
                return
            self.token_requests += 1
            answer, _ = await self._call(
                "POST",
                "/oauth/token",
                {"grant_type": "client_credentials"},
                authorization=self._basic,
                token_call=True,
            )
            token = answer.get("access_token") if isinstance(answer, Mapping) else None
            if not _usable_token(token):
                raise ProviderResponseError(f"{PROVIDER} returned no usable token")
            assert isinstance(token, str)
            lifetime = as_count(answer.get("expires_in"))
            seconds = float(lifetime) if lifetime else DEFAULT_TOKEN_LIFETIME
            keep = max(seconds - RENEW_MARGIN, seconds / 2, MIN_TOKEN_LIFETIME)
            self._token = token
            self._expires_at = self._clock() + min(keep, MAX_TOKEN_LIFETIME)

    async def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        payload, _ = await self._request_with_headers(method, path, body, params=params)
        return payload

    async def _request_with_headers(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """Call with the token; a 401 renews it once and the call is retried once."""
        token = await self._valid_token()
        try:
            return await self._call(
                method, path, body, params=params, authorization=f"Bearer {token}"
            )
        except ProviderAuthError as err:
            if err.status != 401:
                raise
        await self._renew(token)
        return await self._call(
            method,
            path,
            body,
            params=params,
            authorization=f"Bearer {await self._valid_token()}",
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        params: Mapping[str, str] | None = None,
        authorization: str,
        token_call: bool = False,
    ) -> tuple[Any, Mapping[str, str]]:
        """Send one request (after its turn at the limiter); ``{}`` for no body."""
        await self._limiter.wait()
        answer = await exchange(
            self._session,
            PROVIDER,
            method,
            f"{self._base_url}{path}",
            timeout=client_timeout(self._timeout or DEFAULT_TIMEOUT),
            headers={"Accept": "application/json", "Authorization": authorization},
            params=params,
            json_body=body,
            observer=self.observer,
        )
        status, raw = answer.status, answer.body
        payload = decode_json(raw) if raw.strip() else {}
        if status >= 400:
            secrets = (self._client_id, self._client_secret, self._token)
            raise _error(
                status,
                payload,
                [s for s in secrets if s],
                answer.retry_after,
                token_call,
            )
        if payload is None:
            raise ProviderResponseError(
                f"{PROVIDER} answered with something that is not JSON", status=status
            )
        return payload, answer.headers


def _error(
    status: int,
    payload: Any,
    secrets: list[str],
    retry_after: str | None,
    token_call: bool,
) -> ProviderError:
    """Map an error answer; a refused credential on /oauth/token is an auth error."""
    detail = _error_text(payload, secrets)
    code = (
        as_short_text(payload.get("errorCode"))
        if isinstance(payload, Mapping)
        else None
    )
    if token_call and status == 400 and code in _CREDENTIAL_ERRORS:
        return ProviderAuthError(
            f"{PROVIDER} refused the credentials (HTTP 400): {detail or code}",
            status=status,
            detail=detail,
            reason=f"{PROVIDER}, HTTP 400: {detail or code}",
        )
    return error_for_status(PROVIDER, status, detail, retry_after)


def _error_text(payload: Any, secrets: list[str]) -> str | None:
    """Return the text of any of 1NCE's error shapes.

    Token: ``{statusCode, errorCode, message}``; v1 401: ``{timestamp, status,
    error, message, path}``; v2: ``{error_code, error_token, message}``; 1NCE OS:
    ``{statusCode, statusText, errors: [...]}``.
    """
    if not isinstance(payload, Mapping):
        return None
    code = payload.get("errorCode") or payload.get("error_token")
    label = provider_text(code, secrets) if isinstance(code, str) else None
    for key in ("message", "error_description", "error"):
        if text := provider_text(payload.get(key), secrets):
            return provider_text(f"{label}: {text}", secrets) if label else text
    status_text = provider_text(payload.get("statusText"), secrets)
    errors = payload.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, Mapping):
        first = first.get("message")
    detail = provider_text(first, secrets)
    if status_text and detail:
        return provider_text(f"{status_text}: {detail}", secrets)
    return status_text or detail


def valid_iccid(value: str) -> bool:
    """Return whether ``value`` is an ICCID as 1NCE names its SIMs: 10 to 22 digits."""
    return value.isascii() and value.isdecimal() and 10 <= len(value) <= 22


def _checked_iccid(iccid: Any) -> str:
    if not isinstance(iccid, str) or not _ICCID.fullmatch(iccid):
        raise ValueError("an ICCID is 6 to 22 digits")
    return iccid


def _keys(item: Mapping[str, Any]) -> set[str]:
    """Return the ICCIDs a SIM answers to: ``iccid`` and ``iccid_with_luhn``."""
    keys = {_iccid_of(item)}
    luhn = item.get("iccid_with_luhn")
    if isinstance(luhn, str) and _ICCID.fullmatch(luhn):
        keys.add(luhn)
    return {key for key in keys if key is not None}


def _iccid_of(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    iccid = item.get("iccid")
    return iccid if isinstance(iccid, str) and _ICCID.fullmatch(iccid) else None


def sim_state(word: str | None) -> str:
    """Map 1NCE's SIM status word to one of the SIM states."""
    if word is None:
        return SIM_UNKNOWN
    return _SIM_STATES.get(word.lower(), SIM_UNKNOWN)


def _parse_sim(item: Mapping[str, Any]) -> SimStatus:
    iccid = _iccid_of(item)
    assert iccid is not None
    word = as_short_text(item.get("status"))
    return SimStatus(
        provider_id=iccid,
        state=sim_state(word),
        provider_state=word,
        iccid=iccid,
        imei=as_short_text(item.get("imei"), 32),
        msisdn=as_short_text(item.get("msisdn"), 32),
        can_pause=word is not None and word.lower() in _PAUSABLE_WORDS,
    )


def _parse_online(connectivity: Any) -> bool | None:
    if not isinstance(connectivity, Mapping):
        return None
    status = connectivity.get("status")
    if isinstance(status, Mapping):
        status = status.get("description")
    text = as_short_text(status)
    return _ONLINE.get(text.upper()) if text is not None else None


def _volume(value: Any) -> float | None:
    """Return a volume sent as a JSON number or decimal text (v2: may be < 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        return float(text) if _NUMBER.fullmatch(text) else None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    return None


def _bytes(megabytes: float | None) -> int | None:
    if megabytes is None:
        return None
    number = max(megabytes, 0.0) * BYTES_PER_MB
    return round(number) if number <= MAX_COUNT else None


def _parse_data_quota(quota: Any) -> tuple[int | None, int | None, Any]:
    """(bytes used, bytes left, expiry) of ``/quota/data`` (MB of 1024 kB)."""
    if not isinstance(quota, Mapping):
        return None, None, None
    left = _volume(quota.get("volume"))
    total = _volume(quota.get("total_volume"))
    # Only from two volumes that are byte counts: the difference of two absurd
    # ones (1e303 MB each) would read 0 used.
    used = (
        _bytes(total - left)
        if total is not None
        and left is not None
        and _bytes(total) is not None
        and _bytes(left) is not None
        else None
    )
    return used, _bytes(left), as_time(quota.get("expiry_date"))


def _parse_sms_quota(quota: Any) -> tuple[int | None, Any]:
    """(SMS left, expiry) of ``/quota/sms``."""
    if not isinstance(quota, Mapping):
        return None, None
    left = _volume(quota.get("volume"))
    remaining = None
    if left is not None and left.is_integer():
        remaining = as_count(max(left, 0.0))
    return remaining, as_time(quota.get("expiry_date"))


def sms_state(status: Any) -> str:
    """Return the delivery state of an SMS's ``status`` (id and description)."""
    if not isinstance(status, Mapping):
        return SMS_UNKNOWN
    text = as_short_text(status.get("description")) or as_short_text(
        status.get("status")
    )
    if text is not None and text.upper() in _SMS_TEXTS:
        return _SMS_TEXTS[text.upper()]
    status_id = as_count(status.get("id"))
    return (
        _SMS_STATES.get(status_id, SMS_UNKNOWN)
        if status_id is not None
        else (SMS_UNKNOWN)
    )


def _parse_sms(item: Any) -> SmsDelivery | None:
    if not isinstance(item, Mapping):
        return None
    sms_id = _short_id(item.get("id"))
    if sms_id is None:
        return None
    payload = item.get("payload")
    direction: str | None = None
    sms_type = item.get("sms_type")
    if isinstance(sms_type, Mapping):
        text = as_short_text(sms_type.get("description"))
        type_id = as_count(sms_type.get("id"))
        direction = (
            text.upper()
            if text is not None and text.upper() in (SMS_MT, SMS_MO)
            else _SMS_TYPES.get(type_id)
            if type_id is not None
            else None
        )
    return SmsDelivery(
        sms_id=sms_id,
        status=sms_state(item.get("status")),
        payload=payload if isinstance(payload, str) else None,
        submitted=as_time(item.get("submit_date")),
        final=as_time(item.get("final_date")),
        direction=direction,
    )


def sms_id_from_location(location: Any, iccid: str) -> str | None:
    """Return the SMS id ending a ``Location`` of ``iccid``'s SMS (v1's answer).

    ``https://bss-global.api.1nce.com/internal-global-api/v1/sims/{iccid}/sms/7363280``
    gives ``"7363280"``; another SIM, another resource or no digits give None.
    """
    if not isinstance(location, str) or not 0 < len(location) <= 2048:
        return None
    try:
        parts = urlsplit(location.strip())
    except ValueError:
        return None
    if parts.query or parts.fragment:
        return None
    segments = parts.path.split("/")
    if len(segments) < 4 or segments[-4:-1] != ["sims", quote(iccid), "sms"]:
        return None
    sms_id = segments[-1]
    if not (sms_id.isascii() and sms_id.isdecimal() and len(sms_id) <= 19):
        return None
    return str(int(sms_id)) if int(sms_id) > 0 else None


def _short_id(value: Any) -> str | None:
    """Return an id 1NCE gave as a short text or a number."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value) if isinstance(value, str) or abs(value) < 10**64 else ""
    text = text.strip()
    return text if 0 < len(text) <= 64 and text.isprintable() else None


def _usable_token(token: Any) -> bool:
    """Whether a token can go into a header: printable ASCII, no spaces."""
    return (
        isinstance(token, str)
        and 0 < len(token) <= MAX_TOKEN_CHARS
        and token.isascii()
        and token.isprintable()
        and " " not in token
    )


def _default_clock() -> float:
    return _now()


async def _default_sleep(delay: float) -> None:
    await _sleep(delay)


def _now() -> float:
    """Monotonic seconds (token expiry and the limiter); a seam for tests."""
    return time.monotonic()


async def _sleep(delay: float) -> None:
    """Wait ``delay`` seconds; a seam for tests."""
    await asyncio.sleep(delay)

"""Async client for the emnify REST API (https://cdn.emnify.net/api/v1).

An application token is exchanged for an auth token at ``POST /authenticate``. The auth
token is cached and renewed shortly before its JWT ``exp`` and after a 401, and
concurrent callers share one renewal. A token is kept for at least a minute whatever
its claims or the local clock say (a short-lived token, or a clock running ahead of
emnify's, must not cost one ``/authenticate`` per request): if emnify stops taking
it sooner, its 401 renews it once and the request is retried once. SMS texts are
split and encoded by :mod:`.sms`.

What emnify really answers (its SDK's recordings of real traffic,
``tests/fixtures/recorded/emnify/``): ``POST /endpoint/{id}/sms`` is ``201 Created``
with an empty ``text/html`` body and the new SMS's URL in ``Location``
(``…/endpoint/{id}/sms/{sms_id}``), the only place its id is given; an endpoint without
a SIM has no ``sim`` key in ``GET /endpoint``; ``/stats`` leaves ``current_month`` out
while the endpoint has had no traffic this month (emnify's API reference), and gives
volumes as decimal text (``"0.848157"``).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
import json
import math
import re
import time
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from ._http import (
    ReachabilityObserver,
    client_timeout,
    decode_json,
    exchange,
    provider_text,
)
from ._parse import (
    MAX_COUNT,
    as_count,
    as_number,
    as_short_text,
    as_time,
    month_start,
)
from .errors import (
    ProviderAuthError,
    ProviderNotFoundError,
    ProviderResponseError,
    error_for_status,
)
from .listing import AccountDevices
from .sim import (
    SIM_ACTIVE,
    SIM_INACTIVE,
    SIM_NO_SIM,
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
# GET /endpoint: per_page is at most 1000 (documented); never more pages than this.
ENDPOINT_PAGE_SIZE: Final = 1000
MAX_ENDPOINT_PAGES: Final = 100
# Per-endpoint calls in flight at once: emnify allows 50 connectivity and 100 stats
# requests per second and organization, which 5 in flight stay well below.
MAX_IN_FLIGHT: Final = 5
MAX_SMS_ITEMS: Final = 1000
# The longest endpoint name kept (a longer one is named by its id).
_MAX_NAME_CHARS: Final = 100
# emnify's stats volumes: the daily stats are documented in MB; that the
# current_month volume is MB (10^6 bytes) too is inferred.
BYTES_PER_VOLUME_UNIT: Final = 1_000_000
# Endpoint status ids and SIM status ids (documented).
_ENDPOINT_ENABLED: Final = 0
_ENDPOINT_DISABLED: Final = 1
_ENDPOINT_DELETED: Final = 2
_SIM_ISSUED: Final = 0
_SIM_ACTIVATED: Final = 1
_SIM_SUSPENDED: Final = 2
_SIM_DELETED: Final = 3
_SIM_FACTORY_TEST: Final = 4
_SMS_STATES: Final = {
    1: SMS_PENDING,
    2: SMS_IN_PROGRESS,
    3: SMS_BUFFERED,
    4: SMS_DELIVERED,
    5: SMS_FAILED,
    6: SMS_EXPIRED,
    7: SMS_CANCELED,
}
# The descriptions emnify gives the SMS states (upper case), for a receipt that
# carries the text only.
_SMS_TEXTS: Final = {
    "PENDING": SMS_PENDING,
    "DELIVERY ATTEMPT PENDING": SMS_PENDING,
    "IN PROGRESS": SMS_IN_PROGRESS,
    "BUFFERED": SMS_BUFFERED,
    "DELIVERED": SMS_DELIVERED,
    "FAILED": SMS_FAILED,
    "EXPIRED": SMS_EXPIRED,
    "CANCELED": SMS_CANCELED,
    "CANCELLED": SMS_CANCELED,
}
# An SMS's sms_type: {"id": 1, "description": "MT"} (recorded), {"id": 2,
# "description": "MO"} (1NCE's SMS list, the same platform).
_SMS_TYPES: Final = {1: SMS_MT, 2: SMS_MO}
_ONLINE: Final = {"ATTACHED": True, "ONLINE": True, "OFFLINE": False, "BLOCKED": False}
# A volume as emnify writes it: decimal text ("0.848157") or a JSON number.
_DECIMAL: Final = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")


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
    """The organization an application token belongs to (from its JWT claims)."""

    org_id: str | None
    org_name: str | None


@dataclass(frozen=True, slots=True)
class SentSmsPart:
    """One SMS request emnify accepted."""

    part: int
    sms_id: str | None
    """emnify's id of the SMS, from the ``Location`` of its 201 (None: no usable one)."""


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
        """The organization named in the application token or the auth token."""
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
        """Send each part with ``POST /endpoint/{id}/sms``, in order.

        emnify answers each with 201, an empty body and the SMS's URL in
        ``Location``: its id is taken from there, when that URL is this endpoint's
        SMS (``…/endpoint/{id}/sms/{digits}``), else it stays None.
        """
        endpoint = int(endpoint_id)
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
            _, headers = await self._request_with_headers(
                "POST", f"/endpoint/{endpoint}/sms", body
            )
            sent.append(
                SentSmsPart(
                    part=number,
                    sms_id=sms_id_from_location(headers.get("Location"), endpoint),
                )
            )
        return sent

    async def sim_statuses(self, endpoint_ids: Sequence[int]) -> dict[str, SimStatus]:
        """Return the SIM of each of ``endpoint_ids`` that emnify knows, by endpoint id.

        ``GET /endpoint`` sorted by id, page by page (up to 1000 a page), for as
        many pages as the requested endpoints fill (``ceil(n / 1000)``, what the
        refresh's rate budget counts); it stops sooner once every requested
        endpoint was seen or passed (an id it passed is not there: deleted). An
        endpoint still ahead after those pages is read by itself
        (``GET /endpoint/{id}``, a 404 leaves it out) when that is fewer requests
        than the pages left, else the pages are read on: never more than
        ``ceil(n / 1000) + n`` requests for the list. Then for each endpoint found
        its ``/connectivity`` and ``/stats``, at most :data:`MAX_IN_FLIGHT` at
        once. A 404 or 403 for one of those leaves its fields None.
        """
        wanted = {int(endpoint_id) for endpoint_id in endpoint_ids}
        if not wanted:
            return {}
        found: dict[int, SimStatus] = {}
        budget = -(-len(wanted) // ENDPOINT_PAGE_SIZE)
        passed = 0  # the highest id listed so far (sorted by id)
        for page in range(1, MAX_ENDPOINT_PAGES + 1):
            items, headers = await self._endpoint_page(page)
            for item in items:
                status = _parse_endpoint(item)
                if status is None:
                    continue
                passed = max(passed, int(status.provider_id))
                if int(status.provider_id) in wanted:
                    found[int(status.provider_id)] = status
            total_pages = as_count(headers.get("X-Total-Pages"))
            ahead = [i for i in wanted if i > passed and i not in found]
            if (
                len(items) < ENDPOINT_PAGE_SIZE
                or (total_pages is not None and page >= total_pages)
                or not ahead
            ):
                break
            pages_left = (
                total_pages - page if total_pages is not None else MAX_ENDPOINT_PAGES
            )
            if page >= budget and len(ahead) <= pages_left:
                for endpoint in await self._endpoints(sorted(ahead)):
                    found[int(endpoint.provider_id)] = endpoint
                break
        period_start = month_start(self._clock())
        limit = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def _one(status: SimStatus) -> SimStatus:
            endpoint = int(status.provider_id)
            connectivity = await _unless_missing(
                limit,
                lambda: self._request("GET", f"/endpoint/{endpoint}/connectivity"),
            )
            data_used, sms_sent, sms_received = await _unless_missing(
                limit, lambda: self.endpoint_stats(endpoint)
            ) or (None, None, None)
            return replace(
                status,
                online=_parse_online(connectivity),
                data_used=data_used,
                sms_sent=sms_sent,
                sms_received=sms_received,
                period_start=period_start,
            )

        results = await asyncio.gather(*(_one(status) for status in found.values()))
        return {status.provider_id: status for status in results}

    async def endpoint(self, endpoint_id: int) -> SimStatus:
        """``GET /endpoint/{id}``: one endpoint of the organization, with its SIM.

        ``ProviderNotFoundError`` (HTTP 404) when the organization has no such
        endpoint; ``ProviderResponseError`` when the answer is not that endpoint.
        """
        endpoint = _positive_id(endpoint_id)
        status = _parse_endpoint(await self._request("GET", f"/endpoint/{endpoint}"))
        if status is None or int(status.provider_id) != endpoint:
            raise ProviderResponseError(
                f"emnify answered /endpoint/{endpoint} without that endpoint"
            )
        return status

    async def _endpoints(self, endpoint_ids: list[int]) -> list[SimStatus]:
        """``GET /endpoint/{id}`` for each (one at a time); a 404 leaves it out."""
        found: list[SimStatus] = []
        for endpoint_id in endpoint_ids:
            try:
                item = await self._request("GET", f"/endpoint/{endpoint_id}")
            except ProviderNotFoundError:
                continue
            status = _parse_endpoint(item)
            if status is not None and int(status.provider_id) == endpoint_id:
                found.append(status)
        return found

    async def _endpoint_page(self, page: int) -> tuple[list[Any], Mapping[str, str]]:
        """``GET /endpoint``: one page of the endpoints sorted by id, and its headers."""
        items, headers = await self._request_with_headers(
            "GET",
            "/endpoint",
            params={
                "page": str(page),
                "per_page": str(ENDPOINT_PAGE_SIZE),
                "sort": "id",
            },
        )
        if not isinstance(items, list):
            raise ProviderResponseError("emnify returned no list for /endpoint")
        return items, headers

    async def list_endpoints(self) -> AccountDevices:
        """Return every endpoint of the organization (not deleted) with its name.

        ``GET /endpoint`` sorted by id, 1000 a page, up to
        :data:`MAX_ENDPOINT_PAGES` pages (the listing is incomplete beyond them).
        An endpoint without a name is named by its id.
        """
        devices: dict[str, str] = {}
        for page in range(1, MAX_ENDPOINT_PAGES + 1):
            items, headers = await self._endpoint_page(page)
            for item in items:
                status = _parse_endpoint(item)
                if status is None or _status_id(item) == _ENDPOINT_DELETED:
                    continue
                devices[status.provider_id] = (
                    as_short_text(item.get("name"), _MAX_NAME_CHARS)
                    or f"Endpoint {status.provider_id}"
                )
            total_pages = as_count(headers.get("X-Total-Pages"))
            if len(items) < ENDPOINT_PAGE_SIZE or (
                total_pages is not None and page >= total_pages
            ):
                return AccountDevices(devices, complete=True)
        return AccountDevices(devices, complete=False)

    async def endpoint_stats(
        self, endpoint_id: int
    ) -> tuple[int | None, int | None, int | None]:
        """Return this month's (bytes, SMS sent, SMS received) of an endpoint.

        ``GET /endpoint/{id}/stats``; 0 for a month without traffic (emnify then
        leaves ``current_month`` out), None for what the answer does not say.
        """
        endpoint = _positive_id(endpoint_id)
        return _parse_stats(await self._request("GET", f"/endpoint/{endpoint}/stats"))

    async def set_sim_active(self, endpoint_id: int, sim_id: int, active: bool) -> None:
        """Resume (endpoint enabled, SIM activated) or pause (disabled, suspended).

        Two calls, each answered 204: ``PATCH /endpoint/{id}`` then
        ``PATCH /sim/{sim_id}``. emnify moves a SIM between Activated and
        Suspended only.
        """
        endpoint, sim = _positive_id(endpoint_id), _positive_id(sim_id)
        if not isinstance(active, bool):
            raise TypeError("active must be a boolean")
        endpoint_status = _ENDPOINT_ENABLED if active else _ENDPOINT_DISABLED
        sim_status = _SIM_ACTIVATED if active else _SIM_SUSPENDED
        await self._request(
            "PATCH", f"/endpoint/{endpoint}", {"status": {"id": endpoint_status}}
        )
        await self._request("PATCH", f"/sim/{sim}", {"status": {"id": sim_status}})

    async def list_sms(self, endpoint_id: int) -> list[SmsDelivery]:
        """Return the SMS of an endpoint with their delivery state (at most 1000)."""
        endpoint = _positive_id(endpoint_id)
        items = await self._request("GET", f"/endpoint/{endpoint}/sms")
        if not isinstance(items, list):
            raise ProviderResponseError("emnify returned no list of SMS")
        deliveries: list[SmsDelivery] = []
        for item in items[:MAX_SMS_ITEMS]:
            delivery = _parse_sms(item)
            if delivery is not None:
                deliveries.append(delivery)
        return deliveries

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
        """Call with the auth token; a 401 renews it once and the call is retried."""
        token = await self._token()
        try:
            return await self._call_with_headers(
                method, path, body, params=params, token=token
            )
        except ProviderAuthError as err:
            if err.status != 401:
                raise
        await self._renew(token)
        return await self._call_with_headers(
            method, path, body, params=params, token=await self._token()
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        token: str | None,
    ) -> Any:
        payload, _ = await self._call_with_headers(method, path, body, token=token)
        return payload

    async def _call_with_headers(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        params: Mapping[str, str] | None = None,
        token: str | None,
    ) -> tuple[Any, Mapping[str, str]]:
        """Send one request; return its JSON (``{}`` for an empty body, e.g. 204)."""
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        answer = await exchange(
            self._session,
            "emnify",
            method,
            f"{self._base_url}{path}",
            timeout=client_timeout(self._timeout or DEFAULT_TIMEOUT),
            headers=headers,
            params=params,
            json_body=body,
            observer=self.observer,
        )
        status, raw = answer.status, answer.body
        payload = decode_json(raw) if raw else {}
        if status >= 400:
            detail = _error_text(
                payload, (self._application_token, self._auth_token, token)
            )
            raise error_for_status("emnify", status, detail, answer.retry_after)
        if payload is None:
            raise ProviderResponseError(
                "emnify answered with something that is not JSON", status=status
            )
        return payload, answer.headers


async def _unless_missing(
    limit: asyncio.Semaphore, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Run one optional per-endpoint call under the concurrency limit.

    None on a 404 (not there) and on a 403 (the token may not read it: the rest of
    the SIM still shows, and no re-authentication starts for a read that is
    optional).
    """
    async with limit:
        try:
            return await call()
        except ProviderNotFoundError:
            return None
        except ProviderAuthError as err:
            if err.status != 403:
                raise
            return None


def _positive_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("ids must be integers")
    if value <= 0:
        raise ValueError("ids must be positive")
    return value


def _status_id(value: Any) -> int | None:
    """Return ``value["status"]["id"]`` when it is an int, else None."""
    if not isinstance(value, Mapping):
        return None
    status = value.get("status")
    if not isinstance(status, Mapping):
        return None
    status_id = status.get("id")
    if isinstance(status_id, bool) or not isinstance(status_id, int):
        return None
    return status_id


def sms_id_from_location(location: Any, endpoint_id: int) -> str | None:
    """Return the SMS id at the end of a ``Location`` of ``endpoint_id``'s SMS.

    ``https://cdn.emnify.net/api/v1/endpoint/11379224/sms/19649276`` gives
    ``"19649276"`` for endpoint 11379224; anything else (another endpoint, another
    resource, no digits, a query) gives None.
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
    if len(segments) < 4 or segments[-4:-1] != ["endpoint", str(endpoint_id), "sms"]:
        return None
    sms_id = segments[-1]
    if not (sms_id.isascii() and sms_id.isdecimal() and len(sms_id) <= 19):
        return None
    return str(int(sms_id)) if int(sms_id) > 0 else None


def sms_state(status: Any) -> str:
    """Return the delivery state of an SMS's ``status`` object (id, or text only).

    emnify's SMS list writes ``{"id": 4, "description": "DELIVERED"}``; its delivery
    receipt ``{"status": "DELIVERED", "id": 4}``. An id may come as digits.
    """
    if not isinstance(status, Mapping):
        return SMS_UNKNOWN
    status_id = status.get("id")
    if isinstance(status_id, str) and status_id.isascii() and status_id.isdecimal():
        status_id = int(status_id) if len(status_id) < 4 else None
    if (
        isinstance(status_id, int)
        and not isinstance(status_id, bool)
        and status_id in _SMS_STATES
    ):
        return _SMS_STATES[status_id]
    for key in ("description", "status"):
        text = as_short_text(status.get(key))
        if text is not None and text.upper() in _SMS_TEXTS:
            return _SMS_TEXTS[text.upper()]
    return SMS_UNKNOWN


def _status_text(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    status = value.get("status")
    if not isinstance(status, Mapping):
        return None
    return as_short_text(status.get("description"))


def _endpoint_state(endpoint_status: int | None, sim: Any) -> str:
    """Map an endpoint's status and its SIM's status to one state.

    An endpoint with no SIM assigned has no ``sim`` key at all (recorded: the
    ``Disabled`` endpoints of ``get_all_devices.yaml``): "no SIM".
    """
    if endpoint_status == _ENDPOINT_DELETED:
        return SIM_INACTIVE
    if sim is None:
        return SIM_NO_SIM
    if not isinstance(sim, Mapping):
        return SIM_UNKNOWN
    sim_status = _status_id(sim)
    if sim_status == _SIM_DELETED:
        return SIM_INACTIVE
    if sim_status == _SIM_SUSPENDED or endpoint_status == _ENDPOINT_DISABLED:
        return SIM_SUSPENDED
    if sim_status == _SIM_ACTIVATED and endpoint_status == _ENDPOINT_ENABLED:
        return SIM_ACTIVE
    if sim_status == _SIM_ISSUED:
        return SIM_INACTIVE
    if sim_status == _SIM_FACTORY_TEST:
        return SIM_ACTIVE
    return SIM_UNKNOWN


def _parse_endpoint(item: Any) -> SimStatus | None:
    """Read one endpoint of ``GET /endpoint`` (None without a usable id)."""
    if not isinstance(item, Mapping):
        return None
    endpoint_id = item.get("id")
    if (
        isinstance(endpoint_id, bool)
        or not isinstance(endpoint_id, int)
        or not 0 < endpoint_id < 10**19
    ):
        return None
    sim = item.get("sim")
    sim_map: Mapping[str, Any] = sim if isinstance(sim, Mapping) else {}
    sim_status = _status_id(sim_map)
    sim_id = sim_map.get("id")
    return SimStatus(
        provider_id=str(endpoint_id),
        state=_endpoint_state(_status_id(item), sim),
        provider_state=_status_text(sim_map) or _status_text(item),
        iccid=as_short_text(sim_map.get("iccid"), 32),
        imei=as_short_text(item.get("imei"), 32),
        msisdn=as_short_text(sim_map.get("msisdn"), 32),
        sim_id=str(sim_id)
        if isinstance(sim_id, int) and not isinstance(sim_id, bool)
        else None,
        can_pause=sim_status in (_SIM_ACTIVATED, _SIM_SUSPENDED),
    )


def _parse_online(connectivity: Any) -> bool | None:
    text = _status_text(connectivity)
    return _ONLINE.get(text.upper()) if text is not None else None


def _parse_stats(stats: Any) -> tuple[int | None, int | None, int | None]:
    """Return (bytes, SMS sent, SMS received) of ``current_month``.

    emnify includes ``current_month`` (and ``last_month``) "only if traffic exists"
    (its API reference), and leaves the ``data``/``sms`` keys out of a month without
    that traffic: an answer without them is 0, an idle SIM's and every SIM's early
    in the month. No answer (None: the call found nothing) or garbage stays unknown.
    """
    if not isinstance(stats, Mapping):
        return None, None, None
    month = stats.get("current_month", {})
    if month is None:
        month = {}  # ("object or null", the reference says)
    if not isinstance(month, Mapping):
        return None, None, None
    data_used: int | None = 0
    if "data" in month:
        data = month["data"]
        volume = _volume(data.get("volume")) if isinstance(data, Mapping) else None
        data_used = _bytes(volume)
    sent: int | None = 0
    received: int | None = 0
    if "sms" in month:
        sms = month["sms"]
        sms_map: Mapping[str, Any] = sms if isinstance(sms, Mapping) else {}
        # Inferred: volume_tx counts SMS the device sent (mobile originated),
        # volume_rx those it received (mobile terminated).
        sent = _sms_count(sms_map.get("volume_tx"))
        received = _sms_count(sms_map.get("volume_rx"))
    return data_used, sent, received


def _volume(value: Any) -> float | None:
    """Return a volume given as a JSON number or as decimal text ("0.848157")."""
    if isinstance(value, str):
        text = value.strip()
        return float(text) if _DECIMAL.fullmatch(text) else None
    return as_number(value)


def _bytes(volume: float | None) -> int | None:
    """Return a volume in MB as bytes; None beyond what a byte count can be."""
    if volume is None:
        return None
    number = volume * BYTES_PER_VOLUME_UNIT
    return round(number) if math.isfinite(number) and number <= MAX_COUNT else None


def _sms_count(value: Any) -> int | None:
    """Return a count of SMS ("3.000000" as emnify writes it), whole numbers only."""
    volume = _volume(value)
    if volume is not None and volume.is_integer():
        return as_count(volume)
    return as_count(value)


def _parse_sms(item: Any) -> SmsDelivery | None:
    if not isinstance(item, Mapping):
        return None
    sms_id = _short_id(item.get("id"))
    if sms_id is None:
        return None
    payload = item.get("payload")
    return SmsDelivery(
        sms_id=sms_id,
        status=sms_state(item.get("status")),
        payload=payload if isinstance(payload, str) else None,
        submitted=as_time(item.get("submit_date")),
        final=as_time(item.get("final_date")) or as_time(item.get("delivery_date")),
        direction=sms_direction(item.get("sms_type")),
    )


def sms_direction(sms_type: Any) -> str | None:
    """Return ``MT`` or ``MO`` from an SMS's ``sms_type`` (its text, else its id)."""
    if not isinstance(sms_type, Mapping):
        return None
    text = as_short_text(sms_type.get("description"))
    if text is not None and text.upper() in (SMS_MT, SMS_MO):
        return text.upper()
    type_id = sms_type.get("id")
    if isinstance(type_id, int) and not isinstance(type_id, bool):
        return _SMS_TYPES.get(type_id)
    return None


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

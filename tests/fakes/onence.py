"""A local fake of the 1NCE management API that checks requests as 1NCE documents them.

Shapes and quirks are those of the recordings (``tests/fixtures/recorded/1nce/``) and
1NCE's OpenAPI specs:

- ``POST /management-api/oauth/token``: ``Authorization: Basic`` of a known client id
  and secret, JSON ``{"grant_type": "client_credentials"}``; answers ``{"status_code":
  200, "access_token", "token_type": "bearer", "expires_in": 3600, "userId": "user",
  "scope": "all"}`` where the token is, as recorded, base64 of ``{"idtoken": <JWT>,
  "accesstoken": <JWT>}`` and the id token carries ``custom:customerId``. Bad
  credentials: 400 ``CognitoAuthenticationError`` (recorded); no Basic header: 400
  ``AuthValidationError`` (documented). Every other call needs ``Authorization:
  Bearer`` with a token issued here and not expired on the fake's clock, else the
  recorded 401 ``{"timestamp", "status", "error", "message", "path"}``.
- ``GET /v2/sims?page=&pageSize=`` (pageSize ≤ 100): a bare JSON array with
  ``X-Total-Count``, ``X-Total-Pages``, ``X-Current-Page``, ``X-Count-Per-Page``;
  the list says ``Enabled`` where ``GET /v2/sims/{iccid}`` says ``Activated``
  (recorded); an unknown ICCID is 200 with an empty body (recorded).
- ``PUT /v2/sims/{iccid}`` ``{"iccid", "status": "Enabled"|"Disabled"}`` (label and
  imei_lock allowed) → 200, empty body (recorded).
- ``GET …/status`` (v2 shape, ``{"status": {"description": …}}``), ``…/quota/data``
  and ``…/quota/sms`` (dates ``"YYYY-MM-DD HH:MM:SS"`` as recorded; with
  ``numbers_as_text`` the volumes come as decimal text).
- ``POST …/sms``: payload limits by dcs (0: GSM-7 ≤ 160 septets, ≤ 153 with a udh;
  8: ≤ 70 UTF-16 units, ≤ 67; 4: hex ≤ 140 bytes, ≤ 134), udh ``050003RRTTSS``,
  ``source_address_type`` 145/161/208 (208: alphanumeric ≤ 11), ISO ``expiry_date``;
  answers v2's 201 ``{"id": "<string>"}`` (with ``v1_sms_answer``: v1's 201, empty
  body, the SMS's URL in ``Location``, as recorded). ``GET …/sms?page=&per_page=``
  (per_page ≤ 1000) lists them in the documented shape; ``set_sms_status`` moves one.
- ``POST /v1/integrate/devices/{iccid}/actions/UDP`` (1NCE OS): ``{payload,
  payloadType STRING|BASE64, port 1-65535, requestMode?}`` → 202 ``{id, message}``.

Errors have 1NCE's shapes (v2 ``{error_code, error_token, message}``, OS
``{statusCode, statusText, errors}``). ``fail`` queues a fault for a path (a
``fnmatch`` pattern): a status with a body (``"garbage"`` for HTML), headers
(``Retry-After``), or a hang until ``release`` (``on_hang`` is told). Every request
is kept in ``requests`` as (method, path, query, time on the fake's clock).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from fnmatch import fnmatch
import itertools
import json
import math
from typing import Any

import aiohttp
from aiohttp import web

from custom_components.cellular_iot.providers.sms import GSM7_BASIC, GSM7_EXTENSION

BASE = "/management-api"
CLIENT_ID = "81012345_TESTCLIENT"
CLIENT_SECRET = "fake-1nce-secret-0123456789"
CUSTOMER_ID = "4697283466"
SMS_STATUS = {2: "PENDING", 3: "BUFFERED", 4: "DELIVERED", 5: "FAILED", 6: "EXPIRED"}


def make_jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def make_token(claims: dict[str, Any]) -> str:
    """A 1NCE access token as recorded: base64 of {"idtoken", "accesstoken"}."""
    wrapper = {
        "idtoken": make_jwt({"token_use": "id", **claims}),
        "accesstoken": make_jwt(
            {"token_use": "access", "n": claims.get("n"), "exp": claims.get("exp")}
        ),
    }
    return base64.b64encode(json.dumps(wrapper).encode()).decode()


class VirtualClock:
    """Time for the client that passes when it sleeps, without waiting.

    ``clock`` and ``sleep`` go to the client (``clock=``/``sleep=``, or the module
    seams). A sleep moves the time on at once; each task remembers the time it was
    let go at (the time it read, plus what it slept), and a session made with
    :meth:`trace_config` stamps every request with it when the request starts: the
    times the client's limiter gave its requests, whatever order they run in.
    """

    def __init__(self, now: float) -> None:
        self.now = now
        self.stamps: list[float] = []
        self._released: ContextVar[float] = ContextVar("released", default=now)

    def clock(self) -> float:
        self._released.set(self.now)
        return self.now

    async def sleep(self, delay: float) -> None:
        released = self._released.get() + max(delay, 0.0)
        self._released.set(released)
        self.now = max(self.now, released)
        await asyncio.sleep(0)

    def trace_config(self) -> aiohttp.TraceConfig:
        """A trace that stamps each request with its task's release time."""

        async def _start(*_: Any) -> None:
            self.stamps.append(self._released.get())

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(_start)
        return trace

    def max_rate(self, window: float = 1.0) -> int:
        """The most requests stamped within any ``window`` seconds."""
        times = sorted(self.stamps)
        best = start = 0
        for end, when in enumerate(times):
            while when - times[start] >= window - 1e-9:
                start += 1
            best = max(best, end - start + 1)
        return best


class FakeOneNce:
    """The fake server's state and its aiohttp application."""

    def __init__(self) -> None:
        self.time = VirtualClock(1_800_000_000.0)
        self.token_lifetime = 3600
        self.credentials: dict[tuple[str, str], str] = {
            (CLIENT_ID, CLIENT_SECRET): CUSTOMER_ID
        }
        self.extra_claims: dict[str, Any] = {}
        self.valid_tokens: dict[str, float] = {}
        self.token_calls = 0
        self.unauthorized = 0
        self.sims: dict[str, dict[str, Any]] = {}
        self.connectivity: dict[str, str] = {}
        self.data_quota: dict[str, dict[str, Any]] = {}
        self.sms_quota: dict[str, dict[str, Any]] = {}
        self.numbers_as_text = False
        self.v1_sms_answer = False
        self.sms_records: dict[int, dict[str, Any]] = {}
        self.sms: list[dict[str, Any]] = []
        self.puts: list[tuple[str, Any]] = []
        self.udp: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str], float]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.violations: list[str] = []
        self.faults: list[tuple[str, int, Any, dict[str, str], bool]] = []
        self.release = asyncio.Event()
        # Called when a test asks for a hang (the fixture shortens the timeout).
        self.on_hang: Callable[[], None] = lambda: None
        self._sms_ids = itertools.count(7_363_281)
        self._udp_ids = itertools.count(1)
        self.app = web.Application(middlewares=[self._record])
        route = self.app.router
        route.add_post(f"{BASE}/oauth/token", self._token)
        route.add_get(f"{BASE}/v2/sims", self._sim_list)
        route.add_get(f"{BASE}/v2/sims/{{iccid}}", self._sim_details)
        route.add_put(f"{BASE}/v2/sims/{{iccid}}", self._sim_put)
        route.add_get(f"{BASE}/v2/sims/{{iccid}}/status", self._status)
        route.add_get(f"{BASE}/v2/sims/{{iccid}}/quota/data", self._quota_data)
        route.add_get(f"{BASE}/v2/sims/{{iccid}}/quota/sms", self._quota_sms)
        route.add_post(f"{BASE}/v2/sims/{{iccid}}/sms", self._sms_send)
        route.add_get(f"{BASE}/v2/sims/{{iccid}}/sms", self._sms_list)
        route.add_post(f"{BASE}/v1/integrate/devices/{{iccid}}/actions/UDP", self._udp)

    # --- test controls -------------------------------------------------------------

    @property
    def now(self) -> float:
        """The fake's time (token expiry), the client's too (the fixture)."""
        return self.time.now

    @now.setter
    def now(self, value: float) -> None:
        self.time.now = value

    def add_sim(
        self,
        iccid: str,
        *,
        label: str | None = None,
        status: str = "Enabled",
        quota: dict[str, Any] | None = None,
        sms_quota: dict[str, Any] | None = None,
        connectivity: str = "ONLINE",
    ) -> dict[str, Any]:
        """Add a SIM as the list shows it; ``quota`` replaces its data quota."""
        number = int(iccid[-9:])
        fields: dict[str, Any] = {
            "iccid": iccid,
            "iccid_with_luhn": f"{iccid}0",
            "imsi": f"901405{number:09d}",
            "current_imsi": f"901405{number:09d}",
            "msisdn": f"882285{number:09d}",
            "imei": f"86823905{number % 10**8:08d}",
            "imei_lock": False,
            "status": status,
            "activation_date": "2021-08-26T12:13:02.000+0000",
            "ip_address": f"10.210.{number // 256 % 256}.{number % 256}",
            "current_quota": 500,
            "quota_status": {"id": 0, "description": "More than 20% available"},
            "current_quota_SMS": 250,
            "quota_status_SMS": {"id": 0, "description": "More than 20% available"},
        }
        if label is not None:
            fields["label"] = label
        self.sims[iccid] = fields
        self.connectivity[iccid] = connectivity
        self.data_quota[iccid] = quota or dict(DEFAULT_DATA_QUOTA)
        self.sms_quota[iccid] = sms_quota or dict(DEFAULT_SMS_QUOTA)
        return fields

    def add_sims(self, count: int, *, first: int = 8988228066602300000) -> list[str]:
        """Add ``count`` SIMs with consecutive ICCIDs; return them."""
        iccids = [str(first + i) for i in range(count)]
        for iccid in iccids:
            self.add_sim(iccid, label=f"Sensor {iccid[-4:]}")
        return iccids

    def set_sms_status(
        self, sms_id: int | str, status_id: int, *, final_date: str | None = None
    ) -> None:
        """Move an SMS the fake accepted to another status (4 delivered, ...)."""
        record = self.sms_records[int(sms_id)]
        record["status"] = {"id": status_id, "description": SMS_STATUS[status_id]}
        if final_date is not None:
            record["final_date"] = final_date

    def expire_all(self) -> None:
        self.valid_tokens.clear()

    def calls(self, path: str) -> list[tuple[str, str, dict[str, str], float]]:
        """The requests received for one path (without /management-api)."""
        return [r for r in self.requests if r[1] == f"{BASE}{path}"]

    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        hang: bool = False,
    ) -> None:
        """Answer the next request for ``path`` (an fnmatch pattern) this way."""
        if hang:
            self.on_hang()
        self.faults.append((f"{BASE}{path}", status, body, headers or {}, hang))

    # --- plumbing --------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(
            (request.method, request.path, dict(request.query), self.now)
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if (fault := await self._fault(request)) is not None:
                return fault
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def _fault(self, request: web.Request) -> web.StreamResponse | None:
        for fault in self.faults:
            if fnmatch(request.path, fault[0]):
                self.faults.remove(fault)
                if fault[4]:
                    await self.release.wait()
                if fault[2] == "garbage":
                    return web.Response(status=fault[1], body=b"<html>")
                if isinstance(fault[2], bytes):
                    return web.Response(
                        status=fault[1], body=fault[2], headers=fault[3]
                    )
                return web.json_response(
                    fault[2]
                    if fault[2] is not None
                    else _v2_error(fault[1], f"fault {fault[1]}"),
                    status=fault[1],
                    headers=fault[3],
                )
        return None

    def _violation(self, text: str) -> web.Response:
        self.violations.append(text)
        return web.json_response(_v2_error(400, text), status=400)

    def _refused(self, request: web.Request) -> web.Response | None:
        """The recorded 401 for a missing, unknown or expired Bearer token."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        expiry = self.valid_tokens.get(token) if header.startswith("Bearer ") else None
        if expiry is not None and expiry > self.now:
            return None
        self.unauthorized += 1
        return web.json_response(
            {
                "timestamp": "2021-11-14T19:12:43.315+0000",
                "status": 401,
                "error": "Unauthorized",
                "message": "The token is invalid: Illegal base64 character 20"
                if expiry is None
                else "The token is expired",
                "path": request.path.replace(BASE, "/internal-global-api"),
            },
            status=401,
        )

    def _sim(self, request: web.Request) -> str | None:
        iccid = request.match_info["iccid"]
        return iccid if iccid in self.sims else None

    # --- handlers ----------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return _token_error(
                "AuthValidationError",
                "Auth header validation error: Missing attributes 'username'",
            )
        try:
            login, _, secret = (
                base64.b64decode(header.removeprefix("Basic "), validate=True)
                .decode()
                .partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return _token_error("AuthValidationError", "Auth header validation error")
        if request.content_type != "application/json":
            return self._violation(f"token body as {request.content_type}")
        try:
            body = await request.json()
        except ValueError:
            return self._violation("token body is not JSON")
        if body != {"grant_type": "client_credentials"}:
            return self._violation(f"token body {body}")
        customer = self.credentials.get((login, secret))
        if customer is None:
            return _token_error(
                "CognitoAuthenticationError", "Incorrect username or password."
            )
        self.token_calls += 1
        exp = self.now + self.token_lifetime
        token = make_token(
            {"custom:customerId": customer, "exp": exp, "n": self.token_calls}
            | self.extra_claims
        )
        self.valid_tokens[token] = exp
        return web.json_response(
            {
                "status_code": 200,
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "userId": "user",
                "scope": "all",
            }
        )

    async def _sim_list(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        if set(request.query) - {"page", "pageSize", "q", "sort"}:
            return self._violation(f"unknown query {dict(request.query)}")
        try:
            page = int(request.query.get("page", "1"))
            size = int(request.query.get("pageSize", "10"))
        except ValueError:
            return self._violation("page/pageSize must be integers")
        if not 1 <= size <= 100 or page < 1:
            return self._violation(f"pageSize {size} / page {page} out of range")
        iccids = list(self.sims)
        chunk = iccids[(page - 1) * size : page * size]
        return web.json_response(
            [self.sims[i] for i in chunk],
            headers={
                "X-Total-Pages": str(max(1, math.ceil(len(iccids) / size))),
                "X-Total-Count": str(len(iccids)),
                "X-Current-Page": str(page),
                "X-Count-Per-Page": str(size),
            },
            content_type="application/json",
        )

    async def _sim_details(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        iccid = self._sim(request)
        if iccid is None:  # as recorded: 200, nothing
            return web.Response(
                status=200, headers={"Content-Type": "application/json;charset=UTF-8"}
            )
        fields = dict(self.sims[iccid])
        if fields["status"] == "Enabled":  # as recorded: one SIM says Activated
            fields["status"] = "Activated"
        return web.json_response(fields)

    async def _sim_put(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        if request.content_type != "application/json":
            return self._violation("PUT content type")
        try:
            body = await request.json()
        except ValueError:
            return self._violation("PUT body is not JSON")
        raw = request.match_info["iccid"]
        self.puts.append((raw, body))
        if (
            not isinstance(body, dict)
            or set(body) - {"iccid", "status", "label", "imei_lock"}
            or body.get("iccid") != raw
            or body.get("status") not in ("Enabled", "Disabled")
        ):
            return self._violation(f"PUT body {body}")
        iccid = self._sim(request)
        if iccid is None:
            return _not_found()
        self.sims[iccid]["status"] = body["status"]
        return web.Response(status=200, content_type="application/json")

    async def _status(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        iccid = self._sim(request)
        if iccid is None:
            return _not_found()
        return web.json_response(
            {
                "status": {"description": self.connectivity[iccid]},
                "data_traffic_limit_state": {"description": "NOT_REACHED"},
                "location": {
                    "iccid": iccid,
                    "imsi": self.sims[iccid]["imsi"],
                    "last_updated": "2021-10-28 00:41:39",
                    "operator": {
                        "id": 90,
                        "name": "Plus",
                        "mnc": "01",
                        "country": {"id": 157, "name": "Poland", "iso_code": "pl"},
                    },
                },
                "pdp_contexts": [],
                "services": ["GPRS"],
            }
        )

    def _quota(self, quota: dict[str, Any]) -> dict[str, Any]:
        if not self.numbers_as_text:
            return quota
        return {
            key: str(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else value
            for key, value in quota.items()
        }

    async def _quota_data(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        iccid = self._sim(request)
        if iccid is None:
            return _not_found()
        return web.json_response(self._quota(self.data_quota[iccid]))

    async def _quota_sms(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        iccid = self._sim(request)
        if iccid is None:
            return _not_found()
        return web.json_response(self._quota(self.sms_quota[iccid]))

    async def _sms_send(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        if request.content_type != "application/json":
            return self._violation("SMS content type")
        try:
            body = await request.json()
        except ValueError:
            return self._violation("SMS body is not JSON")
        if problem := _sms_problem(body):
            return self._violation(problem)
        iccid = self._sim(request)
        if iccid is None:
            return _not_found()
        sms_id = next(self._sms_ids)
        self.sms.append({"iccid": iccid, **body})
        self.sms_records[sms_id] = sms_record(sms_id, iccid, body, self.sims[iccid])
        if self.v1_sms_answer:  # as recorded (v1): 201, no body, Location
            return web.Response(
                status=201,
                headers={
                    "Content-Type": "application/json",
                    "Location": "https://bss-global.api.1nce.com/internal-global-api"
                    f"/v1/sims/{iccid}/sms/{sms_id}",
                },
            )
        return web.json_response({"id": str(sms_id)}, status=201)

    async def _sms_list(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        if set(request.query) - {"page", "per_page"}:
            return self._violation(f"unknown SMS query {dict(request.query)}")
        try:
            page = int(request.query.get("page", "1"))
            size = int(request.query.get("per_page", "20"))
        except ValueError:
            return self._violation("page/per_page must be integers")
        if not 1 <= size <= 1000 or page < 1:
            return self._violation(f"per_page {size} / page {page} out of range")
        iccid = self._sim(request)
        if iccid is None:
            return _not_found()
        records = [
            r for r in reversed(self.sms_records.values()) if r["iccid"] == iccid
        ]
        return web.json_response(
            records[(page - 1) * size : page * size],
            headers={
                "X-Total-Pages": str(max(1, math.ceil(len(records) / size))),
                "X-Total-Count": str(len(records)),
            },
        )

    async def _udp(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return self._violation("UDP body is not JSON")
        if problem := _udp_problem(body):
            self.violations.append(problem)
            return web.json_response(
                {
                    "statusCode": 400,
                    "statusText": "Bad Request",
                    "errors": [{"message": problem}],
                },
                status=400,
            )
        iccid = self._sim(request)
        if iccid is None:
            return web.json_response(
                {
                    "statusCode": 404,
                    "statusText": "Not Found",
                    "errors": [{"message": f"Device {request.match_info['iccid']}"}],
                },
                status=404,
            )
        action = f"trx{next(self._udp_ids):06d}"
        self.udp.append({"iccid": iccid, "id": action, **body})
        return web.json_response(
            {
                "id": action,
                "message": f"Action UDP successfully scheduled for device {iccid}.",
            },
            status=202,
        )


# A data quota as recorded (get_sim_data_quota.yaml): MB, dates without a zone.
DEFAULT_DATA_QUOTA: dict[str, Any] = {
    "volume": 479.949998,
    "total_volume": 500,
    "expiry_date": "2031-11-26 00:00:00",
    "peak_throughput": 128000,
    "last_volume_added": 500,
    "last_status_change_date": "2021-08-26 12:13:22",
    "threshold_percentage": 20,
}
# An SMS quota as recorded (get_sim_sms_quota.yaml).
DEFAULT_SMS_QUOTA: dict[str, Any] = {
    "volume": 240,
    "total_volume": 250,
    "expiry_date": "2031-11-26 00:00:00",
    "last_volume_added": 250,
    "last_status_change_date": "2021-08-26 12:13:26",
    "threshold_percentage": 20,
}


def _gsm7_septets(text: str) -> int | None:
    if any(c not in GSM7_BASIC and c not in GSM7_EXTENSION for c in text):
        return None
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def _sms_problem(body: Any) -> str | None:
    """What in an SMS body 1NCE's documentation does not allow, or None."""
    allowed = {
        "payload",
        "dcs",
        "udh",
        "source_address",
        "source_address_type",
        "expiry_date",
    }
    if not isinstance(body, dict) or set(body) - allowed:
        return f"unknown SMS fields: {body}"
    payload = body.get("payload")
    if not isinstance(payload, str) or not payload:
        return "payload must be a non-empty string"
    dcs = body.get("dcs", 0)
    udh = "udh" in body
    if dcs == 0:
        septets = _gsm7_septets(payload)
        if septets is None:
            return "dcs 0 with characters outside GSM-7"
        size, limit = septets, 153 if udh else 160
    elif dcs == 8:
        size, limit = len(payload.encode("utf-16-le")) // 2, 67 if udh else 70
        if _gsm7_septets(payload) is not None and not udh:
            return "UCS-2 used where GSM-7 fits"
    elif dcs == 4:
        try:
            size = len(bytes.fromhex(payload))
        except ValueError:
            return "dcs 4 needs a hex payload"
        limit = 134 if udh else 140
    else:
        return f"dcs {dcs!r}"
    if size > limit:
        return f"payload of {size} exceeds {limit}"
    if udh:
        value = body["udh"]
        try:
            valid = (
                isinstance(value, str)
                and len(value) == 12
                and value.upper().startswith("050003")
                and int(value[8:10], 16) >= 2
                and 1 <= int(value[10:12], 16) <= int(value[8:10], 16)
            )
            int(value, 16)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            return f"bad udh {value!r}"
    if "source_address" in body:
        source = body["source_address"]
        kind = body.get("source_address_type")
        if not isinstance(source, str) or not 0 < len(source) <= 21:
            return "source_address"
        if kind not in ({"id": 145}, {"id": 161}, {"id": 208}, None):
            return f"source_address_type {kind}"
        if kind == {"id": 208}:
            if len(source) > 11:
                return "alphanumeric sender over 11 characters"
        elif not source.lstrip("+").isdigit():
            return "a sender that is not a number needs source_address_type 208"
    elif "source_address_type" in body:
        return "source_address_type without source_address"
    if "expiry_date" in body:
        try:
            datetime.fromisoformat(body["expiry_date"])
        except (TypeError, ValueError):
            return "expiry_date not ISO 8601"
    return None


def _udp_problem(body: Any) -> str | None:
    """What in a 1NCE OS UDP action its spec does not allow, or None."""
    if not isinstance(body, dict) or set(body) - {
        "payload",
        "payloadType",
        "port",
        "requestMode",
    }:
        return f"unknown UDP fields: {body}"
    if not isinstance(body.get("payload"), str) or not body["payload"]:
        return "payload"
    if body.get("payloadType") not in ("STRING", "BASE64"):
        return f"payloadType {body.get('payloadType')!r}"
    if body["payloadType"] == "BASE64":
        try:
            base64.b64decode(body["payload"], validate=True)
        except binascii.Error:
            return "payload is not base64"
    port = body.get("port")
    if type(port) is not int or not 1 <= port <= 65535:
        return f"port {port!r}"
    if body.get("requestMode", "SEND_NOW") not in ("SEND_NOW", "SEND_WHEN_ACTIVE"):
        return f"requestMode {body.get('requestMode')!r}"
    return None


def sms_record(
    sms_id: int, iccid: str, body: dict[str, Any], sim: dict[str, Any]
) -> dict[str, Any]:
    """An MT SMS as the SMS list shows it (the docs' example, examples-mt-sms)."""
    return {
        "id": sms_id,
        "submit_date": "2027-01-15T08:00:00.000+0000",
        "delivery_date": None,
        "expiry_date": "2027-01-16T08:00:00.000+0000",
        "final_date": None,
        "retry_count": "0",
        "source_address": body.get("source_address", ""),
        "iccid": iccid,
        "msisdn": sim["msisdn"],
        "imsi": sim["imsi"],
        "msc": "491770940000",
        "udh": body.get("udh", ""),
        "dcs": body.get("dcs", 0),
        "payload": body["payload"],
        "status": {"id": 2, "description": "PENDING"},
        "sms_type": {"id": 1, "description": "MT"},
        "source_address_type": {"id": 145, "description": "International"},
    }


def _v2_error(status: int, text: str) -> dict[str, Any]:
    tokens = {
        400: "BadRequest",
        404: "NotFound",
        409: "Conflict",
        429: "TooManyRequests",
    }
    return {
        "error_code": 1000,
        "error_token": tokens.get(status, "InternalServerError"),
        "message": text,
    }


def _not_found() -> web.Response:
    return web.json_response(_v2_error(404, "Element not found"), status=404)


def _token_error(code: str, text: str) -> web.Response:
    return web.json_response(
        {"statusCode": 400, "errorCode": code, "message": text}, status=400
    )

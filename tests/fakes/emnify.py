"""A local fake of the emnify REST API that checks requests as emnify documents them.

- ``POST /api/v1/authenticate`` takes ``{"application_token": ...}`` and answers
  ``{"auth_token": <JWT>, "refresh_token": <JWT>}``; the JWT's ``exp`` is set by
  ``token_lifetime`` and the fake's own clock (``iat`` too, unless ``issue_iat`` is
  off), and tokens can be expired at will. With ``auth_gate`` set, an authentication
  waits for that event (``auth_waiting`` tells that one does).
- ``POST /api/v1/endpoint/{id}/sms`` needs ``Authorization: Bearer <auth_token>`` issued
  here and still valid, ``payload`` of at most 160 characters (GSM-7 septets or 70 UCS-2
  units as the dcs says), a ``udh`` ``050003RRTTSS`` consistent across a message,
  ``source_address`` (≤ 21, alphanumeric ≤ 11 with ``source_address_type`` 208), and an
  ISO 8601 ``expiry_date``; answers as emnify does (``send_sms_to_device.yaml``): 201,
  ``Content-Type: text/html; charset=UTF-8``, an empty body and the SMS's URL in
  ``Location``; the SMS is listed by ``GET /api/v1/endpoint/{id}/sms`` (newest first)
  and ``GET …/sms/{sms_id}`` in the recorded shape (``get_all_device_sms.yaml``), with
  status 1 until ``set_sms_status``.
- ``GET /api/v1/endpoint?page=&per_page=&sort=id`` (per_page an int ≤ 1000; sorted
  by id, emnify's default) with the ``X-Total-Pages`` and ``X-Total-Count`` headers,
  an endpoint without a SIM having no ``sim`` key (``no_sim``); ``GET /endpoint/{id}``
  (the same object, 404 for an unknown one); ``GET /endpoint/{id}/connectivity`` as recorded
  (``{"status": {"description": …}, "services": []}``) and ``/stats`` as the API
  reference shows it (volumes as decimal text, ``current_month`` only with traffic:
  ``NO_TRAFFIC_STATS``); ``PATCH /endpoint/{id}`` ``{"status": {"id": 0|1}}`` and
  ``PATCH /sim/{id}`` ``{"status": {"id": 1|2}}`` (Activated ↔ Suspended only), each
  204. Errors have the recorded shape (``{"error_code", "error_token", "message"}``;
  a refused Bearer token ``{"message": …}``).

Every request is recorded in ``requests`` (``calls(path)``); faults apply to all.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import datetime
import itertools
import json
import math
from typing import Any

from aiohttp import web

from custom_components.cellular_iot.providers.sms import GSM7_BASIC, GSM7_EXTENSION

API = "/api/v1"


def make_jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS512'})}.{part(claims)}.c2lnbmF0dXJl"


class FakeEmnify:
    """The fake server's state and its aiohttp application."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.token_lifetime = 3600
        self.application_tokens: dict[str, tuple[int, str]] = {
            make_jwt({"esc.org": 4242, "esc.orgName": "Fleet GmbH", "sub": "app"}): (
                4242,
                "Fleet GmbH",
            )
        }
        self.endpoints = {1001, 1002}
        # The details of each endpoint (made on first use for ids in ``endpoints``).
        self.endpoint_data: dict[int, dict[str, Any]] = {}
        self.connectivity: dict[int, str] = {}
        self.stats: dict[int, Any] = {}
        self.patches: list[tuple[str, Any]] = []
        self.sms_records: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.valid_tokens: dict[str, float] = {}
        self.auth_calls = 0
        self.sms: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.faults: list[tuple[str, int, Any, dict[str, str], bool]] = []
        self.release = asyncio.Event()
        # Called when a test asks for a hang (the fixture shortens the timeout).
        self.on_hang: Callable[[], None] = lambda: None
        self.auth_gate: asyncio.Event | None = None
        self.auth_waiting = asyncio.Event()
        self.issue_iat = True
        self.extra_claims: dict[str, Any] = {}
        self.unauthorized = 0
        self._changed = asyncio.Condition()
        # emnify's SMS ids are large numbers (19649276 in the recordings).
        self._ids = itertools.count(19_650_001)
        self.app = web.Application(middlewares=[self._record])
        self.app.router.add_post(f"{API}/authenticate", self._authenticate)
        self.app.router.add_post(f"{API}/endpoint/{{endpoint}}/sms", self._sms)
        self.app.router.add_get(f"{API}/endpoint/{{endpoint}}/sms", self._sms_list)
        self.app.router.add_get(
            f"{API}/endpoint/{{endpoint}}/sms/{{sms}}", self._sms_details
        )
        self.app.router.add_get(f"{API}/endpoint", self._endpoint_list)
        self.app.router.add_get(f"{API}/endpoint/{{endpoint}}", self._endpoint_details)
        self.app.router.add_get(
            f"{API}/endpoint/{{endpoint}}/connectivity", self._connectivity
        )
        self.app.router.add_get(f"{API}/endpoint/{{endpoint}}/stats", self._stats)
        self.app.router.add_patch(f"{API}/endpoint/{{endpoint}}", self._patch_endpoint)
        self.app.router.add_patch(f"{API}/sim/{{sim}}", self._patch_sim)

    @property
    def application_token(self) -> str:
        return next(iter(self.application_tokens))

    # --- SIM controls -------------------------------------------------------------

    def endpoint(self, endpoint_id: int) -> dict[str, Any]:
        """The stored details of an endpoint (an enabled one, activated SIM)."""
        return self.endpoint_data.setdefault(endpoint_id, endpoint_fields(endpoint_id))

    def no_sim(self, endpoint_id: int) -> None:
        """Take the SIM off an endpoint: it is listed with no ``sim`` key, disabled."""
        self.endpoints.add(endpoint_id)
        fields = self.endpoint(endpoint_id)
        fields.pop("sim", None)
        fields["status"] = {"id": 1, "description": "Disabled"}

    def add_endpoints(self, count: int, *, first_id: int = 2001) -> list[int]:
        """Add ``count`` endpoints with ids from ``first_id``; return their ids."""
        ids = list(range(first_id, first_id + count))
        self.endpoints.update(ids)
        return ids

    def set_sms_status(
        self, sms_id: int, status_id: int, *, final_date: str | None = None
    ) -> None:
        """Move an SMS the fake accepted to another status (4 delivered, ...)."""
        record = self.sms_records[sms_id]
        record["status"] = {"description": SMS_STATUS[status_id], "id": status_id}
        if final_date is not None:
            record["final_date"] = final_date

    def calls(self, path: str) -> list[tuple[str, str, dict[str, str]]]:
        """The requests received for one API path (without the /api/v1 prefix)."""
        return [r for r in self.requests if r[1] == f"{API}{path}"]

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    def expire_all(self) -> None:
        self.valid_tokens.clear()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait (no polling, no sleep) until a request leaves ``predicate`` true."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        hang: bool = False,
    ) -> None:
        if hang:
            self.on_hang()
        self.faults.append((f"{API}{path}", status, body, headers or {}, hang))

    def _violation(self, text: str) -> web.Response:
        self.violations.append(text)
        return web.json_response(
            {
                "error_code": 1400,
                "error_token": "InputValidationFailed",
                "message": text,
            },
            status=422,
        )

    async def _fault(self, request: web.Request) -> web.StreamResponse | None:
        for fault in self.faults:
            if request.path == fault[0] or fault[0].endswith("*"):
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
                    fault[2] or {"message": f"fault {fault[1]}"},
                    status=fault[1],
                    headers=fault[3],
                )
        return None

    async def _authenticate(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._fault(request)) is not None:
            return fault
        if self.auth_gate is not None:
            self.auth_waiting.set()
            await self.auth_gate.wait()
        try:
            body = await request.json()
        except ValueError:
            return self._violation("authenticate body is not JSON")
        if set(body) != {"application_token"}:
            return self._violation(f"authenticate takes application_token only: {body}")
        org = self.application_tokens.get(body["application_token"])
        if org is None:
            return web.json_response(
                {"error_code": 1001, "error_token": "invalid token"}, status=401
            )
        self.auth_calls += 1
        exp = self.now + self.token_lifetime
        claims: dict[str, Any] = {
            "esc.org": org[0],
            "esc.orgName": org[1],
            "exp": exp,
            "n": self.auth_calls,
        }
        if self.issue_iat:
            claims["iat"] = self.now
        token = make_jwt(claims | self.extra_claims)
        self.valid_tokens[token] = exp
        return web.json_response(
            {"auth_token": token, "refresh_token": make_jwt({"r": self.auth_calls})}
        )

    async def _unauthorized(self, text: str) -> web.Response:
        self.unauthorized += 1
        await self._notify()
        return web.json_response({"message": text}, status=401)

    async def _refused(self, request: web.Request) -> web.StreamResponse | None:
        """The 401 for a missing or expired Bearer token, else a queued fault."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or token not in self.valid_tokens:
            return await self._unauthorized(
                "token contains an invalid number of segments"
            )
        if self.valid_tokens[token] <= self.now:
            return await self._unauthorized("Token is expired")
        return await self._fault(request)

    def _known(self, request: web.Request) -> int | None:
        raw = request.match_info["endpoint"]
        endpoint = int(raw) if raw.isdigit() else None
        return endpoint if endpoint in self.endpoints else None

    async def _endpoint_list(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        if set(request.query) - {"page", "per_page", "q", "sort"}:
            return self._violation(f"unknown query {dict(request.query)}")
        try:
            page = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "100"))
        except ValueError:
            return self._violation("page/per_page must be integers")
        if not 1 <= per_page <= 1000 or page < 1:
            return self._violation(f"per_page {per_page} / page {page} out of range")
        if request.query.get("sort", "id") not in ("id", "+id"):
            return self._violation("the fake lists endpoints sorted by id only")
        ids = sorted(self.endpoints)
        chunk = ids[(page - 1) * per_page : page * per_page]
        return web.json_response(
            [self.endpoint(i) for i in chunk],
            headers={
                "X-Total-Pages": str(math.ceil(len(ids) / per_page)),
                "X-Total-Count": str(len(ids)),
            },
        )

    async def _endpoint_details(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        endpoint = self._known(request)
        if endpoint is None:
            return _not_found()
        return web.json_response(self.endpoint(endpoint))

    async def _connectivity(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        endpoint = self._known(request)
        if endpoint is None:
            return _not_found()
        state = self.connectivity.get(endpoint, "ATTACHED")
        return web.json_response({"status": {"description": state}, "services": []})

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        endpoint = self._known(request)
        if endpoint is None:
            return _not_found()
        return web.json_response(self.stats.get(endpoint, DEFAULT_STATS))

    async def _patch_body(
        self, request: web.Request, allowed: tuple[int, ...]
    ) -> int | web.Response:
        if request.content_type != "application/json":
            return self._violation("content type")
        try:
            body = await request.json()
        except ValueError:
            return self._violation("PATCH body is not JSON")
        self.patches.append((request.path.removeprefix(API), body))
        if not (
            isinstance(body, dict)
            and set(body) == {"status"}
            and isinstance(body["status"], dict)
            and set(body["status"]) == {"id"}
            and type(body["status"]["id"]) is int
            and body["status"]["id"] in allowed
        ):
            return self._violation(f"PATCH {request.path} body {body}")
        return int(body["status"]["id"])

    async def _patch_endpoint(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        status = await self._patch_body(request, (0, 1))
        if isinstance(status, web.Response):
            return status
        endpoint = self._known(request)
        if endpoint is None:
            return _not_found()
        self.endpoint(endpoint)["status"] = {
            "id": status,
            "description": ENDPOINT_STATUS[status],
        }
        return web.Response(status=204)

    async def _patch_sim(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        status = await self._patch_body(request, (1, 2))
        if isinstance(status, web.Response):
            return status
        raw = request.match_info["sim"]
        sims = [
            self.endpoint(e)["sim"]
            for e in sorted(self.endpoints)
            if isinstance(self.endpoint(e).get("sim"), dict)
        ]
        sim = next((s for s in sims if str(s.get("id")) == raw), None)
        if sim is None:
            return _not_found(f"SIM with Id '{raw}' not found.")
        if sim["status"]["id"] not in (1, 2):
            return web.json_response(
                {
                    "error_code": 1400,
                    "error_token": "InputValidationFailed",
                    "message": "Activated <-> Suspended only",
                },
                status=422,
            )
        sim["status"] = {"id": status, "description": SIM_STATUS[status]}
        return web.Response(status=204)

    async def _sms_list(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        endpoint = self._known(request)
        if endpoint is None:
            return _not_found()
        return web.json_response(
            [
                record
                for record in reversed(self.sms_records.values())
                if record["endpoint_id"] == str(endpoint)
            ]
        )

    async def _sms_details(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        endpoint = self._known(request)
        raw = request.match_info["sms"]
        record = self.sms_records.get(int(raw)) if raw.isdigit() else None
        if endpoint is None or record is None or record["endpoint_id"] != str(endpoint):
            return _not_found(f"SMS with Id '{raw}' not found.")
        return web.json_response(record)

    async def _sms(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        if request.content_type != "application/json":
            return self._violation("content type")
        body = await request.json()
        allowed = {
            "payload",
            "source_address",
            "source_address_type",
            "dest_address",
            "udh",
            "dcs",
            "expiry_date",
        }
        if not isinstance(body, dict) or set(body) - allowed:
            return self._violation(f"unknown fields: {body}")
        payload = body.get("payload")
        if not isinstance(payload, str) or not payload:
            return self._violation("payload must be a non-empty string")
        dcs = body.get("dcs", 0)
        if dcs == 0:
            if any(c not in GSM7_BASIC and c not in GSM7_EXTENSION for c in payload):
                return self._violation("dcs 0 with characters outside GSM-7")
            size = sum(2 if c in GSM7_EXTENSION else 1 for c in payload)
            limit = 153 if "udh" in body else 160
        elif dcs == 8:
            size = len(payload.encode("utf-16-le")) // 2
            limit = 67 if "udh" in body else 70
            if (
                all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in payload)
                and "udh" not in body
            ):
                return self._violation("UCS-2 used where GSM-7 fits")
        else:
            return self._violation(f"dcs {dcs!r}")
        if size > limit:
            return self._violation(f"payload of {size} exceeds {limit}")
        if "udh" in body:
            udh = body["udh"]
            if (
                not isinstance(udh, str)
                or len(udh) != 12
                or not udh.startswith("050003")
                or int(udh[8:10], 16) < 2
                or not 1 <= int(udh[10:12], 16) <= int(udh[8:10], 16)
            ):
                return self._violation(f"bad udh {udh!r}")
        if "source_address" in body:
            source = body["source_address"]
            if not isinstance(source, str) or len(source) > 21:
                return self._violation("source_address")
            if not source.isdigit() and (
                len(source) > 11 or body.get("source_address_type") != {"id": 208}
            ):
                return self._violation("alphanumeric sender needs type 208, ≤ 11")
        elif "source_address_type" in body:
            return self._violation("source_address_type without source_address")
        if "expiry_date" in body:
            try:
                datetime.fromisoformat(body["expiry_date"])
            except (TypeError, ValueError):
                return self._violation("expiry_date not ISO 8601")
        raw = request.match_info["endpoint"]
        endpoint = int(raw) if raw.isdigit() else -1
        if endpoint not in self.endpoints:
            return _not_found(f"Endpoint with Id '{raw}' not found.")
        self.sms.append({"endpoint": endpoint, **body})
        sms_id = next(self._ids)
        self.sms_records[sms_id] = sms_record(sms_id, endpoint, body)
        # As recorded: 201, text/html, no body, the new SMS's URL in Location.
        return web.Response(
            status=201,
            headers={
                "Content-Type": "text/html; charset=UTF-8",
                "Location": f"{request.scheme}://{request.host}{API}"
                f"/endpoint/{endpoint}/sms/{sms_id}",
            },
        )


ENDPOINT_STATUS = {0: "Enabled", 1: "Disabled", 2: "Deleted"}
SIM_STATUS = {
    0: "Issued",
    1: "Activated",
    2: "Suspended",
    3: "Deleted",
    4: "Factory Test",
}
SMS_STATUS = {
    1: "PENDING",
    2: "IN PROGRESS",
    3: "BUFFERED",
    4: "DELIVERED",
    5: "FAILED",
    6: "EXPIRED",
    7: "CANCELED",
}
# current_month: 1.5 (MB) of data, 2 SMS sent and 1 received. As the API reference
# shows it: volumes as decimal text, the cost a number.
DEFAULT_STATS: dict[str, Any] = {
    "last_month": {
        "data": {
            "volume": "9.000000",
            "volume_tx": "3.000000",
            "volume_rx": "6.000000",
            "cost": 0.9,
        }
    },
    "current_month": {
        "data": {
            "volume": "1.500000",
            "volume_tx": "0.500000",
            "volume_rx": "1.000000",
            "cost": 0.1,
        },
        "sms": {
            "volume": "3.000000",
            "volume_tx": "2.000000",
            "volume_rx": "1.000000",
            "cost": 0.03,
        },
    },
    "last_hour": {},
}
# An endpoint without traffic: "last_month and current_month will only be included in
# the responses if traffic exists" (emnify's API reference).
NO_TRAFFIC_STATS: dict[str, Any] = {"last_hour": {}}


def sms_record(sms_id: int, endpoint: int, body: dict[str, Any]) -> dict[str, Any]:
    """An MT SMS as ``GET /endpoint/{id}/sms`` lists it (get_all_device_sms.yaml)."""
    return {
        "submit_date": "2027-01-15T08:00:00.000+0000",
        "delivery_date": None,
        "expiry_date": "2027-01-16T08:00:00.000+0000",
        "final_date": None,
        "retry_count": "0",
        "dcs": str(body.get("dcs", 0)),
        "pid": "0",
        "source_address": body.get("source_address", ""),
        "endpoint_id": str(endpoint),
        "udh": body.get("udh", ""),
        "payload": body["payload"],
        "id": sms_id,
        "status": {"description": SMS_STATUS[1], "id": 1},
        "sms_type": {"description": "MT", "id": 1},
    }


def endpoint_fields(endpoint_id: int) -> dict[str, Any]:
    """An endpoint as GET /endpoint lists it: enabled, with an activated SIM."""
    return {
        "id": endpoint_id,
        "name": f"Endpoint {endpoint_id}",
        "status": {"id": 0, "description": "Enabled"},
        "imei": f"35{endpoint_id:013d}",
        "sim": {
            "id": 500000 + endpoint_id,
            "iccid": f"8988303{endpoint_id:012d}",
            "msisdn": f"42377{endpoint_id:07d}",
            "status": {"id": 1, "description": "Activated"},
        },
    }


def _not_found(text: str = "Endpoint not found.") -> web.Response:
    """A 404 as recorded (test_update_device_error_handling_device_id.yaml)."""
    return web.json_response(
        {"error_code": 1401, "error_token": "InvalidReference", "message": text},
        status=404,
    )

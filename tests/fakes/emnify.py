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
  ISO 8601 ``expiry_date``; answers 201.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import datetime
import itertools
import json
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
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_post(f"{API}/authenticate", self._authenticate)
        self.app.router.add_post(f"{API}/endpoint/{{endpoint}}/sms", self._sms)

    @property
    def application_token(self) -> str:
        return next(iter(self.application_tokens))

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
        return web.json_response({"error_description": text}, status=422)

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
                    fault[2] or {"error_description": f"fault {fault[1]}"},
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
        return web.json_response({"error_description": text}, status=401)

    async def _sms(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or token not in self.valid_tokens:
            return await self._unauthorized("Unauthorized")
        if self.valid_tokens[token] <= self.now:
            return await self._unauthorized("Token expired")
        if (fault := await self._fault(request)) is not None:
            return fault
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
        endpoint = int(request.match_info["endpoint"])
        if endpoint not in self.endpoints:
            return web.json_response(
                {"error_description": "Endpoint not found"}, status=404
            )
        self.sms.append({"endpoint": endpoint, **body})
        next(self._ids)
        return web.json_response({}, status=201)

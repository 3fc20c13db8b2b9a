"""A local fake of the Hologram REST API that checks every request as Hologram documents it.

Documented facts it enforces (shared/seeds/hologram-rest-send-cloud-message.md and
shared/PROVIDERS.md):
- HTTP Basic authentication, user name ``apikey``, password the API key;
- ``POST /devices/messages``: JSON object, ``deviceids`` a non-empty list of integers,
  ``port`` an integer 1-65535, ``protocol`` ``TCP``|``UDP``, exactly one of ``data`` /
  ``base64data`` (a string of at most 10K), ``encrypted`` a boolean when present;
- ``POST /sms/incoming``: one of ``deviceid`` (int) / ``deviceids`` (list of int), one of
  ``body`` / ``base64body``, optional ``fromnumber``;
- ``POST /devices/messages/{deviceid}/{webhookguid}``: no API key, ``{"data": str}``;
- ``GET /devices``: each device embeds ``links.cellular[0]`` {``id``, ``sim``,
  ``msisdn``, ``state``, ``whenexpires``, ``last_connect_time``,
  ``cur_billing_data_used``, ``last_billing_data_used``, ``plan``} (the link's fields
  as the docs.hologram.io example and apiary.apib "Device Link" show them; recorded
  in tests/fixtures/recorded/hologram/devices_*.yaml); they are kept at the device's
  top level here and moved into the link when listed (a device with ``links`` is
  listed as it is); ``lastsession`` and ``imei`` stay on the device;
- ``POST /devices/{id}/state``: exactly ``{"state": "live"}`` or ``{"state":
  "pause"}`` (``deactivate`` is permanent: a violation), recorded in
  ``state_changes``; pause → ``PAUSED-USER``, live → ``LIVE``;
- ``GET /csr/rdm`` (the account's device messages, "List Data Engine Messages"):
  answered in exactly the shape of docs.hologram.io's example
  (tests/fixtures/recorded/hologram/csr_rdm_docs_example.yaml): newest first,
  ``limit`` (default 25), ``continues``/``lastid``/``links.next`` when more follow,
  ``startafter`` for the next (older) page, filters ``orgid``, ``deviceid``,
  ``deviceids``, ``timestart``/``timeend`` (UNIX seconds, on ``logged``); each record
  {``id``, ``logged``, ``expires``, ``orgid``, ``deviceid``, ``record_id``,
  ``device_metadata``, ``data`` (the message as JSON text, its payload base64),
  ``matched_rules``, ``tags``}. Add messages with :meth:`FakeHologram.add_message`;
  401/429/500/garbage with :meth:`FakeHologram.fail`;
- answers ``{"success": true, "data": ...}`` or ``{"success": false, "error": ...}``.

A request that breaks the documented schema is answered 400 and recorded in
``violations``; the test fixture fails the test when any was recorded.
Faults can be queued with :meth:`FakeHologram.fail`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
from typing import Any
import uuid

from aiohttp import web

MAX_DATA = 10 * 1024
API = "/api/1"


@dataclass
class Fault:
    """A queued fault: the next matching request gets it instead of an answer."""

    path: str | None
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    hang: bool = False
    raw: bytes | None = None
    reset: bool = False
    hold: asyncio.Event | None = None


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeHologram:
    """The fake server's state and its aiohttp application."""

    def __init__(self) -> None:
        self.api_keys: dict[str, int] = {"test-api-key": 1001}
        self.users: dict[int, dict[str, Any]] = {
            1001: {
                "id": 1001,
                "email": "owner@example.com",
                "first": "Holly",
                "last": "Graham",
                "personal_org": 5001,
            },
            1002: {"id": 1002, "email": "other@example.com", "personal_org": 5002},
        }
        # org id -> user ids that may use it
        self.orgs: dict[int, dict[str, Any]] = {
            5001: {"id": 5001, "name": "Holly's org", "users": [1001]},
            7001: {"id": 7001, "name": "Fleet Ltd", "users": [1001]},
            5002: {"id": 5002, "name": "Other org", "users": [1002]},
        }
        self.devices: dict[int, dict[str, Any]] = {
            123456: {"id": 123456, "orgid": 7001, "name": "Van tracker"},
            234567: {"id": 234567, "orgid": 7001, "name": "Boat sensor"},
            345678: {"id": 345678, "orgid": 5001, "name": "Garden"},
        }
        for device in self.devices.values():
            device.update(sim_fields(device["id"]))
        self.state_changes: list[tuple[int, str]] = []
        self.webhooks: dict[str, int] = {"AbCdEf123": 123456}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.cloud_messages: list[dict[str, Any]] = []
        self.sms: list[dict[str, Any]] = []
        # GET /csr/rdm: the stored device messages, in the order they were logged.
        self.messages: list[dict[str, Any]] = []
        self._next_message_id = 77430390
        self.release = asyncio.Event()
        # Called when a test asks for a hang: the fixture shortens the client's
        # timeout then, and only then (a short one for every test is a budget a
        # busy machine misses).
        self.on_hang: Callable[[], None] = lambda: None
        # Set when a request reaches a fault with ``hold`` (it waits for the gate).
        self.held = asyncio.Event()
        self._flaky: tuple[str, list[str]] | None = None
        self._flaky_calls = 0
        self.injected: list[str] = []
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_get(f"{API}/users/me", self._users_me)
        self.app.router.add_get(f"{API}/organizations/{{orgid}}", self._organization)
        self.app.router.add_get(f"{API}/devices", self._devices)
        self.app.router.add_post(f"{API}/devices/messages", self._cloud_message)
        self.app.router.add_post(
            f"{API}/devices/messages/{{deviceid}}/{{guid}}", self._device_webhook
        )
        self.app.router.add_post(f"{API}/sms/incoming", self._sms)
        self.app.router.add_post(f"{API}/devices/{{deviceid}}/state", self._state)
        self.app.router.add_get(f"{API}/csr/rdm", self._messages)

    # --- test controls -------------------------------------------------------------

    def fail(
        self,
        path: str | None = None,
        status: int = 500,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        hang: bool = False,
        raw: bytes | None = None,
        reset: bool = False,
        hold: asyncio.Event | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path``, or any) with a fault.

        ``hang`` holds the answer until the test ends (the client times out);
        ``reset`` closes the connection without an answer; ``hold`` holds the
        answer until the test sets that event (``held`` is set when one waits).
        """
        if hang:
            self.on_hang()
        self.faults.append(
            Fault(path, status, body, headers or {}, times, hang, raw, reset, hold)
        )

    def flaky(self, path: str, kinds: list[str]) -> None:
        """Fail every other request to ``path``, cycling through fault ``kinds``.

        Kinds: "500", "503", "429" (no Retry-After), "429-retry-after", "reset",
        "timeout". Each fault happens before the message is accepted (recorded).
        """
        if "timeout" in kinds:
            self.on_hang()
        self._flaky = (f"{API}{path}", kinds)

    def add_devices(
        self, count: int, *, orgid: int = 7001, first_id: int = 1, **fields: Any
    ) -> list[int]:
        """Add ``count`` devices (ids from ``first_id``) with SIM fields; their ids."""
        ids = list(range(first_id, first_id + count))
        for device_id in ids:
            self.devices[device_id] = {
                "id": device_id,
                "orgid": orgid,
                "name": f"Device {device_id}",
                **sim_fields(device_id),
                **fields,
            }
        return ids

    def set_device(self, device_id: int, **fields: Any) -> None:
        """Change a device's fields (``state``, ``lastsession``, ...); ``DROP`` removes one."""
        device = self.devices[device_id]
        for key, value in fields.items():
            if value is DROP and key in _LINK_FIELDS:
                device[key] = None  # left out of the link
            elif value is DROP:
                device.pop(key, None)
            else:
                device[key] = value

    def add_message(
        self,
        device_id: int,
        data: bytes | str,
        *,
        tags: list[str] | None = None,
        logged: datetime | None = None,
    ) -> dict[str, Any]:
        """Store a message the device sent (its record, as GET /csr/rdm lists it).

        Hologram adds the device's system topic; ``tags`` are the message's others
        (``_SMS_DO_`` for an SMS reply, ``_DATALIMIT_`` for a notice...).
        """
        device = self.devices[device_id]
        payload = data.encode() if isinstance(data, str) else data
        when = (logged or datetime.now(UTC)).astimezone(UTC)
        record_id = str(uuid.uuid1())
        topics = [*(tags or []), f"_DEVICE_{device_id}_"]
        inner = {
            "authtype": "deviceid",
            "source": device_id,
            "tags": topics,
            "data": base64.b64encode(payload).decode(),
            "received": when.replace(microsecond=0).isoformat(),
            "record_id": record_id,
            "device_id": device_id,
            "device_name": device["name"],
        }
        record = {
            "id": self._next_message_id,
            "logged": when.strftime("%Y-%m-%d %H:%M:%S"),
            "expires": when.replace(year=when.year + 1).strftime("%Y-%m-%d %H:%M:%S"),
            "orgid": device["orgid"],
            "deviceid": device_id,
            "record_id": record_id,
            "device_metadata": "{}",
            "data": json.dumps(inner),
            "matched_rules": [],
            "tags": list(reversed(topics)),
        }
        self._next_message_id += 1
        self.messages.append(record)
        return record

    def calls(self, path: str) -> list[Recorded]:
        """The requests received for one API path (without the /api/1 prefix)."""
        return [r for r in self.requests if r.path == f"{API}{path}"]

    # --- plumbing ---------------------------------------------------------------------

    def _violation(self, text: str) -> web.Response:
        self.violations.append(text)
        return _error(400, text)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Any
    ) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
            )
        )
        if self._flaky is not None and request.path == self._flaky[0]:
            self._flaky_calls += 1
            if self._flaky_calls % 2 == 1:
                kinds = self._flaky[1]
                kind = kinds[(self._flaky_calls // 2) % len(kinds)]
                self.injected.append(kind)
                return await self._inject(request, kind)
        for fault in self.faults:
            if fault.path is None or request.path == f"{API}{fault.path}":
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                if fault.hang:
                    await self.release.wait()
                if fault.hold is not None:
                    self.held.set()
                    await fault.hold.wait()
                if fault.reset:
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response(status=500)
                if fault.raw is not None:
                    return web.Response(
                        status=fault.status, body=fault.raw, headers=fault.headers
                    )
                return web.json_response(
                    fault.body
                    if fault.body is not None
                    else {"success": False, "error": f"fault {fault.status}"},
                    status=fault.status,
                    headers=fault.headers,
                )
        return await handler(request)

    async def _inject(self, request: web.Request, kind: str) -> web.StreamResponse:
        if kind == "timeout":
            await self.release.wait()
        if kind == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if kind == "429-retry-after":
            return _error(429, "API rate limit exceeded", headers={"Retry-After": "1"})
        return _error(int(kind), f"fault {kind}")

    def _user(self, request: web.Request) -> dict[str, Any] | web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return _error(401, "Unauthorized")
        try:
            user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return self._violation("Authorization header is not Basic base64")
        if user != "apikey":
            return self._violation(f"Basic auth user name must be apikey, got {user!r}")
        if key not in self.api_keys:
            return _error(401, "Invalid API key")
        return self.users[self.api_keys[key]]

    async def _json_object(self, request: web.Request) -> dict[str, Any] | web.Response:
        if request.content_type != "application/json":
            return self._violation(f"content type {request.content_type}")
        try:
            body = await request.json()
        except ValueError:
            return self._violation("body is not JSON")
        if not isinstance(body, dict):
            return self._violation("body is not a JSON object")
        return body

    def _device_allowed(self, user: dict[str, Any], device_id: int) -> bool:
        device = self.devices.get(device_id)
        if device is None:
            return False
        org = self.orgs.get(device["orgid"], {})
        return user["id"] in org.get("users", [])

    # --- endpoints -------------------------------------------------------------------

    async def _users_me(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        return web.json_response({"success": True, "data": user})

    async def _organization(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        try:
            org = self.orgs[int(request.match_info["orgid"])]
        except (KeyError, ValueError):
            return _error(404, "Organization not found")
        if user["id"] not in org["users"]:
            return _error(403, "Forbidden")
        return web.json_response(
            {"success": True, "data": {"id": org["id"], "name": org["name"]}}
        )

    async def _devices(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        try:
            limit = int(request.query.get("limit", "25"))
            orgid = int(request.query["orgid"]) if "orgid" in request.query else None
            after = (
                int(request.query["startafter"])
                if "startafter" in request.query
                else None
            )
        except ValueError:
            return self._violation("limit/orgid/startafter must be integers")
        devices = sorted(
            (
                d
                for d in self.devices.values()
                if self._device_allowed(user, d["id"])
                and (orgid is None or d["orgid"] == orgid)
                and (after is None or d["id"] > after)
            ),
            key=lambda d: d["id"],
        )
        page = devices[:limit]
        payload: dict[str, Any] = {
            "success": True,
            "limit": limit,
            "size": len(page),
            "data": [_listed(d) for d in page],
        }
        if len(devices) > limit:
            payload["continues"] = True
            payload["lastid"] = page[-1]["id"]
        return web.json_response(payload)

    async def _cloud_message(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        body = await self._json_object(request)
        if isinstance(body, web.Response):
            return body
        allowed = {
            "deviceids",
            "port",
            "protocol",
            "data",
            "base64data",
            "encrypted",
            "orgid",
        }
        if extra := set(body) - allowed:
            return self._violation(f"unknown fields {sorted(extra)}")
        ids = body.get("deviceids")
        if not isinstance(ids, list) or not ids or not all(_is_int(i) for i in ids):
            return self._violation(
                f"deviceids must be a non-empty list of integers: {ids!r}"
            )
        port = body.get("port")
        if not _is_int(port) or not 1 <= port <= 65535:
            return self._violation(f"port out of range: {port!r}")
        if body.get("protocol") not in ("TCP", "UDP"):
            return self._violation(f"protocol not TCP/UDP: {body.get('protocol')!r}")
        if "encrypted" in body and not isinstance(body["encrypted"], bool):
            return self._violation("encrypted must be a boolean")
        if ("data" in body) == ("base64data" in body):
            return self._violation("exactly one of data/base64data")
        payload = body.get("data", body.get("base64data"))
        if not isinstance(payload, str) or len(payload.encode()) > MAX_DATA:
            return self._violation("data must be a string of at most 10K")
        if "base64data" in body:
            try:
                base64.b64decode(payload, validate=True)
            except binascii.Error:
                return self._violation("base64data is not base64")
        for device_id in ids:
            if not self._device_allowed(user, device_id):
                return _error(400, "Invalid Device ID")
        self.cloud_messages.append(body)
        return web.json_response(
            {
                "success": True,
                "data": [{"deviceid": i, "messageid": str(uuid.uuid4())} for i in ids],
            }
        )

    async def _sms(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        body = await self._json_object(request)
        if isinstance(body, web.Response):
            return body
        allowed = {
            "deviceid",
            "deviceids",
            "body",
            "base64body",
            "fromnumber",
            "phonenumber",
        }
        if extra := set(body) - allowed:
            return self._violation(f"unknown fields {sorted(extra)}")
        if ("deviceid" in body) == ("deviceids" in body):
            return self._violation("exactly one of deviceid/deviceids")
        ids = body["deviceids"] if "deviceids" in body else [body["deviceid"]]
        if not isinstance(ids, list) or not ids or not all(_is_int(i) for i in ids):
            return self._violation(f"device ids must be integers: {ids!r}")
        if ("body" in body) == ("base64body" in body):
            return self._violation("exactly one of body/base64body")
        text = body.get("body", body.get("base64body"))
        if not isinstance(text, str) or not text:
            return self._violation("body must be a non-empty string")
        if "fromnumber" in body and not isinstance(body["fromnumber"], str):
            return self._violation("fromnumber must be a string")
        for device_id in ids:
            if not self._device_allowed(user, device_id):
                return _error(400, "Invalid Device ID")
        self.sms.append(body)
        return web.json_response({"success": True, "data": {"msgcount": len(ids)}})

    async def _state(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        body = await self._json_object(request)
        if isinstance(body, web.Response):
            return body
        if body not in ({"state": "live"}, {"state": "pause"}):
            return self._violation(
                f'the body must be {{"state": "live"|"pause"}}: {body}'
            )
        raw_id = request.match_info["deviceid"]
        device_id = int(raw_id) if raw_id.isdigit() else 0
        if not self._device_allowed(user, device_id):
            return _error(400, "Invalid Device ID")
        self.state_changes.append((device_id, body["state"]))
        self.devices[device_id]["state"] = (
            "LIVE" if body["state"] == "live" else "PAUSED-USER"
        )
        return web.json_response({"success": True, "data": {}})

    async def _messages(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if isinstance(user, web.Response):
            return user
        query = request.query
        known = {
            "limit",
            "orgid",
            "deviceid",
            "deviceids",
            "startafter",
            "timestart",
            "timeend",
        }
        if unknown := set(query) - known:
            return self._violation(f"/csr/rdm: parameters not used here: {unknown}")
        try:
            limit = int(query.get("limit", "25"))
            numbers = {
                key: int(query[key])
                for key in ("orgid", "deviceid", "startafter", "timestart", "timeend")
                if key in query
            }
            device_ids = (
                {int(i) for i in query["deviceids"].split(",")}
                if "deviceids" in query
                else None
            )
        except ValueError:
            return self._violation("/csr/rdm: parameters must be integers")
        if limit < 1:
            return self._violation("/csr/rdm: limit must be positive")

        def wanted(record: dict[str, Any]) -> bool:
            logged = datetime.strptime(record["logged"], "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=UTC
            )
            org = self.orgs.get(record["orgid"], {})
            return (
                user["id"] in org.get("users", [])
                and record["orgid"] == numbers.get("orgid", record["orgid"])
                and record["deviceid"] == numbers.get("deviceid", record["deviceid"])
                and (device_ids is None or record["deviceid"] in device_ids)
                and record["id"] < numbers.get("startafter", record["id"] + 1)
                and logged.timestamp() >= numbers.get("timestart", 0)
                and logged.timestamp() <= numbers.get("timeend", logged.timestamp())
            )

        listed = sorted(
            (r for r in self.messages if wanted(r)), key=lambda r: r["id"], reverse=True
        )
        page = listed[:limit]
        payload: dict[str, Any] = {
            "success": True,
            "limit": limit,
            "size": len(page),
        }
        if len(listed) > limit:
            payload["continues"] = True
            payload["links"] = {
                "path": "/api/1/csr/rdm/",
                "base": "dashboard.hologram.io",
                "next": f"/api/1/csr/rdm/?limit={limit}&startafter={page[-1]['id']}",
            }
        if page:
            payload["lastid"] = page[-1]["id"]
        payload["data"] = page
        return web.json_response(payload)

    async def _device_webhook(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:
            return self._violation("the device webhook takes no API key")
        guid = request.match_info["guid"]
        device_id = request.match_info["deviceid"]
        if self.webhooks.get(guid) != int(device_id) if device_id.isdigit() else True:
            return _error(404, "Invalid webhook")
        body = await self._json_object(request)
        if isinstance(body, web.Response):
            return body
        if set(body) != {"data"} or not isinstance(body["data"], str):
            return self._violation('the body must be {"data": "<string>"}')
        if len(body["data"].encode()) > MAX_DATA:
            return self._violation("data larger than 10K")
        self.cloud_messages.append({"deviceids": [int(device_id)], **body})
        return web.json_response(
            {
                "success": True,
                "data": [{"deviceid": int(device_id), "messageid": str(uuid.uuid4())}],
            }
        )


DROP = object()
"""Given to :meth:`FakeHologram.set_device`: leave the field out of the answer."""
_LINK_FIELDS = (
    "state",
    "sim",
    "msisdn",
    "whenexpires",
    "last_connect_time",
    "cur_billing_data_used",
    "last_billing_data_used",
    "plan",
)


def sim_fields(device_id: int) -> dict[str, Any]:
    """The SIM fields of a device as the fake stores them (a live SIM)."""
    return {
        "state": "LIVE",
        "sim": f"8901{device_id:015d}",
        "msisdn": f"+88234{device_id:08d}",
        "lastsession": {
            "session_begin": "2025-03-10 08:00:00",
            "session_end": "2025-03-10 09:30:00",
            "bytes": 2048,
            "network_name": "Fake Net",
            "radio_access_technology": "LTE",
            "active": False,
        },
        "cur_billing_data_used": 1_048_576,
        "last_billing_data_used": 2_000_000,
        "whenexpires": "2025-03-31 12:00:00",
        "last_connect_time": "2025-03-10 08:00:00",
    }


def _listed(device: dict[str, Any]) -> dict[str, Any]:
    """A device as GET /devices lists it: the link fields inside links.cellular."""
    listed = {k: v for k, v in device.items() if k not in _LINK_FIELDS}
    listed["phonenumber"] = ""
    if "links" not in device:
        # A device stored without a SIM field keeps the ICCID the fake always listed.
        fields = {"sim": f"8901{device['id']:015d}", **device}
        link = {"id": 90000 + device["id"]}
        link.update({k: fields[k] for k in _LINK_FIELDS if fields.get(k) is not None})
        listed["links"] = {"cellular": [link]}
    return listed


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(
    status: int, text: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"success": False, "error": text}, status=status, headers=headers
    )

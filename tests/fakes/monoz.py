"""A local fake of the monoZ:Link REST API that answers in the shapes monoZ documents.

Shapes from Pratiksha605/monoZDocs docs/monoZLink/apirefrence/ (the replays of those
examples are tests/fixtures/recorded/monoz/):

- Every call needs ``X-API-Key`` with the organisation's key, else 401
  ``{"Error": true, "StatusCode": 401, "Message": "Unauthorized"}`` (the status is
  documented; no error body is published: this one has the fields of the documented
  answers).
- ``GET /api/v1/{org}/Device/Sim/Detail/{ICCID}``: 200 ``{"Error": false, "Message":
  "FetchSuccess", "StatusCode": 200, "Data": {...}}`` with the documented fields (Name,
  ICCID, IMEILock, ActivationDate, ExpiryDate, Status, MessageCount, DLMessageCount,
  Volume, CreatedDate, UpdatedDate) for a known ICCID, 404 otherwise (the validate()
  probe ICCID too). ``Status`` is an integer, as documented; its values are not
  documented, so the fake answers ``status_code`` and never ties it to Enabled.
- ``GET /api/v1/{org}/Sim/Enable/{ICCID}``: ``{"Error": false, "Message":
  "FetchSuccess", "StatusCode": 200, "Data": {"Enabled": bool}}``.
- ``PUT /api/v1/{org}/Sim/Enable`` takes exactly ``{"ICCID": str, "Enable": bool}``,
  sets ``sim_enabled`` and answers ``{"Error": false, "StatusCode": 200, "Message":
  "UpdateSuccess"}``.
- ``sims_hidden = True``: every SIM page answers 404 (monoZ hid them in 2025).
- ``POST /api/v1/{org}/Publish/Message`` takes a JSON body with ``ICCID`` (string),
  ``Topic`` (empty or starting with ``/``), ``Message`` (string, 1-4096 bytes), ``QoS``
  (0 or 1), ``Format`` (0 JSON, which must parse, or 1 TEXT) and, optionally (it is in
  the documented example), ``RetainLastMessage`` (bool);
  answers ``{"StatusCode": 200, "Message": "MessagePublished"}`` (no ``Error`` key,
  as published), 400 for a malformed body and 404 for an unknown ICCID.

``fail(path_suffix, status, body, hang=...)`` queues one injected answer (or a hang,
for timeouts); anything that breaks the documented contract lands in ``violations``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from typing import Any

from aiohttp import web

API = "/api/v1"
ORG_ID = "mti"
API_KEY = "3fa36b0e-c88b-45f4-95b9-d77c0e27c07a"
ICCID = "8981100005819480000"


def _answer(status: int, message: str, **extra: Any) -> web.Response:
    body = {"Error": status >= 400, "StatusCode": status, "Message": message, **extra}
    return web.json_response(body, status=status)


class FakeMonoz:
    """The fake server's state and its aiohttp application."""

    def __init__(self) -> None:
        self.org_id = ORG_ID
        self.api_key = API_KEY
        self.iccids = {ICCID, "8981100005819480001"}
        self.published: list[dict[str, Any]] = []
        self.detail_calls: list[str] = []
        # Data.Enabled of each SIM (True when not set).
        self.sim_enabled: dict[str, bool] = {}
        # Data.Status of the SIM detail: a documented integer of undocumented values.
        self.status_code = 1
        self.sim_data: dict[str, dict[str, Any]] = {}
        self.enable_calls: list[Any] = []
        self.sims_hidden = False
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []
        self.faults: list[tuple[str, int, Any, bool]] = []
        self.release = asyncio.Event()
        # Called when a test asks for a hang (the fixture shortens the timeout).
        self.on_hang: Callable[[], None] = lambda: None
        self.app = web.Application(middlewares=[self._record])
        self.app.router.add_get(
            f"{API}/{{org}}/Device/Sim/Detail/{{iccid}}", self._detail
        )
        self.app.router.add_post(f"{API}/{{org}}/Publish/Message", self._publish)
        self.app.router.add_put(f"{API}/{{org}}/Sim/Enable", self._enable)
        self.app.router.add_get(f"{API}/{{org}}/Sim/Enable/{{iccid}}", self._enabled)

    def calls(self, suffix: str) -> list[tuple[str, str]]:
        """The requests (method, path) whose path ends with ``suffix``."""
        return [r for r in self.requests if r[1].endswith(suffix)]

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        return await handler(request)

    def fail(
        self, suffix: str, status: int, body: Any = None, *, hang: bool = False
    ) -> None:
        """Answer the next request whose path ends with ``suffix`` this way."""
        if hang:
            self.on_hang()
        self.faults.append((suffix, status, body, hang))

    async def _fault(self, request: web.Request) -> web.StreamResponse | None:
        for index, (suffix, status, body, hang) in enumerate(self.faults):
            if request.path.endswith(suffix):
                del self.faults[index]
                if hang:
                    await self.release.wait()
                if isinstance(body, web.StreamResponse):
                    return body
                if isinstance(body, bytes):
                    return web.Response(status=status, body=body)
                if body is None:
                    return web.Response(status=status)
                return web.json_response(body, status=status)
        return None

    def _authorized(self, request: web.Request) -> bool:
        return (
            request.match_info["org"] == self.org_id
            and request.headers.get("X-API-Key") == self.api_key
        )

    async def _detail(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._fault(request)) is not None:
            return fault
        if not self._authorized(request):
            return _answer(401, "Unauthorized")
        iccid = request.match_info["iccid"]
        self.detail_calls.append(iccid)
        if iccid not in self.iccids or self.sims_hidden:
            return _answer(404, "ICCID not found")
        data = {
            "Name": "tracker",
            "ICCID": iccid,
            "IMEILock": False,
            "ActivationDate": "2024-05-01T00:00:00",
            "ExpiryDate": "2034-04-30T23:59:59",
            "Status": self.status_code,
            "MessageCount": 3,
            "DLMessageCount": 1,
            "Volume": 500,
            "CreatedDate": "2024-04-30T09:00:00",
            "UpdatedDate": "2024-05-01T00:00:00",
        }
        return _answer(200, "FetchSuccess", Data=data | self.sim_data.get(iccid, {}))

    async def _enabled(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._fault(request)) is not None:
            return fault
        if not self._authorized(request):
            return _answer(401, "Unauthorized")
        iccid = request.match_info["iccid"]
        if iccid not in self.iccids or self.sims_hidden:
            return _answer(404, "ICCID not found")
        return _answer(
            200, "FetchSuccess", Data={"Enabled": self.sim_enabled.get(iccid, True)}
        )

    async def _enable(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._fault(request)) is not None:
            return fault
        if not self._authorized(request):
            return _answer(401, "Unauthorized")
        if self.sims_hidden:
            return _answer(404, "Not Found")
        try:
            body = json.loads(await request.read())
        except ValueError:
            self.violations.append("Sim/Enable body is not JSON")
            return _answer(400, "BadRequest")
        self.enable_calls.append(body)
        if (
            request.content_type != "application/json"
            or not isinstance(body, dict)
            or set(body) != {"ICCID", "Enable"}
            or not isinstance(body["ICCID"], str)
            or not isinstance(body["Enable"], bool)
        ):
            self.violations.append(f"Sim/Enable body {body!r}")
            return _answer(400, "BadRequest")
        if body["ICCID"] not in self.iccids:
            return _answer(404, "ICCID not found")
        self.sim_enabled[body["ICCID"]] = body["Enable"]
        return _answer(200, "UpdateSuccess")

    async def _publish(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._fault(request)) is not None:
            return fault
        if not self._authorized(request):
            return _answer(401, "Unauthorized")
        if request.content_type != "application/json":
            self.violations.append(f"content type {request.content_type}")
            return _answer(400, "BadRequest")
        try:
            body = json.loads(await request.read())
        except ValueError:
            self.violations.append("body is not JSON")
            return _answer(400, "BadRequest")
        problem = self._check(body)
        if problem is not None:
            self.violations.append(problem)
            return _answer(400, problem)
        if body["ICCID"] not in self.iccids:
            return _answer(404, "ICCID not found")
        self.published.append(body)
        # As published: no "Error" key in this answer.
        return web.json_response({"StatusCode": 200, "Message": "MessagePublished"})

    @staticmethod
    def _check(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body is not an object"
        keys = {"ICCID", "Topic", "Message", "QoS", "Format"}
        # RetainLastMessage (bool) is in monoZ's example request too.
        if not keys <= set(body) <= keys | {"RetainLastMessage"}:
            return f"keys {sorted(body)}"
        if not isinstance(body.get("RetainLastMessage", False), bool):
            return "RetainLastMessage"
        if not isinstance(body["ICCID"], str) or not body["ICCID"]:
            return "ICCID"
        topic = body["Topic"]
        if not isinstance(topic, str) or (topic and not topic.startswith("/")):
            return "Topic"
        message = body["Message"]
        if not isinstance(message, str) or not 1 <= len(message.encode()) <= 4096:
            return "Message"
        if body["QoS"] not in (0, 1) or isinstance(body["QoS"], bool):
            return "QoS"
        if body["Format"] not in (0, 1) or isinstance(body["Format"], bool):
            return "Format"
        if body["Format"] == 0:
            try:
                json.loads(message)
            except ValueError:
                return "Format 0 with a message that is not JSON"
        return None

"""The Hologram client on its own: paging, parsing and argument checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import gzip
from typing import Any

from aiohttp import ClientSession, web
import pytest

from custom_components.cellular_iot.providers import hologram as hologram_module
from custom_components.cellular_iot.providers._http import basic_authorization
from custom_components.cellular_iot.providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from custom_components.cellular_iot.providers.hologram import (
    HologramClient,
    is_device_webhook_url,
    send_to_device_webhook,
)

from .conftest import API_KEY
from .fakes.hologram import FakeHologram
from .guards import HANG_GUARD

# A client timeout that only guards against a hang: no test waits for it.


async def test_list_devices_pages_through_all(hologram: FakeHologram) -> None:
    for device_id in range(1, 251):
        hologram.devices[device_id] = {"id": device_id, "orgid": 7001, "name": ""}
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, org_id=7001)
        devices = await client.list_devices()
        first = await client.list_devices(limit=3)
    assert len(devices) == 252
    assert len({d.device_id for d in devices}) == 252
    assert devices[0].name == "Device 1"
    assert devices[-1].iccid == "8901000000000234567"
    assert [d.device_id for d in first] == [1, 2, 3]
    pages = hologram.calls("/devices")
    assert [p.query.get("startafter") for p in pages[:3]] == [None, "100", "200"]
    assert all(p.query["orgid"] == "7001" for p in pages)
    assert pages[-1].query["limit"] == "3"


async def test_list_devices_skips_malformed(hologram: FakeHologram) -> None:
    hologram.fail(
        "/devices",
        200,
        {"success": True, "data": [{"id": "x"}, "junk", {"id": "42", "name": "A"}]},
    )
    async with ClientSession() as session:
        devices = await HologramClient(session, API_KEY).list_devices()
    assert [(d.device_id, d.name) for d in devices] == [(42, "A")]


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "data": "nope"},
        {"success": True},
    ],
)
async def test_list_devices_without_list(hologram: FakeHologram, body: object) -> None:
    hologram.fail("/devices", 200, body)
    async with ClientSession() as session:
        with pytest.raises(ProviderResponseError):
            await HologramClient(session, API_KEY).list_devices()


@pytest.mark.parametrize(
    "data",
    [None, [], {"first": "No id"}, {"id": True}],
)
async def test_get_me_malformed(hologram: FakeHologram, data: object) -> None:
    hologram.fail("/users/me", 200, {"success": True, "data": data})
    async with ClientSession() as session:
        with pytest.raises(ProviderResponseError):
            await HologramClient(session, API_KEY).get_me()


async def test_get_organization_malformed(hologram: FakeHologram) -> None:
    hologram.fail("/organizations/7001", 200, {"success": True, "data": []})
    async with ClientSession() as session:
        with pytest.raises(ProviderResponseError):
            await HologramClient(session, API_KEY).get_organization(7001)


async def test_cloud_message_result_fallbacks(hologram: FakeHologram) -> None:
    hologram.fail(
        "/devices/messages",
        200,
        {"success": True, "data": [{"Devicesid": 123456, "messageid": "m1"}, "junk"]},
    )
    hologram.fail("/devices/messages", 200, {"success": True})
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY)
        first = await client.send_cloud_message([123456], port=1, data="x")
        second = await client.send_cloud_message([123456], port=1, data="x")
    assert [(r.device_id, r.message_id) for r in first] == [(123456, "m1")]
    assert [(r.device_id, r.message_id) for r in second] == [(123456, None)]


async def test_sms_to_several_devices(hologram: FakeHologram) -> None:
    async with ClientSession() as session:
        data = await HologramClient(session, API_KEY).send_sms([123456, 234567], "hi")
    assert data == {"msgcount": 2}
    assert hologram.sms == [{"deviceids": [123456, 234567], "body": "hi"}]


async def test_connection_refused(socket_enabled: None) -> None:
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, base_url="http://127.0.0.1:9")
        with pytest.raises(ProviderConnectionError):
            await client.get_me()


async def test_client_argument_checks() -> None:
    async with ClientSession() as session:
        with pytest.raises(ValueError):
            HologramClient(session, "")
        client = HologramClient(session, API_KEY)
        assert client.org_id is None
        for kwargs in (
            {"port": 0, "data": "x"},
            {"port": 1, "protocol": "FTP", "data": "x"},
            {"port": 1},
            {"port": 1, "data": "x" * 10241},
            {"port": 1, "data_base64": "x" * 10241},
        ):
            with pytest.raises(ValueError):
                await client.send_cloud_message([1], **kwargs)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await client.send_cloud_message([], port=1, data="x")
        with pytest.raises(TypeError):
            await client.send_cloud_message(["1"], port=1, data="x")  # type: ignore[list-item]
        with pytest.raises(ValueError):
            await client.send_cloud_message([0], port=1, data="x")
        with pytest.raises(ValueError):
            await client.send_sms([1], "")


def test_device_webhook_url_shapes() -> None:
    assert is_device_webhook_url(
        "https://dashboard.hologram.io/api/1/devices/messages/123/AbC-d_9"
    )
    assert not is_device_webhook_url("https://dashboard.hologram.io/api/1/devices")
    assert not is_device_webhook_url("//x/devices/messages/1/a")


WEBHOOK_PATH = "/api/1/devices/messages/123456/AbCdEf123"


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:8123{WEBHOOK_PATH}",
        f"http://169.254.169.254{WEBHOOK_PATH}",
        f"https://169.254.169.254{WEBHOOK_PATH}",
        f"https://[::1]{WEBHOOK_PATH}",
        f"http://dashboard.hologram.io{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io:8443{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io:443{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io.{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io.evil.example{WEBHOOK_PATH}",
        f"https://evil.example/dashboard.hologram.io{WEBHOOK_PATH}",
        f"https://user:pw@dashboard.hologram.io{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io@evil.example{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io{WEBHOOK_PATH}?next=http://evil.example",
        f"https://dashboard.hologram.io{WEBHOOK_PATH}#x",
        f"https://dashboard.hologram.io/other{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io{WEBHOOK_PATH}\n",
        f"https://dashboard.hologram.io{WEBHOOK_PATH}/extra",
        "https://dashboard.hologram.io/api/1/devices/messages/0/AbCdEf123",
        "https://dashboard.hologram.io/api/1/devices/messages/123456/Ab%2FCd",
        "https://dashboard.hologram.io/api/1/devices/messages/123456/" + "a" * 129,
        f"https://[::1{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io:99999{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io:-1{WEBHOOK_PATH}",
        f"https://dashboard.hologr\u0430m.io{WEBHOOK_PATH}",  # Cyrillic a
    ],
)
def test_device_webhook_url_only_hologram(url: str) -> None:
    """Only https://dashboard.hologram.io, as written, is a device webhook origin."""
    assert not is_device_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    [
        f"https://dashboard.hologram.io{WEBHOOK_PATH}",
        f"https://dashboard.hologram.io{WEBHOOK_PATH}/",
        f"https://Dashboard.Hologram.IO{WEBHOOK_PATH}",
    ],
)
def test_device_webhook_url_accepted(url: str) -> None:
    assert is_device_webhook_url(url)


class HostileServer:
    """A server at the webhook origin that answers with whatever a test asks for."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.paths: list[str] = []
        self.written = 0
        self.answer: Any = None
        self.closed = asyncio.Event()
        self.release = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        await request.read()
        return await self.answer(request)

    async def stream(
        self,
        request: web.Request,
        total: int,
        *,
        content_length: int | None = None,
        chunk: bytes = b" " * 65536,
    ) -> web.StreamResponse:
        """Write ``total`` bytes (JSON padded with spaces), counting what went out."""
        response = web.StreamResponse()
        response.content_type = "application/json"
        if content_length is not None:
            response.content_length = content_length
        await response.prepare(request)
        try:
            await response.write(b'{"success": true, "data": []}')
            while self.written < total:
                await response.write(chunk)
                self.written += len(chunk)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.closed.set()
        return response


@pytest.fixture
async def hostile(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[HostileServer]:
    """A HostileServer standing in for https://dashboard.hologram.io."""
    server = HostileServer()
    runner = web.AppRunner(server.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setattr(
        hologram_module,
        "DEVICE_WEBHOOK_ORIGIN",
        f"http://127.0.0.1:{port}",
        raising=False,  # the same tests can run against code without the constant
    )
    yield server
    server.release.set()
    await runner.cleanup()


async def _post_webhook(data: str = "x", timeout: float = HANG_GUARD) -> Any:
    url = f"{hologram_module.DEVICE_WEBHOOK_ORIGIN}{WEBHOOK_PATH}"
    async with ClientSession() as session:
        return await send_to_device_webhook(session, url, data, timeout=timeout)


async def test_device_webhook_refuses_other_urls_itself() -> None:
    """The client checks the URL too, whatever its caller did."""
    async with ClientSession() as session:
        with pytest.raises(ValueError):
            await send_to_device_webhook(
                session, f"http://169.254.169.254{WEBHOOK_PATH}", "x"
            )


async def test_device_webhook_through_origin(hostile: HostileServer) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(
            {"success": True, "data": [{"deviceid": 123456, "messageid": "m"}]}
        )

    hostile.answer = answer
    results = await _post_webhook()
    assert [(r.device_id, r.message_id) for r in results] == [(123456, "m")]
    assert hostile.paths == [WEBHOOK_PATH]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_device_webhook_redirect_is_not_followed(
    hostile: HostileServer, status: int
) -> None:
    async def answer(request: web.Request) -> web.Response:
        if request.path == WEBHOOK_PATH:
            return web.Response(status=status, headers={"Location": "/internal/admin"})
        return web.json_response({"success": True, "data": []})

    hostile.answer = answer
    with pytest.raises(ProviderResponseError) as err:
        await _post_webhook()
    assert err.value.status == status
    assert hostile.paths == [WEBHOOK_PATH]


async def test_device_webhook_reads_at_most_64_kb(hostile: HostileServer) -> None:
    """A reply that never ends is cut after 64 KB: it is not read whole."""
    total = 64 * 1024 * 1024

    async def answer(request: web.Request) -> web.StreamResponse:
        return await hostile.stream(request, total)

    hostile.answer = answer
    with pytest.raises(ProviderResponseError, match="more than 65536 bytes"):
        await _post_webhook()
    async with asyncio.timeout(HANG_GUARD):
        await hostile.closed.wait()
    # What the server could write before the client hung up: the cap plus what
    # the loopback socket buffers hold, far from the 64 MB offered.
    assert hostile.written < total // 4


async def test_device_webhook_large_content_length_is_refused(
    hostile: HostileServer,
) -> None:
    """A declared length over the cap is refused before anything is read."""

    async def answer(request: web.Request) -> web.StreamResponse:
        return await hostile.stream(request, 0, content_length=300 * 1024 * 1024)

    hostile.answer = answer
    with pytest.raises(ProviderResponseError, match="more than 65536 bytes"):
        await _post_webhook()


async def test_compressed_answer_is_inflated_within_the_cap(
    hostile: HostileServer,
) -> None:
    """A gzip body is inflated no further than the cap: a bomb is refused."""
    bomb = gzip.compress(b'{"success": true, "data": []}' + b" " * (50 * 1024 * 1024))

    async def answer(request: web.Request) -> web.Response:
        assert request.headers["Accept-Encoding"] == "identity"
        return web.Response(
            body=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    hostile.answer = answer
    with pytest.raises(ProviderResponseError, match="more than 65536 bytes"):
        await _post_webhook()


async def test_answer_that_never_ends_times_out(hostile: HostileServer) -> None:
    """A slow drip is stopped by the client's total timeout, body included."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"success": true, "data": [')
        await hostile.release.wait()  # set only when the test is over
        return response

    hostile.answer = answer
    with pytest.raises(ProviderTimeoutError):
        await _post_webhook(timeout=0.2)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000,
        b'{"success": true, "data": ' + b"[" * 200_000,
        b"\xff\xfe\xfd not utf-8",
        b'{"success": true, "data": "\xff"}',
    ],
    ids=["nested", "nested-data", "not-utf8", "not-utf8-string"],
)
async def test_hostile_json_is_a_provider_error(
    hologram: FakeHologram, body: bytes
) -> None:
    hologram.fail("/users/me", 200, raw=body)
    async with ClientSession() as session:
        with pytest.raises(ProviderResponseError):
            await HologramClient(session, API_KEY, timeout=HANG_GUARD).get_me()


async def test_error_text_never_quotes_the_api_key(hologram: FakeHologram) -> None:
    """Hologram's error text is kept, minus the key, its Basic token, line breaks."""
    token = basic_authorization("apikey", API_KEY).removeprefix("Basic ")
    hologram.fail(
        "/users/me",
        400,
        {"success": False, "error": f"key {API_KEY} ({token})\nERROR forged line"},
    )
    async with ClientSession() as session:
        with pytest.raises(ProviderError) as err:
            await HologramClient(session, API_KEY, timeout=HANG_GUARD).get_me()
    text = f"{err.value} {err.value.detail}"
    assert API_KEY not in text
    assert token not in text
    assert "\n" not in text
    assert "forged line" in text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/devices/messages",
            {"deviceids": [123456], "port": 0, "protocol": "TCP", "data": "x"},
        ),
        (
            "/devices/messages",
            {"deviceids": ["1"], "port": 1, "protocol": "TCP", "data": "x"},
        ),
        (
            "/devices/messages",
            {"deviceids": [123456], "port": 1, "protocol": "FTP", "data": "x"},
        ),
        ("/devices/messages", {"deviceids": [123456], "port": 1, "protocol": "TCP"}),
        (
            "/devices/messages",
            {"deviceids": [123456], "port": 1, "protocol": "TCP", "data": "x" * 10241},
        ),
        (
            "/devices/messages",
            {"deviceids": [123456], "port": 1, "protocol": "TCP", "base64data": "!!"},
        ),
        (
            "/devices/messages",
            {
                "deviceids": [123456],
                "port": 1,
                "protocol": "TCP",
                "data": "x",
                "encrypted": "yes",
            },
        ),
        ("/sms/incoming", {"deviceid": 123456, "deviceids": [123456], "body": "x"}),
        ("/sms/incoming", {"deviceid": 123456}),
        ("/sms/incoming", {"deviceid": 123456, "body": "x", "fromnumber": 1}),
    ],
)
async def test_fake_rejects_what_hologram_would(
    hologram: FakeHologram, path: str, body: dict[str, object]
) -> None:
    """The fake is only useful if it can fail: each of these breaks Hologram's schema."""
    from custom_components.cellular_iot.providers._http import basic_authorization

    async with (
        ClientSession() as session,
        session.post(
            f"{hologram.base_url}{path}",  # type: ignore[attr-defined]
            json=body,
            headers={"Authorization": basic_authorization("apikey", API_KEY)},
        ) as response,
    ):
        assert response.status == 400
    assert len(hologram.violations) == 1
    hologram.violations.clear()


async def test_hostile_device_fields_are_dropped(hologram: FakeHologram) -> None:
    """IDs int() refuses, endless names, numbers that are not text: never a crash."""
    hologram.fail(
        "/devices",
        200,
        {
            "success": True,
            "data": [
                {"id": "²"},
                {"id": "9" * 30},
                {
                    "id": 5,
                    "name": "x" * 1000,
                    "phonenumber": {"nested": [1]},
                    "links": {"cellular": [{"sim": "8901\n"}]},
                },
                {"id": "6", "name": "Pump", "phonenumber": 13125551212},
            ],
        },
    )
    async with ClientSession() as session:
        devices = await HologramClient(
            session, API_KEY, timeout=HANG_GUARD
        ).list_devices()
    assert [(d.device_id, d.name, d.iccid, d.phone_number) for d in devices] == [
        (5, "Device 5", None, None),
        (6, "Pump", None, "13125551212"),
    ]


async def test_hostile_user_and_message_ids(hologram: FakeHologram) -> None:
    hologram.fail("/users/me", 200, {"success": True, "data": {"id": "²"}})
    hologram.fail(
        "/devices/messages",
        200,
        {
            "success": True,
            "data": [
                {"deviceid": 123456, "messageid": "m" * 10_000},
                {"deviceid": 234567, "messageid": {"a": [1]}},
                {"deviceid": 345678, "messageid": 42},
            ],
        },
    )
    async with ClientSession() as session:
        client = HologramClient(session, API_KEY, timeout=HANG_GUARD)
        with pytest.raises(ProviderResponseError):
            await client.get_me()
        results = await client.send_cloud_message([123456], port=1, data="x")
    assert [(r.device_id, r.message_id) for r in results] == [
        (123456, None),
        (234567, None),
        (345678, "42"),
    ]


async def test_answer_over_4_mb_is_refused(hologram: FakeHologram) -> None:
    """Valid JSON, padded past the REST cap: refused, not read whole."""
    body = b'{"success": true, "data": {"id": 1001}}' + b" " * (4 * 1024 * 1024)
    hologram.fail("/users/me", 200, raw=body)
    async with ClientSession() as session:
        with pytest.raises(ProviderResponseError, match="more than"):
            await HologramClient(session, API_KEY, timeout=HANG_GUARD).get_me()

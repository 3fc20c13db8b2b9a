"""The Hologram client on its own: paging, parsing and argument checks."""

from __future__ import annotations

from aiohttp import ClientSession
import pytest

from custom_components.cellular_iot.providers.errors import (
    ProviderConnectionError,
    ProviderResponseError,
)
from custom_components.cellular_iot.providers.hologram import (
    HologramClient,
    is_device_webhook_url,
)

from .conftest import API_KEY
from .fakes.hologram import FakeHologram


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

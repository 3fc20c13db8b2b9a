"""The on_device entry: flow, listener wiring, entities, events and Socket API actions."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.providers import hologram_socket
from homeassistant.components.recorder.db_schema import EventData, StateAttributes
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from .conftest import setup_entry
from .fakes.tcp import LoopbackServer
from .guards import HANG_GUARD

NC = shutil.which("nc")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listener_entry(port: int, protocol: str = "TCP", **extra: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Listener {protocol} {port}",
        data={
            "kind": "on_device",
            "protocol": protocol,
            "port": port,
            "host": "127.0.0.1",
            **extra,
        },
        unique_id=f"{protocol.lower()}-{port}",
        minor_version=3,
    )


async def _nc(*args: str, data: bytes) -> None:
    assert NC, "netcat is missing: scripts/system-deps installs netcat-openbsd"
    proc = await asyncio.create_subprocess_exec(
        NC, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
    )
    await proc.communicate(data)
    assert proc.returncode == 0


async def _next_event(hass: HomeAssistant) -> asyncio.Future[Event]:
    future: asyncio.Future[Event] = hass.loop.create_future()

    @callback
    def _got(event: Event) -> None:
        if not future.done():
            future.set_result(event)

    hass.bus.async_listen_once(EVENT_MESSAGE_RECEIVED, _got)
    return future


# --- flow -------------------------------------------------------------------------------


async def _form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "on_device"}
    )
    assert result["step_id"] == "on_device"
    return result["flow_id"]


async def test_flow_creates_listener(hass: HomeAssistant, socket_enabled: None) -> None:
    port = free_port()
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            "protocol": "TCP",
            "port": port,
            "host": "127.0.0.1",
            "device_key": "ABCDWXYZ",
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"tcp-{port}"
    assert result["data"]["device_key"] == "ABCDWXYZ"
    assert "device_key_legacy" not in result["data"]
    assert result["result"].minor_version == 4
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    listener = entry.runtime_data.listener
    assert listener.listening
    await hass.config_entries.async_unload(entry.entry_id)
    assert not listener.listening


async def test_flow_errors(hass: HomeAssistant, socket_enabled: None) -> None:
    flow_id = await _form(hass)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"protocol": "TCP", "port": taken, "host": "127.0.0.1"}
        )
        assert result["errors"] == {"base": "cannot_bind"}
    # The legacy 4-character halves, 9 characters, a space: not the device key.
    for key in ("ABCD", "ABCDWXYZ1", "ABCD WXY", "ABCDWXYÉ"):
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {
                "protocol": "UDP",
                "port": free_port(),
                "host": "127.0.0.1",
                "device_key": key,
            },
        )
        assert result["errors"] == {"device_key": "invalid_device_key"}
    port = free_port(socket.SOCK_DGRAM)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"protocol": "UDP", "port": port, "host": "127.0.0.1"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"protocol": "UDP", "port": port, "host": "127.0.0.1"}
    )
    assert result["reason"] == "already_configured"


async def test_a_form_left_after_an_error_does_not_hold_the_address(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Issue 26 A7: a form left after an error kept its protocol/port "in progress":
    adding the listener again aborted with the raw key ``already_in_progress`` until
    HA restarted. The form left open holds nothing; the first to finish adds it.
    """
    port = free_port()
    left = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        left,
        {"protocol": "TCP", "port": port, "host": "127.0.0.1", "device_key": "AB"},
    )
    assert result["errors"] == {"device_key": "invalid_device_key"}
    # The user closes nothing: the form stays in progress, and starts again.
    again = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        again, {"protocol": "TCP", "port": port, "host": "127.0.0.1"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # HA ends the form left open with the same address.
    assert left not in {
        flow["flow_id"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    }
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_reconfigure_moves_the_listener(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    old = free_port()
    entry = listener_entry(old, device_key="ABCDWXYZ")
    await setup_entry(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_on_device"
    # The stored key is never offered back.
    assert all(
        key.description is None or "suggested_value" not in key.description
        for key in result["data_schema"].schema
        if key == "device_key"
    )
    # Unchanged socket: no bind check (the running listener holds it), key kept.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"protocol": "TCP", "port": old, "host": "127.0.0.1"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["device_key"] == "ABCDWXYZ"

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"protocol": "TCP", "port": old, "host": "127.0.0.1", "device_key": "ABC"},
    )
    assert result["errors"] == {"device_key": "invalid_device_key"}

    new = free_port()
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "protocol": "TCP",
            "port": new,
            "host": "127.0.0.1",
            "remove_device_key": True,
        },
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == f"tcp-{new}"
    assert entry.runtime_data.listener.port == new
    assert "device_key" not in entry.data
    # The old port is free again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", old))

    other = listener_entry(free_port())
    await setup_entry(hass, other)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"protocol": "TCP", "port": other.data["port"], "host": "127.0.0.1"},
    )
    assert result["errors"] == {"base": "cannot_bind"}


async def test_setup_port_taken_retries(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        entry = listener_entry(busy.getsockname()[1])
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY


# --- messages, events, entities -----------------------------------------------------


async def test_nc_message_becomes_event_and_entities(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    port = free_port()
    entry = listener_entry(port)
    await setup_entry(hass, entry)
    listening = hass.states.get(f"binary_sensor.listener_tcp_{port}_listening")
    assert listening.state == "on"
    waiting = await _next_event(hass)
    await _nc("-N", "127.0.0.1", str(port), data=b"hello\n")
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert event.data["provider"] == "on_device"
    assert event.data["source"] == "listener"
    assert event.data["config_entry_id"] == entry.entry_id
    assert event.data["data"] == "hello\n"
    assert "data_base64" not in event.data  # text: stored once (issue 14)
    assert event.data["remote"].startswith("127.0.0.1:")
    assert event.data["topics"] == []
    prefix = f"listener_tcp_{port}"
    last = hass.states.get(f"sensor.{prefix}_last_message")
    # The state shows the text without the line break nc sends; the event keeps it.
    assert last.state == "hello"
    assert last.attributes["remote"] == event.data["remote"]
    count = hass.states.get(f"sensor.{prefix}_messages_received")
    assert count.state == "1"
    # A count has no unit ("1 messages"); its statistics still add up.
    assert "unit_of_measurement" not in count.attributes
    assert count.attributes["state_class"] == "total_increasing"
    message_event = hass.states.get(f"event.{prefix}_message")
    assert message_event.attributes["event_type"] == "message_received"
    assert message_event.attributes["data"] == "hello\n"

    # Binary data: no text, base64 kept, the sensor shows the base64.
    waiting = await _next_event(hass)
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\xff\x00\xfe")
    writer.close()
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert event.data["data"] is None
    assert base64.b64decode(event.data["data_base64"]) == b"\xff\x00\xfe"
    assert hass.states.get(f"sensor.{prefix}_last_message").state == "/wD+"
    assert hass.states.get(f"sensor.{prefix}_messages_received").state == "2"

    # The count and the last message survive a reload (restored).
    before = hass.states.get(f"sensor.{prefix}_last_message")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{prefix}_messages_received").state == "2"
    after = hass.states.get(f"sensor.{prefix}_last_message")
    assert after.state == "/wD+"
    assert after.attributes == before.attributes


async def test_nc_udp_message(hass: HomeAssistant, socket_enabled: None) -> None:
    port = free_port(socket.SOCK_DGRAM)
    await setup_entry(hass, listener_entry(port, "UDP"))
    waiting = await _next_event(hass)
    await _nc("-u", "-w1", "127.0.0.1", str(port), data=b"hello udp")
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    assert event.data["data"] == "hello udp"
    assert event.data["protocol"] == "UDP"


async def test_diagnostics_redact_socket_key(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, socket_enabled: None
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    entry = listener_entry(free_port(), device_key="ABCDWXYZ")
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "ABCDWXYZ" not in json.dumps(diagnostics)
    assert diagnostics["runtime"]["listening"] is True
    assert diagnostics["runtime"]["socket_api"] is True


# --- Socket API actions -----------------------------------------------------------------


@pytest.fixture
async def cloudsocket(socket_enabled: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake cloudsocket: records each request and answers from a queue."""
    state: dict[str, Any] = {"requests": [], "answers": []}

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        data = await reader.readuntil(b"\r\r")
        state["requests"].append(data)
        writer.write(state["answers"].pop(0) if state["answers"] else b"")
        await writer.drain()
        writer.close()

    server = LoopbackServer(handle)
    monkeypatch.setattr(hologram_socket, "DEFAULT_HOST", "127.0.0.1")
    monkeypatch.setattr(hologram_socket, "DEFAULT_PORT", await server.start())
    monkeypatch.setattr(
        hologram_socket, "DEFAULT_TIMEOUT", 60.0
    )  # the fake answers and closes
    yield state
    await server.stop()


async def _call(hass: HomeAssistant, action: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )


async def test_send_to_cloud_and_sms_over_ip(
    hass: HomeAssistant, cloudsocket: Any
) -> None:
    entry = listener_entry(free_port(), device_key="ABCDWXYZ")
    await setup_entry(hass, entry)
    # Success, then the SDK's codes 8 (topic), 2 (parse) and 3 (auth).
    cloudsocket["answers"] += [b"[0,0]", b"0", b"[8,0]", b"2", b"[3,0]"]
    response = await _call(hass, "send_to_cloud", data="21.5", topics=["TEMP"])
    assert response == {"config_entry_id": entry.entry_id, "status": "sent"}
    response = await _call(
        hass, "send_sms", phone_number="+13125551212", message="Hello, SMS!"
    )
    assert response["status"] == "sent"
    assert cloudsocket["requests"] == [
        b'{"k": "ABCDWXYZ", "t": ["TEMP"], "d": "21.5"}\r\r',
        b"SABCDWXYZ+13125551212 Hello, SMS!\r\r",
    ]
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_to_cloud", data="x")
    assert err.value.translation_key == "provider_bad_request"
    assert "Topic was formatted incorrectly" in str(err.value)
    assert "ABCDWXYZ" not in str(err.value)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_sms", phone_number="+13125551212", message="x")
    assert err.value.translation_key == "provider_bad_request"
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_to_cloud", data="x")
    assert err.value.translation_key == "socket_key_refused"
    assert "Reconfigure" in str(err.value)
    # Silence: no answer at all.
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_to_cloud", data="x")
    assert err.value.translation_key == "provider_error"


@pytest.mark.parametrize(
    ("action", "data", "key"),
    [
        ("send_sms", {"message": "hi"}, "phone_number_required"),
        (
            "send_sms",
            {"message": "a\nb", "phone_number": "+13125551212"},
            "sms_newline",
        ),
        (
            "send_sms",
            {"message": "hi", "phone_number": "+1312", "device_id": 1},
            "field_not_supported",
        ),
        (
            "send_sms",
            {"message": "hi", "phone_number": "13125551212"},
            "invalid_phone_number",
        ),
        ("send_to_cloud", {"data": "x", "topics": [""]}, "invalid_topics"),
        ("send_to_cloud", {"data": "x", "topics": "T" * 101}, "invalid_topics"),
        ("send_to_cloud", {"data": ""}, "empty_text"),
        (
            "send_sms",
            {"message": "x" * 161, "phone_number": "+13125551212"},
            "sms_over_ip_too_long",
        ),
    ],
)
async def test_socket_action_validation(
    hass: HomeAssistant, cloudsocket: Any, action: str, data: dict[str, Any], key: str
) -> None:
    await setup_entry(hass, listener_entry(free_port(), device_key="ABCDWXYZ"))
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, action, **data)
    assert err.value.translation_key == key
    assert cloudsocket["requests"] == []


async def test_socket_actions_need_credentials(
    hass: HomeAssistant, cloudsocket: Any
) -> None:
    await setup_entry(hass, listener_entry(free_port()))
    for action, data in (
        ("send_to_cloud", {"data": "x"}),
        ("send_sms", {"message": "x", "phone_number": "+13125551212"}),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, action, **data)
        assert err.value.translation_key == "socket_credentials_missing"


# --- issue 14: who may send, event size, options, repair issue, rebinding ------------


async def _send_tcp(port: int, payload: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    writer.close()
    await writer.wait_closed()


async def test_big_messages_fit_the_recorder(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A 10 KB text message is one ~10 KB event (no base64 copy); the entities show a
    preview, so the recorder stores both (its own serializers, its own limits)."""
    port = free_port()
    await setup_entry(hass, listener_entry(port))
    prefix = f"listener_tcp_{port}"
    changes: list[Event] = []
    hass.bus.async_listen(EVENT_STATE_CHANGED, changes.append)

    def recorded_size(event: Event) -> int:
        """What the recorder stores of an event (b"{}" and a warning when too big)."""
        if event.event_type == EVENT_STATE_CHANGED:
            stored = StateAttributes.shared_attrs_bytes_from_event(event, None)
        else:
            stored = EventData.shared_data_bytes_from_event(event, None)
        assert stored != b"{}"
        return len(stored)

    text = "é" + "x" * 10_238  # 10,240 bytes of UTF-8
    waiting = await _next_event(hass)
    await _send_tcp(port, text.encode())
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert event.data["data"] == text
    assert "data_base64" not in event.data
    assert recorded_size(event) < 11_000  # was 24 KB
    state = hass.states.get(f"event.{prefix}_message")
    assert state.attributes["data"] == text[:255]
    assert state.attributes["preview"] is True
    last = hass.states.get(f"sensor.{prefix}_last_message")
    assert last.state == text[:255]
    assert "data_base64" not in last.attributes

    payload = bytes(range(256)) * 40  # 10 KB, not UTF-8
    waiting = await _next_event(hass)
    await _send_tcp(port, payload)
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert event.data["data"] is None
    assert base64.b64decode(event.data["data_base64"]) == payload
    assert recorded_size(event) < 15_000
    state = hass.states.get(f"event.{prefix}_message")
    assert base64.b64decode(state.attributes["data_base64"]) == payload[:189]
    assert state.attributes["preview"] is True
    last = hass.states.get(f"sensor.{prefix}_last_message")
    assert len(last.state) == 255
    assert len(last.attributes["data_base64"]) == 252

    # 10 KB of NULs is valid UTF-8 but no text: as text each byte would be six in
    # JSON (61 KB, over the recorder's 32 KB for event data); as base64 it fits.
    waiting = await _next_event(hass)
    await _send_tcp(port, bytes(10_240))
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert event.data["data"] is None
    assert base64.b64decode(event.data["data_base64"]) == bytes(10_240)
    assert recorded_size(event) < 15_000
    # Tabs and line ends are text.
    waiting = await _next_event(hass)
    await _send_tcp(port, b"a\tb\r\n")
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    assert event.data["data"] == "a\tb\r\n"
    await hass.async_block_till_done()

    ours = [e for e in changes if prefix in e.data["entity_id"]]
    assert ours
    assert max(recorded_size(change) for change in ours) < 2_000  # was 24 KB
    assert "exceed maximum size" not in caplog.text


async def test_new_entries_start_with_the_default_options(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"protocol": "TCP", "port": free_port(), "host": "127.0.0.1"}
    )
    await hass.async_block_till_done()
    assert result["options"] == {
        "allowed_networks": [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "fc00::/7",
        ],
        "rate_limit": 30,
    }


async def test_entries_from_before_the_options_get_the_defaults(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry without options (made before issue 14) keeps working for senders on
    loopback and private networks; a hand-broken list falls back to the defaults."""
    old = listener_entry(free_port())
    await setup_entry(hass, old)
    listener = old.runtime_data.listener
    assert [str(n) for n in listener.allowed] == [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    ]
    assert listener.rate_limit == 30
    waiting = await _next_event(hass)
    await _send_tcp(listener.port, b"still works")
    assert (await asyncio.wait_for(waiting, HANG_GUARD)).data["data"] == "still works"

    broken = listener_entry(free_port())
    broken = MockConfigEntry(
        domain=DOMAIN,
        title="Broken",
        data=dict(broken.data),
        options={"allowed_networks": ["10.0.0.0/33"], "rate_limit": 0},
        unique_id=broken.unique_id,
    )
    await setup_entry(hass, broken)
    assert broken.runtime_data.listener.allowed == listener.allowed
    assert broken.runtime_data.listener.rate_limit == 30
    assert "10.0.0.0/33, which is not a network" in caplog.text


async def _options(
    hass: HomeAssistant, entry: MockConfigEntry, **user_input: Any
) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "listener"
    return await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )


async def test_options_say_who_may_send_without_a_reload(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    entry = listener_entry(free_port())
    await setup_entry(hass, entry)
    listener = entry.runtime_data.listener
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    defaults = {
        str(k): k.default()
        for k in result["data_schema"].schema
        if k.default is not vol.UNDEFINED
    }
    assert defaults["allowed_networks"][0] == "127.0.0.0/8"
    assert defaults["rate_limit"] == 30

    result = await _options(
        hass, entry, allowed_networks=["10.0.0.0/8", "10.0.0.300"], rate_limit=5
    )
    assert result["errors"] == {"allowed_networks": "invalid_network"}
    assert result["description_placeholders"]["network"] == "10.0.0.300"
    result = await _options(hass, entry, allowed_networks=[" "], rate_limit=5)
    assert result["errors"] == {"allowed_networks": "no_network"}

    result = await _options(
        hass, entry, allowed_networks=["10.1.2.3/8", "fd00::1"], rate_limit=5
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        "allowed_networks": ["10.0.0.0/8", "fd00::1/128"],
        "rate_limit": 5,
    }
    await hass.async_block_till_done()
    # The same listener, no rebind: 127.0.0.1 is refused from now on.
    assert entry.runtime_data.listener is listener
    assert listener.rate_limit == 5
    events: list[Event] = []
    hass.bus.async_listen(EVENT_MESSAGE_RECEIVED, events.append)
    await _send_tcp(listener.port, b"open")
    async with asyncio.timeout(HANG_GUARD):
        while listener.refused < 1:
            await asyncio.sleep(0)
    await hass.async_block_till_done()
    assert events == []
    assert (
        hass.states.get(f"sensor.listener_tcp_{listener.port}_messages_received").state
        == "0"
    )


async def test_repair_issue_while_open_to_anyone(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    issues = ir.async_get(hass)
    # Bound to loopback only: open to all is harmless, no issue.
    loopback = MockConfigEntry(
        domain=DOMAIN,
        title="Loopback",
        data=dict(listener_entry(free_port()).data),
        options={"allowed_networks": ["0.0.0.0/0"], "rate_limit": 30},
    )
    await setup_entry(hass, loopback)
    assert not issues.async_get_issue(
        DOMAIN, f"listener_open_to_all_{loopback.entry_id}"
    )

    # Every interface, on a port the system picks: a port found free on 127.0.0.1
    # (free_port) may be taken on another address by the time it is bound.
    port = 0
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Listener TCP {port}",
        data={"kind": "on_device", "protocol": "TCP", "port": port, "host": ""},
        options={"allowed_networks": ["0.0.0.0/0"], "rate_limit": 30},
        unique_id=f"tcp-{port}",
    )
    await setup_entry(hass, entry)
    issue_id = f"listener_open_to_all_{entry.entry_id}"
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "listener_open_to_all"
    assert issue.translation_placeholders == {
        "title": entry.title,
        "protocol": "TCP",
        "port": str(port),
    }
    await _options(hass, entry, allowed_networks=["192.168.0.0/16"], rate_limit=30)
    assert not issues.async_get_issue(DOMAIN, issue_id)
    await _options(hass, entry, allowed_networks=["10.0.0.0/8", "::/0"], rate_limit=30)
    assert issues.async_get_issue(DOMAIN, issue_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert not issues.async_get_issue(DOMAIN, issue_id)


async def test_udp_listener_reloads_without_a_retry(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Unload waits for the UDP socket to close, so the reload binds it at once."""
    port = free_port(socket.SOCK_DGRAM)
    entry = listener_entry(port, "UDP")
    await setup_entry(hass, entry)
    for _ in range(3):
        assert await hass.config_entries.async_reload(entry.entry_id)
        assert entry.state is ConfigEntryState.LOADED
    waiting = await _next_event(hass)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"after reload", ("127.0.0.1", port))
    assert (await asyncio.wait_for(waiting, HANG_GUARD)).data["data"] == "after reload"


def test_entity_preview_of_any_event() -> None:
    """The preview rule holds for every path's extras (webhook, MQTT), not only the
    listener's keys: long texts, long lists and nested mappings are cut."""
    from custom_components.cellular_iot.events import preview

    event = {
        "data": "short",
        "topics": [f"T{i}" for i in range(30)],
        "raw": {f"k{i}": "v" * 300 for i in range(25)},
        "qos": 1,
    }
    shown = preview(event)
    assert shown["data"] == "short"
    assert len(shown["topics"]) == 20
    assert len(shown["raw"]) == 20
    assert {len(v) for v in shown["raw"].values()} == {255}
    assert shown["qos"] == 1
    assert shown["preview"] is True
    assert preview({"data": "short", "topics": ["a"]}) == {
        "data": "short",
        "topics": ["a"],
        "preview": False,
    }


async def test_options_of_a_listener_that_is_not_loaded(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Options saved while the port is taken apply when the listener starts."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        entry = listener_entry(busy.getsockname()[1])
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        result = await _options(
            hass, entry, allowed_networks=["10.0.0.0/8"], rate_limit=7
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    assert [str(n) for n in entry.runtime_data.listener.allowed] == ["10.0.0.0/8"]
    assert entry.runtime_data.listener.rate_limit == 7


# --- issue 24: the 8-character device key; legacy entries migrated -------------------


def _legacy_entry(port: int, minor_version: int = 2, **data: Any) -> MockConfigEntry:
    """An on_device entry as versions up to 1.2 stored it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Listener TCP {port}",
        data={
            "kind": "on_device",
            "protocol": "TCP",
            "port": port,
            "host": "127.0.0.1",
            **data,
        },
        unique_id=f"tcp-{port}",
        minor_version=minor_version,
    )


@pytest.mark.parametrize("minor_version", [1, 2])
async def test_legacy_entry_is_migrated_and_keeps_its_frame(
    hass: HomeAssistant, cloudsocket: Any, minor_version: int
) -> None:
    """A 4+4 entry becomes device key ABCDWXYZ marked legacy: it keeps sending the
    frame it was made for ({"s", "c"}, as the SDK sent it), ended as the SDK ends
    it; its SMS frame is the same bytes as with the device key."""
    entry = _legacy_entry(
        free_port(), minor_version, source_id="ABCD", source_key="WXYZ"
    )
    await setup_entry(hass, entry)
    assert entry.minor_version == 4
    assert {k: v for k, v in entry.data.items() if "key" in k or "source" in k} == {
        "device_key": "ABCDWXYZ",
        "device_key_legacy": True,
    }
    cloudsocket["answers"] += [b"[0,0]", b"0", b"[0,0]"]
    await _call(hass, "send_to_cloud", data="21.5", topics=["TEMP"])
    await _call(hass, "send_sms", phone_number="+13125551212", message="Hello, SMS!")
    assert cloudsocket["requests"] == [
        b'{"s": "ABCD", "c": "WXYZ", "t": ["TEMP"], "d": "21.5"}\r\r',
        b"SABCDWXYZ+13125551212 Hello, SMS!\r\r",
    ]
    # Reconfigure without a key keeps the legacy one as it is.
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"protocol": "TCP", "port": entry.data["port"], "host": "127.0.0.1"},
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["device_key_legacy"] is True
    # The device key the dashboard shows replaces it: the SDK's frame from then on.
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "protocol": "TCP",
            "port": entry.data["port"],
            "host": "127.0.0.1",
            "device_key": "Q7#zw!X9",
        },
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["device_key"] == "Q7#zw!X9"
    assert "device_key_legacy" not in entry.data
    await _call(hass, "send_to_cloud", data="21.5")
    assert cloudsocket["requests"][-1] == b'{"k": "Q7#zw!X9", "d": "21.5"}\r\r'


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"source_id": "ABCD"},
        {"source_key": "WXYZ"},
        {"source_id": "AB", "source_key": "WXYZ"},
    ],
    ids=["none", "id-only", "key-only", "malformed"],
)
async def test_migration_of_entries_without_a_usable_pair(
    hass: HomeAssistant, socket_enabled: None, data: dict[str, Any]
) -> None:
    """A pair the old flow could not have stored never sent anything: dropped."""
    entry = _legacy_entry(free_port(), **data)
    await setup_entry(hass, entry)
    assert entry.minor_version == 4
    assert not {"source_id", "source_key", "device_key"} & set(entry.data)
    assert entry.runtime_data.socket is None


async def test_a_hand_edited_key_turns_the_socket_api_off(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    entry = listener_entry(free_port(), device_key="short")
    await setup_entry(hass, entry)
    assert entry.runtime_data.socket is None
    assert "short" not in caplog.text
    assert "not 8 printable characters" in caplog.text

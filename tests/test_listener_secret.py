"""Issue 25, item 1: a forged UDP source passes the allowed networks; the secret.

A UDP datagram's source address is written by its sender. With ``allowed_networks:
10.0.0.0/8`` (what docs/listener.md suggests for the gate example) one raw datagram
with a forged 10.x source fired the automation, and forged sources drained the shared
rate limit so that real messages were dropped. A forged datagram is simulated where a
raw-socket forgery arrives: ``datagram_received(data, addr)`` with a forged ``addr``
(the tests cannot send from 10.x over loopback); the rest goes through real loopback
sockets.

New names of the listener module are looked up when a test runs, so this file also
runs against 94932c4 and shows which assertion fails there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
import contextlib
import json
import logging
from pathlib import Path
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
from custom_components.cellular_iot.providers import listener as listener_module
from custom_components.cellular_iot.providers.listener import Listener
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from .conftest import setup_entry
from .test_listener import FakeClock, Inbox, _until
from .test_on_device import free_port, listener_entry

SECRET = "gate-7f3Kq9-Zx2Lm8Pw4"
STRINGS = Path(__file__).parent.parent / "custom_components" / DOMAIN / "strings.json"
ISSUE_UDP = "listener_udp_without_secret"


def _forged(number: int) -> tuple[str, int]:
    """The n-th forged sender: a distinct address inside 10.0.0.0/8."""
    return (f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}", 40000)


# --- the listener alone ----------------------------------------------------------------


@pytest.fixture
async def start(
    socket_enabled: None,
) -> AsyncGenerator[Callable[..., Awaitable[tuple[Listener, Inbox]]]]:
    """Start listeners on 127.0.0.1 (a port the system picks); stop them after."""
    listeners: list[Listener] = []

    async def _start(protocol: str, **kwargs: Any) -> tuple[Listener, Inbox]:
        inbox = Inbox()
        listener = Listener(protocol, "127.0.0.1", 0, inbox, **kwargs)  # type: ignore[arg-type]
        await listener.start()
        listeners.append(listener)
        return listener, inbox

    yield _start
    for listener in listeners:
        await listener.stop()


def test_the_form_of_a_secret() -> None:
    validate = listener_module.validate_secret
    bounds = (
        f"{listener_module.SECRET_MIN_LENGTH} to {listener_module.SECRET_MAX_LENGTH}"
    )
    strings = json.loads(STRINGS.read_text())["options"]
    assert bounds in strings["error"]["invalid_listener_secret"]
    assert bounds in strings["step"]["listener"]["data_description"]["listener_secret"]
    # docs/listener.md quotes the options errors of the secret as the form shows them.
    listener_md = (STRINGS.parent.parent.parent / "docs" / "listener.md").read_text()
    for key in ("invalid_listener_secret", "listener_secret_and_remove"):
        assert f"| `{key}` | {strings['error'][key]} |" in listener_md
    for good in ("a" * 16, "x" * 128, "!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", SECRET):
        assert validate(good) == good
    for bad in ("a" * 15, "x" * 129, "sixteen chars ok", "é" * 16, "tab\there-1234567"):
        with pytest.raises(ValueError):
            validate(bad)


async def test_a_forged_udp_source_without_the_secret_fires_nothing(
    start: Callable,
) -> None:
    """The defect: a datagram from a forged 10.x source is a message. With a secret
    it is refused before anything fires; the secret is taken off what is delivered."""
    listener, inbox = await start(
        "UDP", allowed=["10.0.0.0/8", "127.0.0.0/8"], secret=SECRET
    )
    datagrams = listener._datagrams
    datagrams.datagram_received(b"open", ("10.1.2.3", 4010))
    datagrams.datagram_received(SECRET.encode() + b"open", ("10.1.2.3", 4010))
    datagrams.datagram_received(SECRET[:-1].encode() + b" open", ("10.1.2.3", 4010))
    datagrams.datagram_received(SECRET.encode(), ("10.1.2.3", 4010))
    assert inbox.queue.empty()
    assert listener.unauthenticated == 4
    datagrams.datagram_received(f"{SECRET} open".encode(), ("10.1.2.3", 4010))
    message = await inbox.get()
    assert (message.data, message.authenticated) == (b"open", True)
    # The same through a real socket: without, with, and binary after the secret.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"open", ("127.0.0.1", listener.port))
        sock.sendto(
            f"{SECRET} \x00\xff".encode("latin-1"), ("127.0.0.1", listener.port)
        )
        message = await inbox.get()
    assert message.data == b"\x00\xff"
    assert message.remote.startswith("127.0.0.1:")
    assert listener.unauthenticated == 5
    # Without a secret nothing changes for the sender, and nothing claims a check.
    listener.configure(allowed=["10.0.0.0/8"], rate_limit=30, secret=None)
    assert not listener.has_secret
    datagrams.datagram_received(b"open", ("10.1.2.3", 4010))
    message = await inbox.get()
    assert (message.data, message.authenticated) == (b"open", False)


async def test_forged_sources_cannot_starve_a_real_sender(start: Callable) -> None:
    """10,000 forged datagrams from 10,000 forged 10.x sources, and more from the real
    sender's own address: without the secret they take no rate-limit token, so the
    real sender keeps its whole share. Without a secret (the old behaviour, kept for
    contrast) the same flood uses up the limit of all senders together."""
    real = ("10.0.0.5", 4010)
    clock = FakeClock()
    listener, inbox = await start(
        "UDP", allowed=["10.0.0.0/8"], rate_limit=30, clock=clock, secret=SECRET
    )
    datagrams = listener._datagrams
    for number in range(10_000):
        datagrams.datagram_received(b"open", _forged(number + 256))
        if number % 100 == 0:
            datagrams.datagram_received(b"open", real)  # forged as the real sender
    for i in range(30):
        datagrams.datagram_received(f"{SECRET} real {i}".encode(), real)
    got = [inbox.queue.get_nowait().data for _ in range(inbox.queue.qsize())]
    assert got == [b"real %d" % i for i in range(30)]
    assert listener.rate_limited == 0
    assert listener.unauthenticated == 10_100
    # The real sender's own limit still holds.
    datagrams.datagram_received(f"{SECRET} one too many".encode(), real)
    assert listener.rate_limited == 1
    clock.advance(2)  # one every 2 s at 30 a minute
    datagrams.datagram_received(f"{SECRET} later".encode(), real)
    assert (await inbox.get()).data == b"later"

    unprotected, unprotected_inbox = await start(
        "UDP", allowed=["10.0.0.0/8"], rate_limit=30, clock=FakeClock()
    )
    for number in range(10_000):
        unprotected._datagrams.datagram_received(b"open", _forged(number + 256))
    unprotected._datagrams.datagram_received(b"real", real)
    assert unprotected_inbox.queue.qsize() == 120  # the forged ones fired
    assert unprotected.rate_limited == 10_000 - 120 + 1  # and the real one is lost


async def test_a_tcp_connection_without_the_secret_is_closed_unread(
    start: Callable,
) -> None:
    """A TCP connection that shows it lacks the secret is closed at once, however much
    it would send; one too short to tell is refused when it ends. Refused messages
    take no rate-limit token."""
    clock = FakeClock()
    listener, inbox = await start("TCP", rate_limit=1, clock=clock, secret=SECRET)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"x" * (len(SECRET) + 1))  # not ended: the listener closes it
    with contextlib.suppress(ConnectionError):
        assert await reader.read() == b""
    writer.close()
    assert listener.unauthenticated == 1
    for payload in (b"open", SECRET.encode()):  # too short to tell, then ended
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(payload)
        writer.close()
    await _until(lambda: listener.unauthenticated == 3)
    assert listener.rate_limited == 0
    # The secret arriving in pieces, then the message: delivered without it.
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    for piece in (SECRET[:5], SECRET[5:], " op", "en\n"):
        writer.write(piece.encode())
        await writer.drain()
    writer.close()
    message = await inbox.get()
    assert (message.data, message.authenticated) == (b"open\n", True)
    assert inbox.queue.empty()


async def test_the_secret_is_never_logged(
    start: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    listener, inbox = await start("UDP", rate_limit=1, clock=clock, secret=SECRET)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for payload in (SECRET[:-2] + "xx open", "open", f"{SECRET} a", f"{SECRET} b"):
            sock.sendto(payload.encode(), ("127.0.0.1", listener.port))
        await _until(lambda: listener.rate_limited == 1)
    assert (await inbox.get()).data == b"a"
    assert listener.unauthenticated == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("did not start with the listener's secret" in w for w in warnings)
    assert SECRET[:8] not in caplog.text
    assert SECRET[-8:-2] not in caplog.text


# --- the entry ---------------------------------------------------------------------


def _events(hass: HomeAssistant) -> list[Event]:
    events: list[Event] = []
    hass.bus.async_listen(EVENT_MESSAGE_RECEIVED, events.append)
    return events


async def test_a_forged_udp_source_does_not_open_the_gate(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """The gate example: allowed networks 10.0.0.0/8 and a secret. One datagram with a
    forged 10.x source fired the automation; a flood of them dropped the real one."""
    port = free_port(socket.SOCK_DGRAM)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Listener UDP {port}",
        data=dict(listener_entry(port, "UDP").data),
        options={
            "allowed_networks": ["10.0.0.0/8", "127.0.0.1"],
            "rate_limit": 30,
            "listener_secret": SECRET,
        },
        unique_id=f"udp-{port}",
        minor_version=3,
    )
    await setup_entry(hass, entry)
    events = _events(hass)
    datagrams = entry.runtime_data.listener._datagrams
    datagrams.datagram_received(b"open", ("10.9.8.7", 40000))
    await hass.async_block_till_done()
    assert events == []
    for number in range(1000):
        datagrams.datagram_received(b"open", _forged(number + 256))
    datagrams.datagram_received(f"{SECRET} open".encode(), ("10.0.0.5", 40000))
    await hass.async_block_till_done()
    assert [event.data["data"] for event in events] == ["open"]
    assert events[0].data["authenticated"] is True
    assert events[0].data["remote"] == "10.0.0.5:40000"
    # Over a real socket, too.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"open", ("127.0.0.1", port))
        sock.sendto(f"{SECRET} close".encode(), ("127.0.0.1", port))
        await _until(lambda: len(events) == 2)
    assert events[1].data["data"] == "close"
    assert entry.runtime_data.listener.unauthenticated == 1002
    assert hass.states.get(f"sensor.listener_udp_{port}_messages_received").state == "2"


async def test_repair_issue_for_udp_beyond_loopback_without_a_secret(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    issues = ir.async_get(hass)

    def issue_of(entry: MockConfigEntry) -> ir.IssueEntry | None:
        return issues.async_get_issue(DOMAIN, f"{ISSUE_UDP}_{entry.entry_id}")

    def entry_for(protocol: str, host: str) -> MockConfigEntry:
        # Port 0: the system picks one free on every address.
        return MockConfigEntry(
            domain=DOMAIN,
            title=f"Listener {protocol} {host or 'all'}",
            data={"kind": "on_device", "protocol": protocol, "port": 0, "host": host},
            options={"allowed_networks": ["10.0.0.0/8"], "rate_limit": 30},
            unique_id=f"{protocol}-{host}",
            minor_version=3,
        )

    udp = entry_for("UDP", "")
    await setup_entry(hass, udp)
    issue = issue_of(udp)
    assert issue is not None
    assert issue.translation_key == ISSUE_UDP
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders == {
        "title": udp.title,
        "protocol": "UDP",
        "port": "0",
    }
    # A secret clears it at once; removing the secret raises it again.
    await _options(hass, udp, listener_secret=SECRET)
    assert issue_of(udp) is None
    await _options(hass, udp, remove_listener_secret=True)
    assert issue_of(udp) is not None
    assert await hass.config_entries.async_unload(udp.entry_id)
    assert issue_of(udp) is None

    # Loopback only, or TCP (its sender's address is real): no issue.
    for protocol, host in (("UDP", "127.0.0.1"), ("TCP", "")):
        entry = entry_for(protocol, host)
        await setup_entry(hass, entry)
        assert issue_of(entry) is None, (protocol, host)
    # An entry stored with a secret starts without the issue.
    stored = entry_for("UDP", "0.0.0.0")
    stored.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        stored, options={**stored.options, "listener_secret": SECRET}
    )
    assert await hass.config_entries.async_setup(stored.entry_id)
    assert issue_of(stored) is None


async def _options(
    hass: HomeAssistant, entry: MockConfigEntry, **user_input: Any
) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "listener"
    form = {"allowed_networks": ["10.0.0.0/8"], "rate_limit": 30, **user_input}
    return await hass.config_entries.options.async_configure(result["flow_id"], form)


def _fields(result: Any) -> dict[str, vol.Marker]:
    return {str(marker): marker for marker in result["data_schema"].schema}


async def test_options_set_keep_and_remove_the_secret(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Every step and error of the secret in the options; the running listener takes
    it at once; it is never offered back."""
    entry = listener_entry(free_port())
    await setup_entry(hass, entry)
    listener = entry.runtime_data.listener
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = _fields(result)
    assert "remove_listener_secret" not in fields  # nothing to remove yet
    assert fields["listener_secret"].default is vol.UNDEFINED
    suggestion = result["description_placeholders"]["suggestion"]
    assert listener_module.validate_secret(suggestion) == suggestion

    for bad in ("too-short", "with a space 12345", "é" * 16, "y" * 129):
        result = await _options(hass, entry, listener_secret=bad)
        assert result["errors"] == {"listener_secret": "invalid_listener_secret"}
    result = await _options(
        hass, entry, allowed_networks=["10.0.0.300"], listener_secret="short"
    )
    assert result["errors"] == {
        "allowed_networks": "invalid_network",
        "listener_secret": "invalid_listener_secret",
    }
    assert "listener_secret" not in entry.options

    result = await _options(
        hass, entry, allowed_networks=["127.0.0.1"], listener_secret=f" {SECRET} "
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["listener_secret"] == SECRET
    assert entry.runtime_data.listener is listener  # no rebind
    assert listener.has_secret
    events = _events(hass)
    for payload in (b"open", f"{SECRET} open".encode()):
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(payload)
        writer.close()
    await _until(lambda: len(events) == 1)
    assert events[0].data["data"] == "open"
    assert listener.unauthenticated == 1

    # Shown again: no default, no suggested value; the remove box is there.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = _fields(result)
    assert fields["listener_secret"].default is vol.UNDEFINED
    assert SECRET not in json.dumps(
        [m.description for m in fields.values()], default=str
    )
    assert SECRET not in json.dumps(result["description_placeholders"])
    assert "remove_listener_secret" in fields
    # Empty keeps it (other options change).
    result = await _options(hass, entry, allowed_networks=["127.0.0.1"], rate_limit=9)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        "allowed_networks": ["127.0.0.1/32"],
        "rate_limit": 9,
        "listener_secret": SECRET,
    }
    assert listener.has_secret
    assert listener.rate_limit == 9
    # A new one and remove at once: which one was meant?
    result = await _options(
        hass, entry, listener_secret="another-secret-123", remove_listener_secret=True
    )
    assert result["errors"] == {"listener_secret": "listener_secret_and_remove"}
    assert entry.options["listener_secret"] == SECRET
    # A new one replaces it.
    result = await _options(hass, entry, listener_secret="another-secret-123")
    assert entry.options["listener_secret"] == "another-secret-123"
    # Removed: messages need none again.
    result = await _options(hass, entry, remove_listener_secret=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "listener_secret" not in entry.options
    assert not listener.has_secret


async def test_diagnostics_and_logs_keep_the_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "diagnostics", {})
    entry = listener_entry(free_port())
    await setup_entry(hass, entry)
    await _options(hass, entry, allowed_networks=["127.0.0.1"], listener_secret=SECRET)
    listener = entry.runtime_data.listener
    for payload in (b"open", f"{SECRET} open".encode(), SECRET[:-1].encode() + b"X"):
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(payload)
        writer.close()
    await _until(lambda: listener.unauthenticated == 2)
    await _until(lambda: entry.runtime_data.received == 1)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert SECRET not in text
    assert SECRET[:-1] not in text
    assert diagnostics["entry"]["options"]["listener_secret"] == "**REDACTED**"
    assert diagnostics["runtime"]["secret_required"] is True
    assert diagnostics["runtime"]["refused_without_secret"] == 2
    assert SECRET[:-1] not in caplog.text

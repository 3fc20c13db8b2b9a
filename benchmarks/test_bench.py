"""Hot paths against their baselines, measured in the same run, alternating rounds.

Every figure is a ratio: ours / baseline (throughput: higher is better; time per call:
lower is better). Run with scripts/bench; not part of scripts/test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import gc
import logging
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from aiohttp import BasicAuth, ClientSession, web
import paho.mqtt.client as paho
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from benchmarks.conftest import record
from benchmarks.measure import (
    alternate as _alternate,
    per_call as _per_call,
    percentile_ms,
    put as _put,
    put_p99,
)
from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.providers import hologram as hologram_module
from custom_components.cellular_iot.providers.listener import Listener
from custom_components.cellular_iot.providers.mqtt import MqttClient, MqttSettings
from homeassistant import block_async_io
from homeassistant.components import webhook
from homeassistant.core import HomeAssistant
from tests.conftest import (
    API_KEY,
    broker_data,
    emnify_entry,
    hologram_entry,
    monoz_entry,
)
from tests.fakes.emnify import FakeEmnify
from tests.fakes.hologram import FakeHologram
from tests.fakes.monoz import ICCID, FakeMonoz
from tests.mosquitto import HOST, Mosquitto

ROUNDS = 5
# The measurements run as a user's HA does: without asyncio's debug mode (which the
# harness turns on) and logging at WARNING (see benchmarks/conftest.py).
pytestmark = pytest.mark.timeout(900)


@pytest.mark.usefixtures("no_asyncio_debug", "user_log_level")
async def test_webhook_vs_noop_handler(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz: FakeMonoz,
) -> None:
    """Our webhook (secret, parse, dedup, event) vs a no-op HA webhook, same payloads."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="monoZ mti",
        data={**monoz_entry().data, "webhook_id": "w" * 64},
        options={"webhook_secret": "bench-secret"},
        unique_id="monoz-org-mti",
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    async def noop(
        hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        await request.read()
        return web.json_response({"accepted": 1, "duplicates": 0})

    webhook.async_register(
        hass, "bench", "noop", "n" * 64, noop, allowed_methods=["POST"]
    )
    client = await hass_client_no_auth()
    requests, concurrency = 400, 8
    counter = iter(range(10**9))
    latencies: dict[str, list[float]] = {"ours": [], "base": []}

    async def run(url: str, side: str) -> float:
        async def worker(count: int) -> None:
            for _ in range(count):
                body = {
                    "ICCID": ICCID,
                    "Timestamp": f"t{next(counter)}",
                    "Payload": "21.5C",
                }
                start = time.perf_counter()
                response = await client.post(
                    url, json=body, headers={"Authorization": "Bearer bench-secret"}
                )
                await response.read()
                latencies[side].append(time.perf_counter() - start)
                assert response.status == 200

        start = time.perf_counter()
        await asyncio.gather(
            *(worker(requests // concurrency) for _ in range(concurrency))
        )
        return requests / (time.perf_counter() - start)

    ours, base = await _alternate(
        ROUNDS,
        lambda: run(f"/api/webhook/{'n' * 64}", "base"),
        lambda: run(f"/api/webhook/{'w' * 64}", "ours"),
    )

    _put(
        "webhook requests/s (8 concurrent)",
        ours,
        base,
        "req/s",
        ">=0.9x",
        p50_ms={
            "ours": percentile_ms(latencies["ours"], 0.5),
            "baseline": percentile_ms(latencies["base"], 0.5),
        },
        p99_ms={
            "ours": percentile_ms(latencies["ours"], 0.99),
            "baseline": percentile_ms(latencies["base"], 0.99),
        },
    )
    put_p99("webhook p99 latency", latencies["ours"], latencies["base"])
    await hass.config_entries.async_unload(entry.entry_id)


# --- 2. on-device listener ------------------------------------------------------------


class _BareTcp:
    """Baseline: a bare asyncio server that reads one message and fires an HA event."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        data = await reader.read()
        writer.close()
        self.hass.bus.async_fire(
            "bench_message", {"data": data.decode(errors="replace")}
        )


@pytest.mark.usefixtures("no_asyncio_debug", "user_log_level")
async def test_listener_vs_bare_server(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    received = {"n": 0}

    def on_message(message: Any) -> None:
        received["n"] += 1
        hass.bus.async_fire(
            "cellular_iot_message_received", {"data": message.data.decode()}
        )

    # Every benchmark message comes from 127.0.0.1: lift the per-sender limits (the
    # rate limit, 8 connections) to measure delivery, not dropping.
    listener = Listener(
        "TCP", "127.0.0.1", 0, on_message, rate_limit=None, max_per_source=64
    )
    await listener.start()
    bare = _BareTcp(hass)
    server = await asyncio.start_server(bare.handle, "127.0.0.1", 0)
    bare_port = server.sockets[0].getsockname()[1]
    messages, concurrency = 300, 8

    async def run(port: int) -> float:
        async def worker(count: int) -> None:
            for i in range(count):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"message {i}".encode())
                writer.close()
                await writer.wait_closed()

        start = time.perf_counter()
        await asyncio.gather(
            *(worker(messages // concurrency) for _ in range(concurrency))
        )
        await hass.async_block_till_done()
        return messages / (time.perf_counter() - start)

    ours, base = await _alternate(
        ROUNDS, lambda: run(bare_port), lambda: run(listener.port)
    )
    _put("listener TCP messages/s (1 conn/message)", ours, base, "msg/s", ">=0.9x")

    # UDP: datagrams until all are delivered.
    udp_received = {"n": 0}
    udp_listener = Listener(
        "UDP",
        "127.0.0.1",
        0,
        lambda m: udp_received.__setitem__("n", udp_received["n"] + 1),
        rate_limit=None,
    )
    await udp_listener.start()

    class BareUdp(asyncio.DatagramProtocol):
        count = 0

        def datagram_received(self, data: bytes, addr: Any) -> None:
            BareUdp.count += 1
            hass.bus.async_fire(
                "bench_message", {"data": data.decode(errors="replace")}
            )

    loop = asyncio.get_running_loop()
    bare_udp, _ = await loop.create_datagram_endpoint(
        BareUdp, local_addr=("127.0.0.1", 0)
    )
    bare_udp_port = bare_udp.get_extra_info("sockname")[1]
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )

    async def run_udp(port: int, counter: Callable[[], int]) -> float:
        """1000 datagrams in windows of 20 (each window delivered before the next)."""
        datagrams, window = 1000, 20
        before = counter()
        start = time.perf_counter()
        for first in range(0, datagrams, window):
            for i in range(first, first + window):
                sender.sendto(f"datagram {i}".encode(), ("127.0.0.1", port))
            async with asyncio.timeout(10):
                while counter() - before < first + window:
                    await asyncio.sleep(0)
        return datagrams / (time.perf_counter() - start)

    ours, base = await _alternate(
        ROUNDS,
        lambda: run_udp(bare_udp_port, lambda: BareUdp.count),
        lambda: run_udp(udp_listener.port, lambda: udp_received["n"]),
    )
    _put("listener UDP datagrams/s", ours, base, "msg/s", ">=0.9x")

    # Memory with 500 idle connections held open by another process (so that only
    # the listener's side is in this process's heap).
    holder_code = (
        "import socket, sys\n"
        "conns = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(500)]\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        holder_code,
        str(listener.port),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert (await holder.stdout.readline()).strip() == b"ready"
    async with asyncio.timeout(10):
        while listener.active_connections + listener.rejected < 500:
            await asyncio.sleep(0.01)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    open_connections = listener.active_connections
    holder.stdin.write(b"bye\n")
    await holder.stdin.drain()
    await holder.wait()
    async with asyncio.timeout(10):
        while listener.active_connections:
            await asyncio.sleep(0.01)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    record(
        "listener memory, 500 idle connections",
        ours=f"{(held - before) / 1024:.0f} KiB held",
        baseline=f"{(after - before) / 1024:.0f} KiB after",
        ratio=f"{open_connections} served",
        goal="flat",
        ok=(after - before) < 256 * 1024 and (held - before) < 2 * 1024 * 1024,
        rejected=listener.rejected,
        note="the listener serves at most 64 connections at once; more are closed at once",
    )
    sender.close()
    bare_udp.close()
    server.close()
    await listener.stop()
    await udp_listener.stop()


# --- 3. outbound actions ----------------------------------------------------------------


@pytest.mark.usefixtures("no_asyncio_debug", "user_log_level")
async def test_outbound_actions_vs_raw_post(
    hass: HomeAssistant,
    hologram: FakeHologram,
    emnify: FakeEmnify,
    monoz: FakeMonoz,
    hologram_account: MockConfigEntry,
    emnify_account: MockConfigEntry,
) -> None:
    monoz_account = monoz_entry()
    monoz_account.add_to_hass(hass)
    assert await hass.config_entries.async_setup(monoz_account.entry_id)
    base_url = hologram_module.DEFAULT_BASE_URL
    session = ClientSession()
    auth = BasicAuth("apikey", API_KEY)
    count = 100

    async def action(name: str, data: dict[str, Any]) -> None:
        await hass.services.async_call(
            DOMAIN, name, data, blocking=True, return_response=True
        )

    async def raw(url: str, body: dict[str, Any], **kwargs: Any) -> None:
        async with session.post(url, json=body, **kwargs) as response:
            await response.read()

    cloud_body = {"deviceids": [123456], "port": 4010, "protocol": "TCP", "data": "x"}
    ours, base = await _alternate(
        ROUNDS,
        lambda: _per_call(
            lambda: raw(f"{base_url}/devices/messages", cloud_body, auth=auth), count
        ),
        lambda: _per_call(
            lambda: action(
                "send_cloud_message",
                {"device_ids": [123456], "port": 4010, "data": "x"},
            ),
            count,
        ),
    )
    _put("send_cloud_message time/call", ours, base, "µs", "<=1.1x")

    sms_url = f"{base_url}/sms/incoming"
    ours, base = await _alternate(
        ROUNDS,
        lambda: _per_call(
            lambda: raw(sms_url, {"deviceid": 123456, "body": "hi"}, auth=auth), count
        ),
        lambda: _per_call(
            lambda: action(
                "send_sms",
                {
                    "device_id": 123456,
                    "message": "hi",
                    "config_entry_id": hologram_account.entry_id,
                },
            ),
            count,
        ),
    )
    _put("send_sms (Hologram) time/call", ours, base, "µs", "<=1.1x")

    monoz_url = f"{monoz_account.runtime_data.client._url('Publish', 'Message')!s}"  # type: ignore[attr-defined]
    downlink = {"ICCID": ICCID, "Topic": "", "Message": "m", "QoS": 0, "Format": 1}
    ours, base = await _alternate(
        ROUNDS,
        lambda: _per_call(
            lambda: raw(monoz_url, downlink, headers={"X-API-Key": monoz.api_key}),
            count,
        ),
        lambda: _per_call(
            lambda: action("publish_downlink", {"iccid": ICCID, "message": "m"}), count
        ),
    )
    _put("publish_downlink (REST) time/call", ours, base, "µs", "<=1.1x")

    # Counts at the fakes.
    before = len(hologram.calls("/devices/messages"))
    device_ids = list(range(100000, 100100))
    hologram.devices.update(
        {d: {"id": d, "orgid": 7001, "name": f"d{d}"} for d in device_ids}
    )
    await action(
        "send_cloud_message", {"device_ids": device_ids, "port": 4010, "data": "all"}
    )
    requests = len(hologram.calls("/devices/messages")) - before
    record(
        "100-device cloud message: HTTP requests",
        ours=requests,
        baseline=1,
        ratio=float(requests),
        goal="==1",
        ok=requests == 1,
    )

    auth_before = emnify.auth_calls
    for i in range(1000):
        await action(
            "send_sms",
            {
                "device_id": 1001,
                "message": f"m{i}",
                "config_entry_id": emnify_account.entry_id,
            },
        )
    auth_calls = emnify.auth_calls - auth_before
    record(
        "1000 emnify SMS: authentication calls",
        ours=auth_calls,
        baseline=0,
        ratio=float(auth_calls),
        goal="<=1",
        ok=auth_calls <= 1,
        note="the token was fetched at setup",
    )

    await session.close()
    await hass.config_entries.async_unload(monoz_account.entry_id)


@pytest.mark.usefixtures("no_asyncio_debug", "user_log_level")
async def test_concurrent_calls_reuse_connections(
    hass: HomeAssistant, socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeHologram()
    peers: set[Any] = set()

    @web.middleware
    async def remember_peer(request: web.Request, handler: Any) -> web.StreamResponse:
        peers.add(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        return await handler(request)

    fake.app.middlewares.insert(0, remember_peer)
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setattr(
        hologram_module, "DEFAULT_BASE_URL", f"http://127.0.0.1:{port}/api/1"
    )
    entry = hologram_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    peers.clear()
    calls = 200
    await asyncio.gather(
        *(
            hass.services.async_call(
                DOMAIN,
                "send_cloud_message",
                {"device_ids": [123456], "port": 1, "data": str(i)},
                blocking=True,
            )
            for i in range(calls)
        )
    )
    record(
        "200 concurrent sends: TCP connections",
        ours=len(peers),
        baseline=calls,
        ratio=round(len(peers) / calls, 3),
        goal="<calls",
        ok=len(peers) < calls,
        note="HA's shared aiohttp session pools connections",
    )
    await hass.config_entries.async_unload(entry.entry_id)
    fake.release.set()
    await runner.cleanup()


# --- 4. MQTT --------------------------------------------------------------------------


@pytest.mark.usefixtures("no_asyncio_debug", "user_log_level")
async def test_mqtt_vs_raw_paho(mosquitto: Mosquitto) -> None:
    ours_client = MqttClient(
        MqttSettings(host=HOST, port=mosquitto.port, client_id="bench-ours")
    )
    await ours_client.start(wait=True)
    raw = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-raw")
    raw.connect(HOST, mosquitto.port)
    raw.loop_start()
    loop = asyncio.get_running_loop()
    count = 1000

    for qos in (0, 1):

        async def ours_run(qos: int = qos) -> float:
            start = time.perf_counter()
            for i in range(count):
                await ours_client.publish("/mti/1/sub", f"m{i}".encode(), qos)
            return count / (time.perf_counter() - start)

        def raw_blocking(qos: int) -> float:
            start = time.perf_counter()
            for i in range(count):
                raw.publish("/mti/1/sub", f"m{i}".encode(), qos).wait_for_publish(10)
            return count / (time.perf_counter() - start)

        async def raw_run(qos: int = qos) -> float:
            return await loop.run_in_executor(None, raw_blocking, qos)

        ours, base = await _alternate(ROUNDS, raw_run, ours_run)
        _put(f"MQTT QoS {qos} downlinks/s (sequential)", ours, base, "msg/s", ">=0.9x")

    raw.loop_stop()
    raw.disconnect()
    await ours_client.stop()


# --- 5. setup cost ------------------------------------------------------------------------


def _import_time(module: str) -> float:
    code = (
        "import homeassistant.core, homeassistant.helpers.entity, time\n"
        f"t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(5)
    ]
    return statistics.median(runs) * 1000


def test_import_time() -> None:
    ours = _import_time("custom_components.cellular_iot")
    base = _import_time("homeassistant.components.webhook")
    record(
        "import time (after homeassistant.core)",
        ours=f"{ours:.1f} ms",
        baseline=f"{base:.1f} ms",
        ratio=round(ours / base, 3),
        goal="info",
        ok="-",
        baseline_module="homeassistant.components.webhook",
    )


async def test_setup_time_and_no_blocking_calls(
    hass: HomeAssistant,
    hologram: FakeHologram,
    emnify: FakeEmnify,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # HA's blocking-call detection (the harness leaves it off; HA's bootstrap enables it).
    block_async_io.enable()
    hass.loop.set_debug(True)
    hass.loop.slow_callback_duration = 0.05
    entries = {
        "hologram": hologram_entry(),
        "emnify": emnify_entry(emnify.application_token),
        "monoz (REST + MQTT)": monoz_entry(broker_data(mosquitto)),
        "on_device": MockConfigEntry(
            domain=DOMAIN,
            data={
                "kind": "on_device",
                "protocol": "TCP",
                "port": 0,
                "host": "127.0.0.1",
            },
        ),
    }
    times = {}
    for name, entry in entries.items():
        entry.add_to_hass(hass)
        start = time.perf_counter()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        times[name] = (time.perf_counter() - start) * 1000
    for name, ms in times.items():
        record(
            f"setup time: {name}",
            ours=f"{ms:.1f} ms",
            baseline="-",
            ratio="-",
            goal="info",
            ok="-",
        )
    blocking = [r for r in caplog.records if "Detected blocking call" in r.getMessage()]
    slow = [
        r for r in caplog.records if r.name == "asyncio" and "took" in r.getMessage()
    ]
    record(
        "blocking calls in the event loop (setup)",
        ours=len(blocking),
        baseline=0,
        ratio=float(len(blocking)),
        goal="==0",
        ok=not blocking,
        slow_callbacks_over_50ms=len(slow),
    )
    for entry in entries.values():
        await hass.config_entries.async_unload(entry.entry_id)
    # Switch the detection off again before the fixtures (a broker process) tear down.
    calls = block_async_io._BLOCKED_CALLS.calls
    for blocking in calls:
        setattr(blocking.object, blocking.function, blocking.original_func)
    calls.clear()

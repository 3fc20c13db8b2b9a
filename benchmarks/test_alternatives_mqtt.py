"""``cellular_iot.publish_downlink`` over MQTT against HA's own ``mqtt.publish``.

Both sides are actions called through ``hass.services`` and connected to the same real
Mosquitto: ours through a monoZ account with a broker configured (``via: mqtt``),
theirs through HA's MQTT integration set up with a config entry for that broker. Same
payload and topic shape (``/<org>/<iccid>/sub``, one ICCID per side so each side's
messages can be counted). A separate client (``mosquitto_sub``, its own process)
subscribed to ``/<org>/+/sub/#`` counts what arrived: the clock of a run stops when
every message of that run has reached it, and the counts are asserted. Alternating
rounds, median of each side, ratio ours / theirs; timings are reported, never asserted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
import time
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks.measure import (
    alternate as _alternate,
    put as _put,
    put_instructions,
)
from custom_components.cellular_iot.const import DOMAIN
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from tests.conftest import broker_data, monoz_entry, setup_entry
from tests.fakes.monoz import ICCID, ORG_ID, FakeMonoz
from tests.mosquitto import Mosquitto, Subscriber
from tests.test_monoz import _wait_connected

ROUNDS = 5
COUNT = 500
COUNTED = 50  # calls of each side whose Python instructions are counted
CONCURRENCY = 8
PAYLOAD = "led=on"
# One device per concurrent worker, as in test_alternatives.py: ours keeps the order
# of the sends to one device (a send behind another to the same device is queued in
# the persistent outbox), mqtt.publish keeps none, so 8 workers to one device would
# measure that guarantee rather than the publishing.
OUR_ICCIDS = [ICCID, *(f"89811000058194810{i:02}" for i in range(1, CONCURRENCY))]
THEIR_ICCIDS = [f"89811000058194820{i:02}" for i in range(CONCURRENCY)]

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.usefixtures("fast_reconnect", "user_log_level"),
]


def _topic(iccid: str) -> str:
    return f"/{ORG_ID}/{iccid}/sub"


class Delivered:
    """Count per topic what an independent subscriber received."""

    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber
        self.broker = subscriber.broker
        self.counts: Counter[str] = Counter()
        self.payloads: set[bytes] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.subscriber.start()
        self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            got = await self.subscriber.messages.get()
            self.counts[got.topic] += 1
            self.payloads.add(got.payload)
            self._changed.set()

    def total(self, iccids: list[str]) -> int:
        return sum(self.counts[_topic(iccid)] for iccid in iccids)

    async def wait_for(
        self, iccids: list[str], count: int, timeout: float = 30
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while self.total(iccids) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            logs = "".join(
                log.read_text() for log in self.broker.directory.glob("broker-*.log")
            )
            pytest.fail(
                f"{self.total(iccids)} of {count} arrived ({self.counts}); "
                f"broker log: {logs[-2000:]}"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.subscriber.stop()


async def _rate(
    call: Callable[[str], Awaitable[Any]],
    delivered: Delivered,
    iccids: list[str],
    concurrency: int,
) -> float:
    """Messages/s: about ``COUNT`` calls by ``concurrency`` workers (a multiple of
    it), worker i to device i; the clock stops when the subscriber has every
    message of the run."""

    async def worker(iccid: str, n: int) -> None:
        for _ in range(n):
            await call(iccid)

    each = COUNT // concurrency
    expected = delivered.total(iccids) + each * concurrency
    start = time.perf_counter()
    await asyncio.gather(*(worker(iccids[i], each) for i in range(concurrency)))
    await delivered.wait_for(iccids, expected)
    return each * concurrency / (time.perf_counter() - start)


async def _ha_mqtt(
    hass: HomeAssistant, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> MockConfigEntry:
    """HA's MQTT integration as its config flow creates it (entry version 1.2).

    Its setup reads configuration.yaml for ``mqtt:`` items; the harness's config
    directory has none (the file is missing), so it reads as a user's file without
    an ``mqtt:`` key would.
    """

    async def _no_yaml(hass: HomeAssistant) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(
        "homeassistant.components.mqtt.conf_util.async_hass_config_yaml", _no_yaml
    )
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": mosquitto.port},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await mqtt.async_wait_for_mqtt_client(hass)
    async with asyncio.timeout(15):
        while not mqtt.is_connected(hass):
            await asyncio.sleep(0.01)
    await hass.async_block_till_done()
    return entry


async def test_downlink_vs_mqtt_publish(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    no_asyncio_debug: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivered = Delivered(Subscriber(mosquitto, f"/{ORG_ID}/+/sub/#", "bench-count"))
    await delivered.start()
    sent: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    entries: list[MockConfigEntry] = []
    try:
        ours_entry = await setup_entry(hass, monoz_entry(broker_data(mosquitto)))
        entries.append(ours_entry)
        await _wait_connected(hass, ours_entry, True)
        entries.append(await _ha_mqtt(hass, mosquitto, monkeypatch))
        for qos in (0, 1):

            async def ours_call(iccid: str, qos: int = qos) -> None:
                sent[_topic(iccid)] += 1
                response = await hass.services.async_call(
                    DOMAIN,
                    "publish_downlink",
                    {"iccid": iccid, "message": PAYLOAD, "qos": qos, "via": "mqtt"},
                    blocking=True,
                    return_response=True,
                )
                assert isinstance(response, dict)
                assert response["via"] == "mqtt", response
                statuses[response["status"]] += 1

            async def theirs_call(iccid: str, qos: int = qos) -> None:
                sent[_topic(iccid)] += 1
                await hass.services.async_call(
                    mqtt.DOMAIN,
                    "publish",
                    {"topic": _topic(iccid), "payload": PAYLOAD, "qos": qos},
                    blocking=True,
                )

            for concurrency in (1, CONCURRENCY):
                ours, theirs = await _alternate(
                    ROUNDS,
                    partial(_rate, theirs_call, delivered, THEIR_ICCIDS, concurrency),
                    partial(_rate, ours_call, delivered, OUR_ICCIDS, concurrency),
                )
                mode = (
                    "sequential"
                    if concurrency == 1
                    else f"{concurrency} concurrent, 8 devices"
                )
                _put(
                    f"MQTT downlink QoS {qos} vs mqtt.publish ({mode})",
                    ours,
                    theirs,
                    "msg/s",
                    ">=1.0x",
                    count=COUNT,
                    rounds=ROUNDS,
                )
            # The work of a call, exactly (the acknowledgement included for QoS 1).
            expected = delivered.total(OUR_ICCIDS + THEIR_ICCIDS) + 2 * COUNTED
            await put_instructions(
                f"MQTT downlink QoS {qos} vs mqtt.publish instructions/call",
                partial(ours_call, OUR_ICCIDS[0]),
                partial(theirs_call, THEIR_ICCIDS[0]),
                COUNTED,
            )
            await delivered.wait_for(OUR_ICCIDS + THEIR_ICCIDS, expected)
        # Every message of both sides reached the independent subscriber, the same
        # payload, on the same topic shape, and nothing else arrived there.
        assert delivered.counts == sent, (delivered.counts, sent)
        assert delivered.payloads == {PAYLOAD.encode()}
        # Ours published each at once (none waited in the outbox).
        assert set(statuses) == {"sent"}, statuses
    finally:
        await delivered.stop()
        for entry in reversed(entries):
            assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()

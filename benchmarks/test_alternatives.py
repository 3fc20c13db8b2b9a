"""Our paths against what a Home Assistant user would otherwise configure.

Same run, alternating rounds, median of each side, ratio ours / alternative. The
alternatives are HA's own building blocks set up as a user would in YAML:
``rest_command`` for the outbound actions, an automation with a webhook trigger for
the inbound webhook. Each benchmark checks at the fake (or on the event bus) that both
sides did all the work; timings are reported, never asserted.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import time
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from benchmarks.conftest import record
from benchmarks.measure import (
    alternate as _alternate,
    per_call as _per_call,
    percentile_ms,
    put as _put,
    put_instructions,
    put_p99,
)
from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.providers import monoz as monoz_module
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from tests.conftest import (
    API_KEY,
    hologram_entry,
    monoz_entry,
    record_events,
    setup_entry,
    with_webhook,
)
from tests.fakes.hologram import FakeHologram
from tests.fakes.monoz import (
    API_KEY as MONOZ_API_KEY,
    ICCID as MONOZ_ICCID,
    ORG_ID as MONOZ_ORG_ID,
    FakeMonoz,
)

ROUNDS = 5
COUNTED = 50  # calls of each side whose Python instructions are counted
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("user_log_level")]

DEVICE_ID = 123456
DEVICES = [DEVICE_ID, *range(900001, 900008)]  # one per concurrent worker
AUTHORIZATION = "Basic " + base64.b64encode(f"apikey:{API_KEY}".encode()).decode()


async def _rate(
    call: Callable[[int], Awaitable[Any]],
    count: int,
    concurrency: int,
    received: Callable[[], int],
) -> float:
    """Calls/s with ``concurrency`` workers, worker i sending to device i; the clock
    stops when the fake has received every request (ours answers ``queued`` for a
    send behind another to the same device and sends it from the outbox)."""

    async def worker(index: int, n: int) -> None:
        for _ in range(n):
            await call(index)

    start = time.perf_counter()
    expected = received() + count
    await asyncio.gather(*(worker(i, count // concurrency) for i in range(concurrency)))
    async with asyncio.timeout(60):
        while received() < expected:
            await asyncio.sleep(0.001)
    return count / (time.perf_counter() - start)  # calls/s


# The rest_command a user would write for Hologram (docs/performance.md shows it).
REST_COMMAND = {
    "hologram_cloud_message": {
        "url": "{base}/devices/messages",
        "method": "post",
        "content_type": "application/json",
        "headers": {"Authorization": AUTHORIZATION},
        "payload": (
            '{"deviceids": [{{ device_id }}], "port": 4010, '
            '"protocol": "TCP", "data": "{{ data }}", "encrypted": true}'
        ),
    },
    "hologram_sms": {
        "url": "{base}/sms/incoming",
        "method": "post",
        "content_type": "application/json",
        "headers": {"Authorization": AUTHORIZATION},
        "payload": '{"deviceid": {{ device_id }}, "body": "{{ message }}"}',
    },
}


# The rest_command a user would write for a monoZ downlink (``X-API-Key``: the key).
MONOZ_REST_COMMAND = {
    "monoz_downlink": {
        "url": "{base}/" + MONOZ_ORG_ID + "/Publish/Message",
        "method": "post",
        "content_type": "application/json",
        "headers": {"X-API-Key": MONOZ_API_KEY, "Accept": "application/json"},
        "payload": (
            '{"ICCID": "{{ iccid }}", "Topic": "", "Message": "{{ message }}", '
            '"QoS": 0, "Format": 1}'
        ),
    },
}


def _at(commands: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The rest_commands with their URLs at the local fake."""
    return {
        name: {**spec, "url": spec["url"].format(base=base_url)}
        for name, spec in commands.items()
    }


def _rest_command_config(base_url: str) -> dict[str, Any]:
    return _at(REST_COMMAND, base_url)


# --- 1. outbound: our actions vs rest_command ------------------------------------------


@dataclass
class Case:
    """One action against the rest_command doing the same POST."""

    ours: str  # our action
    rest: str  # the rest_command
    ours_data: Callable[[int], dict[str, Any]]  # the call's data, to device i
    rest_data: Callable[[int], dict[str, Any]]
    requests: Callable[[], int]  # requests the fake received on the action's path
    accepted: Callable[[], int]  # and accepted
    same_request: Callable[[], None]  # checks the last two requests are the same


async def _versus_rest_command(hass: HomeAssistant, case: Case) -> None:
    """Time per call, calls/s at 8 concurrent (one device each), time per call with
    the answer asked for, and instructions per call; every call checked at the fake."""
    count, concurrency = 200, 8
    answer = {"wanted": False}
    sent = {"ours": 0, "rest": 0}

    async def call(domain: str, service: str, data: dict[str, Any]) -> None:
        response = await hass.services.async_call(
            domain, service, data, blocking=True, return_response=answer["wanted"]
        )
        if answer["wanted"]:  # what an automation's response_variable holds
            assert isinstance(response, dict)
            assert response.get("status", 200) in ("sent", 200), response

    async def ours_call(index: int = 0) -> None:
        sent["ours"] += 1
        await call(DOMAIN, case.ours, case.ours_data(index))

    async def rest_call(index: int = 0) -> None:
        sent["rest"] += 1
        await call("rest_command", case.rest, case.rest_data(index))

    # The same request from both sides (body and credentials, checked at the fake).
    await ours_call()
    await rest_call()
    case.same_request()

    requests_before, accepted_before = case.requests(), case.accepted()
    sent.update(ours=0, rest=0)
    ours, base = await _alternate(
        ROUNDS,
        lambda: _per_call(rest_call, count),
        lambda: _per_call(ours_call, count),
    )
    _put(f"{case.ours} vs rest_command time/call", ours, base, "µs", "<=1.0x")
    ours, base = await _alternate(
        ROUNDS,
        lambda: _rate(rest_call, count, concurrency, case.requests),
        lambda: _rate(ours_call, count, concurrency, case.requests),
    )
    _put(
        f"{case.ours} vs rest_command calls/s (8 conc.)",
        ours,
        base,
        "calls/s",
        ">=1.0x",
    )
    # With the answer asked for on both sides (``response_variable:``), as an
    # automation that checks the provider accepted the send must: rest_command then
    # reads and parses the answer, which it skips otherwise (and ours always does, to
    # raise the provider's refusal).
    answer["wanted"] = True
    ours, base = await _alternate(
        ROUNDS,
        lambda: _per_call(rest_call, count),
        lambda: _per_call(ours_call, count),
    )
    _put(
        f"{case.ours} vs rest_command, answer read, time/call",
        ours,
        base,
        "µs",
        "<=1.0x",
    )
    # The work itself, exactly: Python instructions per call (outside the fake).
    for wanted, suffix in ((False, ""), (True, ", answer read")):
        answer["wanted"] = wanted
        await put_instructions(
            f"{case.ours} vs rest_command{suffix} instructions/call",
            ours_call,
            rest_call,
            COUNTED,
        )
    # Every call of both sides reached the fake, and the fake accepted it.
    total = sent["ours"] + sent["rest"]
    assert sent["ours"] == sent["rest"] == 3 * (ROUNDS + 1) * count + 2 * COUNTED
    assert case.requests() - requests_before == total
    assert case.accepted() - accepted_before == total


async def test_actions_vs_rest_command(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    no_asyncio_debug: None,
) -> None:
    """send_cloud_message / send_sms vs rest_command posting the same to the fake."""
    hologram.devices.update(
        {d: {"id": d, "orgid": 7001, "name": f"d{d}"} for d in DEVICES[1:]}
    )
    assert await async_setup_component(
        hass,
        "rest_command",
        {"rest_command": _rest_command_config(hologram.base_url)},  # type: ignore[attr-defined]
    )
    await hass.async_block_till_done()

    def same_request(path: str) -> Callable[[], None]:
        def check() -> None:
            ours_req, rest_req = hologram.calls(path)[-2:]
            assert ours_req.body == rest_req.body, (ours_req.body, rest_req.body)
            assert ours_req.headers.get("Authorization") == AUTHORIZATION
            assert rest_req.headers.get("Authorization") == AUTHORIZATION

        return check

    await _versus_rest_command(
        hass,
        Case(
            ours="send_cloud_message",
            rest="hologram_cloud_message",
            ours_data=lambda i: {"device_ids": [DEVICES[i]], "port": 4010, "data": "x"},
            rest_data=lambda i: {"device_id": DEVICES[i], "data": "x"},
            requests=lambda: len(hologram.calls("/devices/messages")),
            accepted=lambda: len(hologram.cloud_messages),
            same_request=same_request("/devices/messages"),
        ),
    )
    await _versus_rest_command(
        hass,
        Case(
            ours="send_sms",
            rest="hologram_sms",
            ours_data=lambda i: {"device_id": DEVICES[i], "message": "hi"},
            rest_data=lambda i: {"device_id": DEVICES[i], "message": "hi"},
            requests=lambda: len(hologram.calls("/sms/incoming")),
            accepted=lambda: len(hologram.sms),
            same_request=same_request("/sms/incoming"),
        ),
    )
    assert hologram.violations == []


async def test_downlink_vs_rest_command(
    hass: HomeAssistant, monoz: FakeMonoz, no_asyncio_debug: None
) -> None:
    """publish_downlink over monoZ's REST API vs a rest_command posting the same."""
    iccids = [MONOZ_ICCID, *(f"898110000581948{i:04}" for i in range(101, 108))]
    monoz.iccids.update(iccids)
    await setup_entry(hass, monoz_entry())
    base_url = str(monoz_module.DEFAULT_BASE_URL)
    assert await async_setup_component(
        hass, "rest_command", {"rest_command": _at(MONOZ_REST_COMMAND, base_url)}
    )
    await hass.async_block_till_done()
    path = "/Publish/Message"

    def same_request() -> None:
        ours_body, rest_body = monoz.published[-2:]
        assert ours_body == rest_body, (ours_body, rest_body)

    await _versus_rest_command(
        hass,
        Case(
            ours="publish_downlink",
            rest="monoz_downlink",
            ours_data=lambda i: {"iccid": iccids[i], "message": "x", "via": "rest"},
            rest_data=lambda i: {"iccid": iccids[i], "message": "x"},
            requests=lambda: len(monoz.calls(path)),
            accepted=lambda: len(monoz.published),
            same_request=same_request,
        ),
    )
    assert monoz.violations == []


# --- 2. inbound: our webhook vs an automation with a webhook trigger -------------------

OUR_HOOK = "a" * 64
AUTOMATION_HOOK = "b" * 64
SECRET = "bench-webhook-secret-0123456789"

AUTOMATION = {
    "id": "hologram_webhook",
    "alias": "Hologram webhook",
    "triggers": [
        {
            "trigger": "webhook",
            "webhook_id": AUTOMATION_HOOK,
            "allowed_methods": ["POST"],
            "local_only": False,
        }
    ],
    "actions": [
        {
            "event": "my_message",
            "event_data": {
                "device_id": "{{ trigger.json.device_id }}",
                "data": "{{ trigger.json.decdata }}",
            },
        }
    ],
    "mode": "parallel",
    "max": 1000,
}


async def test_webhook_vs_automation(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram: FakeHologram,
    no_asyncio_debug: None,
) -> None:
    """Our webhook (Hologram JSON route) vs a webhook-triggered automation."""
    await setup_entry(hass, with_webhook(hologram_entry(), OUR_HOOK, SECRET))
    assert await async_setup_component(hass, "automation", {"automation": AUTOMATION})
    await hass.async_block_till_done()
    ours_events = record_events(hass, EVENT_MESSAGE_RECEIVED)
    their_events = record_events(hass, "my_message")
    client = await hass_client_no_auth()
    count = 400
    counter = iter(range(10**9))
    latencies: dict[str, list[float]] = {"ours": [], "base": []}
    sent = {"ours": 0, "base": 0}

    async def run(url: str, side: str) -> float:
        start = time.perf_counter()
        for _ in range(count):
            n = next(counter)
            # Hologram's advanced webhook builder, <<decdata>> template (as in
            # docs/webhooks.md); "received" differs each time so none is a duplicate.
            body = {
                "device_id": "12345",
                "device_name": "Van tracker",
                "received": f"2026-11-23T10:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}",
                "decdata": "21.5C",
            }
            sent[side] += 1
            t0 = time.perf_counter()
            response = await client.post(url, json=body)
            await response.read()
            latencies[side].append(time.perf_counter() - t0)
            assert response.status == 200
        return count / (time.perf_counter() - start)

    ours, base = await _alternate(
        ROUNDS,
        lambda: run(f"/api/webhook/{AUTOMATION_HOOK}", "base"),
        lambda: run(f"/api/webhook/{OUR_HOOK}?secret={SECRET}", "ours"),
    )
    await hass.async_block_till_done()

    _put(
        "webhook vs automation requests/s (seq.)",
        ours,
        base,
        "req/s",
        ">=1.0x",
        p50_ms={
            "ours": percentile_ms(latencies["ours"], 0.5),
            "baseline": percentile_ms(latencies["base"], 0.5),
        },
    )
    put_p99("webhook vs automation p99 latency", latencies["ours"], latencies["base"])
    # Each side's event fired once for every request, with the data.
    assert sent["ours"] == sent["base"] == (ROUNDS + 1) * count
    assert len(ours_events) == sent["ours"]
    assert len(their_events) == sent["base"]
    assert ours_events[-1].data["data"] == "21.5C"
    assert their_events[-1].data["data"] == "21.5C"


# --- 3. one cloud message to 100 devices vs 100 rest_command calls ---------------------


async def test_100_devices_vs_rest_command_loop(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    no_asyncio_debug: None,
) -> None:
    """One send_cloud_message to 100 devices vs a rest_command per device (what a
    user's ``repeat: for_each`` does: Hologram's body takes one device there)."""
    assert await async_setup_component(
        hass,
        "rest_command",
        {"rest_command": _rest_command_config(hologram.base_url)},  # type: ignore[attr-defined]
    )
    device_ids = list(range(100000, 100100))
    hologram.devices.update(
        {d: {"id": d, "orgid": 7001, "name": f"d{d}"} for d in device_ids}
    )
    path = "/devices/messages"
    requests = {"ours": 0, "rest": 0}
    delivered = {"ours": 0, "rest": 0}

    async def measure(side: str, send: Callable[[], Awaitable[None]]) -> float:
        before = len(hologram.calls(path))
        accepted = len(hologram.cloud_messages)
        start = time.perf_counter()
        await send()
        elapsed = (time.perf_counter() - start) * 1000
        requests[side] = len(hologram.calls(path)) - before
        delivered[side] += sum(
            len(m["deviceids"]) for m in hologram.cloud_messages[accepted:]
        )
        return elapsed  # ms

    async def ours() -> None:
        await hass.services.async_call(
            DOMAIN,
            "send_cloud_message",
            {"device_ids": device_ids, "port": 4010, "data": "all"},
            blocking=True,
        )

    async def rest() -> None:
        for device_id in device_ids:
            await hass.services.async_call(
                "rest_command",
                "hologram_cloud_message",
                {"device_id": device_id, "data": "all"},
                blocking=True,
            )

    ours_ms, rest_ms = await _alternate(
        ROUNDS, lambda: measure("rest", rest), lambda: measure("ours", ours)
    )
    _put(
        "100-device cloud message vs 100 rest_command", ours_ms, rest_ms, "ms", "<=1.0x"
    )
    record(
        "100-device cloud message vs 100 rest_command: requests",
        ours=requests["ours"],
        baseline=requests["rest"],
        ratio=round(requests["ours"] / requests["rest"], 3),
        goal="==1",
        ok=requests["ours"] == 1,
    )
    # Every device got the message on both sides, in every round.
    assert requests == {"ours": 1, "rest": 100}
    assert delivered == {"ours": 100 * (ROUNDS + 1), "rest": 100 * (ROUNDS + 1)}

"""HTTP 429: the action answers at once, the outbox retries at the provider's time.

Issue 25 item 9: the Hologram client slept inside the call (twice, up to 60 s each)
before answering, longer than the outbox's stop timeout; a reload in that wait could
deliver twice. Now no client waits inside a call: a 429 is ``queued`` after one
request, and the outbox holds the account's sends until the ``Retry-After``.
Time is driven with the freezer and ``async_fire_time_changed``, never slept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.cellular_iot.const import DOMAIN, signal_state
from custom_components.cellular_iot.outbox import Outbox, SendState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .conftest import ONENCE_PUMP, monoz_entry, setup_entry
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .fakes.onence import FakeOneNce

RATE_LIMITED = {"success": False, "error": "API rate limit exceeded"}


def _outbox(entry: MockConfigEntry) -> Outbox:
    box = entry.runtime_data.outbox  # type: ignore[attr-defined]
    assert isinstance(box, Outbox)
    return box


async def _call(hass: HomeAssistant, action: str, data: dict[str, Any]) -> Any:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert isinstance(response, dict)
    return response


async def _cloud(hass: HomeAssistant, device_id: int, data: str) -> dict[str, Any]:
    return await _call(  # type: ignore[no-any-return]
        hass,
        "send_cloud_message",
        {"device_ids": [device_id], "port": 4010, "data": data},
    )


async def _turns(count: int = 20) -> None:
    """Let the loop run the tasks a fired timer woke (no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def _until(
    hass: HomeAssistant, entry: MockConfigEntry, condition: Callable[[], bool]
) -> None:
    """Wait for the outbox's state signal until ``condition`` holds."""
    changed = asyncio.Event()

    @callback
    def _on_state() -> None:
        changed.set()

    unsub = async_dispatcher_connect(hass, signal_state(entry.entry_id), _on_state)
    try:
        while not condition():
            changed.clear()
            await changed.wait()
    finally:
        unsub()


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    freezer.tick(seconds)
    async_fire_time_changed(hass)
    await _turns()


def _delivered(hologram: FakeHologram) -> list[str]:
    return [message["data"] for message in hologram.cloud_messages]


async def test_hologram_429_is_queued_at_once_and_retried_at_retry_after(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hologram.fail(
        "/devices/messages", 429, RATE_LIMITED, headers={"Retry-After": "60"}, times=3
    )
    response = await _cloud(hass, 123456, "open")
    assert response["status"] == "queued"
    assert "429" in response["error"]
    # One request: the call did not wait and ask again (it asked 3 times in 94932c4,
    # sleeping 60 s before each retry).
    assert len(hologram.calls("/devices/messages")) == 1
    outbox = _outbox(hologram_account)
    item = outbox._items[response["outbox_id"]]
    assert item.due - hass.loop.time() == pytest.approx(60, abs=0.5)
    hologram.faults.clear()
    # 59 s later Hologram still asks us to wait: nothing is sent.
    await _advance(hass, freezer, 59)
    assert len(hologram.calls("/devices/messages")) == 1
    assert item.state is SendState.QUEUED
    # At its time the send goes, once.
    await _advance(hass, freezer, 2)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == ["open"]
    assert len(hologram.calls("/devices/messages")) == 2


async def test_hologram_429_without_retry_after_waits_5_to_10_seconds(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Hologram: "refrain from making requests for 5-10 seconds and then retry"."""
    hologram.fail("/devices/messages", 429, RATE_LIMITED)
    response = await _cloud(hass, 123456, "open")
    assert response["status"] == "queued"
    assert len(hologram.calls("/devices/messages")) == 1
    item = _outbox(hologram_account)._items[response["outbox_id"]]
    assert 5 <= item.due - hass.loop.time() <= 10


async def test_a_429_holds_every_send_of_the_account_until_retry_after(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The rate limit is the account's: the worker asks for nothing before its time."""
    outbox = _outbox(hologram_account)
    hologram.fail("/devices/messages", 500, times=2)
    first = await _cloud(hass, 123456, "to the gate")
    second = await _cloud(hass, 234567, "to the pump")
    assert first["status"] == second["status"] == "queued"
    # Both due within RETRY_MIN (10 s, jittered): the first the worker tries gets 429.
    hologram.fail("/devices/messages", 429, RATE_LIMITED, headers={"Retry-After": "60"})
    await _advance(hass, freezer, 13)
    await _until(
        hass, hologram_account, lambda: len(outbox.errors) == 3 or outbox.depth < 2
    )
    await _turns()
    assert len(outbox.errors) == 3  # (the 429 reached the outbox)
    # The other send was due too, but waits for Hologram's time with it.
    assert len(hologram.calls("/devices/messages")) == 3
    items = [outbox._items[r["outbox_id"]] for r in (first, second)]
    assert [item.state for item in items] == [SendState.QUEUED] * 2
    await _advance(hass, freezer, 30)
    assert len(hologram.calls("/devices/messages")) == 3
    await _advance(hass, freezer, 31)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert sorted(_delivered(hologram)) == ["to the gate", "to the pump"]


async def test_a_reload_while_rate_limited_delivers_once(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hologram.fail("/devices/messages", 429, RATE_LIMITED, headers={"Retry-After": "60"})
    response = await _cloud(hass, 123456, "open")
    assert response["status"] == "queued"
    assert await hass.config_entries.async_reload(hologram_account.entry_id)
    await hass.async_block_till_done()
    await _advance(hass, freezer, 61)
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    assert _delivered(hologram) == ["open"]
    assert len(hologram.calls("/devices/messages")) == 2


async def test_emnify_429_is_queued_after_one_request(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    """emnify's client never waited inside a call either: one request, queued."""
    emnify.fail(
        "/endpoint/1001/sms",
        429,
        {"message": "slow down"},
        headers={"Retry-After": "60"},
    )
    response = await _call(hass, "send_sms", {"device_id": 1001, "message": "hi"})
    assert response["status"] == "queued"
    assert len(emnify.calls("/endpoint/1001/sms")) == 1
    item = _outbox(emnify_account)._items[response["outbox_id"]]
    assert item.due - hass.loop.time() == pytest.approx(60, abs=0.5)


async def test_onence_429_is_queued_after_one_request(
    hass: HomeAssistant, onence: FakeOneNce, onence_account: MockConfigEntry
) -> None:
    """1NCE's client never waits inside a call either: one request, queued until
    1NCE's Retry-After."""
    path = f"/v2/sims/{ONENCE_PUMP}/sms"
    onence.fail(
        path,
        429,
        {"error_code": 1000, "error_token": "TooManyRequests", "message": "slow"},
        headers={"Retry-After": "60"},
    )
    response = await _call(hass, "send_sms", {"iccid": ONENCE_PUMP, "message": "hi"})
    assert response["status"] == "queued"
    assert len(onence.calls(path)) == 1
    assert onence.sms == []
    item = _outbox(onence_account)._items[response["outbox_id"]]
    assert item.due - hass.loop.time() == pytest.approx(60, abs=0.5)


async def test_monoz_429_is_queued_after_one_request(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    """monoZ's client never waited inside a call either: one request, queued."""
    entry = await setup_entry(hass, monoz_entry())
    monoz.fail("/Publish/Message", 429, {"Error": True, "StatusCode": 429})
    response = await _call(
        hass, "publish_downlink", {"iccid": ICCID, "message": "open"}
    )
    assert response["status"] == "queued"
    assert len(monoz.calls("/Publish/Message")) == 1
    item = _outbox(entry)._items[response["outbox_id"]]
    assert 5 <= item.due - hass.loop.time() <= 10


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("12", 12, 12),
        ("3600", 900, 900),  # the outbox's longest wait (RETRY_MAX)
        ("soon", 5, 10),  # not seconds: Hologram's own 5-10 s
    ],
)
async def test_hologram_retry_after_is_kept_within_bounds(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    retry_after: str,
    low: float,
    high: float,
) -> None:
    hologram.fail(
        "/devices/messages", 429, RATE_LIMITED, headers={"Retry-After": retry_after}
    )
    response = await _cloud(hass, 123456, "open")
    assert response["status"] == "queued"
    assert len(hologram.calls("/devices/messages")) == 1
    item = _outbox(hologram_account)._items[response["outbox_id"]]
    assert low <= item.due - hass.loop.time() <= high

"""A deep outbox costs the garbage collector little: structure, not time.

Loading 100,000 queued sends at start stalled the event loop 884 ms (issue 25): each
send added about six containers the garbage collector tracks (the send, its params
dict, the list in it, its target list, two heap entries holding the send), and
600,000 new tracked objects set off Python's full collection passes (each one holds
the GIL for hundreds of ms, whatever thread allocates). A waiting send now holds one
tracked object, itself: its params are JSON text, its targets a tuple of strings, and
the heaps name it by id. These tests count objects; the stall itself is measured in
benchmarks/test_outbox_depth.py.
"""

from __future__ import annotations

import gc
import heapq
import logging
import time
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.outbox import OPERATIONS, Outbox
from homeassistant.core import HomeAssistant

from .conftest import hologram_entry

COUNT = 3_000
SEGMENT = 500


def _row(index: int) -> dict[str, Any]:
    return {
        "id": f"q{index}",
        "seq": index,
        "operation": "hologram_cloud_message",
        "action": "send_cloud_message",
        "targets": [f"device:{index}"],
        "params": {
            "device_ids": [index],
            "port": 4010,
            "protocol": "TCP",
            "data": f"payload {index}",
            "data_base64": None,
            "encrypted": False,
        },
        "created": time.time() - 60,
        "attempts": 1,
        "next_attempt": time.time() + 3600,
        "last_error": "Hologram failed (HTTP 503)",
    }


def _store(hass_storage: dict[str, Any], entry: MockConfigEntry) -> None:
    """Store COUNT waiting sends in segments, as the outbox writes them."""
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    numbers = list(range(COUNT // SEGMENT))
    hass_storage[key] = {
        "version": 1,
        "minor_version": 2,
        "key": key,
        "data": {"segments": numbers, "next": len(numbers)},
    }
    for number in numbers:
        hass_storage[f"{key}.{number}"] = {
            "version": 1,
            "minor_version": 1,
            "key": f"{key}.{number}",
            "data": {
                "items": [
                    _row(index)
                    for index in range(number * SEGMENT, (number + 1) * SEGMENT)
                ]
            },
        }


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The storage mock logs what it loads: the records would keep every row."""
    caplog.set_level(logging.INFO, "pytest_homeassistant_custom_component.common")


def _entry(hass: HomeAssistant, hass_storage: dict[str, Any]) -> MockConfigEntry:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    _store(hass_storage, entry)
    return entry


async def _load(hass: HomeAssistant, entry: MockConfigEntry) -> Outbox:
    box = Outbox(hass, entry)
    await box.async_load()
    assert box.depth == COUNT
    return box


async def test_loading_a_deep_queue_adds_one_tracked_object_per_send(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """3,000 waiting sends add about 3,000 tracked objects (it was about 18,000)."""
    entry = _entry(hass, hass_storage)  # (the stored rows are counted before)
    gc.collect()
    before = len(gc.get_objects())
    box = await _load(hass, entry)
    gc.collect()  # (a tuple of atomic values is untracked when it is collected)
    grown = len(gc.get_objects()) - before
    assert grown < COUNT * 1.25, grown
    assert box.depth == COUNT


async def test_a_waiting_send_holds_no_tracked_container(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Params as JSON text, targets a tuple of strings, heap entries by id."""
    box = await _load(hass, _entry(hass, hass_storage))
    gc.collect()
    item = box._items["q7"]
    assert isinstance(item.params_data, str)
    assert not gc.is_tracked(item.params_data)
    assert not gc.is_tracked(item.targets)
    assert not gc.is_tracked(item.progress)
    assert not any(gc.is_tracked(entry) for entry in box._ready)
    assert not any(gc.is_tracked(entry) for entry in box._aging)
    # What the operations read is still the params as they were stored.
    assert item.params == _row(7)["params"]
    assert item.params is not item.params  # decoded afresh: nothing kept
    assert item.row()["targets"] == ["device:7"]
    assert box.oldest is box._items["q0"]


async def test_a_send_queued_by_an_action_is_packed_too(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A send queued behind another (no provider call) keeps its params as text."""
    box = await _load(hass, _entry(hass, hass_storage))
    params = {"device_ids": [0], "port": 4010, "protocol": "TCP", "data": "OPEN"}
    monkeypatch.setitem(OPERATIONS, "test_op", OPERATIONS["hologram_cloud_message"])
    response = await box.async_submit(
        "test_op", "send_cloud_message", ["device:0", "device:0"], params
    )
    assert response["status"] == "queued"
    item = box._items[response["outbox_id"]]
    assert item.targets == ("device:0",)
    assert isinstance(item.params_data, str)
    assert item.params == params
    # The heap of due sends names it (once it heads its lane) by id.
    assert all(isinstance(entry[3], str) for entry in box._ready)
    assert heapq.nsmallest(1, box._aging)[0][2] == "q0"
    await box.stop()

"""The outbox: passing faults are retried, in order, across restarts; refusals are not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot import outbox as outbox_module
from custom_components.cellular_iot.const import DOMAIN, signal_state
from custom_components.cellular_iot.outbox import (
    EVENT_SEND_FAILED,
    Outbox,
    is_transient,
    retry_delay,
)
from custom_components.cellular_iot.providers.errors import (
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .conftest import hologram_entry, record_events
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry after milliseconds instead of seconds."""
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    monkeypatch.setattr(outbox_module, "RATE_LIMIT_DELAY", (0.01, 0.02))


def _outbox(entry: MockConfigEntry) -> Outbox:
    box = entry.runtime_data.outbox  # type: ignore[attr-defined]
    assert isinstance(box, Outbox)
    return box


async def _until(
    hass: HomeAssistant, entry: MockConfigEntry, condition: Callable[[], bool]
) -> None:
    """Wait for the outbox's state signal until ``condition`` holds (10 s at most)."""
    changed = asyncio.Event()

    @callback
    def _on_state() -> None:
        changed.set()

    unsub = async_dispatcher_connect(hass, signal_state(entry.entry_id), _on_state)
    try:
        async with asyncio.timeout(10):
            while not condition():
                changed.clear()
                await changed.wait()
    finally:
        unsub()


def _failures(hass: HomeAssistant) -> list[Event]:
    return record_events(hass, EVENT_SEND_FAILED)


async def _cloud(hass: HomeAssistant, device_id: int, data: str) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "send_cloud_message",
        {"device_ids": [device_id], "port": 4010, "data": data},
        blocking=True,
        return_response=True,
    )
    assert isinstance(response, dict)
    return response


def _delivered(hologram: FakeHologram) -> dict[int, list[str]]:
    per_device: dict[int, list[str]] = {}
    for message in hologram.cloud_messages:
        for device_id in message["deviceids"]:
            per_device.setdefault(device_id, []).append(message["data"])
    return per_device


def test_fault_classification() -> None:
    assert is_transient(ProviderRateLimitedError("x"))
    assert is_transient(ProviderConnectionError("x"))
    assert is_transient(ProviderTimeoutError("x"))
    assert is_transient(ProviderResponseError("x", status=503))
    assert not is_transient(ProviderResponseError("garbage", status=200))
    assert not is_transient(ProviderResponseError("garbage"))
    assert not is_transient(ProviderBadRequestError("x", status=400))


def test_retry_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 10.0)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 900.0)
    monkeypatch.setattr(outbox_module, "RATE_LIMIT_DELAY", (5.0, 10.0))
    error = ProviderConnectionError("down")
    assert 7.5 <= retry_delay(1, error) <= 12.5
    assert 15 <= retry_delay(2, error) <= 25
    assert 675 <= retry_delay(20, error) <= 1125
    assert 5 <= retry_delay(1, ProviderRateLimitedError("429")) <= 10
    assert retry_delay(1, ProviderRateLimitedError("429", retry_after=42)) == 42
    assert retry_delay(1, ProviderRateLimitedError("429", retry_after=99999)) == 900


async def test_passing_fault_is_retried_and_delivered_once(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    hologram.fail("/devices/messages", 503)
    response = await _cloud(hass, 123456, "unlock")
    assert response["status"] == "queued"
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["unlock"]}
    assert outbox.delivered == 1
    assert outbox.errors[0]["error"].startswith("Hologram failed (HTTP 503)")


async def test_reset_and_timeout_are_retried(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    hologram.fail("/devices/messages", reset=True)
    assert (await _cloud(hass, 123456, "a"))["status"] == "queued"
    hologram.fail("/devices/messages", hang=True)
    assert (await _cloud(hass, 234567, "b"))["status"] == "queued"
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["a"], 234567: ["b"]}


async def test_order_per_device_is_kept(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    hologram.fail("/devices/messages", 500, times=3)
    statuses = [(await _cloud(hass, 123456, f"m{i}"))["status"] for i in range(5)]
    # Another device is not held up by the first one's queue.
    other = await _cloud(hass, 234567, "other")
    assert statuses == ["queued"] * 5
    assert other["status"] == "queued"  # its first try met the third fault
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {
        123456: ["m0", "m1", "m2", "m3", "m4"],
        234567: ["other"],
    }


async def test_refusal_on_retry_gives_up_with_an_event(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    failures = _failures(hass)
    hologram.fail("/devices/messages", 500)
    hologram.fail("/devices/messages", 400, {"success": False, "error": "Bad port"})
    response = await _cloud(hass, 123456, "x")
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    await hass.async_block_till_done()
    assert len(failures) == 1
    data = failures[0].data
    assert data["outbox_id"] == response["outbox_id"]
    assert data["config_entry_id"] == hologram_account.entry_id
    assert data["action"] == "send_cloud_message"
    assert data["targets"] == ["device:123456"]
    assert data["reason"] == "refused"
    assert "Bad port" in data["error"]
    assert data["attempts"] == 2
    assert hologram.cloud_messages == []


async def test_age_limit_gives_up(hass: HomeAssistant, hologram: FakeHologram) -> None:
    failures = _failures(hass)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "outbox_max_age": 0}
    )
    hologram.fail("/devices/messages", 503, times=100)
    await _cloud(hass, 123456, "too late")
    await _until(hass, entry, lambda: _outbox(entry).depth == 0)
    await hass.async_block_till_done()
    assert [e.data["reason"] for e in failures] == ["expired"]
    assert "503" in failures[0].data["error"]


async def test_refused_credentials_pause_the_queue_and_ask_for_new_ones(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    hologram.fail("/devices/messages", 503)
    hologram.fail("/devices/messages", 401, {"success": False, "error": "Invalid key"})
    await _cloud(hass, 123456, "after reauth")
    outbox = _outbox(hologram_account)
    await _until(
        hass, hologram_account, lambda: outbox.errors[-1]["error"].find("401") > 0
    )
    await hass.async_block_till_done()
    flows = [
        f
        for f in hass.config_entries.flow.async_progress()
        if f["context"]["source"] == SOURCE_REAUTH
    ]
    assert len(flows) == 1
    issue_id = f"auth_failed_{hologram_account.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert outbox.depth == 1  # kept, not retried forever, not dropped
    # New credentials: the entry reloads, the issue goes, the send goes out.
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"api_key": "test-api-key"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    assert _delivered(hologram) == {123456: ["after reauth"]}


async def test_queue_survives_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
) -> None:
    hologram.fail("/devices/messages", 503, times=1000)
    for i in range(3):
        await _cloud(hass, 123456, f"m{i}")
    key = f"{DOMAIN}.outbox.{hologram_account.entry_id}"
    stored = hass_storage[key]["data"]["items"]
    assert [item["params"]["data"] for item in stored] == ["m0", "m1", "m2"]
    assert await hass.config_entries.async_unload(hologram_account.entry_id)
    hologram.faults.clear()
    assert await hass.config_entries.async_setup(hologram_account.entry_id)
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    assert _delivered(hologram) == {123456: ["m0", "m1", "m2"]}
    assert hass_storage[key]["data"]["items"] == []
    # Removing the entry removes its stored queue.
    assert await hass.config_entries.async_remove(hologram_account.entry_id)
    assert key not in hass_storage


async def test_half_of_all_calls_fail_and_home_assistant_restarts(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    """Every message arrives once, in order per device, despite faults and a restart."""
    hologram.flaky(
        "/devices/messages",
        ["500", "429", "reset", "503", "429-retry-after", "timeout"],
    )
    devices = [123456, 234567, 345678]
    sent: dict[int, list[str]] = {device: [] for device in devices}
    for i in range(24):
        device = devices[i % 3]
        sent[device].append(f"msg-{i}")
        await _cloud(hass, device, f"msg-{i}")
        if i == 11:  # restart in the middle
            assert await hass.config_entries.async_unload(hologram_account.entry_id)
            assert await hass.config_entries.async_setup(hologram_account.entry_id)
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    assert _delivered(hologram) == sent
    assert set(hologram.injected) >= {"500", "429", "reset", "503", "timeout"}


async def test_emnify_partial_multipart_resumes_without_resending(
    hass: HomeAssistant, emnify: FakeEmnify, emnify_account: MockConfigEntry
) -> None:
    text = "x" * 400  # three GSM-7 parts
    emnify.fail("/endpoint/1001/sms", 500)
    # The first part fails: queued; then the parts go out, each once.
    response = await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"device_id": 1001, "message": text},
        blocking=True,
        return_response=True,
    )
    assert isinstance(response, dict)
    assert response["status"] == "queued"
    await _until(hass, emnify_account, lambda: _outbox(emnify_account).depth == 0)
    assert "".join(sms["payload"] for sms in emnify.sms) == text
    assert len(emnify.sms) == 3


async def test_outbox_sensor_shows_the_depth(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{hologram_account.entry_id}_outbox"
    )
    assert entity_id is not None
    assert hass.states.get(entity_id).state == "0"  # type: ignore[union-attr]
    hologram.fail("/devices/messages", 503, times=1000)
    await _cloud(hass, 123456, "a")
    await _cloud(hass, 123456, "b")
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == "2"  # type: ignore[union-attr]
    hologram.faults.clear()
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == "0"  # type: ignore[union-attr]
    assert hologram_account.state is ConfigEntryState.LOADED

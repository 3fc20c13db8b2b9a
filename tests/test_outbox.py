"""The outbox: passing faults are retried, in order, across restarts; refusals are not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time
from typing import Any
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN, signal_state
from custom_components.cellular_iot.outbox import (
    EVENT_SEND_FAILED,
    Outbox,
    is_transient,
    policy as outbox_module,
    retry_delay,
)
from custom_components.cellular_iot.providers import hologram as hologram_module
from custom_components.cellular_iot.providers.errors import (
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntryState,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .conftest import (
    API_KEY,
    ONENCE_OTHER,
    ONENCE_PUMP,
    hologram_entry,
    onence_entry,
    record_events,
    setup_entry,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.onence import CLIENT_ID as ONENCE_CLIENT_ID, FakeOneNce
from .guards import HANG_GUARD


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
    hass: HomeAssistant,
    entry: MockConfigEntry,
    condition: Callable[[], bool],
    timeout: float = 30,
) -> None:
    """Wait for the outbox's state signal until ``condition`` holds (a hang guard)."""
    changed = asyncio.Event()

    @callback
    def _on_state() -> None:
        changed.set()

    unsub = async_dispatcher_connect(hass, signal_state(entry.entry_id), _on_state)
    try:
        async with asyncio.timeout(timeout):
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


def _stored(
    hass_storage: dict[str, Any], entry: MockConfigEntry
) -> list[dict[str, Any]]:
    """The sends on disk, in order: the manifest's segments, by sequence number."""
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    manifest = hass_storage.get(key, {}).get("data", {})
    items = list(manifest.get("items", []))
    for number in manifest.get("segments", []):
        segment = hass_storage.get(f"{key}.{number}", {}).get("data", {})
        items.extend(segment.get("items", []))
    return sorted(items, key=lambda item: item.get("seq", 0))


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
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No retry while the two calls are made: a retry of "a" on a busy machine must
    # not take the fault meant for "b".
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 3600.0)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 3600.0)
    hologram.fail("/devices/messages", reset=True)
    assert (await _cloud(hass, 123456, "a"))["status"] == "queued"
    hologram.fail("/devices/messages", hang=True)
    assert (await _cloud(hass, 234567, "b"))["status"] == "queued"
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    outbox = _outbox(hologram_account)
    outbox.wake()
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["a"], 234567: ["b"]}


async def test_order_per_device_is_kept(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No retry while the calls are made: on a busy machine a retry could take the
    # faults meant for the calls.
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 3600.0)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 3600.0)
    hologram.fail("/devices/messages", 500, times=2)
    statuses = [(await _cloud(hass, 123456, f"m{i}"))["status"] for i in range(5)]
    # Another device is not held up by the first one's queue.
    other = await _cloud(hass, 234567, "other")
    assert statuses == ["queued"] * 5
    assert other["status"] == "queued"  # its first try met the second fault
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    outbox = _outbox(hologram_account)
    outbox.wake()
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
    # Re-authentication is the one repair: no issue of ours on top (issue 26).
    issue_id = f"auth_failed_{hologram_account.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert outbox.depth == 1  # kept, not retried forever, not dropped
    # New credentials: the entry reloads, the send goes out.
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
    stored = _stored(hass_storage, hologram_account)
    assert [item["params"]["data"] for item in stored] == ["m0", "m1", "m2"]
    assert await hass.config_entries.async_unload(hologram_account.entry_id)
    hologram.faults.clear()
    assert await hass.config_entries.async_setup(hologram_account.entry_id)
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    assert _delivered(hologram) == {123456: ["m0", "m1", "m2"]}
    # Deliveries are written within SAVE_DELAY, and at the latest on unload.
    assert await hass.config_entries.async_unload(hologram_account.entry_id)
    assert _stored(hass_storage, hologram_account) == []
    # Removing the entry removes its stored queue.
    assert await hass.config_entries.async_remove(hologram_account.entry_id)
    assert not [k for k in hass_storage if k.startswith(key)]


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


# --- in-flight sends: reloads and per-target order ------------------------------------


@pytest.fixture
async def slow_account(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> MockConfigEntry:
    """A Hologram account whose client waits long enough for a held request.

    The fake holds a request until the test releases it; the client's timeout is only
    a hang guard here, so that the test never depends on how fast the machine is.
    """
    monkeypatch.setattr(hologram_module, "DEFAULT_TIMEOUT", 30.0)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _held_send(
    hass: HomeAssistant, hologram: FakeHologram, device_id: int, data: str
) -> tuple[asyncio.Event, asyncio.Task[dict[str, Any]]]:
    """Start a cloud message the fake holds; it fails with 503 once released."""
    gate = asyncio.Event()
    hologram.held.clear()
    hologram.fail("/devices/messages", 503, hold=gate)
    call = hass.async_create_task(_cloud(hass, device_id, data))
    async with asyncio.timeout(HANG_GUARD):
        await hologram.held.wait()
    return gate, call


async def _until_true(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until ``condition`` holds (a hang guard)."""
    async with asyncio.timeout(HANG_GUARD):
        while not condition():
            await asyncio.sleep(0)


def _waits_for_sends(box: Outbox) -> bool:
    """Whether a stopping outbox waits for a direct send (an outbox that does not
    track its sends in flight never does)."""
    return bool(getattr(box, "stopping", False)) and getattr(box, "sending", 0) > 0


async def _trigger_reload(
    hass: HomeAssistant, entry: MockConfigEntry, how: str
) -> None:
    """Reload the entry the way users do: directly, or by reauth.

    (Adding a device no longer reloads the account: issue 26 A11.)
    """
    if how == "reload":
        assert await hass.config_entries.async_reload(entry.entry_id)
    else:
        result = await entry.start_reauth_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"api_key": API_KEY}
        )
        assert result["reason"] == "reauth_successful"


@pytest.mark.parametrize("how", ["reload", "reauth"])
async def test_send_in_flight_during_a_reload_is_not_lost(
    hass: HomeAssistant,
    hologram: FakeHologram,
    slow_account: MockConfigEntry,
    how: str,
) -> None:
    """A direct send that fails while the entry reloads reaches the new outbox."""
    gate, call = await _held_send(hass, hologram, 123456, "open")
    old = _outbox(slow_account)
    trigger = hass.async_create_task(_trigger_reload(hass, slow_account, how))

    def reloaded() -> bool:
        return (
            slow_account.state is ConfigEntryState.LOADED
            and _outbox(slow_account) is not old
        )

    # The provider answers 503 once the old outbox waits for the send while it stops
    # (or, had it not waited, once the reloaded entry runs a new outbox).
    await _until_true(lambda: _waits_for_sends(old) or reloaded())
    gate.set()
    response = await call
    await trigger
    await _until_true(reloaded)
    assert response["status"] == "queued"
    new = _outbox(slow_account)
    # The queued send is in the new outbox (or already delivered by it).
    assert new.depth == 1 or _delivered(hologram) == {123456: ["open"]}
    await _until(hass, slow_account, lambda: new.depth == 0)
    assert _delivered(hologram) == {123456: ["open"]}
    assert new.delivered == 1


async def test_second_send_waits_behind_one_in_flight(
    hass: HomeAssistant, hologram: FakeHologram, slow_account: MockConfigEntry
) -> None:
    """OPEN is in flight and fails; CLOSE to the same device must not overtake it."""
    gate, first = await _held_send(hass, hologram, 123456, "OPEN")
    second = await _cloud(hass, 123456, "CLOSE")
    other = await _cloud(hass, 234567, "other device")  # not held up
    assert second["status"] == "queued"
    assert "error" not in second
    assert other["status"] == "sent"
    assert _delivered(hologram) == {234567: ["other device"]}
    gate.set()
    assert (await first)["status"] == "queued"
    outbox = _outbox(slow_account)
    await _until(hass, slow_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {
        123456: ["OPEN", "CLOSE"],
        234567: ["other device"],
    }


async def test_removing_the_entry_while_a_send_is_in_flight_leaves_no_file(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    slow_account: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The send ends before the files go; nothing writes them back afterwards."""
    gate, call = await _held_send(hass, hologram, 123456, "open")
    old = _outbox(slow_account)
    remove = hass.async_create_task(
        hass.config_entries.async_remove(slow_account.entry_id)
    )
    await _until_true(
        lambda: (
            _waits_for_sends(old)
            or hass.config_entries.async_get_entry(slow_account.entry_id) is None
        )
    )
    gate.set()
    assert (await call)["status"] == "queued"
    await remove
    await hass.async_block_till_done()
    key = f"{DOMAIN}.outbox.{slow_account.entry_id}"
    assert [k for k in hass_storage if k.startswith(key)] == []
    assert "had 1 queued sends; they will not be sent" in caplog.text


async def test_a_send_handed_to_a_stopped_outbox_is_refused(
    hass: HomeAssistant, hologram: FakeHologram, slow_account: MockConfigEntry
) -> None:
    """Nothing reaches an outbox that no longer owns the files: a clear error."""
    old = _outbox(slow_account)
    assert await hass.config_entries.async_unload(slow_account.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await old.async_submit(
            "hologram_cloud_message",
            "send_cloud_message",
            ["device:123456"],
            {"device_ids": [123456], "port": 4010, "protocol": "TCP"},
        )
    assert err.value.translation_key == "entry_not_loaded"
    assert hologram.cloud_messages == []


async def test_home_assistant_stopping_while_sending_keeps_everything(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    slow_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home Assistant cancels actions still running when it stops: a send still
    waiting for the provider is stored (to be sent again), and a delivery not
    written yet is written."""
    # Only a flush writes (raising=False: the old outbox wrote every change at once).
    monkeypatch.setattr(outbox_module, "SAVE_DELAY", 3600.0, raising=False)
    hologram.fail("/devices/messages", 503)
    await _cloud(hass, 234567, "delivered before the stop")
    outbox = _outbox(slow_account)
    await _until(hass, slow_account, lambda: outbox.depth == 0)
    gate, call = await _held_send(hass, hologram, 123456, "open")
    await hass.async_stop()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await call
    stored = _stored(hass_storage, slow_account)
    assert [item["params"]["data"] for item in stored] == ["open"]
    assert stored[0]["attempts"] == 1


async def test_full_outbox_refuses_with_an_error_and_a_repair_issue(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At the limit a send that would be queued fails loudly; the issue clears."""
    result = await hass.config_entries.options.async_init(hologram_account.entry_id)
    # Below the smallest limit: the field's translated error (issue 26 A8).
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"outbox_max_age": 24, "outbox_max_depth": 5}
    )
    assert result["errors"] == {"outbox_max_depth": "outbox_max_depth_out_of_range"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"outbox_max_age": 24, "outbox_max_depth": 10}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert hologram_account.options["outbox_max_depth"] == 10
    hologram.fail("/devices/messages", 503, times=1000)
    for i in range(10):
        assert (await _cloud(hass, 123456, f"m{i}"))["status"] == "queued"
    outbox = _outbox(hologram_account)
    issue_id = f"outbox_full_{hologram_account.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    # Behind the queue (not tried) and after a failed try: both refused, both loud.
    for device_id in (123456, 234567):
        with pytest.raises(HomeAssistantError) as err:
            await _cloud(hass, device_id, "one too many")
        assert err.value.translation_key == "outbox_full"
        assert err.value.translation_placeholders == {
            "title": hologram_account.title,
            "max": "10",
        }
    assert outbox.depth == 10
    warnings = [
        record
        for record in caplog.records
        if record.levelname == "WARNING" and "outbox is full" in record.getMessage()
    ]
    assert len(warnings) == 1  # logged when it filled, not per refused send
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "outbox_full"
    # A send that goes out at once needs no room in the queue.
    hologram.faults.clear()
    assert (await _cloud(hass, 345678, "fine"))["status"] == "sent"
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert _delivered(hologram)[123456] == [f"m{i}" for i in range(10)]
    assert "one too many" not in str(hologram.cloud_messages)


def _v1_item(index: int, target: str, **extra: Any) -> dict[str, Any]:
    """A send as the 1.1 storage format kept it (every field, no sequence number)."""
    device_id = int(target.split(":")[1])
    return {
        "id": f"old{index}",
        "operation": "hologram_cloud_message",
        "action": "send_cloud_message",
        "targets": [target],
        "params": {
            "device_ids": [device_id],
            "port": 4010,
            "protocol": "TCP",
            "data": f"old-{index}",
            "data_base64": None,
            "encrypted": False,
        },
        "created": time.time() - 60,
        "attempts": 1,
        "next_attempt": 0.0,
        "last_error": "Hologram failed (HTTP 503)",
        "progress": {},
        **extra,
    }


async def test_queue_stored_by_the_older_version_is_migrated(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """1.1 files load; records that are not sends are dropped, not fatal."""
    entry = hologram_entry()
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "items": [
                _v1_item(0, "device:123456"),
                "not a send",
                _v1_item(1, "device:123456", created="yesterday"),
                _v1_item(2, "device:234567", targets="device:234567"),
                _v1_item(3, "device:123456"),
            ]
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    outbox = _outbox(entry)
    assert "dropped 3 unreadable outbox entries" in caplog.text
    # Migrated: segments hold the sends, the manifest lists them.
    assert "items" not in hass_storage[key]["data"]
    assert hass_storage[key]["minor_version"] == 2
    assert [i["id"] for i in _stored(hass_storage, entry)] == ["old0", "old3"]
    await _until(hass, entry, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["old-0", "old-3"]}
    assert entry.state is ConfigEntryState.LOADED


async def test_unreadable_stored_data_is_never_fatal_or_overwritten(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Garbage manifests and segments load as empty; a segment that cannot be read
    is left as it is, and the sends of the other segments still go out."""
    entry = hologram_entry()
    key = f"{DOMAIN}.outbox.{entry.entry_id}"

    def stored(number: int | None, data: Any) -> None:
        name = key if number is None else f"{key}.{number}"
        hass_storage[name] = {
            "version": 1,
            "minor_version": 2,
            "key": name,
            "data": data,
        }

    stored(None, {"segments": [0, 1, 2, 3, "x", True, -1]})
    stored(0, {"items": [_v1_item(0, "device:123456", seq=0)]})  # cannot be read
    stored(1, {"items": [_v1_item(1, "device:123456", seq=1)] * 2})  # a copy
    stored(2, "garbage")
    stored(3, {"items": [{"id": "x"}, _v1_item(3, "device:234567", seq=3)]})
    original = outbox_module.Store.async_load

    async def failing_load(store: Any) -> Any:
        if store.key == f"{key}.0":
            raise OSError("I/O error")
        return await original(store)

    monkeypatch.setattr(outbox_module.Store, "async_load", failing_load)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    outbox = _outbox(entry)
    assert "cannot read outbox segment 0" in caplog.text
    assert "ignored an unreadable outbox segment 2" in caplog.text
    await _until(hass, entry, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["old-1"], 234567: ["old-3"]}
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass_storage[f"{key}.0"]["data"]["items"][0]["id"] == "old0"
    assert 0 in hass_storage[key]["data"]["segments"]
    # A manifest that is not an object: an empty queue, the entry loads.
    stored(None, ["garbage"])
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert _outbox(entry).depth == 0
    assert "ignored an unreadable outbox file" in caplog.text


class _Clock:
    """The wall clock the outbox sees, moved at will (time.time plus an offset)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.gmtime = time.gmtime
        self.strftime = time.strftime

    def time(self) -> float:
        return time.time() + self.offset


@pytest.mark.parametrize("jump_hours", [48, -48])
async def test_wall_clock_jumps_neither_expire_nor_stall_the_queue(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    jump_hours: int,
) -> None:
    failures = _failures(hass)
    clock = _Clock()
    monkeypatch.setattr(outbox_module, "time", clock)
    hologram.fail("/devices/messages", 503)
    assert (await _cloud(hass, 123456, "after the jump"))["status"] == "queued"
    clock.offset = jump_hours * 3600.0  # NTP fixes a clock, or a VM resumes
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    await hass.async_block_till_done()
    assert _delivered(hologram) == {123456: ["after the jump"]}
    assert failures == []


async def test_time_asleep_counts_towards_the_age_limit(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host suspended for two days does not deliver two-day-old sends on waking."""
    failures = _failures(hass)
    hologram.fail("/devices/messages", 503, times=1000)
    await _cloud(hass, 123456, "stale by now")
    since_boot = outbox_module._since_boot
    monkeypatch.setattr(outbox_module, "_since_boot", lambda: since_boot() + 48 * 3600)
    outbox = _outbox(hologram_account)
    outbox.wake()
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    await hass.async_block_till_done()
    assert [event.data["reason"] for event in failures] == ["expired"]


async def test_a_storm_of_sends_is_queued_in_order_with_few_writes(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,000 concurrent calls behind a failing send: each answered after the store
    holds it, but the writes are shared, and each rewrites one segment at most."""
    # The failing send is not retried during the storm: on a busy machine a retry
    # could deliver it before the last calls arrive, and they would go out directly.
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 3600.0)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 3600.0)
    writes: list[int] = []
    written: set[str] = set()
    original = outbox_module.Store._async_write_data

    async def counting(store: Any, *args: Any) -> None:
        data = args[-1]  # (HA 2025.4 passes the path first)
        items = (data.get("data") or {}).get("items", [])
        writes.append(len(items))
        written.update(item["id"] for item in items)
        await original(store, *args)

    async def call(data: str) -> dict[str, Any]:
        response = await _cloud(hass, 123456, data)
        assert response["outbox_id"] in written  # on disk before the answer
        return response

    hologram.fail("/devices/messages", 503, times=2)
    await _cloud(hass, 123456, "m0")
    # (patch, not monkeypatch: the storage mock is undone before monkeypatch is)
    with patch.object(outbox_module.Store, "_async_write_data", counting):
        calls = [hass.async_create_task(call(f"m{i}")) for i in range(1, 1001)]
        responses = await asyncio.gather(*calls)
    assert {r["status"] for r in responses} == {"queued"}
    assert len(writes) < 50  # not one per call
    assert max(writes) <= 500  # one segment
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    outbox = _outbox(hologram_account)
    outbox.wake()
    # 1,001 deliveries one after the other: a generous guard for a busy machine.
    await _until(hass, hologram_account, lambda: outbox.depth == 0, timeout=180)
    assert _delivered(hologram) == {123456: [f"m{i}" for i in range(1001)]}


class _CountingTargets(list[str]):
    """A target list that counts how often it is read."""

    reads = 0

    def __iter__(self) -> Any:
        _CountingTargets.reads += 1
        return super().__iter__()


async def test_choosing_the_next_send_does_not_scan_the_queue(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,500 sends to 1,500 devices, none due: finding that out reads no target list
    (the old scan compared every send with every earlier one: ~1.1 million reads)."""
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 900.0)
    count = 1500
    entry = hologram_entry()
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "items": [
                _v1_item(i, f"device:{100000 + i}", next_attempt=time.time() + 600)
                for i in range(count)
            ]
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    outbox = _outbox(entry)
    assert outbox.depth == count
    for item in outbox.items:
        item.targets = _CountingTargets(item.targets)
    _CountingTargets.reads = 0
    item, wait = outbox._next()
    assert item is None
    assert wait is not None
    assert 0 < wait <= 900
    assert _CountingTargets.reads < count


async def test_a_bug_in_the_worker_does_not_stop_the_queue(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected error in the worker is logged; the queue goes on."""
    original = Outbox._next
    failures: list[str] = []

    def broken(self: Outbox) -> Any:
        if not failures:
            failures.append("bug")
            raise RuntimeError("a bug")
        return original(self)

    monkeypatch.setattr(Outbox, "_next", broken)
    hologram.fail("/devices/messages", 503)
    assert (await _cloud(hass, 123456, "still sent"))["status"] == "queued"
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["still sent"]}
    assert failures == ["bug"]
    assert "the outbox worker failed" in caplog.text


async def test_a_failed_setup_leaves_no_writer_behind(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outbox loaded by a setup that then fails writes nothing in the background
    (the next attempt owns the files)."""
    monkeypatch.setattr(outbox_module, "SAVE_DELAY", 0.0)
    entry = hologram_entry()
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    manifest = {"version": 1, "minor_version": 2, "key": key, "data": {"segments": [0]}}
    segment = {"version": 1, "key": f"{key}.0", "data": {"items": []}}
    hass_storage[key] = manifest
    hass_storage[f"{key}.0"] = segment  # empty: an outbox that starts removes it

    async def fail(*args: Any) -> None:
        raise RuntimeError("platform setup failed")

    monkeypatch.setattr(hass.config_entries, "async_forward_entry_setups", fail)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass_storage[key] == manifest
    assert hass_storage[f"{key}.0"] == segment


async def test_a_send_outlasting_the_unload_bound_is_stored_to_be_sent_again(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    slow_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unloading waits for sends in flight only so long; then they are stored as
    queued (at least once), and the old outbox writes nothing more."""
    monkeypatch.setattr(outbox_module, "STOP_TIMEOUT", 0.0)
    gate, call = await _held_send(hass, hologram, 123456, "open")
    assert await hass.config_entries.async_unload(slow_account.entry_id)
    stored = _stored(hass_storage, slow_account)
    assert [item["params"]["data"] for item in stored] == ["open"]
    gate.set()
    assert (await call)["status"] == "queued"
    assert _stored(hass_storage, slow_account) == stored
    assert await hass.config_entries.async_setup(slow_account.entry_id)
    outbox = _outbox(slow_account)
    await _until(hass, slow_account, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["open"]}


async def test_mass_expiry_is_given_up_in_batches_and_forgotten(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,200 sends past the age limit at once: each gets its event, the worker
    yields between batches, and no stale index entries are left behind."""
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 900.0)
    failures = _failures(hass)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "items": [
                _v1_item(i, f"device:{100000 + i}", next_attempt=time.time() + 600)
                for i in range(1200)
            ]
        },
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    outbox = _outbox(entry)
    assert outbox.depth == 1200
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "outbox_max_age": 0}
    )
    outbox.wake()
    await _until(hass, entry, lambda: outbox.depth == 0, timeout=120)
    await hass.async_block_till_done()
    assert len(failures) == 1200
    assert {event.data["reason"] for event in failures} == {"expired"}
    assert len(outbox._ready) <= 64
    assert len(outbox._aging) <= 64
    assert hologram.cloud_messages == []


async def test_a_cancelled_caller_frees_its_target(
    hass: HomeAssistant, hologram: FakeHologram, slow_account: MockConfigEntry
) -> None:
    """An action cancelled while its send is in flight (a script's timeout) does
    not leave its target reserved: the next send to it goes out at once."""
    gate, call = await _held_send(hass, hologram, 123456, "abandoned")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    gate.set()
    assert (await _cloud(hass, 123456, "next"))["status"] == "sent"
    assert _outbox(slow_account).depth == 0


async def test_removing_an_entry_that_never_loaded_removes_its_old_queue(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {"items": [_v1_item(0, "device:1"), _v1_item(1, "device:2")]},
    }
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert key not in hass_storage
    assert "had 2 queued sends; they will not be sent" in caplog.text


async def test_a_queue_full_at_start_raises_the_issue_at_once(
    hass: HomeAssistant, hass_storage: dict[str, Any], hologram: FakeHologram
) -> None:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "outbox_max_depth": 10}
    )
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {"items": [_v1_item(i, "device:123456") for i in range(10)]},
    }
    hologram.fail("/devices/messages", 503, times=1000)
    assert await hass.config_entries.async_setup(entry.entry_id)
    issue_id = f"outbox_full_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    hologram.faults.clear()
    outbox = _outbox(entry)
    await _until(hass, entry, lambda: outbox.depth == 0)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_an_old_send_behind_a_young_one_expires_alone(
    hass: HomeAssistant, hass_storage: dict[str, Any], hologram: FakeHologram
) -> None:
    """Stored while the clock was wrong, a send can be older than the one before
    it: it is given up from the middle of its lane; the order of the rest holds."""
    failures = _failures(hass)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    now = time.time()
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {
            "items": [
                _v1_item(0, "device:123456", created=now - 60),
                _v1_item(1, "device:123456", created=now - 2 * 86400),
                _v1_item(2, "device:123456", created=now - 60),
            ]
        },
    }
    hologram.fail("/devices/messages", 503, times=1000)
    assert await hass.config_entries.async_setup(entry.entry_id)
    outbox = _outbox(entry)
    await _until(hass, entry, lambda: outbox.depth == 2)
    await hass.async_block_till_done()
    assert [event.data["outbox_id"] for event in failures] == ["old1"]
    hologram.faults.clear()
    await _until(hass, entry, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {123456: ["old-0", "old-2"]}


# --- 1NCE: the same outbox behaviour with SMS to a 1NCE SIM --------------------------


async def _onence_sms(hass: HomeAssistant, iccid: str, text: str) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"iccid": iccid, "message": text},
        blocking=True,
        return_response=True,
    )
    assert isinstance(response, dict)
    return response


def _onence_delivered(onence: FakeOneNce) -> dict[str, list[str]]:
    per_sim: dict[str, list[str]] = {}
    for sms in onence.sms:
        per_sim.setdefault(sms["iccid"], []).append(sms["payload"])
    return per_sim


@pytest.fixture
async def onence_fleet(hass: HomeAssistant, onence: FakeOneNce) -> MockConfigEntry:
    """A loaded 1NCE account whose customer has the SIMs ONENCE_PUMP and _OTHER."""
    onence.add_sim(ONENCE_PUMP, label="Pump")
    onence.add_sim(ONENCE_OTHER, label="Sensor 1002")
    return await setup_entry(hass, onence_entry())


async def test_onence_passing_fault_is_retried_and_delivered_once(
    hass: HomeAssistant, onence: FakeOneNce, onence_fleet: MockConfigEntry
) -> None:
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 503)
    response = await _onence_sms(hass, ONENCE_PUMP, "unlock")
    assert response["status"] == "queued"
    outbox = _outbox(onence_fleet)
    await _until(hass, onence_fleet, lambda: outbox.depth == 0)
    assert _onence_delivered(onence) == {ONENCE_PUMP: ["unlock"]}
    assert outbox.delivered == 1
    assert outbox.errors[0]["error"].startswith("1NCE failed (HTTP 503)")


async def test_onence_timeout_429_and_5xx_are_retried_in_order_per_sim(
    hass: HomeAssistant,
    onence: FakeOneNce,
    onence_fleet: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No retry while the calls are made (a retry must not take a fault meant for
    # another call).
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 3600.0)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 3600.0)
    monkeypatch.setattr(outbox_module, "RATE_LIMIT_DELAY", (3600.0, 3600.0))
    pump = f"/v2/sims/{ONENCE_PUMP}/sms"
    onence.fail(pump, 500)
    onence.fail(f"/v2/sims/{ONENCE_OTHER}/sms", 200, hang=True)
    statuses = [
        (await _onence_sms(hass, ONENCE_PUMP, f"m{i}"))["status"] for i in (0, 1)
    ]
    # Another SIM is not held up by the first one's queue; its first try times out.
    other = await _onence_sms(hass, ONENCE_OTHER, "other")
    assert statuses == ["queued"] * 2
    assert other["status"] == "queued"
    onence.release.set()
    onence.fail(pump, 429, headers={"Retry-After": "1"})
    onence.fail(pump, 502, "garbage")
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    monkeypatch.setattr(outbox_module, "RATE_LIMIT_DELAY", (0.01, 0.02))
    outbox = _outbox(onence_fleet)
    outbox.wake()
    await _until(hass, onence_fleet, lambda: outbox.depth == 0)
    assert _onence_delivered(onence) == {
        ONENCE_PUMP: ["m0", "m1"],
        ONENCE_OTHER: ["other"],
    }
    assert onence.faults == []


async def test_onence_refusal_on_the_first_try_is_a_translated_error(
    hass: HomeAssistant, onence: FakeOneNce, onence_fleet: MockConfigEntry
) -> None:
    """A 4xx is not queued: the action fails with 1NCE's reason, translated."""
    failures = _failures(hass)
    onence.fail(
        f"/v2/sims/{ONENCE_PUMP}/sms",
        400,
        {"error_code": 1000, "error_token": "BadRequest", "message": "Bad payload"},
    )
    with pytest.raises(HomeAssistantError) as err:
        await _onence_sms(hass, ONENCE_PUMP, "x")
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "provider_bad_request"
    assert "Bad payload" in str(err.value)
    assert _outbox(onence_fleet).depth == 0
    assert onence.sms == []
    await hass.async_block_till_done()
    assert failures == []  # the caller was told; no event on top


async def test_onence_refusal_on_retry_gives_up_with_an_event(
    hass: HomeAssistant, onence: FakeOneNce, onence_fleet: MockConfigEntry
) -> None:
    failures = _failures(hass)
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 500)
    onence.fail(
        f"/v2/sims/{ONENCE_PUMP}/sms",
        400,
        {"error_code": 1000, "error_token": "BadRequest", "message": "Bad payload"},
    )
    response = await _onence_sms(hass, ONENCE_PUMP, "x")
    outbox = _outbox(onence_fleet)
    await _until(hass, onence_fleet, lambda: outbox.depth == 0)
    await hass.async_block_till_done()
    assert len(failures) == 1
    data = failures[0].data
    assert data["outbox_id"] == response["outbox_id"]
    assert data["config_entry_id"] == onence_fleet.entry_id
    assert data["action"] == "send_sms"
    assert data["reason"] == "refused"
    assert "Bad payload" in data["error"]
    assert data["attempts"] == 2
    assert onence.sms == []


async def test_onence_partial_multipart_resumes_without_resending(
    hass: HomeAssistant, onence: FakeOneNce, onence_fleet: MockConfigEntry
) -> None:
    """1NCE takes one request per part: the second fails, the first is not resent."""
    text = "x" * 400  # three GSM-7 parts
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 201, {"id": "first"})
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 500)
    response = await _onence_sms(hass, ONENCE_PUMP, text)
    assert response["status"] == "queued"
    await _until(hass, onence_fleet, lambda: _outbox(onence_fleet).depth == 0)
    sent = [sms["udh"][-2:] for sms in onence.sms]
    # The fault answered part 1 (201): the fake accepted parts 2 and 3, each once.
    assert sent == ["02", "03"]
    posts = [c for c in onence.calls(f"/v2/sims/{ONENCE_PUMP}/sms") if c[0] == "POST"]
    assert len(posts) == 4  # part 1, part 2 (500), part 2 again, part 3


async def test_onence_refused_credentials_pause_the_queue_and_ask_for_new_ones(
    hass: HomeAssistant, onence: FakeOneNce, onence_fleet: MockConfigEntry
) -> None:
    """The secret is revoked while a send waits: its retry cannot get a token."""
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 503)
    await _onence_sms(hass, ONENCE_PUMP, "after reauth")
    revoked = dict(onence.credentials)
    onence.credentials.clear()
    onence.expire_all()
    outbox = _outbox(onence_fleet)
    await _until(
        hass,
        onence_fleet,
        lambda: len(outbox.errors) > 1 and "400" in outbox.errors[-1]["error"],
    )
    await hass.async_block_till_done()
    flows = [
        f
        for f in hass.config_entries.flow.async_progress()
        if f["context"]["source"] == SOURCE_REAUTH
    ]
    assert len(flows) == 1
    issue_id = f"auth_failed_{onence_fleet.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert outbox.depth == 1  # kept, not retried forever, not dropped
    onence.credentials.update(revoked)
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"],
        {"client_id": ONENCE_CLIENT_ID, "client_secret": next(iter(revoked))[1]},
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await _until(hass, onence_fleet, lambda: _outbox(onence_fleet).depth == 0)
    assert _onence_delivered(onence) == {ONENCE_PUMP: ["after reauth"]}

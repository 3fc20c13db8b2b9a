"""The outbox and its files: a write that fails is known, a lost manifest loses nothing.

Writes go through HA's ``Store``, which logs a failed write (disk full) and returns;
here the write underneath (``Store._async_write_data``, the step that raises
``WriteError`` on a full disk) is made to fail, as a full disk makes it fail.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.outbox import Outbox, policy as outbox_module
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.file import WriteError

from .conftest import hologram_entry
from .fakes.hologram import FakeHologram
from .test_outbox import _cloud, _delivered, _stored, _until, _v1_item


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry after milliseconds instead of seconds."""
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 0.01)
    monkeypatch.setattr(outbox_module, "RETRY_MAX", 0.05)
    monkeypatch.setattr(outbox_module, "RATE_LIMIT_DELAY", (0.01, 0.02))


class _Disk:
    """The storage mock's write, failing like a full disk while ``full`` is set."""

    def __init__(self) -> None:
        self.full = False
        self.refused = 0


@pytest.fixture
def disk(hass_storage: dict[str, Any]) -> Generator[_Disk]:
    """Wrap the storage mock's write (undone before the mock itself is)."""
    state = _Disk()
    original = Store._async_write_data

    async def write(store: Store[Any], *args: Any) -> None:
        if state.full and store.key.startswith(f"{DOMAIN}.outbox."):
            state.refused += 1
            # What HA's save_json raises when the OS says ENOSPC.
            raise WriteError(OSError(28, "No space left on device"))
        await original(store, *args)

    with patch.object(Store, "_async_write_data", write):
        yield state


def _outbox(entry: MockConfigEntry) -> Outbox:
    box = entry.runtime_data.outbox  # type: ignore[attr-defined]
    assert isinstance(box, Outbox)
    return box


async def _time_passes(hass: HomeAssistant, seconds: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()


async def test_a_send_that_cannot_be_stored_is_refused_never_queued(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    disk: _Disk,
) -> None:
    """Disk full: the action fails with the translated error instead of `queued`;
    nothing of it is kept, and what was stored before still goes out."""
    hologram.fail("/devices/messages", 503, times=1000)
    assert (await _cloud(hass, 123456, "stored"))["status"] == "queued"
    disk.full = True
    # After a failed try (a new target), and behind a waiting send (not tried).
    for device_id, text in ((234567, "after a 503"), (123456, "behind")):
        with pytest.raises(HomeAssistantError) as err:
            await _cloud(hass, device_id, text)
        assert err.value.translation_key == "outbox_not_stored"
        assert err.value.translation_placeholders is not None
        assert "No space left on device" in err.value.translation_placeholders["error"]
    assert disk.refused >= 2
    outbox = _outbox(hologram_account)
    assert outbox.depth == 1
    # The disk is back: the queue (as stored) goes out, the refused sends never do.
    disk.full = False
    assert await hass.config_entries.async_unload(hologram_account.entry_id)
    assert [i["params"]["data"] for i in _stored(hass_storage, hologram_account)] == [
        "stored"
    ]
    hologram.faults.clear()
    assert await hass.config_entries.async_setup(hologram_account.entry_id)
    await _until(hass, hologram_account, lambda: _outbox(hologram_account).depth == 0)
    assert _delivered(hologram) == {123456: ["stored"]}


async def test_a_write_that_fails_stays_pending_and_is_written_again(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    disk: _Disk,
) -> None:
    """A delivery whose write fails is not marked written: once the disk has room
    again it is written, without another change, so nothing is sent twice."""
    hologram.fail("/devices/messages", 503, times=1000)
    assert (await _cloud(hass, 123456, "once"))["status"] == "queued"
    outbox = _outbox(hologram_account)
    disk.full = True
    hologram.faults.clear()
    await _until(hass, hologram_account, lambda: outbox.delivered == 1)
    await _time_passes(hass, 5)  # the coalesced write (SAVE_DELAY): it fails
    assert disk.refused >= 1
    assert [i["id"] for i in _stored(hass_storage, hologram_account)] != []
    disk.full = False
    await _time_passes(hass, 60)  # WRITE_RETRY: written again, nothing changed
    assert _stored(hass_storage, hologram_account) == []
    # A restart does not send it again.
    assert await hass.config_entries.async_unload(hologram_account.entry_id)
    assert await hass.config_entries.async_setup(hologram_account.entry_id)
    await hass.async_block_till_done()
    assert _outbox(hologram_account).depth == 0
    assert _delivered(hologram) == {123456: ["once"]}


@pytest.mark.parametrize("manifest", ["moved aside", "cannot be read"])
async def test_segments_a_lost_manifest_does_not_list_are_found(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    manifest: str,
) -> None:
    """The segments on disk are loaded whatever the manifest says, and the next
    send goes into a new segment, never over segment 0."""
    monkeypatch.setattr(hass.config, "config_dir", str(tmp_path))
    (tmp_path / ".storage").mkdir()
    entry = hologram_entry()
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    for number, target in ((0, "device:123456"), (1, "device:234567")):
        name = f"{key}.{number}"
        stored = {
            "version": 1,
            "minor_version": 1,
            "key": name,
            "data": {"items": [_v1_item(number, target, seq=number)]},
        }
        # On disk (found there), and in the storage mock (read through Store).
        (tmp_path / ".storage" / name).write_text(json.dumps(stored))
        hass_storage[name] = stored
    (tmp_path / ".storage" / f"{key}.corrupt.2026-01-01T00:00:00").write_text("{")
    if manifest == "cannot be read":
        hass_storage[key] = {"version": 1, "minor_version": 2, "key": key, "data": {}}
        original = Store.async_load

        async def failing_load(store: Store[Any]) -> Any:
            if store.key == key:
                raise OSError(5, "Input/output error")
            return await original(store)

        monkeypatch.setattr(Store, "async_load", failing_load)
    hologram.fail("/devices/messages", 503, times=1000)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    outbox = _outbox(entry)
    assert outbox.depth == 2
    assert (await _cloud(hass, 345678, "new"))["status"] == "queued"
    # Segment 0 still holds its send; the new one is in a segment of its own.
    assert hass_storage[f"{key}.0"]["data"]["items"][0]["id"] == "old0"
    assert [i["params"]["data"] for i in hass_storage[f"{key}.2"]["data"]["items"]] == [
        "new"
    ]
    assert hass_storage[key]["data"]["segments"] == [0, 1, 2]
    hologram.faults.clear()
    await _until(hass, entry, lambda: outbox.depth == 0)
    assert _delivered(hologram) == {
        123456: ["old-0"],
        234567: ["old-1"],
        345678: ["new"],
    }


async def test_a_segment_number_is_never_given_twice(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Numbers of removed segments are not given again after a restart."""
    monkeypatch.setattr(outbox_module, "SEGMENT_SIZE", 1)
    key = f"{DOMAIN}.outbox.{hologram_account.entry_id}"
    hologram.fail("/devices/messages", 503, times=1000)
    for text in ("a", "b"):
        assert (await _cloud(hass, 123456, text))["status"] == "queued"
    assert f"{key}.1" in hass_storage
    hologram.faults.clear()
    outbox = _outbox(hologram_account)
    await _until(hass, hologram_account, lambda: outbox.depth == 0)
    assert await hass.config_entries.async_unload(hologram_account.entry_id)
    assert not [k for k in hass_storage if k.startswith(f"{key}.")]
    assert await hass.config_entries.async_setup(hologram_account.entry_id)
    hologram.fail("/devices/messages", 503, times=1000)
    assert (await _cloud(hass, 123456, "c"))["status"] == "queued"
    assert [k for k in hass_storage if k.startswith(f"{key}.")] == [f"{key}.2"]

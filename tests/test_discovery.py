"""Dynamic and stale devices: an account's devices at the provider (discovery.py).

New devices are offered by a repair issue whose fix flow adds them (never added
without the user); a device the provider no longer lists raises a repair offering
its removal; a device can be deleted from its device page. Against the fakes, in
the shapes of the recordings (Hologram's GET /devices, emnify's GET /endpoint).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.cellular_iot import async_remove_config_entry_device
from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.discovery import (
    DISCOVERY_INTERVAL,
    DeviceDiscovery,
    get_discovery,
    new_devices_issue_id,
    stale_device_issue_id,
)
from custom_components.cellular_iot.kinds import hologram as hologram_kind
from custom_components.cellular_iot.providers import onence as onence_module
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from .conftest import (
    GATE_TRACKER,
    ISSUE_STRINGS,
    ONENCE_OTHER,
    ONENCE_PUMP,
    emnify_pump_account,
    hologram_entry,
    onence_pump_account,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.onence import FakeOneNce
from .texts import icu_format

SECRET = "discovery-test-secret-0123456789"

pytestmark = pytest.mark.usefixtures("device_discovery")


async def _hologram_account(hass: HomeAssistant) -> MockConfigEntry:
    """Hologram Fleet Ltd (org 7001: 123456 and 234567) with Gate tracker, 123456."""
    return await setup_entry(
        hass, with_webhook(hologram_entry(), "a" * 64, SECRET, GATE_TRACKER)
    )


def _issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    return issue if issue is not None and issue.active else None


async def next_listing(hass: HomeAssistant) -> None:
    """List the devices of every loaded account again, as the interval does.

    (The interval itself is test_listing_every_interval: firing six hours of timers
    also fires the HTTP client's timeouts of the requests under way.)
    """
    for entry in hass.config_entries.async_entries(DOMAIN):
        discovery = get_discovery(hass, entry.entry_id)
        if discovery is not None:
            await discovery.async_refresh()
    await hass.async_block_till_done()


def _renders(issue_id: str, form: Any) -> None:
    """The fix flow's form texts render with the placeholders the flow gives."""
    key = next(k for k in ("new_devices", "stale_device") if issue_id.startswith(k))
    step = ISSUE_STRINGS[key]["fix_flow"]["step"][form["step_id"]]  # type: ignore[index]
    for text in (step["title"], step["description"]):
        icu_format(text, dict(form["description_placeholders"]))


async def _fix(
    hass: HomeAssistant, issue_id: str, user_input: dict[str, Any] | None
) -> dict[str, Any]:
    """Open the issue's fix flow (its form), then submit ``user_input`` if given."""
    assert await async_setup_component(hass, "repairs", {})
    manager = hass.data["repairs"]["flow_manager"]
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    if result["type"] is FlowResultType.FORM:
        _renders(issue_id, result)
    if user_input is None or result["type"] is not FlowResultType.FORM:
        return dict(result)
    result = await manager.async_configure(result["flow_id"], user_input)
    await hass.async_block_till_done()
    return dict(result)


def _device(
    hass: HomeAssistant, entry_id: str, identifiers: set[tuple[str, str]]
) -> dr.DeviceEntry | None:
    """The device of ``entry_id`` with these identifiers, looked up within that entry.

    HA 2026.11 refuses ``async_get_device(identifiers=...)`` in tests (identifiers
    are no longer unique across config entries); this works on every HA.
    """
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry_id):
        if identifiers <= device.identifiers:
            return device
    return None


async def test_new_device_offered_never_added_silently(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """The device of the account not in HA yet is named in a fixable repair only."""
    entry = await _hologram_account(hass)

    issue = _issue(hass, new_devices_issue_id(entry.entry_id))
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "new_devices"
    assert issue.translation_placeholders == {
        "title": "Hologram Fleet Ltd",
        "provider": "Hologram",
        "devices": "Boat sensor (234567)",
    }
    # Offered, not added (345678 is another organisation's).
    assert [s.title for s in entry.subentries.values()] == ["Gate tracker"]


async def test_fix_flow_adds_the_device_with_one_click(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Submitting the form as shown adds the device, as the add-device form would."""
    entry = await _hologram_account(hass)
    runtime = entry.runtime_data
    issue_id = new_devices_issue_id(entry.entry_id)
    assert await async_setup_component(hass, "repairs", {})
    manager = hass.data["repairs"]["flow_manager"]
    form = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert form["type"] is FlowResultType.FORM
    assert form["step_id"] == "confirm"
    assert form["description_placeholders"] == {
        "title": "Hologram Fleet Ltd",
        "provider": "Hologram",
    }
    _renders(issue_id, form)
    # Every offered device is ticked: one click adds them.
    defaults = form["data_schema"]({})
    assert defaults == {"devices": ["234567"]}

    result = await manager.async_configure(form["flow_id"], defaults)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    added = [s for s in entry.subentries.values() if s.title == "Boat sensor"]
    assert len(added) == 1
    assert dict(added[0].data) == {
        "device_id": "234567",
        "send_as": "cloud_message",
        "port": 4010,
        "protocol": "TCP",
    }
    assert added[0].unique_id == "hologram-234567"
    assert _issue(hass, issue_id) is None
    # The account set it up without a reload: its device is there, and the account
    # kept its runtime data.
    assert entry.runtime_data is runtime
    device = _device(
        hass, entry.entry_id, {(DOMAIN, f"{entry.entry_id}_{added[0].subentry_id}")}
    )
    assert device is not None
    assert device.serial_number == "234567"
    assert er.async_entries_for_device(er.async_get(hass), device.id)
    # And the next listing offers nothing.
    discovery = get_discovery(hass, entry.entry_id)
    assert discovery is not None
    await discovery.async_refresh()
    assert _issue(hass, issue_id) is None


async def test_unticked_devices_are_not_offered_again(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """An untick turns the device down; a device new after that is offered alone."""
    entry = await _hologram_account(hass)
    issue_id = new_devices_issue_id(entry.entry_id)

    result = await _fix(hass, issue_id, {"devices": []})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(entry.subentries) == 1
    await next_listing(hass)
    assert _issue(hass, issue_id) is None

    hologram.add_devices(1, first_id=456789)
    await next_listing(hass)
    issue = _issue(hass, issue_id)
    assert issue is not None
    assert issue.translation_placeholders["devices"] == "Device 456789 (456789)"


async def test_ignored_offer_is_remembered(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Ignoring the repair turns its devices down, across a reload too."""
    entry = await _hologram_account(hass)
    issue_id = new_devices_issue_id(entry.entry_id)
    ir.async_ignore_issue(hass, DOMAIN, issue_id, True)

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await next_listing(hass)

    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is None or issue.dismissed_version is not None
    hologram.add_devices(1, first_id=456789)
    await next_listing(hass)
    issue = _issue(hass, issue_id)
    assert issue is not None
    assert issue.dismissed_version is None
    assert issue.translation_placeholders["devices"] == "Device 456789 (456789)"


async def test_gone_device_raises_a_removal_repair(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """A device the provider no longer lists: a repair whose fix removes it."""
    entry = await _hologram_account(hass)
    (subentry,) = entry.subentries.values()
    issue_id = stale_device_issue_id(entry.entry_id, subentry.subentry_id)
    assert _issue(hass, issue_id) is None
    identifiers = {(DOMAIN, f"{entry.entry_id}_{subentry.subentry_id}")}
    assert _device(hass, entry.entry_id, identifiers) is not None

    del hologram.devices[123456]
    await next_listing(hass)

    issue = _issue(hass, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "title": "Hologram Fleet Ltd",
        "provider": "Hologram",
        "device": "Gate tracker",
        "provider_id": "123456",
    }
    result = await _fix(hass, issue_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.subentries == {}
    assert _device(hass, entry.entry_id, identifiers) is None
    assert _issue(hass, issue_id) is None
    # A device removed is not offered again should it come back.
    hologram.add_devices(1, first_id=123456)
    await next_listing(hass)
    offer = _issue(hass, new_devices_issue_id(entry.entry_id))
    assert offer is not None
    assert "123456" not in offer.translation_placeholders["devices"]


async def test_device_back_at_the_provider_clears_its_repair(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """A device listed again: its removal repair goes by itself."""
    entry = await _hologram_account(hass)
    (subentry,) = entry.subentries.values()
    issue_id = stale_device_issue_id(entry.entry_id, subentry.subentry_id)
    gone = hologram.devices.pop(123456)
    await next_listing(hass)
    assert _issue(hass, issue_id) is not None

    hologram.devices[123456] = gone
    await next_listing(hass)

    assert _issue(hass, issue_id) is None
    assert len(entry.subentries) == 1


async def test_failed_listing_changes_nothing(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """A listing that fails proves no device gone and offers nothing new."""
    entry = await _hologram_account(hass)
    (subentry,) = entry.subentries.values()
    hologram.fail(
        "/devices", 500, {"success": False, "error": "Internal error"}, times=10
    )
    del hologram.devices[123456]

    await next_listing(hass)

    stale = stale_device_issue_id(entry.entry_id, subentry.subentry_id)
    assert _issue(hass, stale) is None
    assert _issue(hass, new_devices_issue_id(entry.entry_id)) is not None


async def test_emnify_endpoints_offered_and_gone(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    """emnify: the organisation's endpoint list offers 1002 and notices 1001 gone."""
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    offer = _issue(hass, new_devices_issue_id(entry.entry_id))
    assert offer is not None
    assert offer.translation_placeholders["devices"] == "Endpoint 1002 (1002)"
    listed = [c for c in emnify.calls("/endpoint") if c[0] == "GET"]
    assert listed

    emnify.endpoints.discard(1001)
    await next_listing(hass)

    (subentry,) = entry.subentries.values()
    stale = _issue(hass, stale_device_issue_id(entry.entry_id, subentry.subentry_id))
    assert stale is not None
    assert stale.translation_placeholders["device"] == "Pump"

    result = await _fix(
        hass, new_devices_issue_id(entry.entry_id), {"devices": ["1002"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [dict(s.data) for s in entry.subentries.values()][-1] == {
        "device_id": "1002"
    }


async def test_remove_device_from_its_page(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """A device of the account can be deleted (with its subentry); the account not."""
    entry = await _hologram_account(hass)
    (subentry,) = entry.subentries.values()
    device = _device(
        hass, entry.entry_id, {(DOMAIN, f"{entry.entry_id}_{subentry.subentry_id}")}
    )
    account = _device(hass, entry.entry_id, {(DOMAIN, entry.entry_id)})
    assert device is not None
    assert account is not None

    assert not await async_remove_config_entry_device(hass, entry, account)
    assert await async_remove_config_entry_device(hass, entry, device)
    await hass.async_block_till_done()

    assert entry.subentries == {}
    assert _device(hass, entry.entry_id, device.identifiers) is None
    # Not offered again: the user removed it.
    await next_listing(hass)
    offer = _issue(hass, new_devices_issue_id(entry.entry_id))
    assert offer is not None
    assert offer.translation_placeholders["devices"] == "Boat sensor (234567)"


async def test_removed_entry_forgets_its_discovery(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Removing the account removes its discovery issues."""
    entry = await _hologram_account(hass)
    assert _issue(hass, new_devices_issue_id(entry.entry_id)) is not None

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, new_devices_issue_id(entry.entry_id))
        is None
    )


async def test_monoz_lists_no_devices(hass: HomeAssistant) -> None:
    """monoZ has no SIM list: nothing to discover (devices are typed)."""
    from custom_components.cellular_iot.kinds import KINDS

    assert KINDS["monoz"].device_lister(object()) is None  # type: ignore[arg-type]


async def test_listing_at_setup_and_every_interval(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account is listed when set up, then every DISCOVERY_INTERVAL, not sooner."""
    listings: list[str] = []

    async def listed(self: DeviceDiscovery, _now: Any = None) -> None:
        listings.append(self.entry.entry_id)

    monkeypatch.setattr(DeviceDiscovery, "async_refresh", listed)
    entry = await _hologram_account(hass)
    assert listings == [entry.entry_id]

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(hours=5))
    await hass.async_block_till_done()
    assert len(listings) == 1
    async_fire_time_changed(hass, dt_util.utcnow() + DISCOVERY_INTERVAL)
    await hass.async_block_till_done()
    assert len(listings) == 2


async def test_listing_cut_short_proves_nothing_gone(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing that stopped at its page limit may miss a device: no removal repair."""
    monkeypatch.setattr(hologram_kind, "MAX_LISTED_DEVICES", 1)
    entry = await _hologram_account(hass)
    (subentry,) = entry.subentries.values()
    del hologram.devices[123456]

    await next_listing(hass)

    assert (
        _issue(hass, stale_device_issue_id(entry.entry_id, subentry.subentry_id))
        is None
    )


async def test_deleted_emnify_endpoint_is_gone(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    """An endpoint emnify lists as Deleted is not offered, and a device of it is gone."""
    emnify.endpoint(1002)["status"] = {"id": 2, "description": "Deleted"}
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    assert _issue(hass, new_devices_issue_id(entry.entry_id)) is None

    emnify.endpoint(1001)["status"] = {"id": 2, "description": "Deleted"}
    await next_listing(hass)

    (subentry,) = entry.subentries.values()
    assert _issue(hass, stale_device_issue_id(entry.entry_id, subentry.subentry_id))


async def test_fix_flows_when_the_account_changed_meanwhile(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """An unloaded account cannot add; a device removed meanwhile is not removed twice."""
    entry = await _hologram_account(hass)
    (subentry,) = entry.subentries.values()
    del hologram.devices[123456]
    await next_listing(hass)
    stale = stale_device_issue_id(entry.entry_id, subentry.subentry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    result = await _fix(hass, new_devices_issue_id(entry.entry_id), None)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_not_loaded"

    hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    result = await _fix(hass, stale, None)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "device_already_removed"


# --- 1NCE: the customer's SIM list (GET /v2/sims) -----------------------------------


async def test_onence_sims_offered_added_and_gone(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """1NCE: the SIM list offers the SIM not in HA; the fix adds it without a reload;
    a SIM no longer listed raises its removal repair."""
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    runtime = entry.runtime_data
    issue_id = new_devices_issue_id(entry.entry_id)
    offer = _issue(hass, issue_id)
    assert offer is not None
    assert offer.translation_placeholders == {
        "title": "1NCE Fleet",
        "provider": "1NCE",
        "devices": f"Sensor 1002 ({ONENCE_OTHER})",
    }
    assert [s.title for s in entry.subentries.values()] == ["Pump"]  # offered only
    assert [c for c in onence.calls("/v2/sims") if c[0] == "GET"]

    result = await _fix(hass, issue_id, {"devices": [ONENCE_OTHER]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    added = [s for s in entry.subentries.values() if s.title == "Sensor 1002"]
    assert len(added) == 1
    assert dict(added[0].data) == {"iccid": ONENCE_OTHER}
    assert entry.runtime_data is runtime
    device = _device(
        hass, entry.entry_id, {(DOMAIN, f"{entry.entry_id}_{added[0].subentry_id}")}
    )
    assert device is not None
    assert er.async_entries_for_device(er.async_get(hass), device.id)
    assert _issue(hass, issue_id) is None

    del onence.sims[ONENCE_PUMP]
    await next_listing(hass)
    pump = next(s for s in entry.subentries.values() if s.title == "Pump")
    stale_id = stale_device_issue_id(entry.entry_id, pump.subentry_id)
    stale = _issue(hass, stale_id)
    assert stale is not None
    assert stale.translation_placeholders == {
        "title": "1NCE Fleet",
        "provider": "1NCE",
        "device": "Pump",
        "provider_id": ONENCE_PUMP,
    }
    result = await _fix(hass, stale_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [s.title for s in entry.subentries.values()] == ["Sensor 1002"]


async def test_onence_failed_listing_changes_nothing(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """A SIM list that fails (5xx, 429) proves no SIM gone and offers nothing new."""
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    (subentry,) = entry.subentries.values()
    ir.async_delete_issue(hass, DOMAIN, new_devices_issue_id(entry.entry_id))
    del onence.sims[ONENCE_PUMP]
    onence.add_sim("8988228066602301003", label="Boiler")
    for status in (500, 429):
        onence.fail("/v2/sims", status)
        await next_listing(hass)
        stale = stale_device_issue_id(entry.entry_id, subentry.subentry_id)
        assert _issue(hass, stale) is None, status
        assert _issue(hass, new_devices_issue_id(entry.entry_id)) is None, status
    assert onence.faults == []
    await next_listing(hass)  # the list answers: now both are seen
    assert _issue(hass, stale_device_issue_id(entry.entry_id, subentry.subentry_id))
    assert _issue(hass, new_devices_issue_id(entry.entry_id))


async def test_onence_listing_cut_short_proves_nothing_gone(
    hass: HomeAssistant, onence: FakeOneNce, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIM list that stopped at its page limit may miss a SIM: no removal repair."""
    monkeypatch.setattr(onence_module, "SIM_PAGE_SIZE", 1)
    monkeypatch.setattr(onence_module, "MAX_SIM_PAGES", 1)
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    onence.add_sim("8988228066602301003", label="Boiler")
    (subentry,) = entry.subentries.values()
    del onence.sims[ONENCE_PUMP]  # two SIMs left, one a page: page 1 of 2 read

    await next_listing(hass)

    assert (
        _issue(hass, stale_device_issue_id(entry.entry_id, subentry.subentry_id))
        is None
    )
    assert [c[2]["page"] for c in onence.calls("/v2/sims")][-1] == "1"

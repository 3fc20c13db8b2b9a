"""The actions' device pickers offer exactly the devices each action can send to.

services.yaml filters each ``device`` selector by integration and model; the listener
and the accounts are devices of the integration too, but nothing can be sent to
them. What a picker offers and what the action accepts must be the same set, and a
device it refuses (typed in YAML, an automation, the REST API) is named in the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.cellular_iot.const import DOMAIN
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, selector

from .conftest import (
    ONENCE_PUMP,
    emnify_entry,
    hologram_entry,
    monoz_entry,
    onence_entry,
    onence_sims,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, ORG_ID, FakeMonoz
from .fakes.onence import FakeOneNce
from .mosquitto import free_port

SERVICES_YAML = (
    Path(__file__).parent.parent / "custom_components" / DOMAIN / "services.yaml"
)
SECRET = "picker-test-secret-0123456789"

# What each action sends, to a device it is given.
CALLS: dict[str, dict[str, Any]] = {
    "send_cloud_message": {"port": 4010, "data": "x"},
    "send_sms": {"message": "x"},
    "publish_downlink": {"message": "x"},
    "set_sim_state": {"state": "suspended"},
}


def _device_selectors() -> dict[str, dict[str, Any]]:
    actions = yaml.safe_load(SERVICES_YAML.read_text(encoding="utf-8"))
    return {
        action: spec["fields"]["device"]["selector"]
        for action, spec in actions.items()
        if "device" in spec.get("fields", {})
    }


def _sub(title: str, **data: Any) -> ConfigSubentryData:
    return ConfigSubentryData(
        data=data, subentry_type="device", title=title, unique_id=title
    )


@pytest.fixture
async def devices(
    hass: HomeAssistant,
    hologram: FakeHologram,
    emnify: FakeEmnify,
    monoz: FakeMonoz,
    onence: FakeOneNce,
    socket_enabled: None,
) -> dict[str, dr.DeviceEntry]:
    """Every kind of device the integration makes, by name."""
    await setup_entry(
        hass,
        with_webhook(
            hologram_entry(),
            "a" * 64,
            SECRET,
            _sub("Van tracker", device_id="123456", send_as="cloud_message"),
            _sub("Boat sensor", device_id="234567", send_as="sms"),
        ),
    )
    await setup_entry(
        hass,
        with_webhook(
            emnify_entry(emnify.application_token),
            "b" * 64,
            SECRET,
            _sub("Pump", device_id="1001"),
        ),
    )
    await setup_entry(
        hass,
        with_webhook(
            monoz_entry(), "c" * 64, SECRET, _sub("Meter", iccid=ICCID, topic="", qos=0)
        ),
    )
    onence_sims(onence)
    await setup_entry(
        hass,
        with_webhook(onence_entry(), "d" * 64, SECRET, _sub("Tank", iccid=ONENCE_PUMP)),
    )
    await setup_entry(
        hass,
        MockConfigEntry(
            domain=DOMAIN,
            title="Pi listener",
            data={
                "kind": "on_device",
                "protocol": "TCP",
                "port": free_port(),
                "host": "127.0.0.1",
            },
            unique_id="tcp-picker",
        ),
    )
    registry = dr.async_get(hass)
    # By entry: HA 2026.11 deprecates registry.devices as a mapping, older HA iterates
    # its keys.
    found = {
        device.name: device
        for entry in hass.config_entries.async_entries()
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if device.name is not None
    }
    assert set(found) == {
        "Van tracker",
        "Boat sensor",
        "Pump",
        "Meter",
        "Tank",
        "Hologram Fleet Ltd",
        "emnify Fleet GmbH",
        "1NCE Fleet",
        f"monoZ {ORG_ID}",
        "Pi listener",
    }
    return found


def _offered(
    hass: HomeAssistant, config: dict[str, Any], device: dr.DeviceEntry
) -> bool:
    """Whether the frontend's device picker lists the device (its filter rules).

    A device passes a filter when every key of it matches: ``integration`` (one of
    the device's config entries is of that domain), ``manufacturer``, ``model``.
    """
    # HA 2026.11 gives a device one entry (config_entry_id) and deprecates the set.
    entry_ids = (
        {device.config_entry_id}
        if hasattr(device, "config_entry_id")
        else device.config_entries
    )
    domains = {
        entry.domain
        for entry_id in entry_ids
        if (entry := hass.config_entries.async_get_entry(entry_id)) is not None
    }
    filters = config.get("filter") or [{}]
    return any(
        ("integration" not in f or f["integration"] in domains)
        and ("manufacturer" not in f or f["manufacturer"] == device.manufacturer)
        and ("model" not in f or f["model"] == device.model)
        for f in filters
    )


def test_device_selectors_are_valid_on_this_release() -> None:
    selectors = _device_selectors()
    assert set(selectors) == set(CALLS)
    for config in selectors.values():
        validated = selector.validate_selector(config)["device"]
        # Filtered per kind: the deprecated top-level keys would offer every device.
        assert validated["filter"]
        assert not {"integration", "manufacturer", "model"} & set(config["device"])


async def test_pickers_offer_exactly_the_devices_the_action_takes(
    hass: HomeAssistant,
    hologram: FakeHologram,
    emnify: FakeEmnify,
    monoz: FakeMonoz,
    onence: FakeOneNce,
    devices: dict[str, dr.DeviceEntry],
) -> None:
    # The 1NCE SIM (the Tank) is offered for send_cloud_message, and the call as the
    # picker makes it (no protocol: each kind's own default, UDP for 1NCE) is sent.
    offered = {
        action: {
            name
            for name, device in devices.items()
            if _offered(hass, config["device"], device)
        }
        for action, config in _device_selectors().items()
    }
    assert offered == {
        "send_cloud_message": {"Van tracker", "Boat sensor", "Tank"},
        "send_sms": {"Van tracker", "Boat sensor", "Pump", "Tank"},
        "publish_downlink": {"Meter"},
        "set_sim_state": {"Van tracker", "Boat sensor", "Pump", "Meter", "Tank"},
    }
    for action, data in CALLS.items():
        for name, device in devices.items():
            call = {"device": device.id, **data}
            if name in offered[action]:
                await hass.services.async_call(DOMAIN, action, call, blocking=True)
                continue
            with pytest.raises(ServiceValidationError) as err:
                await hass.services.async_call(DOMAIN, action, call, blocking=True)
            # Refused by name, not by registry id.
            message = str(err.value)
            assert name in message, message
            assert device.id not in message, message
            assert err.value.translation_key in (
                "device_is_account",
                "device_is_listener",
                "device_wrong_kind",
            ), (action, name)
    assert len(hologram.cloud_messages) == 2
    assert len(emnify.sms) == 1
    assert len(monoz.published) == 1
    assert len(onence.sms) == 1
    assert len(onence.udp) == 1
    assert [put[1]["status"] for put in onence.puts] == ["Disabled"]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Pi listener", "device_is_listener"),
        ("Hologram Fleet Ltd", "device_is_account"),
        ("Meter", "device_wrong_kind"),
    ],
)
async def test_refused_device_is_named_as_the_user_named_it(
    hass: HomeAssistant,
    devices: dict[str, dr.DeviceEntry],
    name: str,
    key: str,
) -> None:
    """The name the user gave the device in HA is the one the error shows."""
    dr.async_get(hass).async_update_device(devices[name].id, name_by_user="My thing")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "send_cloud_message",
            {"device": devices[name].id, "port": 1, "data": "x"},
            blocking=True,
        )
    assert err.value.translation_key == key
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["name"] == "My thing"
    assert "My thing" in str(err.value)


async def test_device_of_another_integration_is_named(
    hass: HomeAssistant, devices: dict[str, dr.DeviceEntry]
) -> None:
    other = MockConfigEntry(domain="other_integration")
    other.add_to_hass(hass)
    lamp = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "1")}, name="Desk lamp"
    )
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "send_sms", {"device": lamp.id, "message": "x"}, blocking=True
        )
    assert err.value.translation_key == "device_not_ours"
    assert "Desk lamp" in str(err.value)
    assert lamp.id not in str(err.value)

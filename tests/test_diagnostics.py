"""Diagnostics: configuration and runtime state, with no secret left in."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot import diagnostics as diagnostics_module
from custom_components.cellular_iot.const import DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from .conftest import API_KEY, broker_data, monoz_entry
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .fakes.onence import CLIENT_ID, CLIENT_SECRET, FakeOneNce
from .mosquitto import Mosquitto, free_port


async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    hass.config_entries.async_update_entry(
        hologram_account, title="Hologram (owner@example.com)"
    )
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, hologram_account
    )
    text = json.dumps(diagnostics)
    assert API_KEY not in text
    assert "owner@example.com" not in text
    assert diagnostics["entry"]["data"]["api_key"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["org_id"] == 7001
    assert diagnostics["runtime"]["user_id"] == 1001
    assert diagnostics["entry"]["state"] == "loaded"


async def test_emnify_diagnostics_redact_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    emnify: FakeEmnify,
    emnify_account: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, emnify_account
    )
    text = json.dumps(diagnostics)
    assert emnify.application_token not in text
    assert all(token not in text for token in emnify.valid_tokens)
    assert diagnostics["runtime"].pop("webhook")["accepted"] == 0
    assert diagnostics["runtime"].pop("outbox")["depth"] == 0
    assert diagnostics["runtime"] == {
        "kind": "emnify",
        "org_id": "4242",
        "authentications": 1,
    }


async def test_onence_diagnostics_redact_client_id_secret_and_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    onence: FakeOneNce,
    onence_account: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, onence_account
    )
    text = json.dumps(diagnostics)
    assert CLIENT_ID not in text
    assert CLIENT_SECRET not in text
    assert onence.valid_tokens
    assert all(token not in text for token in onence.valid_tokens)
    assert diagnostics["entry"]["data"]["client_id"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["client_secret"] == "**REDACTED**"
    assert diagnostics["entry"]["state"] == "loaded"
    assert diagnostics["runtime"].pop("webhook")["accepted"] == 0
    assert diagnostics["runtime"].pop("outbox")["depth"] == 0
    assert diagnostics["runtime"] == {"kind": "1nce", "token_requests": 1}


async def test_monoz_diagnostics_redact_key_and_broker_password(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    monoz: FakeMonoz,
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path, users={"ha-user": "broker-s3cret"})
    broker.start()
    try:
        entry = monoz_entry(
            broker_data(broker, username="ha-user", password="broker-s3cret")
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert await async_setup_component(hass, "diagnostics", {})
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        text = json.dumps(diagnostics)
        for secret in (monoz.api_key, "broker-s3cret", "ha-user"):
            assert secret not in text
        assert diagnostics["entry"]["data"]["mqtt"]["password"] == "**REDACTED**"
        assert diagnostics["runtime"]["org_id"] == "mti"
        assert diagnostics["runtime"]["mqtt"]["port"] == broker.port
        assert diagnostics["runtime"]["mqtt"]["uplink_topics"] == [
            "mti/+/#",
            "+/mti/+/#",
        ]
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


async def test_monoz_rest_only_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    monoz: FakeMonoz,
) -> None:
    entry = monoz_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["runtime"].pop("webhook")["rejected"] == 0
    assert diagnostics["runtime"].pop("outbox")["depth"] == 0
    assert diagnostics["runtime"] == {
        "kind": "monoz",
        "org_id": "mti",
        "messages_received": 0,
        "mqtt": None,
    }


async def test_on_device_diagnostics_redact_the_device_key(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, socket_enabled: None
) -> None:
    """The Socket API device key is redacted, a legacy one (source ID + key) too."""
    assert await async_setup_component(hass, "diagnostics", {})
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Listener TCP",
        data={
            "kind": "on_device",
            "protocol": "TCP",
            "port": free_port(),
            "host": "127.0.0.1",
            "device_key": "Q7#zw!X9",
            "device_key_legacy": True,
        },
        unique_id="tcp-diagnostics",
        minor_version=3,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert "Q7#z" not in text
    assert "w!X9" not in text
    assert diagnostics["entry"]["data"]["device_key"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["device_key_legacy"] is True
    assert diagnostics["runtime"]["socket_api"] is True
    await hass.config_entries.async_unload(entry.entry_id)


async def test_monoz_diagnostics_redact_iccids_and_show_broker_state(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
) -> None:
    """A queued downlink's ICCID (a SIM's serial number) does not leave the house."""
    entry = monoz_entry(broker_data(mosquitto, client_id=""))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    monoz.fail(
        "/Publish/Message",
        500,
        {"Error": True, "StatusCode": 500, "Message": f"ICCID {ICCID} is busy"},
    )
    response = await hass.services.async_call(
        DOMAIN,
        "publish_downlink",
        {"iccid": ICCID, "message": "x", "via": "rest"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["status"] == "queued"
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert ICCID not in json.dumps(diagnostics)
    waiting = diagnostics["runtime"]["outbox"]["waiting"]
    assert waiting[0]["targets"] == ["iccid:**REDACTED**"]
    assert "**REDACTED**" in waiting[0]["last_error"]
    mqtt = diagnostics["runtime"]["mqtt"]
    client = entry.runtime_data.mqtt  # type: ignore[attr-defined]
    assert mqtt["client_id"] == client.settings.client_id
    assert len(mqtt["client_id"]) == 23
    assert mqtt["problems"] == []
    assert mqtt["uplinks_dropped"] == 0
    assert mqtt["dropped_bad_topic"] == 0
    assert diagnostics["entry"]["data"]["mqtt"]["client_id"] == ""
    await hass.config_entries.async_unload(entry.entry_id)


def test_identifiers_are_scrubbed_from_free_text() -> None:
    scrubbed = diagnostics_module._scrub(
        {
            "errors": [
                "SMS to +4915112345678 failed",
                "ICCID 8981100005819480000 not found",
                "port 1883, 10240 bytes, device 123456",
            ],
            "topic": "/mti/+/pub/#",
            "count": 8981100005819480000,
        }
    )
    assert scrubbed == {
        "errors": [
            "SMS to **REDACTED** failed",
            "ICCID **REDACTED** not found",
            "port 1883, 10240 bytes, device 123456",
        ],
        "topic": "/mti/+/pub/#",
        "count": 8981100005819480000,
    }

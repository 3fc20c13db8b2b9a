"""Shared fixtures: the custom integration enabled, local provider fakes, entries."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
import json
import logging
import os
from pathlib import Path
from typing import Any

from aiohttp import web
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot import discovery as discovery_module
from custom_components.cellular_iot.const import (
    CONF_API_KEY,
    CONF_KIND,
    CONF_ORG_ID,
    CONF_USER_ID,
    DOMAIN,
)
from custom_components.cellular_iot.providers import (
    emnify as emnify_module,
    hologram as hologram_module,
    monoz as monoz_module,
    mqtt as mqtt_module,
    onence as onence_module,
)
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import API_KEY as MONOZ_API_KEY, ORG_ID as MONOZ_ORG_ID, FakeMonoz
from .fakes.onence import (
    CLIENT_ID as ONENCE_CLIENT_ID,
    CLIENT_SECRET as ONENCE_CLIENT_SECRET,
    CUSTOMER_ID as ONENCE_CUSTOMER_ID,
    FakeOneNce,
)
from .mosquitto import Mosquitto
from .texts import icu_format

API_KEY = "test-api-key"
ISSUE_STRINGS: dict[str, dict[str, str]] = json.loads(
    (
        Path(__file__).parent.parent / "custom_components" / DOMAIN / "strings.json"
    ).read_text()
)["issues"]


if os.environ.get("CELLULAR_IOT_EXPECT_PROBATIO") == "1":
    import voluptuous as _vol

    # The probatio leg must not pass by testing voluptuous: the alias has to be in
    # place before HA (and our code) import it, as HA 2026.9+ puts it there.
    assert _vol.__name__.startswith("probatio"), (
        f"voluptuous is {_vol.__name__}, not probatio's shim: is "
        "tests/probatio_alias on PYTHONPATH?"
    )


def _not_a_slow_callback(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Executing ")


# HA's test loop runs in asyncio debug mode, which logs "Executing <handle> took 0.2
# seconds" at WARNING whenever the machine is busy: a wall-clock budget, not a defect
# of ours, and tests that assert "no warning" must not fail on it.
logging.getLogger("asyncio").addFilter(_not_a_slow_callback)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/cellular_iot."""


@pytest.fixture(autouse=True)
def repair_issues_render(hass: HomeAssistant) -> Generator[None]:
    """Fail a test in which we raise a repair issue whose texts do not render.

    Every issue of ours created or updated during the test is formatted as the
    frontend does, with its translation_placeholders (see tests/texts.py).
    """
    problems: list[str] = []

    @callback
    def _check(event: Event) -> None:
        if event.data["domain"] != DOMAIN or event.data["action"] == "remove":
            return
        issue = ir.async_get(hass).async_get_issue(DOMAIN, event.data["issue_id"])
        if issue is None:
            return
        try:
            texts = ISSUE_STRINGS[str(issue.translation_key)]
            # (A fixable issue has a fix flow instead of a description.)
            for key in (
                ("title", "description") if issue.is_fixable is False else ("title",)
            ):
                icu_format(texts[key], dict(issue.translation_placeholders or {}))
        except (AssertionError, KeyError) as err:
            problems.append(f"{issue.issue_id}: {err!r}")

    unsubscribe = hass.bus.async_listen(ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED, _check)
    yield
    unsubscribe()
    assert not problems, problems


@pytest.fixture(autouse=True)
def no_deprecated_ha_usage(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """Fail a test in which Home Assistant reports a deprecated use by us.

    HA logs those through ``homeassistant.helpers.frame`` (``report_usage``); on
    the newest HA some of them are errors for core code paths, so they are bugs here.
    """
    yield
    reports = [
        record.getMessage()
        for when in ("setup", "call")
        for record in caplog.get_records(when)  # type: ignore[arg-type]
        if record.name == "homeassistant.helpers.frame"
        and record.levelno >= logging.WARNING
    ]
    assert not reports, reports


@pytest.fixture(autouse=True)
def device_discovery_off(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts list their devices (discovery.py) only in the tests that ask for it.

    The listing is requests of its own, at setup and every six hours: the other
    tests count the requests they cause and the repair issues they raise. A test
    asks with the ``device_discovery`` fixture (test_discovery.py).
    """
    if "device_discovery" not in request.fixturenames:
        monkeypatch.setattr(
            discovery_module, "async_start_discovery", lambda *args: None
        )


@pytest.fixture
def device_discovery() -> None:
    """Let the accounts of this test list their devices (see device_discovery_off)."""


def _timeouts(monkeypatch: pytest.MonkeyPatch, module: Any, fake: Any) -> None:
    """A client timeout no busy machine reaches, shortened when a test asks the fake
    to hang (a test waits for that timeout; every other test only has a hang guard)."""
    monkeypatch.setattr(module, "DEFAULT_TIMEOUT", 60.0)
    fake.on_hang = lambda: monkeypatch.setattr(module, "DEFAULT_TIMEOUT", 0.5)


@pytest.fixture
async def hologram(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[FakeHologram]:
    """Serve the fake Hologram API on 127.0.0.1 and point the client at it."""
    fake = FakeHologram()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}/api/1"  # type: ignore[attr-defined]
    monkeypatch.setattr(hologram_module, "DEFAULT_BASE_URL", fake.base_url)  # type: ignore[attr-defined]
    _timeouts(monkeypatch, hologram_module, fake)
    yield fake
    fake.release.set()
    await runner.cleanup()
    if not getattr(fake, "expect_violations", False):
        assert fake.violations == [], fake.violations


@pytest.fixture
def hologram_webhook_origin(
    hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Let the fake stand in for https://dashboard.hologram.io, the only origin a
    device webhook URL may name; return the fake's origin."""
    origin = hologram.base_url.removesuffix("/api/1")  # type: ignore[attr-defined]
    # raising=False: the same tests can run against code without the constant.
    monkeypatch.setattr(hologram_module, "DEVICE_WEBHOOK_ORIGIN", origin, raising=False)
    return str(origin)


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry to HA, set it up (it must load) and let its setup settle."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def hologram_entry(**data: Any) -> MockConfigEntry:
    """A Hologram account entry as the config flow creates it."""
    entry_data: dict[str, Any] = {
        CONF_KIND: "hologram",
        CONF_API_KEY: API_KEY,
        CONF_USER_ID: 1001,
        CONF_ORG_ID: 7001,
    }
    entry_data.update(data)
    unique = (
        f"org-{entry_data[CONF_ORG_ID]}"
        if entry_data.get(CONF_ORG_ID)
        else f"user-{entry_data[CONF_USER_ID]}"
    )
    return MockConfigEntry(
        domain=DOMAIN,
        title="Hologram Fleet Ltd",
        data=entry_data,
        unique_id=unique,
    )


@pytest.fixture
async def hologram_account(
    hass: HomeAssistant, hologram: FakeHologram
) -> MockConfigEntry:
    """A loaded Hologram account entry talking to the fake."""
    return await setup_entry(hass, hologram_entry())


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


@pytest.fixture
async def emnify(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[FakeEmnify]:
    """Serve the fake emnify API on 127.0.0.1, on the fake's clock."""
    fake = FakeEmnify()
    runner, port = await _serve(fake.app)
    monkeypatch.setattr(
        emnify_module, "DEFAULT_BASE_URL", f"http://127.0.0.1:{port}/api/v1"
    )
    _timeouts(monkeypatch, emnify_module, fake)
    monkeypatch.setattr(emnify_module, "_now", lambda: fake.now)
    yield fake
    fake.release.set()
    await runner.cleanup()
    assert fake.violations == [], fake.violations


def emnify_entry(token: str) -> MockConfigEntry:
    """An emnify account entry as the config flow creates it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="emnify Fleet GmbH",
        data={CONF_KIND: "emnify", "application_token": token},
        unique_id="emnify-org-4242",
    )


@pytest.fixture
async def emnify_account(hass: HomeAssistant, emnify: FakeEmnify) -> MockConfigEntry:
    """A loaded emnify account entry talking to the fake."""
    return await setup_entry(hass, emnify_entry(emnify.application_token))


@pytest.fixture
def mosquitto(socket_enabled: None, tmp_path: Path) -> Generator[Mosquitto]:
    """A real Mosquitto broker on a free loopback port (anonymous access)."""
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect to the broker after milliseconds, not seconds."""
    monkeypatch.setattr(mqtt_module, "RECONNECT_MIN", 0.02)
    monkeypatch.setattr(mqtt_module, "RECONNECT_MAX", 0.2)


@pytest.fixture
async def monoz(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[FakeMonoz]:
    """Serve the fake monoZ API on 127.0.0.1 and point the client at it."""
    fake = FakeMonoz()
    runner, port = await _serve(fake.app)
    monkeypatch.setattr(
        monoz_module, "DEFAULT_BASE_URL", f"http://127.0.0.1:{port}/api/v1"
    )
    _timeouts(monkeypatch, monoz_module, fake)
    yield fake
    fake.release.set()
    await runner.cleanup()
    if not getattr(fake, "expect_violations", False):
        assert fake.violations == [], fake.violations


def monoz_entry(
    mqtt: dict[str, Any] | None = None, api_key: str = MONOZ_API_KEY
) -> MockConfigEntry:
    """A monoZ account entry as the config flow creates it."""
    data: dict[str, Any] = {
        CONF_KIND: "monoz",
        CONF_ORG_ID: MONOZ_ORG_ID,
        CONF_API_KEY: api_key,
    }
    if mqtt is not None:
        data["mqtt"] = mqtt
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"monoZ {MONOZ_ORG_ID}",
        data=data,
        unique_id=f"monoz-org-{MONOZ_ORG_ID}",
    )


def broker_data(broker: Mosquitto, **extra: Any) -> dict[str, Any]:
    """The ``mqtt`` data of a monoZ entry for a test broker."""
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": broker.port,
        "tls": False,
        "verify_tls": True,
        "username": "",
        "password": "",
        "client_id": "ha-test",
        # The default filters of a new entry (every documented uplink topic shape).
        "uplink_topic": [f"{MONOZ_ORG_ID}/+/#", f"+/{MONOZ_ORG_ID}/+/#"],
    }
    data.update(extra)
    return data


def device_subentry(title: str, **data: Any) -> ConfigSubentryData:
    """A device of an account as the add-device flow stores it (by ICCID for monoZ)."""
    key = "iccid" if "iccid" in data else "device_id"
    return ConfigSubentryData(
        data=data, subentry_type="device", title=title, unique_id=f"x-{data[key]}"
    )


# A Hologram device that takes cloud messages (test_sim, test_voice).
GATE_TRACKER = device_subentry(
    "Gate tracker",
    device_id="123456",
    send_as="cloud_message",
    port=4010,
    protocol="TCP",
)


def with_webhook(
    entry: MockConfigEntry,
    webhook_id: str,
    secret: str,
    *devices: ConfigSubentryData,
) -> MockConfigEntry:
    """The account entry as version 1.2 creates it: webhook id in data, secret in
    options, and its devices as subentries."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        data={**entry.data, "webhook_id": webhook_id},
        options={"webhook_secret": secret},
        unique_id=entry.unique_id,
        minor_version=2,
        subentries_data=list(devices),
    )


def emnify_pump_account(emnify: FakeEmnify, secret: str) -> MockConfigEntry:
    """An emnify account with its webhook and one endpoint, Pump (1001)."""
    return with_webhook(
        emnify_entry(emnify.application_token),
        "d" * 64,
        secret,
        device_subentry("Pump", device_id="1001"),
    )


def record_events(hass: HomeAssistant, event_type: str) -> list[Event]:
    """Collect the events of one type that fire from now on."""
    events: list[Event] = []

    @callback
    def _add(event: Event) -> None:
        events.append(event)

    hass.bus.async_listen(event_type, _add)
    return events


@pytest.fixture
async def onence(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[FakeOneNce]:
    """Serve the fake 1NCE API on 127.0.0.1; the client runs on the fake's clock.

    The client's limiter sleeps on that clock too (time passes, nobody waits), so
    its spacing costs a test nothing and every request is stamped with its slot.
    """
    fake = FakeOneNce()
    runner, port = await _serve(fake.app)
    monkeypatch.setattr(
        onence_module, "DEFAULT_BASE_URL", f"http://127.0.0.1:{port}/management-api"
    )
    _timeouts(monkeypatch, onence_module, fake)
    monkeypatch.setattr(onence_module, "_now", fake.time.clock)
    monkeypatch.setattr(onence_module, "_sleep", fake.time.sleep)
    yield fake
    fake.release.set()
    await runner.cleanup()
    assert fake.violations == [], fake.violations


# The 1NCE twins of emnify's endpoints 1001 (Pump) and 1002: two SIMs of the customer.
ONENCE_PUMP = "8988228066602301001"
ONENCE_OTHER = "8988228066602301002"


def onence_sims(fake: FakeOneNce) -> None:
    """Give the fake 1NCE customer its two SIMs (Pump, and one HA does not have yet)."""
    if ONENCE_PUMP not in fake.sims:
        fake.add_sim(ONENCE_PUMP, label="Pump")
        fake.add_sim(ONENCE_OTHER, label="Sensor 1002")


def onence_entry(client_secret: str = ONENCE_CLIENT_SECRET) -> MockConfigEntry:
    """A 1NCE account entry as the config flow creates it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="1NCE Fleet",
        data={
            CONF_KIND: "1nce",
            "client_id": ONENCE_CLIENT_ID,
            "client_secret": client_secret,
        },
        unique_id=f"1nce-{ONENCE_CUSTOMER_ID}",
    )


@pytest.fixture
async def onence_account(hass: HomeAssistant, onence: FakeOneNce) -> MockConfigEntry:
    """A loaded 1NCE account entry talking to the fake (its SIMs: onence_sims)."""
    onence_sims(onence)
    return await setup_entry(hass, onence_entry())


def onence_pump_account(onence: FakeOneNce, secret: str) -> MockConfigEntry:
    """A 1NCE account with its webhook and one SIM, Pump (ONENCE_PUMP)."""
    onence_sims(onence)
    return with_webhook(
        onence_entry(), "f" * 64, secret, device_subentry("Pump", iccid=ONENCE_PUMP)
    )

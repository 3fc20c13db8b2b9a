"""The 1NCE account in Home Assistant: its flow, actions, webhook, SIMs and devices.

Against the fake 1NCE API (tests/fakes/onence.py, which answers in the recorded
shapes) and HA's real HTTP stack for the webhook. The client itself is tested in
test_onence_client.py, the recordings in test_onence_recorded.py and the webhook
parsers in test_onence_deliveries.py.
"""

from __future__ import annotations

import base64
from http import HTTPStatus
import re
from typing import Any

from aiohttp.test_utils import TestClient
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import CONF_KIND, DOMAIN
from custom_components.cellular_iot.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.cellular_iot.kinds import KINDS
from custom_components.cellular_iot.providers.onence import OneNceClient
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .conftest import record_events, setup_entry
from .fakes.onence import CLIENT_ID, CLIENT_SECRET, CUSTOMER_ID, FakeOneNce

ICCID = "8988228066602300001"
OTHER = "8988228066602300002"
SECRET = "webhook-secret-1nce"


def onence_entry(*iccids: str, **data: Any) -> MockConfigEntry:
    """A 1NCE account entry as the config flow creates it, with devices."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="1NCE account",
        data={
            CONF_KIND: "1nce",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "webhook_id": "onence-hook",
            **data,
        },
        options={"webhook_secret": SECRET},
        unique_id=f"1nce-{CUSTOMER_ID}",
        minor_version=4,
        subentries_data=[
            ConfigSubentryData(
                data={"iccid": iccid},
                subentry_type="device",
                title=f"Tracker {iccid[-1]}",
                unique_id=f"1nce-{iccid}",
            )
            for iccid in iccids
        ],
    )


@pytest.fixture
async def account(hass: HomeAssistant, onence: FakeOneNce) -> MockConfigEntry:
    """A loaded 1NCE account with one device, its SIM known to the fake."""
    onence.add_sim(ICCID, label="Tracker 1")
    onence.add_sim(OTHER, label="Tracker 2")
    entry = await setup_entry(hass, onence_entry(ICCID))
    await hass.async_block_till_done()
    return entry


async def _call(hass: HomeAssistant, action: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )


def _entity(hass: HomeAssistant, domain: str, key: str, iccid: str = ICCID) -> str:
    """The entity id of one of a device's entities, by its translation key."""
    registry = er.async_get(hass)
    device = _device(hass, iccid)
    for entity in er.async_entries_for_device(registry, device.id):
        if entity.domain == domain and entity.translation_key == key:
            return entity.entity_id
    raise AssertionError(f"no {domain} {key} for {iccid}")


def _device(hass: HomeAssistant, iccid: str) -> dr.DeviceEntry:
    """The device of a SIM, looked up within its entry (HA 2026.11 deprecates the
    registry-wide lookup by identifier)."""
    entry = _onence(hass)
    wanted = {(DOMAIN, ident) for ident in _device_identifiers(hass, iccid)}
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
        if device.identifiers & wanted:
            return device
    raise AssertionError(f"no device for {iccid}")


def _onence(hass: HomeAssistant) -> MockConfigEntry:
    """The 1NCE account (among the entries of a test)."""
    return next(
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data[CONF_KIND] == "1nce"
    )


def _device_identifiers(hass: HomeAssistant, iccid: str) -> set[str]:
    entry = _onence(hass)
    for subentry in entry.subentries.values():
        if subentry.data.get("iccid") == iccid:
            return {f"{entry.entry_id}_{subentry.subentry_id}"}
    raise AssertionError(iccid)


# --- config flow ----------------------------------------------------------------------


async def _form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert "1nce" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "1nce"}
    )
    assert result["step_id"] == "1nce"
    return result["flow_id"]


async def test_flow_creates_entry_and_shows_what_to_paste(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": f" {CLIENT_ID} ", "client_secret": CLIENT_SECRET}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"1nce-{CUSTOMER_ID}"
    assert result["data"].pop("webhook_id")
    assert result["data"] == {
        "kind": "1nce",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    # The message shows the URL with the secret (SMS Forwarder, 1NCE OS) and the
    # Basic Auth Header value the Data Streamer asks for, made of the same secret.
    placeholders = result["description_placeholders"]
    secret = result["result"].options["webhook_secret"]
    assert placeholders["url_with_secret"].endswith(f"?secret={secret}")
    _user, _, password = base64.b64decode(placeholders["basic_auth"]).partition(b":")
    assert password.decode() == secret
    assert result["description"] in ("1nce", "1nce_local")
    # One token to check the credentials, one for the account it set up.
    assert onence.token_calls == 2


@pytest.mark.parametrize(
    ("client_id", "secret", "fault", "error"),
    [
        (CLIENT_ID, "wrong-secret", None, "invalid_auth"),
        ("unknown-client", CLIENT_SECRET, None, "invalid_auth"),
        ("  ", CLIENT_SECRET, None, "invalid_auth"),
        (CLIENT_ID, CLIENT_SECRET, 500, "cannot_connect"),
        (CLIENT_ID, CLIENT_SECRET, "garbage", "cannot_connect"),
        (CLIENT_ID, CLIENT_SECRET, 429, "cannot_connect"),
        (CLIENT_ID, CLIENT_SECRET, "hang", "cannot_connect"),
    ],
)
async def test_flow_errors(
    hass: HomeAssistant,
    onence: FakeOneNce,
    client_id: str,
    secret: str,
    fault: int | str | None,
    error: str,
) -> None:
    flow_id = await _form(hass)
    if fault == "hang":
        onence.fail("/oauth/token", 200, hang=True)
    elif fault == "garbage":
        onence.fail("/oauth/token", 200, "garbage")
    elif fault is not None:
        onence.fail("/oauth/token", fault, headers={"Retry-After": "1"})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": client_id, "client_secret": secret}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_flow_unknown_error(
    hass: HomeAssistant, onence: FakeOneNce, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(self: OneNceClient) -> None:
        raise RuntimeError("boom")

    flow_id = await _form(hass)
    monkeypatch.setattr(OneNceClient, "authenticate", boom)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert result["errors"] == {"base": "unknown"}


async def test_flow_one_entry_per_customer(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    # A second API client of the same customer opens the same account.
    onence.credentials[("second-client", "second-secret")] = CUSTOMER_ID
    onence_entry().add_to_hass(hass)
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": "second-client", "client_secret": "second-secret"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_asks_client_id_and_secret(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    onence.credentials[("rotated-client", "rotated-secret")] = CUSTOMER_ID
    onence.credentials[("foreign-client", "foreign-secret")] = "999"
    entry = onence_entry(client_secret="revoked")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["step_id"] == "reauth_confirm"
    assert [str(key) for key in result["data_schema"].schema] == [
        "client_id",
        "client_secret",
    ]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": CLIENT_ID, "client_secret": "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"client_id": "foreign-client", "client_secret": "foreign-secret"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"client_id": "rotated-client", "client_secret": "rotated-secret"},
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert entry.data["client_id"] == "rotated-client"
    assert entry.data["client_secret"] == "rotated-secret"
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_keeps_the_secret_left_empty(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    onence.credentials[("new-client", CLIENT_SECRET)] = CUSTOMER_ID
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_RECONFIGURE, "entry_id": account.entry_id},
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"client_id": "new-client"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert account.data["client_id"] == "new-client"
    assert account.data["client_secret"] == CLIENT_SECRET


async def test_setup_retries_when_1nce_cannot_be_reached(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    onence.fail("/oauth/token", 503)
    entry = onence_entry()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


# --- devices --------------------------------------------------------------------------


async def test_a_device_is_picked_from_the_sim_list(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    onence.add_sim("8988228066602300003", label="Boiler")
    result = await hass.config_entries.subentries.async_init(
        (account.entry_id, "device"), context={"source": SOURCE_USER}
    )
    assert result["step_id"] == "1nce"
    (marker, *_) = result["data_schema"].schema
    options = result["data_schema"].schema[marker].config["options"]
    # The device already added is left out; the others show label and ICCID.
    assert options == [
        {"value": OTHER, "label": f"Tracker 2 ({OTHER})"},
        {"value": "8988228066602300003", "label": "Boiler (8988228066602300003)"},
    ]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"iccid": "8988228066602300003"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Boiler"
    # Set up without a reload: its SIM sensors read the fake.
    state = hass.states.get(_entity(hass, "sensor", "sim_state", "8988228066602300003"))
    assert state is not None
    assert state.state == "active"


@pytest.mark.parametrize(
    ("typed", "fault", "error"),
    [
        ("8988228066609999999", None, {"iccid": "device_not_found"}),
        ("89-not-an-iccid", None, {"iccid": "invalid_iccid"}),
        ("8988228066602300002", 500, {"base": "cannot_check_device"}),
    ],
)
async def test_a_typed_iccid_is_checked(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    typed: str,
    fault: int | None,
    error: dict[str, str],
) -> None:
    result = await hass.config_entries.subentries.async_init(
        (account.entry_id, "device"), context={"source": SOURCE_USER}
    )
    if fault is not None:
        onence.fail(f"/v2/sims/{typed}", fault)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"iccid": typed}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error


async def test_the_sim_entities_show_what_1nce_says(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    def value(key: str, domain: str = "sensor") -> str:
        state = hass.states.get(_entity(hass, domain, key))
        assert state is not None, key
        return state.state

    assert value("sim_state") == "active"
    assert value("online", "binary_sensor") == "on"
    # The recorded data quota: 500 MB, 479.949998 left, until 2031-11-26.
    assert float(value("data_remaining")) == pytest.approx(479.95, abs=0.01)
    assert float(value("data_used")) == pytest.approx(20.05, abs=0.01)
    assert value("data_expiry").startswith("2031-11-26T00:00:00")
    assert value("sms_remaining") == "240"
    assert value("sim_active", "switch") == "on"


async def test_pause_and_resume_through_the_action(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    response = await _call(hass, "set_sim_state", iccid=ICCID, state="suspended")
    assert response["sim_state"] == "suspended"
    assert onence.puts[-1] == (ICCID, {"iccid": ICCID, "status": "Disabled"})
    await _call(hass, "set_sim_state", iccid=ICCID, state="active")
    assert onence.puts[-1] == (ICCID, {"iccid": ICCID, "status": "Enabled"})
    with pytest.raises(ServiceValidationError):
        await _call(hass, "set_sim_state", iccid=OTHER, state="active")


# --- send_sms --------------------------------------------------------------------------


async def test_send_sms_one_part(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    response = await _call(hass, "send_sms", iccid=ICCID, message="Report position")
    assert response["iccid"] == ICCID
    assert response["encoding"] == "gsm7"
    assert response["parts"] == 1
    assert response["status"] == "sent"
    (sent,) = onence.sms
    assert sent["payload"] == "Report position"
    assert "udh" not in sent
    assert response["messages"] == [{"part": 1, "sms_id": str(max(onence.sms_records))}]


async def test_send_sms_long_text_is_split_with_udh(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    text = "x" * 400
    response = await _call(hass, "send_sms", iccid=ICCID, message=text)
    assert response["parts"] == 3
    udhs = [sms["udh"] for sms in onence.sms]
    assert [udh[:6] for udh in udhs] == ["050003"] * 3
    assert len({udh[6:8] for udh in udhs}) == 1
    assert [udh[8:] for udh in udhs] == ["0301", "0302", "0303"]
    assert "".join(sms["payload"] for sms in onence.sms) == text


async def test_send_sms_ucs2_sender_and_expiry(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    await _call(
        hass,
        "send_sms",
        iccid=ICCID,
        message="Grüße 👋",
        sender="HomeAsst",
        expiry="2030-01-01T10:00:00+00:00",
    )
    (sent,) = onence.sms
    assert sent["dcs"] == 8
    assert sent["source_address"] == "HomeAsst"
    assert sent["source_address_type"] == {"id": 208}
    assert sent["expiry_date"].startswith("2030-01-01T10:00:00")


async def test_send_sms_by_device_and_by_device_id(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    device = _device(hass, ICCID)
    response = await _call(hass, "send_sms", device=device.id, message="a")
    assert response["iccid"] == ICCID
    response = await _call(hass, "send_sms", device_id=ICCID, message="b")
    assert response["iccid"] == ICCID
    assert [sms["iccid"] for sms in onence.sms] == [ICCID, ICCID]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"phone_number": "+4915112345678"}, "phone_number_not_supported"),
        ({}, "missing_field"),
        ({"iccid": "12"}, "invalid_iccid"),
        ({"iccid": ICCID + "F"}, "invalid_iccid"),
        ({"iccid": ICCID, "device_id": ICCID}, "device_or_id"),
    ],
)
async def test_send_sms_refuses_bad_input(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_sms", message="hi", **data)
    assert err.value.translation_key == key
    assert onence.sms == []


async def test_send_sms_to_a_sim_1nce_does_not_know_is_refused(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_sms", iccid="8988228066609999999", message="hi")
    assert err.value.translation_key == "provider_not_found"


async def test_send_sms_rate_limited_is_queued(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    onence.fail(f"/v2/sims/{ICCID}/sms", 429, headers={"Retry-After": "30"})
    response = await _call(hass, "send_sms", iccid=ICCID, message="later")
    assert response["status"] == "queued"
    assert onence.sms == []


async def test_delivery_is_followed_by_report_and_list(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    hass_client_no_auth: Any,
) -> None:
    statuses = record_events(hass, "cellular_iot_sms_status")
    response = await _call(hass, "send_sms", iccid=ICCID, message="ping")
    sms_id = response["messages"][0]["sms_id"]
    client: TestClient = await hass_client_no_auth()
    # The SMS Forwarder's delivery report: a PATCH to the webhook.
    answer = await client.patch(
        f"/api/webhook/onence-hook?secret={SECRET}",
        json={
            "id": int(sms_id),
            "final_date": "2026-12-07 10:00:02",
            "submit_date": "2026-12-07 10:00:00",
            "endpoint": {"name": ICCID},
            "status": {"id": 4, "status": "DELIVERED"},
        },
    )
    assert answer.status == HTTPStatus.OK
    await hass.async_block_till_done()
    assert [
        (e.data["provider"], e.data["status"], e.data["sms_id"]) for e in statuses
    ] == [("1nce", "delivered", sms_id)]
    state = hass.states.get(_entity(hass, "sensor", "sms_delivery"))
    assert state is not None
    assert state.state == "delivered"


# --- send_cloud_message: a UDP downlink through 1NCE OS ----------------------------------


async def test_udp_downlink_through_1nce_os(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    response = await _call(
        hass,
        "send_cloud_message",
        config_entry_id=account.entry_id,
        iccid=ICCID,
        port=4445,
        protocol="UDP",
        data="unlock",
    )
    assert response["request_id"] == onence.udp[-1]["id"]
    assert onence.udp[-1]["payload"] == "unlock"
    assert onence.udp[-1]["payloadType"] == "STRING"
    assert onence.udp[-1]["port"] == 4445
    assert onence.udp[-1]["requestMode"] == "SEND_NOW"
    # Without a protocol: UDP, the only one 1NCE OS sends (Hologram's default is TCP).
    await _call(
        hass,
        "send_cloud_message",
        iccid=ICCID,
        port=4445,
        data_base64="AQID",
        send_when_active=True,
    )
    assert onence.udp[-1]["payloadType"] == "BASE64"
    assert onence.udp[-1]["payload"] == "AQID"
    assert onence.udp[-1]["requestMode"] == "SEND_WHEN_ACTIVE"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"iccid": ICCID, "protocol": "TCP", "data": "x"}, "protocol_not_supported"),
        ({"device_ids": [5], "protocol": "UDP", "data": "x"}, "field_not_supported"),
        ({"protocol": "UDP", "data": "x"}, "missing_field"),
        ({"iccid": ICCID, "protocol": "UDP", "data": "x" * 1025}, "too_large"),
        # 1,025 bytes once decoded (the padding does not count).
        ({"iccid": ICCID, "data_base64": "A" * 1364 + "AAE="}, "too_large"),
        # monoZ takes a check character after the digits; 1NCE's ICCIDs have none.
        ({"iccid": ICCID + "F", "data": "x"}, "invalid_iccid"),
    ],
)
async def test_udp_downlink_refuses_bad_input(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_cloud_message", port=4445, **data)
    assert err.value.translation_key == key
    assert onence.udp == []


# --- inbound: SMS Forwarder, Data Streamer, 1NCE OS --------------------------------------


async def test_sms_forwarder_mo_sms_and_long_sms(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    hass_client_no_auth: Any,
) -> None:
    events = record_events(hass, "cellular_iot_message_received")
    client: TestClient = await hass_client_no_auth()

    def mo(
        message_id: int, payload: str, part: dict[str, Any] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": message_id,
            "payload": payload,
            "submit_date": "2026-12-07 09:31:51",
            "dest_address": "1234",
            "source_address": "882285100000001",
            "dcs": 0,
            "pid": 0,
            "endpoint": {"id": 1, "name": ICCID},
            "organisation": {"id": 1},
        }
        if part is not None:
            body["multi_part_info"] = part
        return body

    answer = await client.post(
        f"/api/webhook/onence-hook?secret={SECRET}", json=mo(1, "hello", None)
    )
    assert answer.status == HTTPStatus.OK
    for number, text in ((2, "world"), (1, "hello ")):
        answer = await client.post(
            f"/api/webhook/onence-hook?secret={SECRET}",
            json=mo(
                10 + number,
                text,
                {"partno": number, "total": 2, "identifier": 77},
            ),
        )
        assert answer.status == HTTPStatus.OK
    await hass.async_block_till_done()
    assert [(e.data["provider"], e.data["data"]) for e in events] == [
        ("1nce", "hello"),
        ("1nce", "hello world"),
    ]
    assert events[0].data["iccid"] == ICCID
    assert events[0].data["kind"] == "sms"
    state = hass.states.get(_entity(hass, "sensor", "last_message"))
    assert state is not None
    assert state.state == "hello world"


async def test_a_request_without_the_secret_is_refused(
    hass: HomeAssistant, account: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    client: TestClient = await hass_client_no_auth()
    answer = await client.post("/api/webhook/onence-hook", json=[])
    assert answer.status == HTTPStatus.UNAUTHORIZED
    wrong = base64.b64encode(b"cellular_iot:not-the-secret").decode()
    for header in (f"Basic {wrong}", wrong):
        answer = await client.post(
            "/api/webhook/onence-hook", json=[], headers={"Authorization": header}
        )
        assert answer.status == HTTPStatus.UNAUTHORIZED


async def test_data_streamer_events_and_usage_with_basic_auth(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    hass_client_no_auth: Any,
) -> None:
    events = record_events(hass, "cellular_iot_message_received")
    client: TestClient = await hass_client_no_auth()
    remaining = hass.states.get(_entity(hass, "sensor", "data_remaining"))
    assert remaining is not None
    before = float(remaining.state)
    event = {
        "id": "c3f1",
        "timestamp": "2026-12-07T09:00:00.000+0000",
        "event_type": {"id": 19, "description": "Data quota used up"},
        "event_severity": {"id": 2, "description": "Critical"},
        "event_source": "Policy Control",
        "alert": True,
        "description": "Data quota used up",
        "sim": {"iccid": ICCID, "msisdn": "882285100000001"},
    }
    usage = {
        "id": "u-1",
        "start_timestamp": "2026-12-07T08:45:00.000+0000",
        "end_timestamp": "2026-12-07T09:00:00.000+0000",
        "sim": {"iccid": ICCID},
        "traffic_type": {"id": 5, "description": "Data"},
        "volume": {"total": "2.0", "tx": "0.5", "rx": "1.5"},
    }
    basic = base64.b64encode(f"cellular_iot:{SECRET}".encode()).decode()
    # The second POST is a retransmission (nothing twice), with the value the Portal
    # was given as the whole header (should 1NCE send it without "Basic ").
    for header in (f"Basic {basic}", basic):
        answer = await client.post(
            "/api/webhook/onence-hook",
            json=[event, usage],
            headers={"Authorization": header},
        )
        assert answer.status == HTTPStatus.OK
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data["provider"] == "1nce"
    assert events[0].data["kind"] == "event"
    assert events[0].data["quota"] == "data_used_up"
    assert events[0].data["iccid"] == ICCID
    remaining = hass.states.get(_entity(hass, "sensor", "data_remaining"))
    assert remaining is not None
    assert float(remaining.state) == pytest.approx(before - 2.0, abs=0.01)


async def test_1nce_os_telemetry_becomes_a_message(
    hass: HomeAssistant,
    account: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    events = record_events(hass, "cellular_iot_message_received")
    client: TestClient = await hass_client_no_auth()
    answer = await client.post(
        "/api/webhook/onence-hook",
        json={
            "payload": {
                "type": "TELEMETRY_DATA",
                "encoding": "base64",
                "value": base64.b64encode(b"\x01\x02temp=21").decode(),
            },
            "received": "1765099200000",
            "source": "UDP",
            "type": "TELEMETRY_DATA",
            "device": {"iccid": ICCID, "imsi": "901405100000001", "ip": "10.0.0.1"},
        },
        headers={"X-Webhook-Secret": SECRET},
    )
    assert answer.status == HTTPStatus.OK
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["provider"] == "1nce"
    assert event.data["iccid"] == ICCID
    assert base64.b64decode(event.data["data_base64"]) == b"\x01\x02temp=21"


# --- the rest every account has ----------------------------------------------------------


async def test_notify_sends_an_sms(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": _entity(hass, "notify", "send"), "message": "from notify"},
        blocking=True,
    )
    assert [sms["payload"] for sms in onence.sms] == ["from notify"]


async def test_diagnostics_redact_the_credentials(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    diagnostics = await async_get_config_entry_diagnostics(hass, account)
    text = repr(diagnostics)
    for secret in (CLIENT_ID, CLIENT_SECRET, SECRET, ICCID):
        assert secret not in text
    assert diagnostics["runtime"]["kind"] == "1nce"
    assert diagnostics["runtime"]["token_requests"] >= 1


async def test_the_token_is_kept_across_refreshes(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    calls = onence.token_calls
    coordinator = account.runtime_data.sims
    for _ in range(3):
        await coordinator.async_refresh()
    assert onence.token_calls == calls


async def test_unload_and_remove(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    assert await hass.config_entries.async_unload(account.entry_id)
    assert account.state is ConfigEntryState.NOT_LOADED
    await hass.config_entries.async_remove(account.entry_id)
    assert not hass.config_entries.async_entries(DOMAIN)


def test_the_kind_is_one_line_in_the_registry() -> None:
    kind = KINDS["1nce"]
    assert kind.provider == "1NCE"
    assert kind.device_key == "iccid"
    assert re.fullmatch(
        r"kinds\.onence", type(kind).__module__.split("cellular_iot.")[1]
    )


async def test_the_id_field_picks_the_account_among_hologram_and_1nce(
    hass: HomeAssistant,
    account: MockConfigEntry,
    onence: FakeOneNce,
    hologram_account: MockConfigEntry,
) -> None:
    """Both serve send_cloud_message: device_ids is Hologram's, iccid 1NCE's."""
    response = await _call(
        hass, "send_cloud_message", iccid=ICCID, port=4445, data="to 1NCE"
    )
    assert response["config_entry_id"] == account.entry_id
    assert onence.udp[-1]["payload"] == "to 1NCE"
    response = await _call(
        hass, "send_cloud_message", device_ids=[123456], port=4010, data="to Hologram"
    )
    assert response["config_entry_id"] == hologram_account.entry_id
    # send_sms with iccid: only 1NCE takes it.
    response = await _call(hass, "send_sms", iccid=ICCID, message="hi")
    assert response["config_entry_id"] == account.entry_id
    # device_id names a Hologram device or a 1NCE ICCID: the account must be said.
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_sms", device_id=123456, message="hi")
    assert err.value.translation_key == "entry_required"


async def test_a_failed_sim_list_leaves_the_iccid_to_be_typed(
    hass: HomeAssistant, account: MockConfigEntry, onence: FakeOneNce
) -> None:
    onence.fail("/v2/sims", 500)
    result = await hass.config_entries.subentries.async_init(
        (account.entry_id, "device"), context={"source": SOURCE_USER}
    )
    (marker, *_) = result["data_schema"].schema
    assert "options" not in getattr(result["data_schema"].schema[marker], "config", {})
    # Typed with spaces, as an ICCID is often printed: stored as its digits.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"iccid": f" {OTHER[:10]} {OTHER[10:]} "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # (The list answers again on submit: the device is named by the SIM's label.)
    assert result["title"] == "Tracker 2"
    subentry = next(
        sub for sub in account.subentries.values() if sub.data["iccid"] == OTHER
    )
    assert subentry.unique_id == f"1nce-{OTHER}"

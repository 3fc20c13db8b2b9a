# ruff: noqa: T201
"""The widened steps of the e2e run (issue 26 B): form errors, options, reconfigure,
reauth, an inbound webhook delivery, an outage and its recovery, the SIM switch and
Assist in the browser, diagnostics downloaded, an entry removed.

A mixin of tests/e2e/run.py's ``Run``: it uses the run's browser, HA and fake.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
import re
import subprocess
import time
from typing import TYPE_CHECKING, Any
import urllib.parse
import urllib.request

from selenium.webdriver.common.keys import Keys

if TYPE_CHECKING:
    from tests.e2e.run import Browser, HomeAssistant


HOLOGRAM_TITLE = "Hologram (owner@example.com)"


class MoreSteps:
    """Steps that a person takes after the first account is there."""

    browser: Browser | None
    ha: HomeAssistant | None
    fake: Any
    fake_server: Any
    failures: Any
    api_key: str
    device_key: str
    listener_port: int
    udp_port: int
    secrets: dict[str, str]
    workdir: Path
    downloads: Path
    webhook_url: str

    # -- helpers --

    def _b(self) -> Browser:
        assert self.browser is not None
        return self.browser

    def _ha(self) -> HomeAssistant:
        assert self.ha is not None
        return self.ha

    def open_add_integration(self) -> None:  # provided by Run
        raise NotImplementedError

    def finish_flow(self, name: str) -> str:  # provided by Run
        raise NotImplementedError

    def dialog_text(self) -> str:
        return str(self._b().js("const d = E.dialog(); return d ? E.text(d) : '';"))

    def choose(self, name: str, label: str) -> None:
        """Pick ``label`` in the drop-down of the form field ``name``."""
        b = self._b()
        select = b.wait(
            f"the drop-down {name}",
            lambda: b.js(
                "const root = E.dialog();"
                "const f = E.all(root).find((e) => e.schema && e.schema.name === "
                "arguments[0] && E.visible(e)); if (!f) return null;"
                "return E.all(f).find((e) => ['ha-select', 'mwc-select', 'ha-md-select',"
                " 'ha-picker-field', 'ha-combo-box'].includes(e.tagName.toLowerCase())"
                " && E.visible(e)) || f;",
                name,
            ),
        )
        b.click(select)
        option = b.wait(
            f"the option {label!r}",
            lambda: b.js(
                "return E.all().find((e) => ['mwc-list-item', 'ha-list-item',"
                " 'ha-md-select-option', 'md-select-option', 'ha-md-list-item',"
                " 'ha-combo-box-item'].includes(e.tagName.toLowerCase())"
                " && E.visible(e) && E.text(e).trim() === arguments[0]) || null;",
                label,
            ),
        )
        b.click(option)

    def submit_expecting_error(self, what: str, expected: str) -> None:
        """Submit the form; it must stay open and show the (translated) error."""
        b = self._b()
        b.click_text("Submit", dialog=True, exact=True)
        try:
            b.wait_text(expected, dialog=True, timeout=30)
        except TimeoutError:
            self.failures.add(
                f"{what}: the form does not show {expected!r} "
                f"(it shows {self.dialog_text()[:300]!r})"
            )
        b.checkpoint(f"{what} form error")

    def close_dialog(self) -> None:
        b = self._b()
        close = b.js(
            "const d = E.dialog(); if (!d) return null;"
            "return E.all(d).find((e) => e.tagName.toLowerCase() === 'ha-icon-button'"
            " && /close|dismiss/i.test((e.label || '') + (e.getAttribute('label') || '')"
            " + (e.getAttribute('dialogAction') || '') + (e.getAttribute('slot') || '')"
            ")) || null;"
        )
        if close is not None:
            b.click(close)
        else:
            b.driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
        b.wait("the dialog to close", lambda: not self.dialog_text().strip(), 20)

    def entry(self, title_start: str) -> dict[str, Any]:
        return next(
            e for e in self._ha().entries() if e["title"].startswith(title_start)
        )

    def device_page(self, entry_title: str, device_name: str | None = None) -> str:
        ha, b = self._ha(), self._b()
        entry = self.entry(entry_title)
        device = next(
            d
            for d in ha.devices()
            if entry["entry_id"] in d["config_entries"]
            and (device_name is None or d["name"] == device_name)
        )
        b.driver.get(f"{ha.url}/config/devices/device/{device['id']}")
        return str(device["id"])

    def entry_menu(self, title: str, item: str) -> None:
        """On the integration page: the entry's overflow menu, then ``item``."""
        ha, b = self._ha(), self._b()
        b.driver.get(f"{ha.url}/config/integrations/integration/cellular_iot")
        b.wait_text(title)

        def open_item() -> bool:
            found = b.find_text(item, exact=True)
            if found is None:
                menu = b.js("return E.menuOf(arguments[0]);", title)
                if menu is not None:
                    b.click(menu)
                found = b.find_text(item, exact=True)
            if found is None:
                return False
            b.click(found)
            return True

        b.wait(f"{item!r} in the menu of {title}", open_item)

    # -- steps --

    def add_listener_with_error(self) -> None:
        """A port out of range: a translated error, then the right port is taken."""
        b = self._b()
        self.open_add_integration()
        b.click_text(
            "This device (Home Assistant runs on the cellular device)", dialog=True
        )
        b.wait_text("Listen for cloud messages on this device", dialog=True)
        b.fill("port", "70000")
        b.fill("device_key", self.device_key)
        b.click_text("Submit", dialog=True, exact=True)
        # Some error must be shown (translated: the detectors fail "Value 70000.0").
        try:
            b.wait(
                "a form error for port 70000",
                lambda: (
                    re.search(r"(?i)port|65535|too large|Value", self.dialog_text())
                    and b.js(
                        "const d = E.dialog(); return !!d && E.all(d).some((e) =>"
                        " ['ha-alert', 'ha-input-helper-text'].includes("
                        "e.tagName.toLowerCase()) && E.visible(e) && E.text(e).trim());"
                    )
                ),
                30,
            )
        except TimeoutError:
            self.failures.add("port 70000: the listener form shows no error")
        b.checkpoint("listener form error port 70000")
        b.fill("port", str(self.listener_port))
        b.checkpoint("this device form")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("this device created")

    def add_udp_listener(self) -> None:
        """A UDP listener through the form; a datagram sent with nc reaches its page."""
        b = self._b()
        self.open_add_integration()
        b.click_text(
            "This device (Home Assistant runs on the cellular device)", dialog=True
        )
        b.wait_text("Listen for cloud messages on this device", dialog=True)
        self.choose("protocol", "UDP")
        b.fill("port", str(self.udp_port))
        b.fill("device_key", self.device_key)
        b.checkpoint("udp listener form")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("udp listener created")
        entry = next(e for e in self._ha().entries() if "UDP" in e["title"].upper())
        self.device_page(entry["title"])
        b.wait_text("Last message")
        message = "hello udp e2e"
        subprocess.run(
            ["nc", "-u", "-w1", "127.0.0.1", str(self.udp_port)],
            input=f"{message}\n".encode(),
            check=True,
            timeout=30,
        )
        try:
            b.wait(
                "the UDP message on the device page", lambda: message in b.page_text()
            )
        except TimeoutError:
            self.failures.add("the UDP listener's page does not show the datagram")
        b.checkpoint("udp listener device page")

    def hologram_form_error(self) -> None:
        """A key Hologram refuses: the form says so and keeps what was typed."""
        b = self._b()
        self.open_add_integration()
        b.click_text("Hologram account", dialog=True, exact=True)
        b.wait_text("Create an API key in the Hologram Dashboard", dialog=True)
        b.fill("api_key", "not-a-key-e2e")
        self.submit_expecting_error("hologram wrong key", "API key")
        text = self.dialog_text()
        if "Hologram account" not in text:
            self.failures.add("hologram wrong key: the form closed")
        self.close_dialog()

    def options(self) -> None:
        """The account's options: inbound by polling and webhook both."""
        b = self._b()
        self.entry_menu(HOLOGRAM_TITLE, "Configure")
        b.wait("the options form", lambda: "Inbound" in self.dialog_text(), 30)
        b.checkpoint("hologram options")
        self.choose("inbound_mode", "Both")
        b.checkpoint("hologram options, both")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("hologram options saved")
        options = self.entry("Hologram").get("options") or {}
        ha = self._ha()
        entry_id = self.entry("Hologram")["entry_id"]
        got = ha.ws({"type": "config_entries/get_single", "entry_id": entry_id})
        mode = (got.get("config_entry") or got).get("options", options)
        if isinstance(mode, dict) and mode.get("inbound_mode") not in (None, "both"):
            self.failures.add(f"the options did not save inbound Both: {mode}")

    def webhook_delivery(self) -> None:
        """A Hologram route delivers a message; the device page shows it."""
        b, ha = self._b(), self._ha()
        secret = self.secrets.get("webhook secret", "")
        url = getattr(self, "webhook_url", "")
        if not secret or not url:
            self.failures.add("no webhook URL and secret were shown after set-up")
            return
        path = urllib.parse.urlsplit(url).path
        message = "webhook e2e hello"
        payload = {
            "received": time.strftime("%Y-%m-%dT%H:%M:%S.000000", time.gmtime()),
            "authtype": "psk",
            "tags": ["_DEVICE_123456_"],
            "device_name": "Van tracker",
            "errorcode": 0,
            "source": "e2e",
            "timestamp": "0",
            "data": base64.b64encode(message.encode()).decode(),
            "device_id": 123456,
        }
        self.device_page("Hologram", "Van tracker")
        b.wait_text("Last message")
        body = urllib.parse.urlencode(
            {"payload": json.dumps(payload), "key": secret}
        ).encode()
        request = urllib.request.Request(
            f"{ha.url}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                print(f"e2e: webhook answered {answer.status} {answer.read()!r}")
        except Exception as err:  # reported as a failed check
            self.failures.add(f"the webhook delivery failed: {err}")
            return
        try:
            b.wait("the delivery on the device page", lambda: message in b.page_text())
        except TimeoutError:
            self.failures.add("the device page does not show the webhook delivery")
        b.checkpoint("device page after the webhook delivery")

    def outage(self) -> None:
        """Hologram fails a send (503): it is queued, the device's inbound entities
        stay available, and the retry delivers it once Hologram answers again."""
        b, ha = self._b(), self._ha()
        text = "outage e2e"
        self.fake_server.call(lambda: self.fake.fail("/devices/messages", 503, times=1))
        answer = ha.request(
            "POST",
            "/api/services/cellular_iot/send_cloud_message?return_response",
            {"device_ids": [123456], "port": 4010, "data": text},
        )
        print(f"e2e: the send during the outage answered {answer}")
        self.device_page("Hologram", "Van tracker")
        b.wait_text("Last message")
        b.checkpoint("device page during the outage")
        entry = self.entry("Hologram")
        for e in ha.entities():
            if e.get("config_entry_id") != entry["entry_id"]:
                continue
            if not re.search(r"last_message|last_heard|message", e["entity_id"]):
                continue
            state = ha.state(e["entity_id"])["state"]
            if state == "unavailable":
                self.failures.add(
                    f"{e['entity_id']} is unavailable while Hologram fails sends"
                )
        try:
            b.wait(
                "the queued send to be delivered",
                lambda: any(
                    m.get("data") == text for m in list(self.fake.cloud_messages)
                ),
                90,
            )
        except TimeoutError:
            self.failures.add("the send queued during the outage was not delivered")
        b.checkpoint("device page after the recovery")

    def sim_switch_ui(self) -> None:
        """The SIM switch clicked on the device page pauses the SIM at Hologram."""
        b, ha = self._b(), self._ha()
        self.device_page("Hologram", "Van tracker")
        for text in ("SIM status", "Data used this period", "SIM active"):
            try:
                b.wait_text(text)
            except TimeoutError:
                self.failures.add(f"the device page does not show {text!r}")
        b.checkpoint("device page with its SIM")
        status = next(
            e["entity_id"]
            for e in ha.entities()
            if e["platform"] == "cellular_iot"
            and e["entity_id"].endswith("_sim_status")
        )
        if ha.state(status)["state"] != "active":
            self.failures.add(f"{status} is {ha.state(status)['state']!r}, not active")
        switch = next(
            e["entity_id"]
            for e in ha.entities()
            if e["platform"] == "cellular_iot" and e["entity_id"].startswith("switch.")
        )
        toggle = b.wait(
            "the SIM switch's toggle",
            lambda: b.js(
                "const rows = E.all().filter((e) => e.stateObj && e.stateObj.entity_id"
                " === arguments[0] && E.visible(e)); for (const r of rows) {"
                "const t = E.all(r).find((e) => ['ha-switch', 'ha-entity-toggle',"
                " 'mwc-switch', 'md-switch'].includes(e.tagName.toLowerCase())"
                " && E.visible(e)); if (t) return t; } return null;",
                switch,
            ),
        )
        inner = b.js(
            "return E.all(arguments[0]).find((e) => e.tagName.toLowerCase() ="
            "== 'ha-switch' && E.visible(e)) || arguments[0];",
            toggle,
        )
        b.click(inner)
        # A confirmation, where the frontend asks for one.
        confirm = b.find_text("Turn off", dialog=True, exact=True)
        if confirm is not None:
            b.click(confirm)
        try:
            b.wait(
                "the pause request at the fake",
                lambda: (123456, "pause") in self.fake.state_changes,
                30,
            )
            b.wait(
                "the SIM status to follow",
                lambda: ha.state(status)["state"] == "suspended",
                30,
            )
        except TimeoutError:
            self.failures.add(
                f"clicking the SIM switch: the fake got {self.fake.state_changes}, "
                f"{status} is {ha.state(status)['state']!r}"
            )
        b.checkpoint("device page, SIM switch clicked")

    def assist_dialog(self) -> None:
        """Assist's dialog: the README's sentence typed; the answer shown."""
        b, ha = self._b(), self._ha()
        b.driver.get(f"{ha.url}/config/integrations/dashboard")
        b.wait_text("Add integration", exact=True)
        # The keyboard shortcut "a" opens Assist (HA's quick bar shortcuts).
        body = b.driver.find_element("css selector", "body")
        field = None
        for _ in range(3):
            body.send_keys("a")
            try:
                field = b.wait(
                    "Assist's text field",
                    lambda: b.js(
                        "const d = E.all().find((e) => e.tagName.toLowerCase() ==="
                        " 'ha-voice-command-dialog'); if (!d) return null;"
                        "return E.all(d).find((e) => (e.tagName === 'INPUT' ||"
                        " e.tagName === 'TEXTAREA') && E.visible(e)) || null;"
                    ),
                    15,
                )
                break
            except TimeoutError:
                continue
        if field is None:
            self.failures.add("Assist's dialog did not open")
            return
        before = len(self.fake.cloud_messages)
        field.send_keys("send open to the van tracker")
        field.send_keys(Keys.ENTER)
        try:
            b.wait_text("Sent open to Van tracker.", timeout=30)
        except TimeoutError:
            self.failures.add(
                f"Assist's dialog does not answer 'Sent open to Van tracker.' "
                f"({self.dialog_text()[-300:]!r})"
            )
        b.checkpoint("assist dialog answered")
        try:
            b.wait(
                "the message Assist sent",
                lambda: any(
                    m.get("data") == "open"
                    for m in list(self.fake.cloud_messages)[before:]
                ),
                30,
            )
        except TimeoutError:
            self.failures.add("Assist's dialog: no message reached Hologram")
        self.close_dialog()

    def reconfigure(self) -> None:
        """Reconfigure with an empty key keeps the account's key."""
        b = self._b()
        self.entry_menu(HOLOGRAM_TITLE, "Reconfigure")
        b.wait_text("Replace the credentials", dialog=True)
        b.checkpoint("hologram reconfigure")
        b.click_text("Submit", dialog=True, exact=True)
        try:
            b.wait(
                "the reconfigure result",
                lambda: re.search(
                    r"(?i)success|reconfigur|saved|updated", self.dialog_text()
                ),
                30,
            )
        except TimeoutError:
            self.failures.add("reconfigure: no result shown")
        self.finish_flow("hologram reconfigured")

    def reauth(self) -> None:
        """Hologram refuses the key: HA asks for a new one; the new one works."""
        b, ha = self._b(), self._ha()
        new_key = "e2e-new-key-" + self.api_key[-8:]
        self.secrets["new API key"] = new_key

        def swap() -> None:
            self.fake.api_keys.pop(self.api_key, None)
            self.fake.api_keys[new_key] = 1001

        self.fake_server.call(swap)
        entry = self.entry("Hologram")
        ha.request(
            "POST", f"/api/config/config_entries/entry/{entry['entry_id']}/reload"
        )
        b.driver.get(f"{ha.url}/config/integrations/dashboard")

        def reauth_button() -> bool:
            for label in ("Reconfigure", "Re-authenticate", "Authenticate"):
                found = b.find_text(label, exact=True)
                if found is not None:
                    b.click(found)
                    return True
            return False

        try:
            b.wait("the reauthentication offer", reauth_button, 90)
        except TimeoutError:
            self.failures.add("no reauthentication offered after the key was refused")
            return
        b.wait_text("Credentials refused", dialog=True)
        b.checkpoint("hologram reauth form")
        b.fill("api_key", new_key)
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("hologram reauthenticated")
        b.wait(
            "the entry to load again",
            lambda: self.entry("Hologram")["state"] == "loaded",
            60,
        )

    def diagnostics(self) -> None:
        """Download diagnostics from the entry's menu; no secret in them."""
        b = self._b()
        before = set(self.downloads.glob("*"))
        self.entry_menu(HOLOGRAM_TITLE, "Download diagnostics")
        try:
            path = b.wait(
                "the diagnostics file",
                lambda: next(
                    (p for p in self.downloads.glob("*.json") if p not in before),
                    None,
                ),
                30,
            )
        except TimeoutError:
            self.failures.add("no diagnostics file was downloaded")
            return
        text = Path(path).read_text()
        try:
            data = json.loads(text)
        except ValueError:
            self.failures.add("the diagnostics file is not JSON")
            return
        if "data" not in data:
            self.failures.add("the diagnostics have no data")
        for name, value in (
            ("API key", self.api_key),
            ("webhook secret", self.secrets.get("webhook secret", "")),
            ("new API key", self.secrets.get("new API key", "")),
        ):
            if value and value in text:
                self.failures.add(f"the diagnostics hold the {name}")
        b.checkpoint("diagnostics downloaded")

    def remove_entry(self) -> None:
        """Delete the UDP listener from its menu: gone, its port free again."""
        b, ha = self._b(), self._ha()
        entry = next(e for e in ha.entries() if "UDP" in e["title"].upper())
        self.entry_menu(entry["title"], "Delete")
        b.checkpoint("delete confirmation")
        b.wait(
            "the delete confirmation",
            lambda: b.find_text("Delete", dialog=True, exact=True),
            20,
        )
        b.click_text("Delete", dialog=True, exact=True)
        try:
            b.wait(
                "the entry to be removed",
                lambda: all(e["entry_id"] != entry["entry_id"] for e in ha.entries()),
                30,
            )
        except TimeoutError:
            self.failures.add(f"{entry['title']} was not removed")
        b.checkpoint("entry removed")

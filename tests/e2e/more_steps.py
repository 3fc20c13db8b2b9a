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
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any
import urllib.parse
import urllib.request

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.e2e.standins import ONENCE_SIMS

if TYPE_CHECKING:
    from tests.e2e.run import Browser, HomeAssistant


HOLOGRAM_TITLE = "Hologram (owner@example.com)"
# The buttons of a flow that ends in an abort (reconfigure_successful, ...).
CLOSE = ("Close", "OK", "Finish")


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
    expected_errors: list[str]
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

    def finish_flow(
        self, name: str, labels: tuple[str, ...] = ("Finish",), expect: str = ""
    ) -> str:  # provided by Run
        raise NotImplementedError

    def open_device_picker(self) -> None:  # provided by Run
        raise NotImplementedError

    def dialog_text(self) -> str:
        return str(self._b().js("const d = E.dialog(); return d ? E.text(d) : '';"))

    def choose(self, name: str, label: str) -> None:
        """Pick ``label`` in the field ``name``: a radio list or a drop-down."""
        b = self._b()
        radio = b.js(
            "const root = E.dialog();"
            "const f = E.all(root).find((e) => e.schema && e.schema.name === "
            "arguments[0] && E.visible(e)); if (!f) return null;"
            "const r = E.all(f).filter((e) => ['ha-radio', 'mwc-radio', 'md-radio']"
            ".includes(e.tagName.toLowerCase())); if (!r.length) return null;"
            "for (const x of E.all(f)) { if (x.tagName.toLowerCase() === 'ha-formfield'"
            " && E.text(x).trim() === arguments[1]) return E.all(x).find((e) =>"
            " ['ha-radio', 'mwc-radio', 'md-radio'].includes(e.tagName.toLowerCase()))"
            " || x; } return E.byText(arguments[1], f, true);",
            name,
            label,
        )
        if radio is not None:
            b.click(radio)
            return
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
        b.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'});", select
        )
        polls = [0]

        def option() -> Any:
            found = b.js(
                "return E.all().find((e) => ['mwc-list-item', 'ha-list-item',"
                " 'ha-md-select-option', 'md-select-option', 'ha-md-list-item',"
                " 'ha-combo-box-item', 'ha-dropdown-item'].includes("
                "e.tagName.toLowerCase()) && E.visible(e)"
                " && E.text(e).trim() === arguments[0]) || null;",
                label,
            )
            if found is None and polls[0] % 8 == 0:
                # Open it (again): its anchor, as a click of a person would.
                b.js(
                    "const s = arguments[0]; const a = s.shadowRoot && ("
                    "s.shadowRoot.querySelector('.mdc-select__anchor') ||"
                    " s.shadowRoot.querySelector('[part~=field], .field, button'));"
                    "(a || s).click();",
                    select,
                )
            polls[0] += 1
            return found

        b.click(b.wait(f"the option {label!r}", option, 30))

    def submit_expecting_error(
        self, what: str, expected: str, kept: tuple[str, str] | None = None
    ) -> None:
        """Submit the form; it must stay open and show the (translated) error.

        ``kept``: a field and what was typed in it, which the form must still hold
        (issue 26 A11: the API key was emptied after every form error).
        """
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
        if kept is not None:
            value = b.field(kept[0]).get_property("value")
            if value != kept[1]:
                self.failures.add(
                    f"{what}: the form emptied {kept[0]} after the error "
                    f"(it holds {value!r})"
                )

    def submit_for_error(self, what: str) -> None:
        """Submit; the form must stay open and show something new (its error)."""
        b = self._b()
        before = self.dialog_text()
        b.click_text("Submit", dialog=True, exact=True)
        try:
            b.wait(
                f"an error for {what}",
                lambda: (
                    (text := self.dialog_text()) != before
                    and b.find_text("Submit", dialog=True, exact=True) is not None
                    and len(text) > len(before)
                ),
                30,
            )
        except TimeoutError:
            self.failures.add(f"{what}: the form shows no error")
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

    def near(self, title: str, label: str) -> Any:
        """The ``label`` button in the row of the entry ``title`` (not another's)."""
        b = self._b()
        others = [t for t in (e["title"] for e in self._ha().entries()) if t != title]
        return b.js(
            "let el = E.byText(arguments[0], null, true);"
            "while (el) { const t = E.text(el);"
            " if (arguments[2].some((o) => t.includes(o))) return null;"
            " const f = E.byText(arguments[1], el, true) || E.all(el).find((e) =>"
            " (e.label === arguments[1] || (e.getAttribute('label') ||"
            " e.getAttribute('aria-label')) === arguments[1]) && E.visible(e));"
            " if (f) return f;"
            " el = el.parentNode && el.parentNode.nodeType === 11 ?"
            " el.parentNode.host : el.parentNode;"
            " if (el && el.nodeType !== 1) el = null; } return null;",
            title,
            label,
            others,
        )

    def entry_menu(self, title: str, item: str) -> None:
        """On the integration page: the entry's ``item`` (a button, or in its menu)."""
        ha, b = self._ha(), self._b()
        b.driver.get(f"{ha.url}/config/integrations/integration/cellular_iot")
        b.wait_text(title)

        def open_item() -> bool:
            found = self.near(title, item)
            if found is None:
                menu = b.js("return E.menuOf(arguments[0]);", title)
                if menu is not None:
                    b.click(menu)
                # The menu opens over the page: its item, wherever it renders.
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
        self.submit_for_error("listener port 70000")
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

    def listener_abandoned(self) -> None:
        """Issue 26 A7: a listener form left after an error does not hold its port.

        The form passes the port (its unique id is set) and fails on the device key;
        the dialog is closed. The same protocol and port in a new form then make the
        entry, with no raw ``already_in_progress``.
        """
        b, ha = self._b(), self._ha()
        port = str(self.free_port())
        self.open_add_integration()
        b.click_text(
            "This device (Home Assistant runs on the cellular device)", dialog=True
        )
        b.wait_text("Listen for cloud messages on this device", dialog=True)
        b.fill("port", port)
        b.fill("device_key", "short")
        self.submit_expecting_error(
            "listener device key", "The device key is the 8 characters"
        )
        self.close_dialog()
        self.open_add_integration()
        b.click_text(
            "This device (Home Assistant runs on the cellular device)", dialog=True
        )
        b.wait_text("Listen for cloud messages on this device", dialog=True)
        b.fill("port", port)
        b.fill("device_key", self.device_key)
        b.click_text("Submit", dialog=True, exact=True)
        # Finish (2025.4) or Skip and finish (2026.2) when the entry is made; Close
        # or OK when the flow ended in an abort (what this checks against).
        text = self.finish_flow(
            "listener made after an abandoned form", ("Skip and finish", *CLOSE)
        )
        if "already_in_progress" in text or "already in progress" in text.lower():
            self.failures.add(
                f"the listener form abandoned on port {port} still holds it: {text!r}"
            )
        title = f"Listener TCP {port}"
        made = [e for e in ha.entries() if e["title"] == title]
        if not made:
            self.failures.add(
                f"no entry {title!r} after the abandoned form ({text[:200]!r})"
            )
            return
        # Not needed after this: its port and device go with it.
        ha.request("DELETE", f"/api/config/config_entries/entry/{made[0]['entry_id']}")

    def free_port(self) -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def picker_leaves_out_added(self) -> None:
        """Issue 26 A10: Add device again does not offer the device already added."""
        b = self._b()
        self.open_device_picker()
        try:
            b.wait_text("Boat sensor (234567)", exact=True, timeout=30)
        except TimeoutError:
            self.failures.add(
                "Add device again: the picker does not offer Boat sensor "
                f"({self.dialog_text()[:300]!r})"
            )
        b.checkpoint("add device again, the picker open")
        if b.find_text("Van tracker (123456)", exact=True) is not None:
            self.failures.add("Add device again: the picker offers Van tracker again")
        b.driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
        if self.dialog_text().strip():
            self.close_dialog()

    def hologram_form_error(self) -> None:
        """A key Hologram refuses: the form says so and keeps what was typed."""
        b = self._b()
        self.open_add_integration()
        b.click_text("Hologram account", dialog=True, exact=True)
        b.wait_text("Create an API key in the Hologram Dashboard", dialog=True)
        b.fill("api_key", "not-a-key-e2e")
        self.submit_expecting_error(
            "hologram wrong key", "refused this", ("api_key", "not-a-key-e2e")
        )
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
        # A form error first: sends kept 0 hours (a translated message, issue 26 A8).
        b.fill("outbox_max_age", "0")
        self.submit_for_error("options 0 hours")
        b.fill("outbox_max_age", "24")
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

    def action_error_once(self) -> None:
        """Issue 26 A9: an action's error says what failed once, in one sentence.

        send_sms to an endpoint emnify does not have (its 404), as Developer tools
        sends it (the websocket's call_service): the message a person sees.
        """
        ha = self._ha()
        entry = next(e for e in ha.entries() if e["title"].lower().startswith("emnify"))
        try:
            ha.ws(
                {
                    "type": "call_service",
                    "domain": "cellular_iot",
                    "service": "send_sms",
                    "service_data": {
                        "config_entry_id": entry["entry_id"],
                        "device_id": 9999,
                        "message": "e2e to nowhere",
                    },
                    "return_response": True,
                }
            )
        except RuntimeError as err:
            text = str(err)
        else:
            self.failures.add("send_sms to an endpoint emnify does not have succeeded")
            return
        print(f"e2e: send_sms to endpoint 9999 answered {text}", flush=True)
        match = re.search(r"'message': (['\"])(.*?)\1[,}]", text)
        message = match.group(2) if match else text
        # HA's websocket API logs it (with its traceback): asked for, not a problem.
        self.expected_errors.append(message)
        if "does not know the target" not in message:
            self.failures.add(f"send_sms to an unknown endpoint: {message!r}")
        elif message.count("does not know the target") > 1 or "(HTTP 404)" in message:
            self.failures.add(f"an action error repeats itself: {message!r}")

    def sim_switch_ui(self) -> None:
        """The SIM switch clicked on the device page pauses the SIM at Hologram."""
        b, ha = self._b(), self._ha()
        device_id = self.device_page("Hologram", "Van tracker")
        for text in ("SIM status", "Data used this period", "SIM active"):
            try:
                b.wait_text(text)
            except TimeoutError:
                self.failures.add(f"the device page does not show {text!r}")
        b.checkpoint("device page with its SIM")
        status = next(
            e["entity_id"]
            for e in ha.entities()
            if e["device_id"] == device_id and e["entity_id"].endswith("_sim_status")
        )
        if ha.state(status)["state"] != "active":
            self.failures.add(f"{status} is {ha.state(status)['state']!r}, not active")
        switch = next(
            e["entity_id"]
            for e in ha.entities()
            if e["device_id"] == device_id and e["entity_id"].startswith("switch.")
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
        self.assist_leaves_sims()
        self.close_dialog()

    def assist_leaves_sims(self) -> None:
        """Issue 26 A6: the SIM switches are not exposed to Assist; "turn off all
        switches" typed in its dialog pauses no SIM."""
        b, ha = self._b(), self._ha()
        switches = [
            e["entity_id"]
            for e in ha.entities()
            if e.get("platform") == "cellular_iot"
            and e["entity_id"].startswith("switch.")
        ]
        if not switches:
            self.failures.add("no SIM switch to check against Assist")
            return
        exposed = ha.ws({"type": "homeassistant/expose_entity/list"}).get(
            "exposed_entities", {}
        )
        for switch in switches:
            print(f"e2e: {switch} exposed: {exposed.get(switch)}", flush=True)
            if (exposed.get(switch) or {}).get("conversation"):
                self.failures.add(f"{switch} is exposed to Assist")
        on = [s for s in switches if ha.state(s)["state"] == "on"]
        if not on:
            self.failures.add(f"no SIM switch is on before Assist: {switches}")
        changes = len(self.fake.state_changes)
        sentence = "turn off all switches"
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
        field.send_keys(sentence)
        field.send_keys(Keys.ENTER)

        def answer() -> str:
            # What the dialog shows after the sentence, but the pending answer's "…"
            # and the text field's label.
            text = self.dialog_text()
            if sentence not in text:
                return ""
            after = text.rsplit(sentence, 1)[1]
            return after.replace("Enter a request", "").replace("…", "").strip()

        def answered() -> bool:
            return len(answer()) > 3

        try:
            b.wait("Assist's answer to turn off all switches", answered, 30)
        except TimeoutError:
            self.failures.add(
                f"Assist's dialog does not answer {sentence!r} "
                f"({self.dialog_text()[-300:]!r})"
            )
        b.checkpoint("assist dialog, turn off all switches")
        print(f"e2e: Assist answered {sentence!r}: {answer()[:200]!r}", flush=True)
        for switch in on:
            state = ha.state(switch)["state"]
            if state != "on":
                self.failures.add(f"{sentence!r} in Assist turned {switch} {state}")
        if len(self.fake.state_changes) != changes:
            self.failures.add(
                f"{sentence!r} in Assist changed a SIM at Hologram: "
                f"{list(self.fake.state_changes)[changes:]}"
            )

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
        self.finish_flow("hologram reconfigured", CLOSE)

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
        self.one_repair_for_the_key("while the reauthentication is offered")
        b.fill("api_key", new_key)
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("hologram reauthenticated", CLOSE)
        b.wait(
            "the entry to load again",
            lambda: self.entry("Hologram")["state"] == "loaded",
            60,
        )
        self.one_repair_for_the_key("after the reauthentication")

    def one_repair_for_the_key(self, when: str) -> None:
        """Issue 26 A4: a refused key gives HA's reauth, offered once, and no
        repair of ours beside it."""
        ha = self._ha()
        issues = ha.ws({"type": "repairs/list_issues"}).get("issues", [])
        ours = [
            i
            for i in issues
            if i.get("domain") == "cellular_iot"
            and (
                str(i.get("issue_id", "")).startswith("auth_failed")
                or str(i.get("translation_key", "")).startswith("auth_failed")
            )
        ]
        if ours:
            self.failures.add(
                f"{when}: a repair of ours beside HA's reauthentication: "
                f"{[i.get('issue_id') for i in ours]}"
            )
        flows = ha.ws({"type": "config_entries/flow/progress"})
        reauths = [
            f
            for f in flows
            if f.get("handler") == "cellular_iot"
            and (f.get("context") or {}).get("source") == "reauth"
        ]
        expected = 1 if when.startswith("while") else 0
        if len(reauths) != expected:
            self.failures.add(
                f"{when}: {len(reauths)} reauthentication flows, not {expected}"
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


class KindSteps(MoreSteps):
    """emnify and monoZ (with its MQTT broker) through the forms, one device each."""

    def entry_titles(self) -> list[str]:
        return [e["title"] for e in self._ha().entries()]

    def new_entry(self, before: list[str]) -> str:
        titles = [t for t in self.entry_titles() if t not in before]
        if not titles:
            raise RuntimeError("no new entry")
        return titles[0]

    def tick(self, name: str) -> None:
        """Turn on the boolean field ``name`` of the open form."""
        b = self._b()
        toggle = b.wait(
            f"the toggle {name}",
            lambda: b.js(
                "const root = E.dialog();"
                "const f = E.all(root).find((e) => e.schema && e.schema.name === "
                "arguments[0] && E.visible(e)); if (!f) return null;"
                "return E.all(f).find((e) => ['ha-switch', 'ha-checkbox', 'mwc-switch',"
                " 'md-switch'].includes(e.tagName.toLowerCase()) && E.visible(e))"
                " || null;",
                name,
            ),
        )
        if not toggle.get_property("checked"):
            b.click(toggle)

    def add_device_to(
        self,
        title: str,
        fields: dict[str, str],
        device: str,
        refused: tuple[dict[str, str], str] | None = None,
    ) -> None:
        """The entry's Add device; its form filled with ``fields``.

        ``refused``: fields to submit first and the form error they must show.
        """
        ha, b = self._ha(), self._b()
        self.open_add_device(title, next(iter(fields)))
        if refused is not None:
            for name, value in refused[0].items():
                b.fill(name, value)
            self.submit_expecting_error(f"add device {device}, refused", refused[1])
        for name, value in fields.items():
            b.fill(name, value)
        b.checkpoint(f"add device form {device}")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow(f"device {device} added")
        if not any(d["name"] == device for d in ha.devices()):
            self.failures.add(f"no device {device!r} after it was added")

    def open_add_device(self, title: str, first: str) -> None:
        """The entry's Add device, until its form (with the field ``first``) shows."""
        ha, b = self._ha(), self._b()
        b.driver.get(f"{ha.url}/config/integrations/integration/cellular_iot")
        b.wait_text(title)

        def click_add() -> bool:
            # The entry's own "Add device" (2025.4), else the page's one (2026.2
            # asks for the entry in a dialog), else the one in the entry's menu.
            button = self.near(title, "Add device")
            if button is None:
                button = b.find_text("Add device", exact=True)
            if button is None:
                menu = b.js("return E.menuOf(arguments[0]);", title)
                if menu is not None:
                    b.click(menu)
                button = b.find_text("Add device", exact=True)
            if button is None:
                return False
            b.click(button)
            return True

        b.wait("the Add device button", click_add)

        def form() -> bool:
            if b.js(
                "const d = E.dialog(); return !!d && E.all(d).some("
                "(e) => e.schema && e.schema.name === arguments[0] && E.visible(e));",
                first,
            ):
                return True
            choice = b.find_text(title, dialog=True, exact=True)
            if choice is not None:
                b.click(choice)
            return False

        b.wait("the Add a device form", form)

    def add_emnify(self) -> None:
        """emnify: a refused token, then the right one; then a device."""
        b = self._b()
        token = self.fake_server.credentials["emnify"]["application_token"]
        before = self.entry_titles()
        self.open_add_integration()
        b.click_text("emnify account", dialog=True, exact=True)
        b.wait_text("Create an application token", dialog=True)
        b.fill("application_token", "not-a-token-e2e")
        self.submit_expecting_error(
            "emnify refused token",
            "refused this",
            ("application_token", "not-a-token-e2e"),
        )
        b.fill("application_token", token)
        b.checkpoint("emnify form")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("emnify account created")
        title = self.new_entry(before)
        endpoint = self.fake_server.devices["emnify"][0]
        # Issue 26 A5: an endpoint the account does not have is refused in the form.
        self.add_device_to(
            title,
            {"device_id": endpoint, "name": "Pump"},
            "Pump",
            (
                {"device_id": "9999", "name": "Ghost"},
                "This account has no device with this emnify endpoint ID.",
            ),
        )
        if any(d["name"] == "Ghost" for d in self._ha().devices()):
            self.failures.add("emnify: the endpoint it does not have was added")

    def add_monoz(self) -> None:
        """monoZ with the MQTT broker: a refused key, then the right one; a device;
        an uplink published on the broker shown on the device's page."""
        b = self._b()
        creds = self.fake_server.credentials["monoz"]
        before = self.entry_titles()
        self.open_add_integration()
        b.click_text("monoZ account", dialog=True, exact=True)
        b.wait_text("Enter your monoZ:Link organization ID", dialog=True)
        b.fill("org_id", str(creds["org_id"]))
        b.fill("api_key", "not-a-key-e2e")
        self.submit_expecting_error(
            "monoZ refused key", "refused this", ("api_key", "not-a-key-e2e")
        )
        b.fill("api_key", str(creds["api_key"]))
        self.tick("use_mqtt")
        b.checkpoint("monoz form")
        b.click_text("Submit", dialog=True, exact=True)
        b.wait_text("MQTT broker", dialog=True)
        b.checkpoint("monoz mqtt form")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("monoz account created")
        title = self.new_entry(before)
        iccid = self.fake_server.devices["monoz"][0]
        self.add_device_to(title, {"iccid": iccid, "name": "Meter"}, "Meter")
        self.device_page(title, "Meter")
        b.wait_text("Last message")
        message = "uplink e2e"
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.fake_server.broker_port),
                "-t",
                f"{creds['org_id']}/{iccid}/pub",
                "-m",
                message,
            ],
            check=True,
            timeout=30,
        )
        try:
            b.wait("the uplink on the device page", lambda: message in b.page_text())
        except TimeoutError:
            self.failures.add("the monoZ device page does not show the MQTT uplink")
        b.checkpoint("monoz device page after the uplink")


# The Data Streamer's event "Data quota used up" (type 19) as 1NCE publishes it
# (data-streamer-event-records, 19_Quota_Used_Up.json); the SIM, ids and time filled in.
ONENCE_QUOTA_USED_UP = (
    "Quota volume is completely used up and data access denied for endpoint."
)


def onence_quota_event(iccid: str, event_id: int) -> dict[str, Any]:
    """One Data Streamer event record: "Quota used up" for the SIM ``iccid``."""
    return {
        "imsi": {
            "imsi": "901405100000001",
            "id": 1234567,
            "import_date": "2019-01-21T09:36:17Z",
        },
        "event_source": {"description": "Policy Control", "id": 1},
        "organisation": {"name": "81012345", "id": 1234},
        "event_severity": {"id": 1, "description": "WARN"},
        "sim": {
            "msisdn": "882285100000001",
            "iccid": iccid,
            "id": 1234567,
            "production_date": "2019-01-21T09:36:17Z",
        },
        "description": ONENCE_QUOTA_USED_UP,
        "alert": True,
        "id": event_id,
        "user": None,
        "detail": {
            "quota": {
                "threshold_volume": 100,
                "volume": "0.015085",
                "threshold_percentage": 20,
            }
        },
        "endpoint": {
            "tags": None,
            "ip_address": "10.210.0.1",
            "name": iccid,
            "imei": "868239050000001",
            "id": 1234567,
        },
        "event_type": {"id": 19, "description": "Quota used up"},
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class OneNceSteps(KindSteps):
    """1NCE through the forms: the account, a SIM, an SMS, a Data Streamer event."""

    onence_title = ""
    onence_webhook = ""
    onence_basic = ""

    def onence_device(self) -> tuple[str, str]:
        """The SIM the run adds (its ICCID) and the name the device gets (its label)."""
        iccid = self.fake_server.devices["1nce"][0]
        return iccid, ONENCE_SIMS[iccid]

    def add_onence(self) -> None:
        """1NCE: a refused secret, then the right one; the dialog's URL and Basic
        Auth Header value; a SIM picked by its label."""
        b, ha = self._b(), self._ha()
        creds = self.fake_server.credentials["1nce"]
        self.secrets["1NCE client secret"] = creds["client_secret"]
        before = self.entry_titles()
        self.open_add_integration()
        b.click_text("1NCE account", dialog=True, exact=True)
        b.wait_text("Create an API client in the 1NCE Portal", dialog=True)
        b.fill("client_id", creds["client_id"])
        b.fill("client_secret", "not-the-secret-e2e")
        self.submit_expecting_error(
            "1NCE refused secret",
            "refused this",
            ("client_secret", "not-the-secret-e2e"),
        )
        b.fill("client_secret", creds["client_secret"])
        b.checkpoint("1nce form")
        b.click_text("Submit", dialog=True, exact=True)
        text = self.finish_flow("1nce account created", expect="Basic Auth Header")
        self.onence_title = self.new_entry(before)
        self.check_onence_dialog(text)
        iccid, label = self.onence_device()
        self.open_add_device(self.onence_title, "iccid")
        field = b.wait(
            "the SIM picker",
            lambda: b.js(
                "const root = E.dialog(); const input = E.field('iccid', root);"
                "if (input) return input;"
                "return E.all(root).find((e) => e.schema && e.schema.name === 'iccid'"
                " && E.visible(e)) || null;"
            ),
        )
        b.click(field)
        option = b.wait_text(f"{label} ({iccid})", exact=True, timeout=30)
        for other, name in self.onence_sims().items():
            if b.find_text(f"{name} ({other})", exact=True) is None:
                self.failures.add(
                    f"1NCE Add device: the picker does not list {name} ({other})"
                )
        b.checkpoint("1nce add device, the picker open")
        b.click(option)
        b.checkpoint("1nce add device picked")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("1nce device added")
        entry = self.entry(self.onence_title)
        devices = [d for d in ha.devices() if entry["entry_id"] in d["config_entries"]]
        if not any(d["name"] == label for d in devices):
            self.failures.add(
                f"1NCE: no device named {label!r} after picking {iccid} "
                f"(the entry's devices: {[d['name'] for d in devices]})"
            )

    def onence_sims(self) -> dict[str, str]:
        return {i: ONENCE_SIMS[i] for i in self.fake_server.devices["1nce"]}

    def check_onence_dialog(self, text: str) -> None:
        """The created-entry dialog: the URL with the secret and the Basic Auth
        Header value, both filled in (no raw placeholder)."""
        if raw := re.findall(r"\{[a-z_]+\}", text):
            self.failures.add(f"1NCE created-entry dialog shows placeholders {raw}")
        secret = re.search(r"The secret, (\S+), is shown only now", text)
        url = re.search(r"(https?://\S+?/api/webhook/[\w-]+)\?secret=([\w-]+)", text)
        basic = re.search(r"Basic Auth Header:\s*([A-Za-z0-9+/]+=*)", text)
        if secret is None or url is None or basic is None:
            self.failures.add(
                "1NCE created-entry dialog: "
                + ", ".join(
                    what
                    for what, found in (
                        ("no secret", secret),
                        ("no URL with the secret", url),
                        ("no Basic Auth Header value", basic),
                    )
                    if found is None
                )
                + f" ({text[:400]!r})"
            )
            return
        self.secrets["1NCE webhook secret"] = secret.group(1)
        if url.group(2) != secret.group(1):
            self.failures.add("1NCE dialog: the URL's secret is not the secret shown")
        try:
            decoded = base64.b64decode(basic.group(1), validate=True).decode()
        except ValueError:
            decoded = ""
        if decoded.partition(":")[2] != secret.group(1):
            self.failures.add(
                f"1NCE dialog: the Basic Auth Header value {basic.group(1)!r} does not "
                "carry the secret as its password"
            )
        self.onence_webhook = url.group(1)
        self.onence_basic = basic.group(1)
        print(f"e2e: 1NCE webhook {urllib.parse.urlsplit(url.group(1)).path}")

    def onence_sms(self) -> None:
        """send_sms to the 1NCE device from Developer tools → Actions (YAML mode)."""
        b, ha = self._b(), self._ha()
        iccid, label = self.onence_device()
        entry = self.entry(self.onence_title)
        device = next(
            d
            for d in ha.devices()
            if entry["entry_id"] in d["config_entries"] and d["name"] == label
        )
        text = "Report e2e"
        b.driver.get(
            f"{ha.url}/_my_redirect/developer_call_service?service=cellular_iot.send_sms"
        )

        # The page stays in the mode it was left in (the notify step left YAML).
        def yaml_mode() -> bool:
            if b.find_text("Go to UI mode", exact=True) is not None:
                return True
            button = b.find_text("Go to YAML mode", exact=True)
            if button is not None:
                b.click(button)
            return False

        b.wait("the action's YAML mode", yaml_mode)
        editor = b.wait(
            "the YAML editor",
            lambda: b.js(
                "return E.all().find((e) => e.classList && e.classList.contains("
                "'cm-content') && E.visible(e)) || null;"
            ),
        )
        b.click(editor)
        ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("a").key_up(
            Keys.CONTROL
        ).send_keys(Keys.BACKSPACE).perform()
        b.wait("the YAML editor to be empty", lambda: not editor.text.strip())
        call = {
            "action": "cellular_iot.send_sms",
            "data": {"device": device["id"], "message": text},
        }
        editor.send_keys(json.dumps(call))
        b.checkpoint("1nce send_sms yaml")
        b.click_text("Perform action", exact=True)
        onence = self.fake_server.onence
        try:
            b.wait(
                "the SMS at the 1NCE stand-in",
                lambda: any(
                    m.get("iccid") == iccid and m.get("payload") == text
                    for m in self.fake_server.call(lambda: list(onence.sms))
                ),
                30,
            )
        except TimeoutError:
            self.failures.add(
                "send_sms to the 1NCE device: not received by the stand-in (it got "
                f"{self.fake_server.call(lambda: list(onence.sms))})"
            )
        b.checkpoint("1nce send_sms performed")

    def onence_stream_event(self) -> None:
        """A Data Streamer POST (one event record, Basic auth) to the account's
        webhook; the device page shows it."""
        b, ha = self._b(), self._ha()
        if not self.onence_webhook or not self.onence_basic:
            self.failures.add("1NCE: no webhook URL and Basic value were shown")
            return
        iccid, label = self.onence_device()
        self.device_page(self.onence_title, label)
        b.wait_text("Last message")
        if ONENCE_QUOTA_USED_UP in b.page_text():
            self.failures.add("the 1NCE device page shows the event before it came")
        path = urllib.parse.urlsplit(self.onence_webhook).path
        body = json.dumps([onence_quota_event(iccid, 7_000_000_001)]).encode()
        request = urllib.request.Request(
            f"{ha.url}{path}",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Basic {self.onence_basic}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                print(f"e2e: 1NCE webhook answered {answer.status} {answer.read()!r}")
        except Exception as err:  # reported as a failed check
            self.failures.add(f"the 1NCE Data Streamer delivery failed: {err}")
            return
        try:
            b.wait(
                "the 1NCE event on the device page",
                lambda: ONENCE_QUOTA_USED_UP in b.page_text(),
            )
        except TimeoutError:
            self.failures.add("the 1NCE device page does not show the streamed event")
        b.checkpoint("1nce device page after the data streamer event")

# ruff: noqa: T201
"""End-to-end run: a real Home Assistant driven by headless Chromium (scripts/e2e).

scripts/e2e starts this inside a network namespace of its own (only loopback, an
/etc/hosts that maps dashboard.hologram.io to 127.0.0.1), so the HTTPS fake of
Hologram below is what Home Assistant's own resolver and TLS stack reach.

Every check is collected: the run goes on after a failed check where it can, and
fails at the end with all of them listed. Not collected by pytest (no test_ name).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import contextlib
import json
import os
from pathlib import Path
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

os.environ["SE_OFFLINE"] = "true"  # selenium manager: never download anything

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    ElementNotInteractableException,
    JavascriptException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
import websocket  # noqa: E402  (websocket-client, a dependency of selenium)

from tests.e2e import standins  # noqa: E402
from tests.e2e.checks import (  # noqa: E402
    LOGGER_NAME,
    dialog_problems,
    known_words,
    log_problems,
    page_problems,
)
from tests.e2e.more_steps import OneNceSteps  # noqa: E402

WAIT = 60.0
FINISH = ("Finish", "Skip and finish")

# Deep DOM helpers: HA's frontend is web components; everything lives in shadow roots.
JS = r"""
const E = window.__e2e = window.__e2e || {};
E.all = function (root) {
  const out = [];
  const visit = (n) => {
    if (n.nodeType === 1) out.push(n);
    if (n.shadowRoot) for (const c of n.shadowRoot.children) visit(c);
    for (const c of (n.children || [])) visit(c);
  };
  visit(root || document.documentElement);
  return out;
};
E.visible = function (el) {
  const r = el.getBoundingClientRect();
  if (r.width <= 0 || r.height <= 0) return false;
  const s = getComputedStyle(el);
  return s.visibility !== 'hidden' && s.display !== 'none';
};
E.text = function (root) {
  const parts = [];
  const visit = (n) => {
    if (n.nodeType === 3) { parts.push(n.nodeValue); return; }
    if (n.nodeType !== 1 && n.nodeType !== 11) return;
    if (n.nodeType === 1 && (n.tagName === 'STYLE' || n.tagName === 'SCRIPT')) return;
    if (n.shadowRoot) for (const c of n.shadowRoot.childNodes) visit(c);
    for (const c of n.childNodes) visit(c);
  };
  visit(root || document.documentElement);
  return parts.join(' ').replace(/\s+/g, ' ');
};
E.byText = function (text, root, exact) {
  // One walk over the text nodes (shadow roots included): the element holding the text.
  const want = text.trim().toLowerCase();
  let found = null;
  const visit = (n) => {
    if (found) return;
    if (n.nodeType === 3) {
      const t = n.nodeValue.trim().toLowerCase();
      if (t && (exact ? t === want : t.includes(want))) {
        let p = n.parentNode;
        if (p && p.nodeType === 11) p = p.host;
        if (p && E.visible(p)) found = p;
      }
      return;
    }
    if (n.nodeType === 1 && (n.tagName === 'STYLE' || n.tagName === 'SCRIPT')) return;
    if (n.shadowRoot) for (const c of n.shadowRoot.childNodes) visit(c);
    for (const c of n.childNodes) visit(c);
  };
  visit(root || document.documentElement);
  return found;
};
E.field = function (name, root) {
  for (const el of E.all(root)) {
    if (el.schema && el.schema.name === name && E.visible(el)) {
      const inputs = E.all(el).filter(
        (i) => (i.tagName === 'INPUT' || i.tagName === 'TEXTAREA') && i.type !== 'checkbox'
      );
      if (inputs.length) return inputs[0];
    }
  }
  // Forms that are not ha-form (the login page of newer releases): by name or autocomplete.
  for (const el of E.all(root)) {
    if (el.tagName === 'INPUT' && E.visible(el) &&
        (el.name === name || el.autocomplete === name ||
         (name === 'password' && el.type === 'password'))) return el;
  }
  return null;
};
E.menuOf = function (text) {
  // The overflow menu button of the row that shows this text.
  let el = E.byText(text, null, true);
  while (el) {
    const menu = E.all(el).find((e) => ['ha-md-button-menu', 'ha-button-menu', 'ha-dropdown']
      .includes(e.tagName.toLowerCase()));
    if (menu) {
      return E.all(menu).find((e) => e.tagName.toLowerCase() === 'ha-icon-button') || menu;
    }
    el = el.parentNode && el.parentNode.nodeType === 11 ? el.parentNode.host : el.parentNode;
    if (el && el.nodeType !== 1) el = null;
  }
  return null;
};
E.dialog = function () {
  // The open dialog: the outermost element named like a dialog that shows something.
  for (const el of E.all()) {
    if (!el.tagName.toLowerCase().includes('dialog')) continue;
    if (E.visible(el) || E.all(el).some((e) => e !== el && E.visible(e))) return el;
  }
  return null;
};
"""


class Failures:
    """Every failed check of the run, reported together at the end."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.seen: dict[str, int] = {}

    def add(self, text: str) -> None:
        print(f"e2e: FAIL: {text}", flush=True)
        self.items.append(text)

    def once(self, key: str, text: str) -> None:
        """Add ``text`` the first time ``key`` fails; count the repeats."""
        if key in self.seen:
            self.seen[key] += 1
            return
        self.seen[key] = 1
        self.add(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(text: str) -> None:
    print(f"e2e: {text}", flush=True)


class Phases:
    """Times each phase of the run."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self.start = time.monotonic()

    @contextlib.contextmanager
    def phase(self, name: str) -> Any:
        log(f"--- {name}")
        start = time.monotonic()
        try:
            yield
        finally:
            self.times.append((name, time.monotonic() - start))
            log(f"--- {name}: {time.monotonic() - start:.1f} s")

    def report(self) -> None:
        log("durations:")
        for name, seconds in self.times:
            print(f"  {seconds:7.1f} s  {name}", flush=True)
        print(f"  {time.monotonic() - self.start:7.1f} s  total (driver)", flush=True)


# --- Home Assistant -----------------------------------------------------------------


class HomeAssistant:
    """The HA under test: its process, REST and websocket API."""

    def __init__(self, venv: Path, workdir: Path, bundle: Path) -> None:
        self.venv = venv
        self.config = workdir / "config"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bundle = bundle
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.log_file = self.config / "home-assistant.log"
        # The log of the runs before a restart (HA rolls its log over when it starts).
        self.earlier_log = ""
        self.starts = 0

    def log_text(self) -> str:
        """HA's log of every start of this run."""
        current = (
            self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        )
        return self.earlier_log + current

    def start(self) -> None:
        (self.config / "custom_components").mkdir(parents=True)
        (self.config / "custom_components" / "cellular_iot").symlink_to(
            REPO / "custom_components" / "cellular_iot"
        )
        (self.config / "configuration.yaml").write_text(
            "default_config:\n\n"
            f"http:\n  server_port: {self.port}\n\n"
            "logger:\n  default: info\n  logs:\n"
            f"    {LOGGER_NAME}: debug\n"
        )
        self.launch()

    def restart(self) -> None:
        """Stop HA and start it again on the same configuration (issue 26 A1)."""
        # HA writes its stores in its stop's first stages; what can be left after 30 s
        # is executor threads blocked on lookups the namespace cannot answer.
        self.stop(30)
        self.launch()

    def launch(self) -> None:
        if self.log_file.exists():
            self.earlier_log += self.log_file.read_text(errors="replace")
            self.log_file.unlink()
        self.starts += 1
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "SE_OFFLINE")
        }
        env["REQUESTS_CA_BUNDLE"] = str(self.bundle)
        self.stdout = (self.config / "hass.stdout").open("ab")
        self.process = subprocess.Popen(
            # --skip-pip: nothing to fetch from in the namespace; scripts/develop
            # installed what HA loads.
            [str(self.venv / "bin" / "hass"), "-c", str(self.config), "--skip-pip"],
            stdout=self.stdout,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Home Assistant exited ({self.process.returncode}); see "
                    f"{self.config / 'hass.stdout'}"
                )
            if self.log_file.exists() and "core failed to initialize" in (
                self.log_file.read_text(errors="replace")
            ):
                raise RuntimeError(
                    f"Home Assistant failed to start; see {self.log_file}"
                )
            try:
                if self.token:
                    # After onboarding, /api/onboarding is gone (404): the API answers.
                    self.request("GET", "/api/config")
                    return
                with urllib.request.urlopen(f"{self.url}/api/onboarding", timeout=5):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # polling for the server to come up, not a timing test

    def stop(self, timeout: float = 60) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def request(
        self, method: str, path: str, body: Any = None, *, form: bool = False
    ) -> Any:
        data = None
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(req, timeout=30) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def onboard(self, username: str, password: str) -> None:
        """Create the owner and finish the remaining onboarding steps over REST."""
        client_id = f"{self.url}/"
        answer = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "E2E Owner",
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        token = self.request(
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": answer["auth_code"],
                "client_id": client_id,
            },
            form=True,
        )
        self.token = token["access_token"]
        self.request("POST", "/api/onboarding/core_config", {})
        self.request("POST", "/api/onboarding/analytics", {})
        self.request(
            "POST",
            "/api/onboarding/integration",
            {"client_id": client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
        )

    def wait_running(self) -> None:
        """Wait until HA has finished starting (every integration set up)."""
        deadline = time.monotonic() + 300
        while self.request("GET", "/api/config").get("state") != "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError("Home Assistant did not finish starting")
            time.sleep(0.5)  # polling HA's state, not a timing assumption

    def ws(self, message: dict[str, Any]) -> Any:
        """One websocket API command; returns its result."""
        conn = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/websocket", timeout=30
        )
        try:
            json.loads(conn.recv())
            conn.send(json.dumps({"type": "auth", "access_token": self.token}))
            auth = json.loads(conn.recv())
            if auth.get("type") != "auth_ok":
                raise RuntimeError(f"websocket auth failed: {auth}")
            conn.send(json.dumps({"id": 1, **message}))
            while True:
                answer = json.loads(conn.recv())
                if answer.get("id") == 1 and answer.get("type") == "result":
                    if not answer.get("success"):
                        raise RuntimeError(f"{message['type']}: {answer.get('error')}")
                    return answer.get("result")
        finally:
            conn.close()

    def entries(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.request("GET", "/api/config/config_entries/entry")
            if e["domain"] == "cellular_iot"
        ]

    def devices(self) -> list[dict[str, Any]]:
        return list(self.ws({"type": "config/device_registry/list"}))

    def entities(self) -> list[dict[str, Any]]:
        return list(self.ws({"type": "config/entity_registry/list"}))

    def state(self, entity_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/states/{entity_id}"))


# --- the browser --------------------------------------------------------------------


class Browser:
    """Headless Debian Chromium through chromedriver, with deep shadow DOM helpers."""

    def __init__(self, workdir: Path, shots: Path, failures: Failures) -> None:
        self.shots = shots
        self.failures = failures
        self.step = 0
        self.allowed_words = known_words(REPO)
        profile = workdir / "chromium-profile"
        profile.mkdir()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
            "--lang=en-US",
        ):
            options.add_argument(arg)
        if os.environ.get("E2E_DEBUG_PORT"):
            options.add_argument(
                f"--remote-debugging-port={os.environ['E2E_DEBUG_PORT']}"
            )
        self.driver = webdriver.Chrome(
            options=options,
            service=Service(
                "/usr/bin/chromedriver", log_output=str(workdir / "chromedriver.log")
            ),
        )
        self.driver.set_script_timeout(30)

    def quit(self) -> None:
        with contextlib.suppress(WebDriverException):
            self.driver.quit()

    def js(self, body: str, *args: Any) -> Any:
        return self.driver.execute_script(JS + body, *args)

    def wait(
        self, what: str, condition: Callable[[], Any], timeout: float = WAIT
    ) -> Any:
        def check(_: Any) -> Any:
            try:
                return condition()
            except (StaleElementReferenceException, JavascriptException):
                return None

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(check)
        except TimeoutException:
            self.shot(f"timeout-{what}")
            raise TimeoutError(f"waiting for {what}") from None

    def find_text(self, text: str, *, dialog: bool = False, exact: bool = False) -> Any:
        root = "E.dialog()" if dialog else "null"
        return self.js(
            f"const root = {root}; if ({'true' if dialog else 'false'} && !root) return null;"
            "return E.byText(arguments[0], root, arguments[1]);",
            text,
            exact,
        )

    def wait_text(
        self,
        text: str,
        *,
        dialog: bool = False,
        exact: bool = False,
        timeout: float = WAIT,
    ) -> WebElement:
        return self.wait(
            repr(text),
            lambda: self.find_text(text, dialog=dialog, exact=exact),
            timeout,
        )

    def click(self, element: WebElement) -> None:
        try:
            element.click()
        except (ElementClickInterceptedException, ElementNotInteractableException):
            self.driver.execute_script("arguments[0].click();", element)

    def click_text(
        self, text: str, *, dialog: bool = False, exact: bool = False
    ) -> None:
        def attempt() -> bool:
            element = self.find_text(text, dialog=dialog, exact=exact)
            if element is None:
                return False
            self.click(element)
            return True

        self.wait(f"click {text!r}", attempt)

    def field(self, name: str) -> WebElement:
        return self.wait(
            f"field {name}",
            lambda: (
                self.js("return E.field(arguments[0], E.dialog());", name)
                or self.js("return E.field(arguments[0], null);", name)
            ),
        )

    def fill(self, name: str, value: str) -> None:
        """Replace what the field holds with ``value``, as a person would.

        Select all and delete, then type; a field that still holds text after that
        (a value kept after a form error) is emptied with backspaces, one per
        character, as a person would. Fails when the field does not end up holding
        exactly what was typed.
        """
        element = self.field(name)
        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(Keys.DELETE)
        left = str(element.get_property("value") or "")
        if left:
            print(
                f"e2e: field {name}: select-all and delete left {len(left)} characters"
            )
            element.send_keys(Keys.END)
            element.send_keys(Keys.BACKSPACE * len(left))
        element.send_keys(value)
        got = str(element.get_property("value") or "")
        if got != value:
            msg = (
                f"field {name} holds {len(got)} characters, not the {len(value)} typed"
            )
            raise TimeoutError(msg)

    def page_text(self) -> str:
        return str(self.js("return E.text();"))

    def shot(self, name: str) -> Path:
        self.step += 1
        path = (
            self.shots
            / f"{self.step:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png"
        )
        with contextlib.suppress(WebDriverException):
            self.driver.save_screenshot(str(path))
        return path

    def checkpoint(self, name: str) -> None:
        """Screenshot, then fail on what no page may show (tests/e2e/checks.py).

        A translation error, a raw translation key, an untranslated number or
        validator message anywhere on the page; a bare snake_case key in a dialog.
        """
        path = self.shot(name)
        problems = []
        with contextlib.suppress(WebDriverException):
            problems = page_problems(self.page_text())
            dialog = self.js("const d = E.dialog(); return d ? E.text(d) : '';")
            problems += dialog_problems(str(dialog or ""), self.allowed_words)
        for problem in problems:
            self.failures.once(problem, f"{name}: {problem} (screenshot {path})")
        log(f"step {name}: {path.name}")


# --- the scenario -------------------------------------------------------------------


class Run(OneNceSteps):
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir)
        self.shots = Path(args.screenshots)
        self.failures = Failures()
        self.phases = Phases()
        self.secrets: dict[str, str] = {}
        # Action errors the run causes on purpose (their HA log record is expected).
        self.expected_errors: list[str] = []
        self.ha: HomeAssistant | None = None
        self.browser: Browser | None = None
        self.fake_server: standins.StandIns | None = None
        self.stack = contextlib.ExitStack()
        self.username = "owner"
        self.password = f"pw-{secrets.token_urlsafe(12)}"
        self.api_key = f"e2e-key-{secrets.token_urlsafe(16)}"
        self.device_key = "e2e1Q#7~"
        self.listener_port = free_port()
        self.udp_port = free_port()
        self.downloads = self.workdir / "downloads"
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.webhook_url = ""
        self.message = f"hello e2e {secrets.token_hex(3)}"

    # -- phases --

    def setup(self) -> None:
        with self.phase("the stand-ins of every provider (tests/e2e/standins.py)"):
            stand_ins = self.stack.enter_context(
                standins.running(
                    self.workdir / "stand-ins",
                    ha_python=str(Path(self.args.venv) / "bin" / "python"),
                )
            )
            self.fake_server = stand_ins
            self.fake = stand_ins.hologram
            stand_ins.call(lambda: self.fake.api_keys.update({self.api_key: 1001}))
            bundle = stand_ins.ca_bundle
        with self.phase("start Home Assistant"):
            self.packages = self.installed()
            self.ha = HomeAssistant(Path(self.args.venv), self.workdir, bundle)
            self.ha.start()
            log(f"Home Assistant at {self.ha.url}")
        with self.phase("onboarding (owner over the onboarding REST API)"):
            self.ha.onboard(self.username, self.password)
            self.ha.wait_running()
        # Issue 26 A1: a develop HA broke at the start after onboarding (HA's runtime
        # installs had upgraded pycares). Restart once; the provider forms that follow
        # (Hologram's checks its key over HTTPS) prove it still works.
        with self.phase("restart Home Assistant after onboarding"):
            self.ha.restart()
            self.ha.wait_running()
        with self.phase("start Chromium"):
            self.browser = Browser(self.workdir, self.shots, self.failures)
            with contextlib.suppress(WebDriverException):
                self.browser.driver.execute_cdp_cmd(
                    "Browser.setDownloadBehavior",
                    {"behavior": "allow", "downloadPath": str(self.downloads)},
                )

    def phase(self, name: str) -> Any:
        return self.phases.phase(name)

    def installed(self) -> dict[str, str]:
        """The distributions in HA's venv, name -> version."""
        out = subprocess.run(
            [
                str(Path(self.args.venv) / "bin" / "python"),
                "-c",
                (
                    "import importlib.metadata as m, json; print(json.dumps("
                    "{d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
                ),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(json.loads(out))

    def check_venv(self) -> None:
        """Issue 26 A1: running HA (onboarding, a restart) changed nothing installed."""
        after = self.installed()
        changed = sorted(
            f"{name} {self.packages.get(name)} -> {after.get(name)}"
            for name in set(self.packages) | set(after)
            if self.packages.get(name) != after.get(name)
        )
        if changed:
            self.failures.add(
                f"HA changed its venv while it ran: {', '.join(changed[:10])}"
            )

    def login(self) -> None:
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        b.driver.get(f"{ha.url}/")
        b.wait_text("Log in", exact=False)
        b.checkpoint("login page")
        b.fill("username", self.username)
        b.fill("password", self.password)
        b.field("password").send_keys(Keys.ENTER)
        b.wait(
            "the first page after the login",
            lambda: (
                "/auth/" not in b.driver.current_url
                and b.find_text("Settings", exact=True) is not None
            ),
        )
        b.checkpoint("logged in")

    def open_add_integration(self) -> None:
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        b.driver.get(f"{ha.url}/config/integrations/dashboard")
        b.click_text("Add integration", exact=True)
        search = b.wait(
            "the integration search",
            lambda: b.js(
                "const d = E.all().find((e) => e.tagName.toLowerCase() === "
                "'dialog-add-integration'); if (!d) return null;"
                "return E.all(d).find((e) => e.tagName === 'INPUT' && E.visible(e)) || null;"
            ),
        )
        search.send_keys("Cellular IoT")
        b.checkpoint("add integration search")
        b.click_text("Cellular IoT (Hologram, emnify, monoZ, 1NCE)")

        # With an entry already there, HA opens the integration's page instead: its
        # "Add hub" (or "Add entry") button starts the flow.
        def menu_or_add() -> bool:
            if b.find_text("What do you want to connect?", dialog=True):
                return True
            if "/config/integrations/integration/cellular_iot" in b.driver.current_url:
                for label in ("Add hub", "Add entry"):
                    button = b.find_text(label, exact=True)
                    if button is not None:
                        b.click(button)
                        return False
            return False

        b.wait("the config flow's menu", menu_or_add)
        b.checkpoint("add integration menu")

    def finish_flow(
        self, name: str, labels: tuple[str, ...] = FINISH, expect: str = ""
    ) -> str:
        """Wait for the flow's success dialog; check it; close it; return its text.

        ``expect``: a text of the dialog's description to wait for (the frontend
        renders the description's markdown after the dialog and its button show).
        """
        b = self.browser
        assert b is not None
        button = b.wait(
            "the Finish button",
            lambda: next(
                (
                    found
                    for label in labels
                    if (found := b.find_text(label, dialog=True, exact=True))
                ),
                None,
            ),
        )
        if expect:
            with contextlib.suppress(TimeoutError):  # the caller checks the text
                b.wait(
                    f"{expect!r} in the dialog",
                    lambda: expect in str(b.js("return E.text(E.dialog());")),
                    20,
                )
        text = str(b.js("return E.text(E.dialog());"))
        b.checkpoint(name)
        b.click(button)
        b.wait(
            "the dialog to close",
            lambda: all(
                b.find_text(label, dialog=True, exact=True) is None for label in labels
            ),
        )
        return text

    def listener_message(self) -> None:
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        entry = next(e for e in ha.entries() if e["title"].startswith("Listener"))
        device = next(
            d for d in ha.devices() if entry["entry_id"] in d["config_entries"]
        )
        b.driver.get(f"{ha.url}/config/devices/device/{device['id']}")
        b.wait_text("Last message")
        b.checkpoint("listener device page before")
        if self.message in b.page_text():
            self.failures.add("the device page shows the message before it was sent")
        # As Hologram's guide receives cloud messages with nc, the test sends with nc.
        subprocess.run(
            ["nc", "-N", "127.0.0.1", str(self.listener_port)],
            input=f"{self.message}\n".encode(),
            check=True,
            timeout=30,
        )
        try:
            b.wait(
                "the last message on the device page",
                lambda: self.message in b.page_text(),
            )
        except TimeoutError:
            self.failures.add(
                "the last-message sensor did not change on the device page"
            )
        b.checkpoint("listener device page after nc")

    def add_hologram(self) -> None:
        b = self.browser
        assert b is not None
        before = len(self.fake.requests)
        self.open_add_integration()
        b.click_text("Hologram account", dialog=True, exact=True)
        b.wait_text("Create an API key in the Hologram Dashboard", dialog=True)
        b.fill("api_key", self.api_key)
        b.checkpoint("hologram form")
        b.click_text("Submit", dialog=True, exact=True)
        text = self.finish_flow("hologram account created", expect="is shown only now")
        match = re.search(r"The secret, (\S+), is shown only now", text)
        if match:
            self.secrets["webhook secret"] = match.group(1)
        match = re.search(r"(https?://\S+?/api/webhook/[\w-]+)", text)
        if match:
            self.webhook_url = match.group(1)
        # Issue 26 A2: without an external URL, the dialog says in its own (translated)
        # words that Hologram cannot reach the URL, and sends no one to the README.
        if not re.search(r"Hologram\s+cannot\s+reach\s+this\s+URL", text):
            self.failures.add(
                "the Hologram account's success dialog does not warn that Hologram "
                f"cannot reach the URL ({text[:300]!r})"
            )
        if "README" in text:
            self.failures.add(
                "the Hologram account's success dialog points to the README"
            )
        seen = [r for r in self.fake.requests[before:] if r.path.startswith("/api/1/")]
        if not seen:
            self.failures.add(
                "the fake received no request while the account was added"
            )
        for r in seen:
            if r.headers.get("Authorization", "").startswith("Basic ") is False:
                self.failures.add(f"{r.method} {r.path} without Basic auth")

    def open_device_picker(self) -> None:
        """Hologram's Add device: its form, the device picker opened."""
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        b.driver.get(f"{ha.url}/config/integrations/integration/cellular_iot")
        b.wait_text("Hologram (owner@example.com)")
        b.checkpoint("integration page")

        # Newer frontends show "Add device" on the entry; older ones in its menu.
        def add_device() -> bool:
            button = b.find_text("Add device", exact=True)
            if button is None:
                menu = b.js(
                    "return E.menuOf(arguments[0]);", "Hologram (owner@example.com)"
                )
                if menu is not None:
                    b.click(menu)
                button = b.find_text("Add device", exact=True)
            if button is None:
                return False
            b.click(button)
            return True

        b.wait("the Add device button", add_device)

        # HA 2026.2's "Add device" on the integration page asks for the entry first.
        def form() -> bool:
            # The form, whatever its title ("Add a device", "Add a Hologram device"):
            # the dialog holds the device_id field.
            if b.js(
                "const d = E.dialog(); return !!d && E.all(d).some("
                "(e) => e.schema && e.schema.name === 'device_id' && E.visible(e));"
            ):
                return True
            entry = b.find_text("Hologram (owner@example.com)", dialog=True, exact=True)
            if entry is not None:
                b.checkpoint("add device: choose the account")
                b.click(entry)
            return False

        b.wait("the Add a device form", form)
        b.checkpoint("add device form")
        # A combo box with an input (2025.4) or a picker button (2026.2): open its list.
        field = b.wait(
            "the device picker",
            lambda: b.js(
                "const root = E.dialog(); const input = E.field('device_id', root);"
                "if (input) return input;"
                "return E.all(root).find((e) => e.schema && e.schema.name === 'device_id'"
                " && E.visible(e)) || null;"
            ),
        )
        b.click(field)

    def add_device(self) -> None:
        b = self.browser
        assert b is not None
        self.open_device_picker()
        option = b.wait_text("Van tracker (123456)")
        b.click(option)
        b.checkpoint("add device picked")
        b.click_text("Submit", dialog=True, exact=True)
        self.finish_flow("device added")

    def check_fake(
        self, what: str, predicate: Callable[[dict[str, Any]], bool]
    ) -> None:
        b = self.browser
        assert b is not None
        try:
            b.wait(
                what,
                lambda: any(predicate(m) for m in list(self.fake.cloud_messages)),
                30,
            )
        except TimeoutError:
            self.failures.add(
                f"{what}: not received by the fake (it got {self.fake.cloud_messages})"
            )

    def action_ui(self) -> None:
        """Developer tools → Actions, UI mode: send_cloud_message to the device."""
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        # HA's "my" link to the page (it moved in 2026.2), with the action chosen.
        b.driver.get(
            f"{ha.url}/_my_redirect/developer_call_service"
            "?service=cellular_iot.send_cloud_message"
        )
        # Its description (translations/en.json), as the form shows it.
        b.wait_text("a TCP or UDP cloud message to one or more Hologram devices")
        b.checkpoint("action chosen")
        self.action_field("device_ids", "123456")
        self.action_field("port", "4010")
        self.action_field("data", "unlock e2e")
        b.checkpoint("action filled")
        b.click_text("Perform action", exact=True)
        self.check_fake(
            "the cloud message from Developer tools",
            lambda m: (
                m.get("deviceids") == [123456]
                and m.get("port") == 4010
                and m.get("data") == "unlock e2e"
            ),
        )
        b.checkpoint("action performed")

    def action_field(self, key: str, value: str) -> None:
        """Tick an optional field of the action form and type into it."""
        b = self.browser
        assert b is not None
        checkbox = b.js(
            "return E.all().find((e) => e.tagName.toLowerCase() === 'ha-checkbox'"
            " && e.key === arguments[0]) || null;",
            key,
        )
        if checkbox is not None and not checkbox.get_property("checked"):
            b.click(checkbox)

        def find_input() -> Any:
            return b.js(
                "const s = E.all().find((e) => e.tagName.toLowerCase() === 'ha-selector'"
                " && e.key === arguments[0]); if (!s || s.disabled) return null;"
                "const i = E.all(s).find((e) => (e.tagName === 'INPUT' ||"
                " e.tagName === 'TEXTAREA') && E.visible(e)); if (i) return i;"
                "const add = E.all(s).find((e) => ['ha-button', 'mwc-button', 'button']"
                ".includes(e.tagName.toLowerCase()) && E.visible(e));"
                "if (add) add.click(); return null;",
                key,
            )

        field = b.wait(f"the action field {key}", find_input)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value)

    def notify(self) -> None:
        """notify.send_message to the device's notify entity (Actions, YAML mode)."""
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        entity = next(
            e["entity_id"]
            for e in ha.entities()
            if e["entity_id"].startswith("notify.van_tracker")
        )
        text = "notify e2e"
        b.driver.get(
            f"{ha.url}/_my_redirect/developer_call_service?service=notify.send_message"
        )
        b.wait_text("Sends a notification message")
        b.click_text("Go to YAML mode", exact=True)
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
            "action": "notify.send_message",
            "target": {"entity_id": entity},
            "data": {"message": text},
        }
        editor.send_keys(json.dumps(call))
        b.checkpoint("notify yaml")
        b.click_text("Perform action", exact=True)
        self.check_fake(
            f"the cloud message of notify.send_message to {entity}",
            lambda m: m.get("deviceids") == [123456] and m.get("data") == text,
        )
        b.checkpoint("notify performed")

    def dashboard_button(self) -> None:
        """A dashboard button card that performs the action; pressed in the browser."""
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        text = "button e2e"
        # A dashboard of its own (HA 2026.2 shows its new overview at /lovelace).
        ha.ws(
            {
                "type": "lovelace/dashboards/create",
                "url_path": "e2e-van",
                "title": "Van",
                "mode": "storage",
                "show_in_sidebar": True,
                "require_admin": False,
            }
        )
        ha.ws(
            {
                "type": "lovelace/config/save",
                "url_path": "e2e-van",
                "config": {
                    "title": "E2E",
                    "views": [
                        {
                            "title": "Van",
                            "path": "van",
                            "cards": [
                                {
                                    "type": "button",
                                    "name": "Unlock the van",
                                    "icon": "mdi:lock-open",
                                    "show_state": False,
                                    "tap_action": {
                                        "action": "perform-action",
                                        "perform_action": "cellular_iot.send_cloud_message",
                                        "data": {
                                            "device_ids": [123456],
                                            "port": 4010,
                                            "data": text,
                                        },
                                    },
                                }
                            ],
                        }
                    ],
                },
            }
        )
        b.driver.get(f"{ha.url}/e2e-van/van")
        b.wait_text("Unlock the van")
        b.checkpoint("dashboard with the button")
        b.click_text("Unlock the van", exact=True)
        self.check_fake(
            "the cloud message of the dashboard button",
            lambda m: m.get("deviceids") == [123456] and m.get("data") == text,
        )
        b.checkpoint("dashboard button pressed")

    def voice(self) -> None:
        """The README's Voice set-up, then Assist's built-in agent sends a message.

        As the README says: copy the shipped sentences to custom_sentences/en/,
        expose the device's notify entity to Assist, reload conversation; then say
        the README's sentence (POST /api/conversation/process, what Assist's dialog
        sends) and see the message reach the fake and the answer spoken.
        """
        b, ha = self.browser, self.ha
        assert b is not None
        assert ha is not None
        sentences = ha.config / "custom_sentences" / "en"
        sentences.mkdir(parents=True, exist_ok=True)
        shutil.copy(
            REPO
            / "custom_components"
            / "cellular_iot"
            / "sentences"
            / "en"
            / "cellular_iot.yaml",
            sentences / "cellular_iot.yaml",
        )
        entity = next(
            e for e in ha.entities() if e["entity_id"].startswith("notify.van_tracker")
        )
        ha.ws(
            {
                "type": "homeassistant/expose_entity",
                "assistants": ["conversation"],
                "entity_ids": [entity["entity_id"]],
                "should_expose": True,
            }
        )
        ha.request("POST", "/api/services/conversation/reload", {})
        answer = ha.request(
            "POST",
            "/api/conversation/process",
            {"text": "send open to the van tracker", "language": "en"},
        )
        speech = answer["response"]["speech"]["plain"]["speech"]
        log(f"Assist answered: {speech}")
        if speech != "Sent open to Van tracker.":
            self.failures.add(f"Assist answered {speech!r} to the README's sentence")
        self.check_fake(
            "the cloud message Assist sent",
            lambda m: m.get("deviceids") == [123456] and m.get("data") == "open",
        )
        answer = ha.request(
            "POST",
            "/api/conversation/process",
            {"text": "what did the van tracker say", "language": "en"},
        )
        speech = answer["response"]["speech"]["plain"]["speech"]
        log(f"Assist answered: {speech}")
        if not speech.startswith("Van tracker "):
            self.failures.add(
                f"Assist answered {speech!r} to the last-message question"
            )

    def run(self) -> None:
        self.setup()
        # (name, step, whether the steps after it need it to have passed)
        steps: list[tuple[str, Callable[[], None], bool]] = [
            ("log in through the UI", self.login, True),
            (
                "add This device (TCP listener) through the UI, after a form error",
                self.add_listener_with_error,
                False,
            ),
            ("send with nc; the device page shows it", self.listener_message, False),
            (
                "a listener form abandoned after an error, then finished",
                self.listener_abandoned,
                False,
            ),
            (
                "add a UDP listener; a datagram on its page",
                self.add_udp_listener,
                False,
            ),
            (
                "Hologram: a key it refuses, in the form",
                self.hologram_form_error,
                False,
            ),
            ("add a Hologram account through the UI", self.add_hologram, True),
            ("add a device (subentry) through the UI", self.add_device, True),
            (
                "Add device again: the added device is not offered",
                self.picker_leaves_out_added,
                False,
            ),
            ("emnify: a refused token, the account, a device", self.add_emnify, False),
            (
                "monoZ with MQTT: a refused key, a device, an uplink",
                self.add_monoz,
                False,
            ),
            (
                "send_cloud_message from Developer tools → Actions",
                self.action_ui,
                False,
            ),
            ("notify.send_message to the device", self.notify, False),
            (
                "a dashboard button card that performs the action",
                self.dashboard_button,
                False,
            ),
            ("options: inbound by polling and webhook", self.options, False),
            ("a webhook delivery on the device page", self.webhook_delivery, False),
            ("an outage: a send queued, then delivered", self.outage, False),
            ("an action error said once (emnify 404)", self.action_error_once, False),
            ("Assist sends with the README's voice set-up", self.voice, False),
            ("Assist typed in the Assist dialog", self.assist_dialog, False),
            ("the SIM switch clicked on the device page", self.sim_switch_ui, False),
            ("reconfigure the Hologram account", self.reconfigure, False),
            ("reauthenticate after a refused key", self.reauth, False),
            ("diagnostics downloaded", self.diagnostics, False),
            ("an entry removed", self.remove_entry, False),
            # Last: with a second account that sends cloud messages, the steps above
            # that send without config_entry_id would have to name the account.
            (
                "1NCE: refused credentials, the account, a device",
                self.add_onence,
                False,
            ),
            ("1NCE: an SMS from Developer tools", self.onence_sms, False),
            ("1NCE: a Data Streamer event arrives", self.onence_stream_event, False),
        ]
        for name, step, needed in steps:
            with self.phase(name):
                try:
                    step()
                except Exception as err:  # reported; the run goes on where it can
                    assert self.browser is not None
                    path = self.browser.shot(f"error-{name}")
                    self.failures.add(
                        f"{name}: {type(err).__name__}: {err} (screenshot {path})"
                    )
                    if needed:
                        break
                    with contextlib.suppress(WebDriverException):
                        self.browser.driver.get(f"{self.ha.url}/config")

    def check_log(self) -> None:
        assert self.ha is not None
        text = self.ha.log_text()
        # An ERROR record of ours, or one whose traceback runs through our code (an
        # exception of ours that HA logged, such as a 500 answered by HA's web server).
        for problem in log_problems(text, self.expected_errors):
            self.failures.add(problem)
        text += (self.ha.config / "hass.stdout").read_text(errors="replace")
        named = {
            "API key": self.api_key,
            "Socket API device key": self.device_key,
            "owner password": self.password,
            **self.secrets,
        }
        for name, value in named.items():
            if value and value in text:
                self.failures.add(f"the {name} appears in HA's log")
        if self.fake.violations:
            self.failures.add(
                f"requests that break Hologram's schema: {self.fake.violations}"
            )
        if self.fake_server is not None and self.fake_server.onence.violations:
            self.failures.add(
                "requests that break 1NCE's schema: "
                f"{self.fake_server.onence.violations}"
            )

    def close(self) -> None:
        if self.browser is not None:
            self.browser.quit()
        if self.ha is not None:
            self.ha.stop()
        with contextlib.suppress(Exception):
            self.stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venv", required=True, help="the HA venv (scripts/develop's)")
    parser.add_argument("--workdir", required=True, help="an empty throwaway directory")
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shots = Path(args.screenshots)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    run = Run(args)
    try:
        run.run()
    finally:
        run.close()
        if run.ha is not None:
            run.check_log()
            run.check_venv()
            (shots / "home-assistant.log").write_text(run.ha.log_text())
        run.phases.report()
    if run.failures.items:
        print("\ne2e FAILED:", flush=True)
        for item in run.failures.items:
            print(f"  - {item}", flush=True)
        return 1
    print("\ne2e passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

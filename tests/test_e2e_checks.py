"""The e2e run's failure detectors (tests/e2e/checks.py) catch what issue 26 saw."""

from __future__ import annotations

import base64
import json
from pathlib import Path
import re

from tests.e2e.checks import dialog_problems, known_words, log_problems, page_problems

REPO = Path(__file__).resolve().parents[1]


def test_page_problems_catch_raw_keys_and_number_messages() -> None:
    text = (
        "Port Value 70000.0 is too large "
        "component.cellular_iot.config.error.cannot_bind "
        "config.abort.already_in_progress [%key:common::config_flow::error::unknown%] "
        "Translation Error: The intl string context variable 'x' was not provided"
    )
    problems = page_problems(text)
    assert any("Value 70000.0 is too large" in p for p in problems)
    assert any("component.cellular_iot.config.error.cannot_bind" in p for p in problems)
    assert any("config.abort.already_in_progress" in p for p in problems)
    assert any("[%key:common::config_flow::error::unknown%]" in p for p in problems)
    assert any(p.startswith("translation error") for p in problems)


def test_page_problems_pass_translated_text() -> None:
    text = (
        "The port is 1 to 65535. Keep queued sends for 0.5 hours. "
        "Value 70000 is too large for a port. Call cellular_iot.send_cloud_message "
        "from /config/integrations/integration/cellular_iot."
    )
    assert page_problems(text) == []


def test_dialog_problems_catch_a_bare_reason() -> None:
    allowed = known_words(REPO)
    assert dialog_problems("Aborted already_in_progress", allowed) == [
        "raw key 'already_in_progress' in a dialog"
    ]
    # Words that our own texts contain are fine (an event name, an action).
    assert (
        dialog_problems(
            "then cellular_iot_send_failed is fired; see cellular_iot.send_sms, "
            "http://192.0.2.1:8123/api/webhook/ab_cd?secret=x_y",
            allowed,
        )
        == []
    )


def test_log_problems() -> None:
    log = (
        "2026-12-07 05:00:00.000 INFO (MainThread) [custom_components.cellular_iot] ok\n"
        "2026-12-07 05:00:01.000 ERROR (MainThread) [custom_components.cellular_iot"
        ".config_flow] Unexpected error\n"
        "2026-12-07 05:00:02.000 ERROR (MainThread) [homeassistant.core] Error doing"
        " job\nTraceback (most recent call last):\n  File "
        '"/x/custom_components/cellular_iot/entity.py", line 1\nValueError\n'
        "2026-12-07 05:00:03.000 WARNING (MainThread) [custom_components.cellular_iot"
        "] retried\nTraceback (most recent call last):\nOSError\n"
        "2026-12-07 05:00:04.000 ERROR (MainThread) [homeassistant.components.met]"
        " not ours\n"
        "2026-12-07 05:00:05.000 WARNING (MainThread) [homeassistant.helpers."
        "translation] Validation of translation placeholders for localized (en) string"
        " component.cellular_iot.config.step.x failed\n"
    )
    problems = log_problems(log)
    assert len(problems) == 4
    assert "Unexpected error" in problems[0]
    assert "Error doing job" in problems[1]
    assert problems[2].startswith("traceback through our code")
    assert problems[3].startswith("translation problem")


def test_log_problems_leave_an_expected_action_error() -> None:
    record = (
        "2026-12-07 05:00:00.000 ERROR (MainThread) [homeassistant.components."
        "websocket_api.http.connection] [1] Unexpected exception\n"
        "Traceback (most recent call last):\n  File "
        '"/x/custom_components/cellular_iot/kinds/base.py", line 1\n'
        "homeassistant.exceptions.HomeAssistantError: {}\n"
    )
    wanted = "emnify: the provider does not know the target (emnify, HTTP 404)"
    assert log_problems(record.format(wanted), [wanted]) == []
    assert len(log_problems(record.format("another error"), [wanted])) == 1
    assert len(log_problems(record.format(wanted))) == 1


def test_onence_created_entry_dialogs_pass_the_checks() -> None:
    """The 1NCE created-entry texts, filled as the flow fills them, trip no check.

    The e2e reads the URL with the secret and the Basic Auth Header value out of
    this dialog (tests/e2e/more_steps.py, OneNceSteps.check_onence_dialog); a word
    of it that the checks took for a raw key would fail every run.
    """
    strings = json.loads(
        (REPO / "custom_components/cellular_iot/strings.json").read_text()
    )
    texts = strings["config"]["create_entry"]
    secret = "Xy_9-kLm0_pQ"
    url = "http://192.0.2.1:8123/api/webhook/0a1b_2c3d"
    placeholders = {
        "provider": "1NCE",
        "secret": secret,
        "webhook_url": url,
        "url_with_secret": f"{url}?secret={secret}",
        "basic_auth": base64.b64encode(f"cellular_iot:{secret}".encode()).decode(),
        "docs_url": "https://github.com/x/cellular_iot/blob/main/docs/1nce.md#inbound",
    }
    allowed = known_words(REPO)
    for key in ("1nce", "1nce_local"):
        text = texts[key]
        for name, value in placeholders.items():
            text = text.replace("{" + name + "}", value)
        assert re.findall(r"\{[a-z_]+\}", text) == [], key
        assert page_problems(text) == [], key
        assert dialog_problems(text, allowed) == [], key
        assert f"{url}?secret={secret}" in text
        assert f"Basic Auth Header: {placeholders['basic_auth']}" in text

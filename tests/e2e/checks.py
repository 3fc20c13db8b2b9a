"""Failure detectors of the e2e run: what a page or HA's log must never show.

Pure functions over text (no browser, no HA): tests/e2e/run.py applies them to the
text of every page it visits (``page_problems``), to the open dialog
(``dialog_problems``) and to HA's log at the end (``log_problems``).
"""

from __future__ import annotations

from collections.abc import Iterable
import json
from pathlib import Path
import re

LOGGER_NAME = "custom_components.cellular_iot"
OUR_PATH = "custom_components/cellular_iot/"

# HA 2025.4 renders "Translation Error: ..."; 2026.2 "Translation [formatjs Error:
# MISSING_VALUE] ...".
TRANSLATION_ERROR = re.compile(
    r"Translation (?:Error|\[formatjs Error)[^\n]{0,160}", re.IGNORECASE
)
# A translation key shown as text: HA shows the key when it has no text for it.
RAW_KEY = re.compile(
    r"(?:\bcomponent\.cellular_iot\.[\w.]+"
    r"|(?<![\w.])(?:config|options|config_subentries)\.(?:step|error|abort|create_entry"
    r"|progress|initiate_flow)\.[\w.]+"
    r"|(?<![\w.])ui\.(?:panel|dialogs|components|common|errors|card)\.[\w.]+"
    r"|\[%key:[^%\]]*%\])"
)
# A number validator's own English (voluptuous), with the float HA's number selector
# makes of a whole number: "Value 70000.0 is too large".
VALUE_N0 = re.compile(r"\bValue -?\d+\.0\b(?: is too (?:large|small))?")
# Other untranslated voluptuous messages that reach a form as its error.
VOLUPTUOUS = re.compile(
    r"\b(?:expected (?:int|float|str|bool|a dictionary)|for dictionary value"
    r"|extra keys not allowed|required key not provided|not a valid value)\b"
)
# A bare snake_case word in a dialog: an abort or error reason shown as its key
# ("already_in_progress"), or a field shown by its name. Words that the translations
# themselves contain (an event name, an action) are allowed (``known_words``).
SNAKE = re.compile(r"(?<![\w.\-/:{@%=?&#])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w.\-/}(])")

# Where a record of HA's log starts (a traceback's lines belong to the record above).
RECORD_START = re.compile(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def known_words(repo: Path) -> set[str]:
    """The snake_case words the integration's own texts (and action names) contain."""
    words: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)
        elif isinstance(node, str):
            words.update(SNAKE.findall(node))

    component = repo / "custom_components" / "cellular_iot"
    visit(json.loads((component / "strings.json").read_text()))
    # Names that the frontend shows as written (the domain, event types, actions).
    for line in (component / "services.yaml").read_text().splitlines():
        if re.match(r"^[a-z_]+:", line):
            words.add(line.split(":", 1)[0])
    words.update({"cellular_iot", "send_cloud_message", "send_sms"})
    return words


def page_problems(text: str) -> list[str]:
    """What no page may show: translation errors, raw keys, raw number messages."""
    found: list[str] = []
    for pattern, what in (
        (TRANSLATION_ERROR, "translation error"),
        (RAW_KEY, "raw translation key"),
        (VALUE_N0, "untranslated number message"),
        (VOLUPTUOUS, "untranslated validator message"),
    ):
        found.extend(
            f"{what} {match.group(0).strip()!r}" for match in pattern.finditer(text)
        )
    return found


def dialog_problems(text: str, allowed: Iterable[str]) -> list[str]:
    """A dialog shows no bare snake_case key (``already_in_progress``)."""
    allowed = set(allowed)
    return [
        f"raw key {word!r} in a dialog"
        for word in dict.fromkeys(SNAKE.findall(text))
        if word not in allowed
    ]


def log_problems(text: str, expected: Iterable[str] = ()) -> list[str]:
    """ERROR records of ours, tracebacks through our code, our translation warnings.

    ``expected``: the messages of action errors the run caused on purpose. Home
    Assistant's websocket API logs every ``HomeAssistantError`` an action raises as
    "Unexpected exception" with its traceback (through our code); the record whose
    exception is one of these messages is what the run asked for, not a problem.
    """
    found: list[str] = []
    expected = [f"homeassistant.exceptions.HomeAssistantError: {m}" for m in expected]
    for record in RECORD_START.split(text):
        head = record.split("\n", 1)[0].strip()
        last = record.strip().rsplit("\n", 1)[-1].strip()
        if "[homeassistant.components.websocket_api" in head and last in expected:
            continue
        ours = f"[{LOGGER_NAME}" in head
        level = re.search(r" (DEBUG|INFO|WARNING|ERROR|CRITICAL) ", head)
        name = level.group(1) if level else ""
        if name in ("ERROR", "CRITICAL") and (ours or OUR_PATH in record):
            found.append(f"{name} in HA's log: {head}")
        elif "Traceback (most recent call last)" in record and (
            ours or OUR_PATH in record
        ):
            found.append(f"traceback through our code in HA's log: {head}")
        elif (
            "homeassistant.helpers.translation" in head
            and "cellular_iot" in record
            and name in ("WARNING", "ERROR")
        ):
            found.append(f"translation problem in HA's log: {head}")
    return found

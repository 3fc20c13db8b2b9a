"""Every text the docs quote as the integration's own is what the integration says.

The README and docs/*.md quote the integration's messages: in "…" in the prose
(`fails with "Give exactly one of Data or Base64 data."`), in headings, and in the
message column of error tables (a column "Text" or "Message" beside "When", "Cause",
"Failure" or "Error"; a cell without quotes is quoted as a whole). Each such quote
must be one of the texts of strings.json (the action errors under ``exceptions``,
the form errors and aborts, repair issues, labels …), matched as a whole:

- a ``{placeholder}`` of strings.json stands for an example value in the quote
  ("got 70000", "Hologram Fleet Ltd is an account …"), or for a marker;
- in a quote, a `<marker>` and a "…" (or "...") inside it stand for one placeholder
  ("(HTTP `<status>`)", "(…)"); a "…" at the start or the end leaves out the rest
  of the message there ("… the provider failed (…)."), and a word or two next to
  it must be the message's own words, not a value;
- a final "." may be left out (a quote inside a sentence), whitespace is one space,
  and backticks in a quote are formatting, not text.

A quote that is not the integration's words (what a user says to Assist, a
provider's documentation, Home Assistant's own texts) is listed in ``NOT_OURS`` with
whose words they are; a quote of one word is a value or a label and is not checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
import json
from pathlib import Path
import re
from typing import Any

import pytest

from custom_components.cellular_iot.const import DOMAIN

ROOT = Path(__file__).parent.parent
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
STRINGS = json.loads((ROOT / "custom_components" / DOMAIN / "strings.json").read_text())

# Quotes in the docs that are not the integration's words, with whose they are.
_USER = "what a user says or asks for"
_HA = "Home Assistant's own text"
_HOLOGRAM = "Hologram's words (its docs, dashboard or SDK)"
_EMNIFY = "emnify's words (its docs or portal)"
_MONOZ = "monoZ's words (its docs or broker)"
_ONENCE = "1NCE's words (its docs or portal)"
_EXAMPLE = "an example the docs make up"
NOT_OURS: dict[str, str] = {
    "Quota used up": _ONENCE,
    "when the van tracker reports, notify me": _USER,
    "send open to the gate tracker": _USER,
    "what did the gate tracker say?": _USER,
    "what is the gate tracker last message": _USER,
    "send open to the van tracker": _USER,
    "Hey, run Ping the van": _USER,
    "when the van tracker sends a message": _USER,
    "send {message} to {name}": "a sentence template of the Assist sentence file",
    "icon not available": _HA,
    "Translation Error": _HA,
    "Message detected an event": _HA,
    "turn off all switches": _USER,
    "turn off Gate tracker SIM active": _USER,
    "message might be fine": _HOLOGRAM,
    "the account": _EXAMPLE,
    "List devices": _HOLOGRAM,
    "Device Link": _HOLOGRAM,
    "UTC timestamp when the current billing period ends": _HOLOGRAM,
    "unique 30-day billing period": _HOLOGRAM,
    "last completed network session": _HOLOGRAM,
    "LIVE, PAUSED, DEAD": _HOLOGRAM,
    "Pause and resume SIMs": _HOLOGRAM,
    "Paused by system SIM status": _HOLOGRAM,
    "limited to certain legacy contracted organizations": _HOLOGRAM,
    "Routes functionality is limited to certain legacy accounts": _HOLOGRAM,
    "List Data Engine Messages": _HOLOGRAM,
    "How to send and receive SMS via the API": _HOLOGRAM,
    "Custom Webhook URL": _HOLOGRAM,
    "SMS Events": _EMNIFY,
    "a JSON collection instead of an individual event or usage data record": _EMNIFY,
    "at intervals": _EMNIFY,
    "Organisation blocked": _EMNIFY,
    "SMS callbacks": _EMNIFY,
    "reply only": _EXAMPLE,
    "Listener TCP 4010": "a device name the listener entry makes from its settings",
    "who am I": _MONOZ,
    "ICCID not found": _MONOZ,
    "monoZ:Link use MQTT protocol to recieve data from its registered device … "
    "Broker setting data.monoz.io:1883": _MONOZ,
    "Since the 1NCE network and monoZ:Link are connected by private communication, "
    "high security is ensured when sending data from the device without using "
    "security protocols such as TLS": _MONOZ,
    "The service provides closed network security on the source side": _MONOZ,
    "Even in the case of incorrect ORGID/ICCID, data publish shall be acknowledged "
    "by the broker. However it shall be immediately discarded without further "
    "processing": _MONOZ,
    "bad user name or password": _MONOZ,
    "not authorized": _MONOZ,
    "clean session": _MONOZ,
    "Send data from IoT device to monoZ:Link": _MONOZ,
    "Send data from monoZ:Link to IoT Device": _MONOZ,
    "Level1, level4 are optional levels that can be defined by the user": _MONOZ,
    "Get Raw Data": _MONOZ,
    "Status of the SIM/Device. A SIM can be enabled (active) or disabled "
    "(deactivated)": _MONOZ,
}

_FENCE = re.compile(r"^\s*(```|~~~)")
_BLOCK_START = re.compile(r"^(\||#{1,6}\s|[-*+]\s|\d+\.\s|>)")
_TABLE_RULE = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_MESSAGE_COLUMNS = {"Text", "Message"}
_CAUSE_COLUMNS = {"When", "Cause", "Failure", "Error"}
_QUOTE_MARKS = '"“”'
_PLACEHOLDER = re.compile(r"\{\w+\}")
_ELISION = re.compile(r"…|\.\.\.")
_MARKER = re.compile(r"<[A-Za-z][\w .-]*>")

# A pattern is a tuple of items: a character; None, a wildcard (a placeholder of
# strings.json, or "…" in a quote); or MARKER, a `<marker>` in a quote, which is one
# placeholder (and not a part left out, even at the end).
MARKER = "<>"
Pattern = tuple[str | None, ...]


@dataclass(frozen=True)
class Claim:
    """A text a page quotes as the integration's."""

    page: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


def _blocks(text: str) -> Iterator[tuple[str, list[int]]]:
    """The prose blocks of a page outside fenced code: a paragraph or list item
    joined into one line (a quote may be wrapped), a table row or a heading alone;
    with the page's line number of each character."""
    text_parts: list[str] = []
    lines: list[int] = []
    fence: str | None = None

    def flush() -> Iterator[tuple[str, list[int]]]:
        if text_parts:
            yield " ".join(text_parts), lines.copy()
        text_parts.clear()
        lines.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        match = _FENCE.match(raw)
        if match:
            yield from flush()
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        line = raw.strip()
        if fence is not None:
            continue
        if not line or _BLOCK_START.match(line):
            yield from flush()
        if not line:
            yield "", []  # a blank line ends a table
            continue
        if text_parts:
            lines.append(number)  # the joining space
        text_parts.append(line)
        lines.extend([number] * len(line))
        if line.startswith(("|", "#")):
            yield from flush()
    yield from flush()


def _quotes(block: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each "…" in a block; a `code span` is text inside a quote
    and is skipped outside one (`"AQID"` in code is a value, not a quote)."""
    start: int | None = None
    quoted: list[str] = []
    i = 0
    while i < len(block):
        char = block[i]
        if char == "`":
            run = re.match(r"`+", block[i:])
            assert run is not None
            end = block.find(run.group(), i + len(run.group()))
            end = len(block) if end == -1 else end
            if start is not None:
                quoted.append(block[i + len(run.group()) : end])
            i = end + len(run.group())
            continue
        if char in _QUOTE_MARKS:
            if start is None:
                start, quoted = i, []
            else:
                yield start, "".join(quoted)
                start = None
        elif start is not None:
            quoted.append(char)
        i += 1


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def claims(page: Path, root: Path = ROOT) -> list[Claim]:
    """Every text the page quotes as the integration's, with its line."""
    found: list[Claim] = []
    name = str(page.relative_to(root))
    message_column: int | None = None
    previous = ""
    for block, lines in _blocks(page.read_text()):
        if _TABLE_RULE.match(block):
            header = _cells(previous)
            message_column = next(
                (
                    index
                    for index, cell in enumerate(header)
                    if cell in _MESSAGE_COLUMNS and set(header) & _CAUSE_COLUMNS
                ),
                None,
            )
            previous = block
            continue
        if not block.startswith("|"):
            message_column = None
        previous = block
        if not block:
            continue
        quotes = [
            Claim(name, lines[offset], " ".join(text.split()))
            for offset, text in _quotes(block)
        ]
        found.extend(quotes)
        if message_column is not None and not quotes:
            cell = _cells(block)[message_column]
            found.append(Claim(name, lines[0], " ".join(cell.replace("`", "").split())))
    return [claim for claim in found if " " in claim.text]


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    else:
        yield path, node


def _pattern(text: str, placeholder: re.Pattern[str] | None = None) -> Pattern:
    """The items of a text of strings.json (its placeholders ``placeholder``), or
    of a quote; the final '.' dropped (a quote may end before the full stop)."""
    text = " ".join(text.split()).removesuffix(".")
    out: list[str | None] = []
    position = 0
    wildcards = (
        [(match, None) for match in placeholder.finditer(text)]
        if placeholder
        else [(match, None) for match in _ELISION.finditer(text)]
        + [(match, MARKER) for match in _MARKER.finditer(text)]
    )
    for match, item in sorted(wildcards, key=lambda found: found[0].start()):
        out.extend(text[position : match.start()])
        out.append(item)
        position = match.end()
    out.extend(text[position:])
    return tuple(out)


# Word characters a quote must match in the text's own words next to a part it
# leaves out, before (or after) a placeholder's value: a word or two.
_ANCHOR = 5


def quotes_text(quote: Pattern, text: Pattern) -> bool:
    """Whether a quote (its wildcards None) can be the text (its placeholders None).

    A wildcard at the start or end of the quote leaves out any part of the text
    there; one inside the quote stands for one placeholder. A placeholder stands for
    a value of one or more of the quote's characters, or for one wildcard. Next to
    a part left out, a word or two of the quote must match the text's own words
    before a value may begin, or after the last one ends: "… is not an ICCID" is no
    "{provider} refused this {credential}" with "is not an ICCID" as the credential.
    """
    lead = bool(quote) and quote[0] is None
    trail = len(quote) > 1 and quote[-1] is None
    body = list(quote[1 if lead else 0 : len(quote) - 1 if trail else len(quote)])
    # The spaces between a part left out and the rest: "… not sent".
    while lead and body and body[0] == " ":
        body.pop(0)
    while trail and body and body[-1] == " ":
        body.pop()
    if not (lead or _same_start(body, text)) or not (
        trail or _same_start(body[::-1], text[::-1])
    ):
        return False
    end = len(text)
    # A state: (next item of the text, inside a value, word characters matched
    # since the last value ended, word characters matched since the start).
    states: set[tuple[int, bool, int, int]] = (
        {(j, False, _ANCHOR, 0) for j in range(end)}
        if lead and body
        else {(0, False, _ANCHOR, _ANCHOR)}
    )
    for item in body:
        following: set[tuple[int, bool, int, int]] = set()
        for j, in_value, since_value, since_start in states:
            target = text[j] if j < end else ""
            if item is None or item == MARKER:
                if not in_value and target is None:
                    following.add((j + 1, False, since_value, since_start))
            elif in_value:
                following.add((j, True, 0, since_start))
            elif target == item:
                word = int(item.isalnum())
                following.add(
                    (
                        j + 1,
                        False,
                        min(since_value + word, _ANCHOR),
                        min(since_start + word, _ANCHOR),
                    )
                )
            elif target is None and since_start >= _ANCHOR:
                following.add((j, True, 0, since_start))
        # A value may end after any of its characters.
        states = following | {
            (j + 1, False, since_value, since_start)
            for j, in_value, since_value, since_start in following
            if in_value
        }
        if not states:
            return False
    return any(
        not in_value
        and (j == end or (trail and since_value >= _ANCHOR))
        and since_start >= (_ANCHOR if lead and trail else 0)
        for j, in_value, since_value, since_start in states
    )


def _same_start(one: Sequence[str | None], other: Sequence[str | None]) -> bool:
    """False when the fixed starts of two patterns differ (a quick refusal)."""
    for a, b in zip(one, other, strict=False):
        if a is None or b is None or a == MARKER:
            return True
        if a != b:
            return False
    return True


TEXTS: list[tuple[str, Pattern]] = [
    (key, _pattern(text, _PLACEHOLDER)) for key, text in _leaves(STRINGS)
]


def matching_keys(claim: str) -> list[str]:
    """The keys of strings.json whose text the quote can be."""
    quoted = _pattern(claim)
    return [key for key, text in TEXTS if quotes_text(quoted, text)]


def mismatches(pages: tuple[Path, ...] = PAGES) -> list[str]:
    return [
        str(claim)
        for page in pages
        for claim in claims(page)
        if claim.text not in NOT_OURS and not matching_keys(claim.text)
    ]


def test_every_quoted_text_is_what_the_integration_says() -> None:
    checked = [claim for page in PAGES for claim in claims(page)]
    assert len(checked) > 60  # the pages were read and their quotes found
    wrong = mismatches()
    assert not wrong, "quoted, but not what the integration says:\n" + "\n".join(wrong)


def test_the_action_errors_the_docs_quote_are_checked() -> None:
    """The quotes of docs/actions.md's error lists and tables are among the
    claims, and match the exceptions they quote."""
    found = {claim.text: claim for claim in claims(ROOT / "docs" / "actions.md")}
    for text, key in (
        ("Give exactly one of Data or Base64 data.", "exceptions.data_exclusive"),
        (
            "No cellular_iot config entry has the ID <id>.",
            "exceptions.entry_not_found",
        ),
        ("… the provider failed (…).", "exceptions.provider_error"),
        (
            "Hologram did not accept the data for the device webhook (HTTP <status>).",
            "exceptions.webhook_failed",
        ),
    ):
        assert text in found
        assert f"{key}.message" in matching_keys(text)


def test_not_ours_lists_only_quotes_the_docs_make() -> None:
    quoted = {claim.text for page in PAGES for claim in claims(page)}
    assert set(NOT_OURS) <= quoted
    # None of them is in fact one of ours (then it would be checked).
    assert [text for text in NOT_OURS if matching_keys(text)] == []


def test_every_text_has_words_of_its_own() -> None:
    """A text that is only placeholders would match any quote."""
    for key, text in TEXTS:
        assert any(item is not None and item.isalpha() for item in text), key


@pytest.mark.parametrize(
    ("quote", "text", "same"),
    [
        ("Port must be 1 to 9; got 70000.", "Port must be 1 to 9; got {value}.", True),
        ("Port must be 1 to 9; got 70000", "Port must be 1 to 9; got {value}.", True),
        ("… the provider failed (…).", "{title}: the provider failed ({e}).", True),
        ("The entry <title> is not loaded.", "The entry {title} is not loaded.", True),
        (
            "… not sent. The outbox is full …",
            "{t}: not sent. The outbox is full.",
            True,
        ),
        ("Give exactly one of data or x.", "Give exactly one of Data or x.", False),
        ("… is not an ICCID", "{value} is not an ICCID (10 to 22 digits).", False),
        ("The message needs N parts.", "The message needs {parts} parts. Cut.", False),
        (
            "2 is not allowed for qos",
            "{value} is not allowed for {field}; use …",
            False,
        ),
        (
            "The topic … must be empty",
            "The topic {v} must be empty or start with /.",
            False,
        ),
        ("… is not an ICCID", "{provider} refused this {credential}.", False),
        ("… has no MQTT broker", "This one has {length}.", False),
        ("The entry <title>", "The entry {title} is not loaded.", False),
        (
            "… is not a device of …",
            "{device} is not a device of {title}. Add it.",
            True,
        ),
        ("Hologram Fleet Ltd is an account.", "{name} is an account.", True),
    ],
)
def test_a_quote_matches_as_a_whole(quote: str, text: str, same: bool) -> None:
    assert quotes_text(_pattern(quote), _pattern(text, _PLACEHOLDER)) is same


def test_quotes_tables_and_wrapped_lines_are_found(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "page.md"
    page.write_text(
        "# Page\n\n"
        'It fails with "Give exactly one\nof Data or Base64 data." and then\n'
        '"`<title>` sends SMS" at once. `"AQID"` is code, "one" is a word.\n\n'
        "```yaml\n"
        'message: "Not a quote in a code block"\n'
        "```\n\n"
        "| Text | When |\n"
        "|---|---|\n"
        "| The entry `<title>` is not loaded. | Never. |\n\n"
        "| Text | Encoding |\n"
        "|---|---|\n"
        "| Not a message | GSM-7 |\n\n"
        '### "… at most 10240 bytes are allowed"\n'
    )
    found = [str(claim) for claim in claims(page, tmp_path)]
    assert found == [
        "docs/page.md:3: Give exactly one of Data or Base64 data.",
        "docs/page.md:5: <title> sends SMS",
        "docs/page.md:13: The entry <title> is not loaded.",
        "docs/page.md:19: … at most 10240 bytes are allowed",
    ]

"""Every relative link in the README and docs/*.md leads somewhere.

A link to a file needs the file; a link with an #anchor needs a heading with that
slug in the target, by GitHub's rules: the heading's text in lower case, every
character that is not a letter, digit, space, '-' or '_' dropped, spaces turned into
'-', and a repeated slug numbered -1, -2 … Links in code (fenced blocks and `spans`)
are not links; absolute URLs (https:, mailto: …) are not checked.
"""

from __future__ import annotations

from pathlib import Path
import re

ROOT = Path(__file__).parent.parent
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+).*?\1")
_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor the headings of a page make, repeats numbered."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _prose(text):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images of a page, outside code."""
    targets: list[str] = []
    for line in _prose(text):
        targets.extend(_LINK.findall(_CODE_SPAN.sub("", line)))
    return targets


def broken_links(page: Path) -> list[str]:
    """'page: target (why)' for every relative link of a page that leads nowhere."""
    broken: list[str] = []
    for target in links(page.read_text()):
        if not target or _SCHEME.match(target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{page.name}: {target} (no such file)")
        elif (
            anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text())
        ):
            broken.append(f"{page.name}: {target} (no such heading in {dest.name})")
    return broken


def test_every_relative_link_and_anchor_resolves() -> None:
    assert (ROOT / "docs").is_dir()
    checked = [target for page in PAGES for target in links(page.read_text())]
    assert len(checked) > 50  # the pages were read, and they link to each other
    broken = [entry for page in PAGES for entry in broken_links(page)]
    assert broken == []


def test_the_readme_links_every_docs_page() -> None:
    linked = {
        (ROOT / target.partition("#")[0]).resolve()
        for target in links((ROOT / "README.md").read_text())
        if target.startswith("docs/")
    }
    assert set(PAGES[1:]) <= linked


def test_slugs_follow_github() -> None:
    assert slug("`cellular_iot.send_cloud_message`") == "cellular_iotsend_cloud_message"
    assert slug("Choosing the entry: `config_entry_id`") == (
        "choosing-the-entry-config_entry_id"
    )
    assert slug("When a provider is down: the outbox") == (
        "when-a-provider-is-down-the-outbox"
    )
    assert slug('"… at most 10240 bytes are allowed"') == (
        "-at-most-10240-bytes-are-allowed"
    )
    assert anchors("# A\n## A\n```\n# A\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Real heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#real-heading) [ok](#page) [web](https://example.com/x#y)\n"
        "[gone](missing.md) [bad](other.md#no-heading) [bad](#nowhere)\n"
        "`[code](missing.md)`\n```\n[fenced](missing.md)\n```\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#no-heading (no such heading in other.md)",
        "page.md: #nowhere (no such heading in page.md)",
    ]

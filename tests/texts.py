"""Format translations as the frontend does, to catch a "Translation Error" in tests."""

from __future__ import annotations

import re
from typing import Any


class MissingPlaceholderError(AssertionError):
    """A text needs a placeholder the flow did not pass."""


def icu_format(text: str, placeholders: dict[str, Any]) -> str:
    """Format ``text`` as the frontend's intl-messageformat does with simple arguments.

    ``{name}`` needs ``name`` in ``placeholders``; an apostrophe before ``{`` or
    ``}`` quotes up to the next apostrophe, and ``''`` is one apostrophe; ``<x``
    opens a rich-text tag, which our texts must not contain (hassfest refuses HTML
    too). Anything else (plural/select arguments, unbalanced braces) fails.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            if text[i + 1 : i + 2] == "'":
                out.append("'")
                i += 2
                continue
            if text[i + 1 : i + 2] in ("{", "}"):
                end = text.find("'", i + 1)
                assert end != -1, f"unterminated quote in {text!r}"
                out.append(text[i + 1 : end])
                i = end + 1
                continue
        if char == "{":
            end = text.find("}", i)
            assert end != -1, f"unbalanced {{ in {text!r}"
            name = text[i + 1 : end].strip()
            assert name.isidentifier(), f"not a simple argument {name!r} in {text!r}"
            if name not in placeholders:
                raise MissingPlaceholderError(
                    f"{name} was not provided for {text!r} (got {sorted(placeholders)})"
                )
            out.append(str(placeholders[name]))
            i = end + 1
            continue
        assert char != "}", f"unbalanced }} in {text!r}"
        assert not (char == "<" and re.match(r"[A-Za-z/]", text[i + 1 : i + 2])), (
            f"a rich-text tag in {text!r}"
        )
        out.append(char)
        i += 1
    return "".join(out)

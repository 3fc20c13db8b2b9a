"""The recorded-traffic layer itself: every file names its source and loads."""

from __future__ import annotations

import pytest

from . import recorded

FILES = recorded.all_files()


def test_there_are_recordings_of_every_provider() -> None:
    providers = {path.parent.name for path in FILES}
    assert {"emnify", "hologram", "monoz"} <= providers


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_recording_names_its_source_and_loads(path: object) -> None:
    assert hasattr(path, "parent")
    rec = recorded.load(path.parent.name, path.name)  # type: ignore[attr-defined]
    assert rec.source
    assert rec.interactions

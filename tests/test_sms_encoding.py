"""SMS encoding for emnify: alphabet choice, splitting and concatenation headers."""

from __future__ import annotations

import itertools
import math
import re

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.cellular_iot.providers.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsPart,
    SmsTooLongError,
    encode_sms,
    sms_length,
)

GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION
UDH_RE = re.compile(r"^050003[0-9A-F]{6}$")

PROPERTY_SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    # The Home Assistant plugin's autouse fixtures are function scoped; none of them
    # is touched by these pure functions, so sharing them between examples is fine.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

any_text = st.text(min_size=1)
gsm7_text = st.text(alphabet=sorted(GSM7_ALL), min_size=1, max_size=1600)
emoji_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(["😀", "🎉", "𝄞", "👍", "ж", "€", "a", " ", "{"]),
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
    ),
    min_size=1,
    max_size=800,
)
texts = st.one_of(any_text, gsm7_text, emoji_text)


def septets(text: str) -> int:
    """GSM-7 length counted independently of the module."""
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def utf16_units(text: str) -> int:
    """UTF-16 length counted by the codec."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def check_parts(text: str, parts: list[SmsPart]) -> None:
    """Every invariant of a successful encoding."""
    assert parts
    assert "".join(part.payload for part in parts) == text
    assert all(part.payload for part in parts)

    is_gsm7 = all(char in GSM7_ALL for char in text)
    cost = septets if is_gsm7 else utf16_units
    single, per_part = (160, 153) if is_gsm7 else (70, 67)
    # The cheapest valid encoding: GSM-7 whenever every character allows it.
    assert {part.dcs for part in parts} == {None if is_gsm7 else 8}
    assert sms_length(text) == ("gsm7" if is_gsm7 else "ucs2", cost(text))

    if cost(text) <= single:
        assert parts == [SmsPart(payload=text, dcs=parts[0].dcs, udh=None)]
        return

    assert len(parts) >= 2
    assert all(cost(part.payload) <= per_part for part in parts)
    # Fewest parts: each part but the last is too full to take the next character.
    for part, following in itertools.pairwise(parts):
        assert cost(part.payload) + cost(following.payload[0]) > per_part
    assert math.ceil(cost(text) / per_part) <= len(parts)
    assert len(parts) <= math.ceil(cost(text) / (per_part - 1))

    headers = [part.udh for part in parts]
    assert all(udh is not None and UDH_RE.match(udh) for udh in headers)
    udhs = [udh for udh in headers if udh is not None]
    assert len({udh[6:8] for udh in udhs}) == 1
    assert all(int(udh[8:10], 16) == len(parts) for udh in udhs)
    assert [int(udh[10:12], 16) for udh in udhs] == list(range(1, len(parts) + 1))


@PROPERTY_SETTINGS
@given(text=texts)
def test_parts_reassemble_and_fit(text: str) -> None:
    parts = encode_sms(text, max_parts=255)
    check_parts(text, parts)


@PROPERTY_SETTINGS
@given(text=texts, max_parts=st.integers(min_value=1, max_value=12))
def test_too_long_raised_exactly_when_needed(text: str, max_parts: int) -> None:
    needed = len(encode_sms(text, max_parts=255))
    if needed > max_parts:
        with pytest.raises(SmsTooLongError) as err:
            encode_sms(text, max_parts=max_parts)
        assert err.value.parts == needed
        assert err.value.max_parts == max_parts
    else:
        check_parts(text, encode_sms(text, max_parts=max_parts))


@PROPERTY_SETTINGS
@given(text=gsm7_text)
def test_gsm7_text_always_uses_gsm7(text: str) -> None:
    parts = encode_sms(text, max_parts=255)
    assert all(part.dcs is None for part in parts)
    assert sms_length(text) == ("gsm7", septets(text))


@PROPERTY_SETTINGS
@given(text=texts, reference=st.integers(min_value=0, max_value=255))
def test_given_reference_is_used(text: str, reference: int) -> None:
    parts = encode_sms(text, max_parts=255, reference=reference)
    if len(parts) > 1:
        assert {part.udh[6:8] for part in parts if part.udh} == {f"{reference:02X}"}


def test_160_gsm7_chars_fit_one_sms() -> None:
    assert encode_sms("a" * 160) == [SmsPart(payload="a" * 160, dcs=None, udh=None)]


def test_161_gsm7_chars_take_two_parts() -> None:
    parts = encode_sms("a" * 161, reference=0xCC)
    assert parts == [
        SmsPart(payload="a" * 153, dcs=None, udh="050003CC0201"),
        SmsPart(payload="a" * 8, dcs=None, udh="050003CC0202"),
    ]


def test_extension_chars_cost_two_septets() -> None:
    assert sms_length("€" * 80) == ("gsm7", 160)
    assert encode_sms("€" * 80) == [SmsPart(payload="€" * 80, dcs=None, udh=None)]
    assert len(encode_sms("€" * 81)) == 2


def test_accented_latin_is_gsm7() -> None:
    assert sms_length("é" * 70) == ("gsm7", 70)
    assert encode_sms("é" * 71)[0].dcs is None


def test_70_ucs2_chars_fit_one_sms() -> None:
    assert encode_sms("ж" * 70) == [SmsPart(payload="ж" * 70, dcs=8, udh=None)]


def test_71_ucs2_chars_take_two_parts() -> None:
    parts = encode_sms("ж" * 71, reference=7)
    assert parts == [
        SmsPart(payload="ж" * 67, dcs=8, udh="0500030702" + "01"),
        SmsPart(payload="ж" * 4, dcs=8, udh="0500030702" + "02"),
    ]


def test_surrogate_pair_at_boundary_stays_whole() -> None:
    # 66 units, then an emoji needing units 67 and 68: it moves to the second part.
    text = "ж" * 66 + "😀" + "ж" * 10
    assert sms_length(text) == ("ucs2", 78)
    parts = encode_sms(text)
    assert [part.payload for part in parts] == ["ж" * 66, "😀" + "ж" * 10]
    assert utf16_units(parts[0].payload) == 66


def test_extension_char_at_boundary_stays_whole() -> None:
    # 152 septets, then "€" needing septets 153 and 154: it moves to the second part.
    text = "a" * 152 + "€" + "b" * 10
    assert sms_length(text) == ("gsm7", 164)
    parts = encode_sms(text)
    assert [part.payload for part in parts] == ["a" * 152, "€" + "b" * 10]
    assert all(part.dcs is None for part in parts)


def test_extension_char_filling_the_part_exactly() -> None:
    text = "a" * 151 + "€" + "b"
    parts = encode_sms(text + "c" * 10)
    assert parts[0].payload == text[:-1]
    assert parts[1].payload == "b" + "c" * 10


def test_one_non_gsm7_char_switches_to_ucs2() -> None:
    parts = encode_sms("a" * 100 + "ж")
    assert len(parts) == 2
    assert all(part.dcs == 8 for part in parts)


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="text"):
        encode_sms("")


def test_too_long_text_is_refused() -> None:
    assert len(encode_sms("a" * 153 * 10)) == 10
    with pytest.raises(SmsTooLongError) as err:
        encode_sms("a" * (153 * 10 + 1))
    assert err.value.parts == 11
    assert err.value.max_parts == 10
    assert isinstance(err.value, ValueError)


def test_max_parts_one_allows_only_a_single_sms() -> None:
    assert len(encode_sms("a" * 160, max_parts=1)) == 1
    with pytest.raises(SmsTooLongError):
        encode_sms("a" * 161, max_parts=1)


@pytest.mark.parametrize("max_parts", [0, 256])
def test_max_parts_out_of_range(max_parts: int) -> None:
    with pytest.raises(ValueError, match="max_parts"):
        encode_sms("hello", max_parts=max_parts)


@pytest.mark.parametrize("reference", [-1, 256])
def test_reference_out_of_range(reference: int) -> None:
    with pytest.raises(ValueError, match="reference"):
        encode_sms("hello", reference=reference)


def test_random_reference_is_shared_by_all_parts() -> None:
    parts = encode_sms("x" * 500)
    assert len(parts) == 4
    assert len({part.udh[6:8] for part in parts if part.udh}) == 1


def test_alphabets() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points, 0x1B being the escape
    assert "\x1b" not in GSM7_BASIC
    assert frozenset("^{}\\[~]|€\f") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert {"@", "£", "Δ", "¤", "¡", "§", "¿", "à", "\n", "\r", " "} <= GSM7_BASIC
    assert "`" not in GSM7_ALL

"""Split SMS text into the parts the emnify "Send SMS to an endpoint" call takes.

Plain Python with no Home Assistant or third-party imports. The emnify API takes the
message as text (``payload``) and does the encoding itself; this module only decides
which alphabet the message needs (``dcs``), how many SMS it takes and, for a long
message, the concatenation header of each part (``udh``, 3GPP TS 23.040).

* GSM 7-bit default alphabet (3GPP TS 23.038): 160 septets in one SMS, 153 per part of
  a concatenated message. Characters of the extension table cost two septets (an
  escape and the character) and are never split across parts.
* UCS-2 (``dcs`` 8): 70 UTF-16 code units in one SMS, 67 per part. A character
  outside the Basic Multilingual Plane costs two units (a surrogate pair) and is never
  split across parts.
"""

from __future__ import annotations

from dataclasses import dataclass
import random
import re
from typing import Final

GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x1B (escape to the extension table) is not a character
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet: each character costs one septet."""

GSM7_EXTENSION: frozenset[str] = frozenset("^{}\\[~]|€\f")
"""The GSM 03.38 extension table: each character costs two septets (escape + char)."""

GSM7_SINGLE_SEPTETS = 160
"""Septets in a single GSM-7 SMS."""

GSM7_PART_SEPTETS = 153
"""Septets in each part of a concatenated GSM-7 SMS (the header takes the rest)."""

UCS2_SINGLE_UNITS = 70
"""UTF-16 code units in a single UCS-2 SMS."""

UCS2_PART_UNITS = 67
"""UTF-16 code units in each part of a concatenated UCS-2 SMS."""

DCS_UCS2 = 8
"""Data coding scheme of UCS-2 (UTF-16) text."""

MAX_CONCATENATED_PARTS = 255
"""The concatenation header counts parts in one byte."""

# Phone numbers and senders; always applied with fullmatch (a trailing newline fails).
PHONE_NUMBER: Final = re.compile(r"\+?[1-9]\d{1,14}")
E164: Final = re.compile(r"\+[1-9]\d{1,14}")
ALPHANUMERIC_SENDER: Final = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")

_GSM7_ALL: frozenset[str] = GSM7_BASIC | GSM7_EXTENSION


class SmsTooLongError(ValueError):
    """The text needs more SMS parts than allowed."""

    def __init__(self, parts: int, max_parts: int) -> None:
        """Keep the number of parts needed and the number allowed."""
        super().__init__(
            f"The message needs {parts} SMS parts, more than the {max_parts} allowed"
        )
        self.parts = parts
        self.max_parts = max_parts


@dataclass(frozen=True)
class SmsPart:
    """One SMS of a message, as the emnify API takes it.

    ``payload`` is the plain text of this part, ``dcs`` is ``None`` for the GSM 7-bit
    default alphabet and 8 for UCS-2, and ``udh`` is the concatenation header in hex
    (``None`` for a message that fits one SMS).
    """

    payload: str
    dcs: int | None
    udh: str | None


def _gsm7_cost(char: str) -> int:
    """Return the septets a GSM-7 character takes."""
    return 2 if char in GSM7_EXTENSION else 1


def _ucs2_cost(char: str) -> int:
    """Return the UTF-16 code units a character takes."""
    return 2 if ord(char) > 0xFFFF else 1


def _is_gsm7(text: str) -> bool:
    """Tell whether every character of the text is in the GSM 7-bit alphabet."""
    return all(char in _GSM7_ALL for char in text)


def sms_length(text: str) -> tuple[str, int]:
    """Return the encoding the text needs and its length in that encoding.

    ``("gsm7", septets)`` when every character is in the GSM 7-bit alphabet (extension
    characters count two), otherwise ``("ucs2", UTF-16 code units)``.
    """
    if _is_gsm7(text):
        return "gsm7", sum(_gsm7_cost(char) for char in text)
    return "ucs2", sum(_ucs2_cost(char) for char in text)


def _split(text: str, capacity: int, *, gsm7: bool) -> list[str]:
    """Cut the text into consecutive slices that each cost at most ``capacity``.

    Filling each slice as far as it goes gives the fewest slices, and a character is
    never cut because each one is placed whole.
    """
    cost_of = _gsm7_cost if gsm7 else _ucs2_cost
    slices: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(text):
        cost = cost_of(char)
        if used + cost > capacity:
            slices.append(text[start:index])
            start = index
            used = 0
        used += cost
    slices.append(text[start:])
    return slices


def encode_sms(
    text: str, *, max_parts: int = 10, reference: int | None = None
) -> list[SmsPart]:
    """Split the text into the SMS parts to send, in order.

    GSM 7-bit is used whenever every character allows it, as it is the cheaper
    encoding; otherwise UCS-2. A message that does not fit one SMS is split into
    concatenated parts that share one message reference (``reference``, or a random
    one from 0 to 255), each with the header ``050003`` + reference + total + sequence
    number in hex. Joining the payloads gives back the text.

    Raise ``ValueError`` for empty text or an argument out of range, and
    ``SmsTooLongError`` when the text needs more than ``max_parts`` parts.
    """
    if not text:
        raise ValueError("An SMS needs some text")
    if not 1 <= max_parts <= MAX_CONCATENATED_PARTS:
        raise ValueError(
            f"max_parts must be from 1 to {MAX_CONCATENATED_PARTS}, not {max_parts}"
        )
    if reference is not None and not 0 <= reference <= 0xFF:
        raise ValueError(f"reference must be from 0 to 255, not {reference}")

    encoding, length = sms_length(text)
    gsm7 = encoding == "gsm7"
    dcs = None if gsm7 else DCS_UCS2
    single = GSM7_SINGLE_SEPTETS if gsm7 else UCS2_SINGLE_UNITS
    if length <= single:
        return [SmsPart(payload=text, dcs=dcs, udh=None)]

    slices = _split(text, GSM7_PART_SEPTETS if gsm7 else UCS2_PART_UNITS, gsm7=gsm7)
    total = len(slices)
    if total > max_parts:
        raise SmsTooLongError(total, max_parts)
    ref = random.randrange(256) if reference is None else reference
    return [
        SmsPart(payload=part, dcs=dcs, udh=f"050003{ref:02X}{total:02X}{seq:02X}")
        for seq, part in enumerate(slices, start=1)
    ]

"""The messages a Hologram account's devices sent, as the REST API lists them.

``GET /api/1/csr/rdm`` ("List Data Engine Messages": hologram-io/rest-api-docs
``apiary.apib``; docs.hologram.io lists the same as ``GET /api/1/csr/data``, whose
example links back to ``/api/1/csr/rdm/``) is how an account without Hologram
Routes (limited to certain legacy organizations) reads what its devices send.

What the sources show:
- parameters: ``deviceid`` / ``deviceids``, ``orgid``, ``limit`` (default 25),
  ``startafter`` (a record id), ``timestart`` / ``timeend`` (UNIX seconds), topic
  filters;
- the answer: ``{"success", "limit", "size", "continues", "links": {"next"},
  "lastid", "data": [record, ...]}``, newest record first; ``lastid`` is the id of
  the last record of the page and ``startafter=<lastid>`` gives the next (older)
  page;
- a record: ``id`` (number), ``logged`` ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC),
  ``expires``, ``orgid``, ``deviceid``, ``record_id`` (UUID), ``device_metadata``,
  ``tags`` and ``data``: the message as JSON text ``{"authtype", "source", "tags",
  "data" (the payload, base64), "received", "record_id", "device_id",
  "device_name"}``: the very object a route posts.

Nothing here trusts the answer: a record without a numeric id is skipped (it
cannot move the cursor), the rest is read by the delivery parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ._parse import as_count, as_time

PATH: Final = "/csr/rdm"
# Records per page asked for (the API's default is 25; the apiary's example asks 100).
PAGE_SIZE: Final = 100
_MAX_ID_DIGITS: Final = 19


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One record of the list: its numeric id, when Hologram logged it, the record."""

    id: int
    logged: datetime | None
    record: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of the list, newest record first."""

    messages: tuple[StoredMessage, ...]
    # More records follow (older ones): ask again with ``startafter=next_after``.
    continues: bool
    next_after: int | None
    # Records of the page that had no usable id (skipped).
    skipped: int = 0


def _record_id(value: Any) -> int | None:
    number = as_count(value)
    return number if number is not None and len(str(number)) <= _MAX_ID_DIGITS else None


def parse_page(payload: Mapping[str, Any], data: list[Any]) -> MessagePage:
    """Read a page of ``GET /csr/rdm`` (``payload``: the whole answer)."""
    messages: list[StoredMessage] = []
    skipped = 0
    for item in data:
        record_id = _record_id(item.get("id")) if isinstance(item, Mapping) else None
        if record_id is None:
            skipped += 1
            continue
        assert isinstance(item, Mapping)
        messages.append(StoredMessage(record_id, as_time(item.get("logged")), item))
    continues = payload.get("continues") is True
    next_after = _record_id(payload.get("lastid"))
    if next_after is None and messages:
        next_after = min(message.id for message in messages)
    return MessagePage(
        messages=tuple(messages),
        continues=continues and next_after is not None,
        next_after=next_after,
        skipped=skipped,
    )

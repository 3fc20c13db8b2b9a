"""Long SMS put back together from their parts (no Home Assistant imports).

A device's long SMS reaches a webhook as one delivery per part (emnify's SMS
callback: ``multi_part_info{partno, total, identifier}``), in any order and perhaps
more than once. :class:`SmsAssembler` keeps the parts of each long SMS until all have
come, then emits one message: the parts' text in part order. A long SMS whose parts
do not all come is not lost: it is emitted with what came, marked incomplete, when
the first of these happens:

- :data:`PART_TIMEOUT` seconds after its first part (a timer the caller provides);
- more than :data:`MAX_PENDING` long SMS, or :data:`MAX_PENDING_BYTES` of their text,
  are waiting: the oldest goes first;
- the caller flushes (the webhook is removed, Home Assistant stops).

A part that comes again (the provider retries a delivery) is taken once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Final

from .deliveries import InboundMessage, SmsPart

# How long the first part of a long SMS waits for the others (seconds).
PART_TIMEOUT: Final = 300.0
# Long SMS waiting for parts at once, and the text they may hold together.
MAX_PENDING: Final = 64
MAX_PENDING_BYTES: Final = 1024 * 1024

type Emit = Callable[[InboundMessage], None]
type Cancel = Callable[[], None]
# Call the action once after the delay (seconds); the answer cancels it.
type Schedule = Callable[[float, Callable[[], None]], Cancel]


@dataclass(slots=True)
class _Pending:
    total: int
    parts: dict[int, InboundMessage] = field(default_factory=dict)
    size: int = 0
    cancel: Cancel | None = None


def combine(parts: dict[int, InboundMessage], total: int) -> InboundMessage:
    """Return one message of the parts received, in part order.

    It carries the first part's ids, sender and time; ``parts`` is how many parts the
    SMS has, ``incomplete`` whether some never came (``missing_parts`` says which).
    """
    numbers = sorted(parts)
    first = parts[numbers[0]]
    missing = [number for number in range(1, total + 1) if number not in parts]
    extra = {**first.extra, "parts": total, "incomplete": bool(missing)}
    if missing:
        extra["missing_parts"] = missing
    return replace(
        first,
        payload=b"".join(parts[number].payload for number in numbers),
        extra=extra,
        part=None,
    )


class SmsAssembler:
    """Puts the parts of long SMS together; emits each long SMS once."""

    def __init__(
        self,
        emit: Emit,
        schedule: Schedule,
        *,
        timeout: float = PART_TIMEOUT,
        max_pending: int = MAX_PENDING,
        max_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        """Emit through ``emit``; time the wait with ``schedule``."""
        self._emit = emit
        self._schedule = schedule
        self._timeout = timeout
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._pending: OrderedDict[tuple[str, ...], _Pending] = OrderedDict()
        self._bytes = 0

    @property
    def pending(self) -> int:
        """How many long SMS are waiting for parts."""
        return len(self._pending)

    def add(self, message: InboundMessage) -> bool:
        """Take a part; False if this part of this SMS was taken already.

        A message that is not a part is emitted at once.
        """
        part = message.part
        if part is None:
            self._emit(message)
            return True
        pending = self._pending.get(part.key)
        if pending is None:
            pending = self._pending[part.key] = _Pending(part.total)
            pending.cancel = self._schedule(
                self._timeout, partial(self._expire, part.key)
            )
        elif part.total != pending.total:
            # Another SMS under the same identifier: the one waiting goes out as it is.
            self._finish(part.key)
            return self.add(message)
        elif part.number in pending.parts:
            return False
        pending.parts[part.number] = message
        pending.size += len(message.payload)
        self._bytes += len(message.payload)
        if len(pending.parts) == pending.total:
            self._finish(part.key)
        self._bound()
        return True

    def flush(self) -> None:
        """Emit every long SMS still waiting, as incomplete."""
        while self._pending:
            self._finish(next(iter(self._pending)))

    def _bound(self) -> None:
        while self._pending and (
            len(self._pending) > self._max_pending or self._bytes > self._max_bytes
        ):
            self._finish(next(iter(self._pending)))

    def _expire(self, key: tuple[str, ...]) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.cancel = None  # it has run
            self._finish(key)

    def _finish(self, key: tuple[str, ...]) -> None:
        pending = self._pending.pop(key)
        self._bytes -= pending.size
        if pending.cancel is not None:
            pending.cancel()
        self._emit(combine(pending.parts, pending.total))


__all__ = ["PART_TIMEOUT", "SmsAssembler", "SmsPart", "combine"]

"""The outbox: sends that failed on a passing fault are kept and retried.

An action first tries its send at once. When the provider fails in a way that a retry
can fix (HTTP 429, 5xx, a timeout, a lost connection, an MQTT broker that is down),
the send is kept in a persistent queue (HA's ``Store``, written before the action
answers ``queued``) and retried with exponential backoff and jitter, honouring
``Retry-After``, until it succeeds or the entry's age limit passes; then
``cellular_iot_send_failed`` is fired. Refused sends (400, 404, validation) are not
retried. A refused credential pauses the queue and starts re-authentication (the one
repair for it): the sends wait for the new credentials (the entry reloads).

Order: sends to the same target (device, endpoint, ICCID) leave in the order the
actions were called. A send holds its place from the moment the action is called: a
send whose target has something queued *or being sent right now* is queued behind it.

Cost: each target has a lane (its sends in order) and the sends at the head of their
lanes sit in a heap by due time, so choosing the next send is O(log n). The queue is
stored in segments of ``SEGMENT_SIZE`` sends (one ``Store`` file each, listed by a
small manifest), so a change rewrites one segment, not the whole queue. Writes are
coalesced: a send the action answers ``queued`` for is on disk before the answer;
what the retries change (a delivery, an attempt count) is written within
``SAVE_DELAY`` seconds, when the entry unloads and when Home Assistant stops. The depth
is capped (entry option, ``DEFAULT_MAX_DEPTH``): when full, a send that would be queued
is refused with an error and a repair issue, never dropped silently.

Time: while running, retry times follow the event loop's monotonic clock and the age
limit the time since boot, so a wall-clock jump neither expires the queue nor stalls
it; the wall-clock times are stored for the next start.

Semantics are at least once: a send the provider accepted but whose answer was lost
(a timeout after acceptance) can arrive twice, and so can a delivery made in the last
``SAVE_DELAY`` seconds before a crash. A refused send is never retried.
"""

from .core import Outbox
from .issues import async_remove_outbox, clear_auth_issue
from .policy import (
    CONF_OUTBOX_MAX_AGE,
    CONF_OUTBOX_MAX_DEPTH,
    DEFAULT_MAX_AGE_HOURS,
    DEFAULT_MAX_DEPTH,
    EVENT_SEND_FAILED,
    EXPIRE_BATCH,
    MAX_DEPTH_RANGE,
    MAX_ERRORS_KEPT,
    OPERATIONS,
    RETRY_JITTER,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    Operation,
    OutboxItem,
    SendState,
    is_transient,
    parse_item,
    retry_delay,
)

# The package is what the integration imports. The values read at call time
# (RETRY_MIN, RETRY_MAX, RATE_LIMIT_DELAY, STOP_TIMEOUT, SEGMENT_SIZE, SAVE_DELAY, the
# clocks) are deliberately not copied here: set them on ``outbox.policy``, the module
# every reader reads them from (a copy here would be set to no effect).
#
# The modules, each with one job (see its docstring):
#   policy       constants, clocks, retry policy, the send and its stored form, the
#                stored files' names; imports nothing else of the outbox
#   issues       the repair issues (credentials refused, outbox full), removal
#   index        lanes per target, the heaps, which send goes next
#   persistence  segments, manifest, loading, coalesced writes, flush
#   worker       the retry loop: attempts, backoff, give-up and expiry
#   core         the Outbox class: its state, submit and send now, start and stop
# They import the rest of the integration relatively (``from ..const``; TID252 is
# off for this package in pyproject.toml): mypy checks the tree as
# ``cellular_iot``, Home Assistant imports it as ``custom_components.cellular_iot``,
# and only a relative import names both.
__all__ = [
    "CONF_OUTBOX_MAX_AGE",
    "CONF_OUTBOX_MAX_DEPTH",
    "DEFAULT_MAX_AGE_HOURS",
    "DEFAULT_MAX_DEPTH",
    "EVENT_SEND_FAILED",
    "EXPIRE_BATCH",
    "MAX_DEPTH_RANGE",
    "MAX_ERRORS_KEPT",
    "OPERATIONS",
    "RETRY_JITTER",
    "STORAGE_MINOR_VERSION",
    "STORAGE_VERSION",
    "Operation",
    "Outbox",
    "OutboxItem",
    "SendState",
    "async_remove_outbox",
    "clear_auth_issue",
    "is_transient",
    "parse_item",
    "retry_delay",
]

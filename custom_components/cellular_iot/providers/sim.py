"""What a provider's API says of the SIM behind a device (no HA imports).

One shape for every provider, filled with what each one documents (see
``docs/sim.md`` for which field is confirmed and which is inferred): the coordinator
of an account refreshes a ``dict[provider_id, SimStatus]`` and the entities read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

# The SIM's state, the same words for every provider (the provider's own text is
# kept in ``SimStatus.provider_state``).
SIM_ACTIVE: Final = "active"
SIM_SUSPENDED: Final = "suspended"
SIM_PENDING: Final = "pending"
SIM_INACTIVE: Final = "inactive"
# The device has no SIM assigned (an emnify endpoint without a ``sim``).
SIM_NO_SIM: Final = "no_sim"
SIM_UNKNOWN: Final = "unknown"
SIM_STATES: Final = (
    SIM_ACTIVE,
    SIM_SUSPENDED,
    SIM_PENDING,
    SIM_INACTIVE,
    SIM_NO_SIM,
    SIM_UNKNOWN,
)

# An SMS's delivery state (emnify's SMS status ids 1-7), and "unknown".
SMS_PENDING: Final = "pending"
SMS_IN_PROGRESS: Final = "in_progress"
SMS_BUFFERED: Final = "buffered"
SMS_DELIVERED: Final = "delivered"
SMS_FAILED: Final = "failed"
SMS_EXPIRED: Final = "expired"
SMS_CANCELED: Final = "canceled"
SMS_UNKNOWN: Final = "unknown"
SMS_STATES: Final = (
    SMS_PENDING,
    SMS_IN_PROGRESS,
    SMS_BUFFERED,
    SMS_DELIVERED,
    SMS_FAILED,
    SMS_EXPIRED,
    SMS_CANCELED,
    SMS_UNKNOWN,
)
# The states after which an SMS does not change any more.
SMS_FINAL: Final = frozenset({SMS_DELIVERED, SMS_FAILED, SMS_EXPIRED, SMS_CANCELED})
# An SMS's direction (emnify's ``sms_type``): sent to the device (mobile
# terminated) or sent by it (mobile originated).
SMS_MT: Final = "MT"
SMS_MO: Final = "MO"


@dataclass(frozen=True, slots=True)
class SimStatus:
    """One SIM as its provider last described it (None: the provider did not say)."""

    provider_id: str
    """Hologram device id, emnify endpoint id, monoZ ICCID (as text)."""
    state: str
    """One of ``SIM_STATES``."""
    provider_state: str | None = None
    """The provider's own word for the state (``PAUSED-USER``, ``Suspended``, ...)."""
    online: bool | None = None
    """Whether the SIM has a data session / is attached now."""
    data_used: int | None = None
    """Bytes used in the current billing period."""
    period_start: datetime | None = None
    """When the period ``data_used`` counts from (UTC)."""
    last_session: datetime | None = None
    """When the SIM was last seen on the network (UTC)."""
    iccid: str | None = None
    imei: str | None = None
    msisdn: str | None = None
    sms_sent: int | None = None
    """SMS the device sent this period (mobile originated)."""
    sms_received: int | None = None
    """SMS the device received this period (mobile terminated)."""
    sim_id: str | None = None
    """The provider's id of the SIM itself, where pausing needs it (emnify)."""
    can_pause: bool = False
    """Whether the API can pause and resume this SIM in its present state."""
    data_remaining: int | None = None
    """Bytes left of the SIM's data quota (a provider that sells quotas: 1NCE)."""
    data_expiry: datetime | None = None
    """When that data quota expires (UTC)."""
    sms_remaining: int | None = None
    """SMS left of the SIM's SMS quota."""
    sms_expiry: datetime | None = None
    """When that SMS quota expires (UTC)."""


@dataclass(frozen=True, slots=True)
class SmsDelivery:
    """One SMS sent to a device, as the provider tracks its delivery (emnify)."""

    sms_id: str
    status: str
    """One of ``SMS_STATES``."""
    payload: str | None = None
    submitted: datetime | None = None
    final: datetime | None = None
    direction: str | None = None
    """``SMS_MT`` (sent to the device), ``SMS_MO`` (sent by it), None: not said."""

"""The SIMs of an account: how often the integration reads them; SMS followed.

What the account's coordinator (``coordinator.py``) is built from: each kind's
:class:`SimInterval` (how often its SIMs are read, chosen by the integration within
the provider's rate budget: HA core leaves no poll interval to the user; an
automation that wants fresh values calls ``homeassistant.update_entity``), and the
SMS an emnify account follows until their delivery is final (:class:`SmsTracker`,
:func:`match_sms`).

emnify tracks the delivery of each SMS: a send is answered with the SMS's id (in the
``Location`` of its 201), and the SMS is followed by that id until it is delivered,
failed, expired or canceled, from two sources: the delivery receipts emnify PATCHes
to the account's webhook (applied at once) and, as the fallback, the endpoint's SMS
list at each refresh. Only when a send came back without a usable ``Location`` is
the SMS looked for in the list by its text and time, among the SMS sent to the
device (mobile terminated, never one the device sent), which two equal texts sent
close together can confuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.util import dt as dt_util

from .providers.sim import SMS_MT, SmsDelivery

EVENT_SMS_STATUS: Final = "cellular_iot_sms_status"
# How long an SMS is followed before it is given up (emnify keeps trying for days
# unless an expiry is set; its final state after that is not awaited here).
SMS_FOLLOW_FOR: Final = timedelta(days=2)
# An SMS listed by emnify counts as ours when submitted this close to our send.
SMS_MATCH_SKEW: Final = timedelta(minutes=5)
# Most SMS followed per account at once (the oldest are dropped beyond it).
MAX_FOLLOWED_SMS: Final = 1000
# The budget of a provider's rate limit is counted per this window.
BUDGET_WINDOW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SimInterval:
    """How often a provider's SIMs are read (chosen here, never by the user).

    ``minutes`` is the interval for an account of few devices. A refresh of ``n``
    SIMs costs ``ceil(n / per_page)`` list requests (0 without a list) plus
    ``per_device * n``; with a ``budget`` (requests per :data:`BUDGET_WINDOW`), the
    interval stretches to whole windows that keep the refreshes within it.
    """

    minutes: int
    per_page: int = 0
    per_device: int = 0
    budget: int | None = None

    def requests(self, devices: int) -> int:
        """Return the requests one refresh of ``devices`` SIMs makes."""
        pages = -(-devices // self.per_page) if self.per_page else 0
        return pages + self.per_device * devices

    def for_devices(self, devices: int) -> timedelta:
        """Return the interval for an account of ``devices`` SIMs."""
        interval = timedelta(minutes=self.minutes)
        if self.budget:
            windows = -(-self.requests(devices) // self.budget)
            interval = max(interval, BUDGET_WINDOW * windows)
        return interval


@dataclass(slots=True)
class FollowedSms:
    """One SMS part sent to an endpoint, followed until its delivery is final."""

    device_id: str
    payload: str
    sent_at: datetime
    reference: dict[str, Any]
    sms_id: str | None = None
    status: str | None = None


@dataclass(slots=True)
class SmsTracker:
    """The SMS of an account whose delivery is not final yet."""

    followed: list[FollowedSms] = field(default_factory=list)
    # The last known delivery state per device (for its sensor).
    last: dict[str, FollowedSms] = field(default_factory=dict)

    def follow(
        self,
        device_id: str,
        payloads: list[str],
        reference: dict[str, Any],
        sms_ids: list[str | None] | None = None,
    ) -> None:
        """Follow the parts just sent to ``device_id`` (with their ids, if known)."""
        now = dt_util.utcnow()
        ids = sms_ids or []
        for number, payload in enumerate(payloads, start=1):
            item = FollowedSms(
                device_id,
                payload,
                now,
                {**reference, "part": number},
                sms_id=ids[number - 1] if number <= len(ids) else None,
            )
            self.followed.append(item)
            self.last[device_id] = item
        del self.followed[:-MAX_FOLLOWED_SMS]

    def devices(self) -> list[str]:
        """Return the devices with SMS still followed."""
        return list(dict.fromkeys(item.device_id for item in self.followed))


def match_sms(
    item: FollowedSms, listed: list[SmsDelivery], claimed: set[str]
) -> SmsDelivery | None:
    """Return the oldest unclaimed listed SMS with our text, sent around our send.

    Only an SMS sent to the device (mobile terminated) is ours: one the device sent
    with the same text (mobile originated) is never claimed.
    """
    candidates = [
        sms
        for sms in listed
        if sms.sms_id not in claimed
        and sms.direction in (None, SMS_MT)
        and sms.payload == item.payload
        and (sms.submitted is None or sms.submitted >= item.sent_at - SMS_MATCH_SKEW)
    ]
    candidates.sort(key=lambda sms: sms.submitted or item.sent_at)
    return candidates[0] if candidates else None

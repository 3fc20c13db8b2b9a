"""The coordinator of an account's SIMs: one refresh reads them all.

One ``DataUpdateCoordinator`` per account that has devices (an account without
devices polls nothing). Each refresh asks the kind for the SIMs of the account's
devices in as few requests as the provider allows (Hologram: its device list, one
page per 100 devices; emnify: its endpoint list plus two per-endpoint reads; monoZ:
two reads per SIM). The interval is the integration's, per provider, within its rate
budget (the kind's :class:`~.sim_status.SimInterval`; docs/sim.md says why each);
``homeassistant.update_entity`` on any SIM entity refreshes at once. Failures back
off, doubling up to an hour, and a rate limit's ``Retry-After`` is honoured up to a
day. A refused SIM read starts re-authentication only when the credentials
themselves are refused: the kind's check (the cheapest call that proves them) is
asked first, and a read the account may not make (a 403 on one page) is a failed
refresh, not a reauth.

An emnify account's coordinator also follows the delivery of the SMS it sent
(:class:`~.sim_status.SmsTracker`): receipts pushed to the webhook apply at once,
the endpoint's SMS list is read at each refresh as the fallback. Each change of
state updates the device's SMS-delivery sensor; the final one fires
``cellular_iot_sms_status`` once, whichever source tells it first. The follow-up is
per device: one endpoint's SMS list failing (a deleted endpoint's 404 drops its
follow-up) never fails the refresh of the account's SIMs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .providers.deliveries import SimUsage, SmsReceipt
from .providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
)
from .providers.sim import SMS_FINAL, SMS_UNKNOWN, SimStatus, SmsDelivery
from .sim_status import (
    EVENT_SMS_STATUS,
    SMS_FOLLOW_FOR,
    FollowedSms,
    SimInterval,
    SmsTracker,
    match_sms,
)

if TYPE_CHECKING:
    from .models import CellularIoTConfigEntry

LOGGER = logging.getLogger(__name__)

# The longest wait between two refreshes after failures.
MAX_BACKOFF: Final = timedelta(hours=1)
# The longest a provider's Retry-After holds the refreshes (a longer one, or one
# too large to be a time, waits this long).
MAX_RETRY_AFTER: Final = timedelta(days=1)
# Doubling stops here (the wait is MAX_BACKOFF long before; the power stays small).
_MAX_DOUBLINGS: Final = 16

type FetchSims = Callable[[list[str]], Awaitable[dict[str, SimStatus]]]
type ListSms = Callable[[str], Awaitable[list[SmsDelivery]]]
type CheckCredentials = Callable[[], Awaitable[object]]


class SimCoordinator(DataUpdateCoordinator[dict[str, SimStatus]]):
    """Refresh every SIM of one account."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CellularIoTConfigEntry,
        *,
        provider: str,
        interval: SimInterval,
        provider_ids: Callable[[], list[str]],
        fetch: FetchSims,
        list_sms: ListSms | None = None,
        check_credentials: CheckCredentials | None = None,
    ) -> None:
        """Poll ``fetch`` for the ids ``provider_ids`` returns.

        ``check_credentials`` proves the account's credentials with the provider's
        cheapest call; it is made only after a SIM read was refused, to tell a
        refused key (re-authentication) from a read the key may not make.
        """
        self.interval = interval
        self._entry = entry
        self._provider = provider
        self._provider_ids = provider_ids
        self._fetch = fetch
        self._list_sms = list_sms
        self._check_credentials = check_credentials
        self.sms = SmsTracker() if list_sms is not None else None
        self.failures = 0
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} SIMs of {entry.title}",
            update_interval=self.base_interval,
            always_update=False,
        )

    @property
    def base_interval(self) -> timedelta:
        """The provider's interval for this account's devices (within its budget)."""
        return self.interval.for_devices(len(self._provider_ids()))

    async def _async_update_data(self) -> dict[str, SimStatus]:
        ids = self._provider_ids()
        try:
            data = await self._fetch(ids)
        except ProviderAuthError as err:
            if await self._credentials_refused():
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN, translation_key="auth_failed"
                ) from err
            raise self._failed(err) from err
        except ProviderError as err:
            raise self._failed(err) from err
        self.failures = 0
        self.update_interval = self.base_interval
        if (
            self.sms is not None
            and self.sms.followed
            and await self._async_follow_sms()
        ):
            # The SIM data may be the same: tell the delivery sensors.
            self.async_update_listeners()
        return data

    async def _credentials_refused(self) -> bool:
        """Tell whether the credentials themselves are refused (after a SIM read was).

        Without a check, every refusal counts. A check that cannot reach the
        provider proves nothing: the refresh fails and the next one asks again.
        """
        if self._check_credentials is None:
            return True
        try:
            await self._check_credentials()
        except ProviderAuthError:
            return True
        except ProviderError as err:
            LOGGER.debug("%s: the credential check failed: %s", self.name, err)
        return False

    def _failed(self, err: ProviderError) -> UpdateFailed:
        """Back off (doubling up to an hour, a Retry-After up to a day); the error."""
        self.failures += 1
        doublings = min(self.failures, _MAX_DOUBLINGS)
        wait = min(self.base_interval * (1 << doublings), MAX_BACKOFF)
        if isinstance(err, ProviderRateLimitedError):
            wait = max(wait, retry_wait(err.retry_after))
        self.update_interval = wait
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="sim_refresh_failed",
            translation_placeholders={
                "provider": self._provider,
                "error": str(err),
            },
        )

    async def _async_follow_sms(self) -> bool:
        """Match and follow the SMS sent since the last refresh; tell if any changed.

        Per device: a device whose SMS list cannot be read keeps its SMS followed
        for the next refresh (a 404, the endpoint is gone: its SMS are dropped), a
        rate limit ends this refresh's follow-up. The SIM data is never failed by
        it, and the SMS followed too long or final are pruned whatever happens.
        """
        assert self.sms is not None
        assert self._list_sms is not None
        changed = False
        try:
            for device_id in self.sms.devices():
                try:
                    listed = await self._list_sms(device_id)
                except ProviderNotFoundError:
                    changed |= self._drop(device_id)
                    continue
                except ProviderRateLimitedError as err:
                    LOGGER.debug("%s: SMS follow-up paused: %s", self.name, err)
                    break
                except ProviderError as err:
                    LOGGER.debug(
                        "%s: the SMS of %s not read: %s", self.name, device_id, err
                    )
                    continue
                changed |= self._apply_listed(device_id, listed)
        finally:
            self._prune(dt_util.utcnow())
        return changed

    def _apply_listed(self, device_id: str, listed: list[SmsDelivery]) -> bool:
        """Match and update the device's followed SMS from its SMS list."""
        assert self.sms is not None
        changed = False
        claimed: set[str] = {
            item.sms_id for item in self.sms.followed if item.sms_id is not None
        }
        for item in [i for i in self.sms.followed if i.device_id == device_id]:
            if item.status in SMS_FINAL:
                continue  # (a receipt came while the list was read)
            if item.sms_id is None:
                match = match_sms(item, listed, claimed)
                if match is None:
                    continue
                item.sms_id = match.sms_id
                claimed.add(match.sms_id)
            found = next((s for s in listed if s.sms_id == item.sms_id), None)
            if found is not None and found.status != item.status:
                previous, item.status = item.status, found.status
                changed = True
                if found.status in SMS_FINAL:
                    self._fire(item, previous)
        return changed

    def _drop(self, device_id: str) -> bool:
        """Stop following the SMS of a device the provider no longer knows (404).

        Its delivery sensor's last SMS becomes unknown (not final: no event).
        """
        assert self.sms is not None
        dropped = [item for item in self.sms.followed if item.device_id == device_id]
        if not dropped:
            return False
        LOGGER.debug(
            "%s: %s is gone; its SMS are no longer followed", self.name, device_id
        )
        self.sms.followed = [i for i in self.sms.followed if i.device_id != device_id]
        for item in dropped:
            if item.status not in SMS_FINAL:
                item.status = SMS_UNKNOWN
        return True

    def _prune(self, now: datetime) -> None:
        """Stop following the SMS that are final, or followed for too long."""
        assert self.sms is not None
        self.sms.followed = [
            item
            for item in self.sms.followed
            if item.status not in SMS_FINAL and now - item.sent_at < SMS_FOLLOW_FOR
        ]

    @callback
    def async_apply_receipts(self, receipts: list[SmsReceipt]) -> int:
        """Apply delivery receipts pushed by the provider; return how many applied.

        A receipt moves a followed SMS (matched by its id, and its endpoint when the
        receipt names one) to the state it reports, at once: the sensor follows and
        a final state fires the event, which the next refresh then does not fire
        again (it sees the same state). Receipts for SMS not followed (sent by
        another tool, or already final) and those of an unknown state change nothing.
        """
        if self.sms is None:
            return 0
        applied = 0
        for receipt in receipts:
            item = next(
                (
                    item
                    for item in self.sms.followed
                    if item.sms_id == receipt.sms_id
                    and receipt.device_id in (None, item.device_id)
                ),
                None,
            )
            if item is None or receipt.status in (SMS_UNKNOWN, item.status):
                continue
            previous, item.status = item.status, receipt.status
            applied += 1
            if receipt.status in SMS_FINAL:
                self._fire(item, previous)
        if applied:
            self._prune(dt_util.utcnow())
            self.async_update_listeners()
        return applied

    @callback
    def async_apply_usage(self, usage: list[SimUsage]) -> int:
        """Count usage the provider streamed since the last refresh; return how many.

        A record (data, or an SMS) adds to the SIM's data used and SMS counts and
        takes from what is left of its quotas, at once: the sensors move between
        refreshes. The next refresh reads the provider's own totals again, which
        the records it has counted by then are part of. A record of a SIM that
        is not one of the account's devices, or before the first refresh, changes
        nothing.
        """
        if not self.data:
            return 0
        by_iccid = {sim.iccid: key for key, sim in self.data.items() if sim.iccid}
        data = dict(self.data)
        applied = 0
        for record in usage:
            key = record.device_id if record.device_id in data else None
            if key is None and record.iccid is not None:
                key = by_iccid.get(record.iccid)
            if key is None:
                continue
            data[key] = _with_usage(data[key], record)
            applied += 1
        if applied:
            # Not async_set_updated_data: that would put the next refresh off.
            self.data = data
            self.async_update_listeners()
        return applied

    @callback
    def _fire(self, item: FollowedSms, previous: str | None) -> None:
        self.hass.bus.async_fire(
            EVENT_SMS_STATUS,
            {
                "provider": self._provider.lower(),
                "config_entry_id": self._entry.entry_id,
                "device_id": item.device_id,
                "sms_id": item.sms_id,
                "status": item.status,
                "previous_status": previous or SMS_UNKNOWN,
                **item.reference,
            },
        )


def _plus(value: int | None, amount: int) -> int | None:
    return value + amount if value is not None else None


def _minus(value: int | None, amount: int) -> int | None:
    return max(value - amount, 0) if value is not None else None


def _with_usage(sim: SimStatus, record: SimUsage) -> SimStatus:
    """Return the SIM with one usage record counted."""
    return replace(
        sim,
        data_used=_plus(sim.data_used, record.data_bytes),
        data_remaining=_minus(sim.data_remaining, record.data_bytes),
        sms_sent=_plus(sim.sms_sent, record.sms_sent),
        sms_received=_plus(sim.sms_received, record.sms_received),
        sms_remaining=_minus(sim.sms_remaining, record.sms_sent + record.sms_received),
    )


def retry_wait(retry_after: float | None) -> timedelta:
    """Return how long a provider's Retry-After holds the refreshes (at most a day).

    None, a negative or a non-number: no wait of its own; one too large to be a time
    (``1e300``, ``100000000``): a day.
    """
    if retry_after is None or not retry_after > 0:
        return timedelta(0)
    return min(
        timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds())),
        MAX_RETRY_AFTER,
    )

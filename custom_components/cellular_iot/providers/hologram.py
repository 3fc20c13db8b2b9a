"""Async client for the Hologram REST API (https://dashboard.hologram.io/api/1).

Covers what the integration needs: the current user (credential check), the device list,
cloud messages to devices (``POST /devices/messages``), SMS to devices
(``POST /sms/incoming``) and a device's key-less inbound webhook URL.

Authentication is HTTP Basic with the user name ``apikey`` and the API key as password.
Hologram asks clients that get HTTP 429 to wait 5-10 seconds and retry. The client never
waits inside a call: it raises :class:`ProviderRateLimitedError` at once, with the
answer's ``Retry-After``, and the caller schedules the retry (the outbox for a send, the
poller and the SIM refresh for theirs), so no action is held while Hologram cools down.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import re
from typing import Any, Final

import aiohttp
from yarl import URL

from . import hologram_messages as messages_api
from ._http import (
    RawResponse,
    ReachabilityObserver,
    basic_authorization,
    client_timeout,
    decode_json,
    exchange,
    provider_text,
)
from ._parse import as_count, as_digits, as_time
from .errors import (
    ProviderBadRequestError,
    ProviderResponseError,
    error_for_status,
)
from .sim import (
    SIM_ACTIVE,
    SIM_INACTIVE,
    SIM_PENDING,
    SIM_SUSPENDED,
    SIM_UNKNOWN,
    SimStatus,
)

DEFAULT_BASE_URL: Final = "https://dashboard.hologram.io/api/1"
DEFAULT_TIMEOUT: Final = 15.0
MAX_CLOUD_MESSAGE_BYTES: Final = 10 * 1024
PROTOCOLS: Final = ("TCP", "UDP")
# The only origin a device inbound webhook URL may point to (scheme, host and port,
# as written: the default port, no user info). A module global read at call time,
# so that tests can point it at a local fake; nothing a caller passes can change it.
DEVICE_WEBHOOK_ORIGIN = "https://dashboard.hologram.io"
# Its path: /api/1/devices/messages/{deviceid}/{webhookguid}.
DEVICE_WEBHOOK_PATH: Final = re.compile(
    r"/api/1/devices/messages/([1-9][0-9]{0,18})/([A-Za-z0-9_-]{1,128})/?"
)
# Hologram answers a webhook post with a short JSON object: read no more than this.
MAX_WEBHOOK_ANSWER_BYTES: Final = 64 * 1024
_ACCEPT_JSON: Final = {"Accept": "application/json"}
_PAGE_SIZE: Final = 100
_MAX_PAGES: Final = 50
# The most devices list_devices returns (a list this long may be cut short).
MAX_LISTED_DEVICES: Final = _PAGE_SIZE * _MAX_PAGES
# The SIM refresh reads the device list until every device asked for was seen: up
# to this many pages (100,000 devices), not the device picker's 50.
MAX_SIM_PAGES: Final = 1000
# What is kept of the fields of Hologram's answers (longer ones are dropped).
_MAX_ID_DIGITS: Final = 19
_MAX_NAME_CHARS: Final = 255
_MAX_NUMBER_CHARS: Final = 32
_MAX_IMEI_DIGITS: Final = 20
# What POST /devices/{id}/state takes. Never "deactivate": that one is permanent.
_SIM_STATE_LIVE: Final = "live"
_SIM_STATE_PAUSE: Final = "pause"
# Link states of a pause (docs.hologram.io, apiary.apib "Device Link": "LIVE, PAUSED,
# DEAD"). A user's pause can be resumed through the API; a system pause cannot:
# Hologram resumes it once the balance, data or SMS limit is dealt with. The docs
# spell it both ways ("PAUSED-SYS" on "Pause and resume SIMs", "PAUSED-BY-SYS" on
# "Paused by system SIM status").
_USER_PAUSE_STATES: Final = frozenset({"PAUSED-USER", "PAUSED"})
SYSTEM_PAUSE_STATES: Final = frozenset({"PAUSED-SYS", "PAUSED-BY-SYS"})
# A SIM's billing period: "the SIM's unique 30-day billing period" (docs.hologram.io).
BILLING_PERIOD: Final = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class HologramUser:
    """The account the API key belongs to (``GET /users/me``)."""

    user_id: int
    name: str | None
    email: str | None
    org_id: int | None


@dataclass(frozen=True, slots=True)
class HologramDevice:
    """One device of the account (``GET /devices``)."""

    device_id: int
    name: str
    iccid: str | None
    phone_number: str | None


@dataclass(frozen=True, slots=True)
class CloudMessageResult:
    """One device a cloud message was queued for, with Hologram's message id."""

    device_id: int
    message_id: str | None


class HologramClient:
    """A small typed client for the parts of Hologram's REST API this project uses."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        *,
        org_id: int | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Build a client on an existing session (the session is not closed here)."""
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._session = session
        authorization = basic_authorization("apikey", api_key)
        self._headers = {"Accept": "application/json", "Authorization": authorization}
        # Never quoted back from an answer's error text.
        self._secrets = (api_key, authorization.removeprefix("Basic "))
        self._org_id = org_id
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = timeout
        # Told after every request whether Hologram could be reached.
        self.observer: ReachabilityObserver | None = None

    @property
    def org_id(self) -> int | None:
        """The organization the client is scoped to, if any."""
        return self._org_id

    async def get_me(self) -> HologramUser:
        """Return the user the API key belongs to: the cheapest authenticated call."""
        data = await self._request("GET", "/users/me")
        if not isinstance(data, Mapping):
            raise ProviderResponseError("Hologram returned no user for /users/me")
        user_id = _as_int(data.get("id", data.get("userid")))
        if user_id is None:
            raise ProviderResponseError("Hologram returned a user without an id")
        name = " ".join(
            str(part) for part in (data.get("first"), data.get("last")) if part
        )
        email = data.get("email")
        org_id = _as_int(data.get("personal_org", data.get("orgid")))
        return HologramUser(
            user_id=user_id,
            name=name or None,
            email=email if isinstance(email, str) else None,
            org_id=org_id,
        )

    async def get_organization(self, org_id: int) -> str | None:
        """Return the name of an organization the key can access (404/403 if not)."""
        data = await self._request("GET", f"/organizations/{int(org_id)}")
        if not isinstance(data, Mapping):
            raise ProviderResponseError("Hologram returned no organization")
        name = data.get("name")
        return name if isinstance(name, str) and name else None

    async def list_devices(self, *, limit: int | None = None) -> list[HologramDevice]:
        """Return the account's devices (filtered by the organization when set)."""
        devices: list[HologramDevice] = []
        page_size = _PAGE_SIZE if limit is None else max(1, min(limit, _PAGE_SIZE))
        params: dict[str, str] = {"limit": str(page_size)}
        if self._org_id is not None:
            params["orgid"] = str(self._org_id)
        for _ in range(_MAX_PAGES):
            page, continues = await self._request_page("/devices", params)
            for item in page:
                device = _parse_device(item)
                if device is not None:
                    devices.append(device)
                    if limit is not None and len(devices) >= limit:
                        return devices
            if not continues or not devices:
                break
            params["startafter"] = str(devices[-1].device_id)
        return devices

    async def sim_statuses(
        self, device_ids: Collection[int] | None = None
    ) -> dict[str, SimStatus]:
        """Return the devices' SIMs as ``GET /devices`` describes them, by device id.

        One request per page of 100, paginated as :meth:`list_devices` (the next
        page starts after the last device id: the list runs in id order), up to
        :data:`MAX_SIM_PAGES`. With ``device_ids``, only those are returned and the
        reading stops once each was seen or passed (a passed id is not there);
        without, every device is. The state and the usage come from the device's
        current link (:func:`current_link`).
        """
        wanted = {int(i) for i in device_ids} if device_ids is not None else None
        statuses: dict[str, SimStatus] = {}
        params: dict[str, str] = {"limit": str(_PAGE_SIZE)}
        if self._org_id is not None:
            params["orgid"] = str(self._org_id)
        after = -1
        for _ in range(MAX_SIM_PAGES):
            page, continues = await self._request_page("/devices", params)
            last_id: int | None = None
            for item in page:
                status = _parse_sim_status(item)
                if status is None:
                    continue
                last_id = int(status.provider_id)
                if wanted is None or last_id in wanted:
                    statuses[status.provider_id] = status
            # (a page that does not move the cursor on would be read forever)
            if not continues or last_id is None or last_id <= after:
                break
            if wanted is not None and all(
                str(i) in statuses or i <= last_id for i in wanted
            ):
                break
            after = last_id
            params["startafter"] = str(last_id)
        return statuses

    async def set_sim_active(self, device_id: int, active: bool) -> None:
        """Resume (``live``) or pause (``pause``) a device's SIM.

        ``POST /devices/{id}/state``; Hologram may keep the state pending for
        minutes. The permanent ``deactivate`` is never sent.
        """
        (checked,) = _check_device_ids([device_id])
        if not isinstance(active, bool):
            raise TypeError("active must be a boolean")
        state = _SIM_STATE_LIVE if active else _SIM_STATE_PAUSE
        await self._request(
            "POST", f"/devices/{checked}/state", json_body={"state": state}
        )

    async def send_cloud_message(
        self,
        device_ids: Sequence[int],
        *,
        port: int,
        protocol: str = "TCP",
        data: str | None = None,
        data_base64: str | None = None,
        encrypted: bool = True,
    ) -> list[CloudMessageResult]:
        """Send one cloud message to every device in one ``POST /devices/messages``."""
        ids = _check_device_ids(device_ids)
        if not 1 <= port <= 65535:
            raise ValueError("port must be between 1 and 65535")
        if protocol not in PROTOCOLS:
            raise ValueError("protocol must be TCP or UDP")
        if (data is None) == (data_base64 is None):
            raise ValueError("give exactly one of data or data_base64")
        body: dict[str, Any] = {
            "deviceids": ids,
            "port": port,
            "protocol": protocol,
            "encrypted": encrypted,
        }
        if data is not None:
            _check_size(data)
            body["data"] = data
        else:
            assert data_base64 is not None
            _check_size(data_base64)
            body["base64data"] = data_base64
        result = await self._request("POST", "/devices/messages", json_body=body)
        return _parse_message_results(result, ids)

    async def send_sms(
        self,
        device_ids: Sequence[int],
        body: str,
        *,
        from_number: str | None = None,
    ) -> Any:
        """Send an SMS to devices (``POST /sms/incoming``); returns Hologram's data."""
        ids = _check_device_ids(device_ids)
        if not body:
            raise ValueError("body must not be empty")
        payload: dict[str, Any] = {"body": body}
        if len(ids) == 1:
            payload["deviceid"] = ids[0]
        else:
            payload["deviceids"] = ids
        if from_number:
            payload["fromnumber"] = from_number
        return await self._request("POST", "/sms/incoming", json_body=payload)

    async def list_messages(
        self,
        *,
        timestart: int | None = None,
        startafter: int | None = None,
        limit: int = messages_api.PAGE_SIZE,
        device_ids: Sequence[int] = (),
    ) -> messages_api.MessagePage:
        """Return one page of the messages the account's devices sent, newest first.

        ``GET /csr/rdm`` (see :mod:`.hologram_messages`), within the organization
        when the client has one, from ``timestart`` (UNIX seconds) on, older than
        the record ``startafter``, from ``device_ids`` only when given.
        """
        params: dict[str, str] = {"limit": str(max(1, min(limit, 1000)))}
        if self._org_id is not None:
            params["orgid"] = str(self._org_id)
        if timestart is not None:
            params["timestart"] = str(max(0, int(timestart)))
        if startafter is not None:
            params["startafter"] = str(int(startafter))
        if device_ids:
            ids = _check_device_ids(device_ids)
            if len(ids) == 1:
                params["deviceid"] = str(ids[0])
            else:
                params["deviceids"] = ",".join(str(i) for i in ids)
        payload = await self._request(
            "GET", messages_api.PATH, params=params, full=True
        )
        assert isinstance(payload, Mapping)
        data = payload.get("data")
        if not isinstance(data, list):
            raise ProviderResponseError("Hologram returned no list of messages")
        return messages_api.parse_page(payload, data)

    async def _request_page(
        self, path: str, params: Mapping[str, str]
    ) -> tuple[list[Any], bool]:
        payload = await self._request("GET", path, params=params, full=True)
        assert isinstance(payload, Mapping)
        data = payload.get("data")
        if not isinstance(data, list):
            raise ProviderResponseError(f"Hologram returned no list for {path}")
        return data, bool(payload.get("continues"))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        full: bool = False,
    ) -> Any:
        """Call the API once; return ``data`` of a successful answer (or all of it).

        A 429 is raised at once (:class:`ProviderRateLimitedError`, with its
        ``Retry-After``): the caller retries at the provider's time, not this call.
        """
        answer = await exchange(
            self._session,
            "Hologram",
            method,
            f"{self._base_url}{path}",
            headers=self._headers,
            timeout=client_timeout(self._timeout or DEFAULT_TIMEOUT),
            params=params,
            json_body=json_body,
            observer=self.observer,
        )
        return _interpret(answer, full=full, secrets=self._secrets)


async def send_to_device_webhook(
    session: aiohttp.ClientSession,
    url: str,
    data: str,
    *,
    timeout: float | None = None,
) -> list[CloudMessageResult]:
    """POST ``{"data": data}`` to a Hologram device inbound webhook URL.

    The URL carries its own secret (the webhook GUID) and fixes the port and protocol
    the cloud forwards to, so no API key is sent. Only Hologram's own origin is
    called (see :data:`DEVICE_WEBHOOK_ORIGIN`), no redirect is followed, at most
    64 KB of the answer is read, and an error never quotes the answer: whoever
    runs the action learns nothing from the target beyond its HTTP status.
    """
    target = _device_webhook_target(url)
    if target is None:
        raise ValueError("not a Hologram device webhook URL")
    device_id, canonical = target
    _check_size(data)
    answer = await exchange(
        session,
        "Hologram",
        "POST",
        canonical,
        headers=_ACCEPT_JSON,
        timeout=client_timeout(timeout or DEFAULT_TIMEOUT),
        json_body={"data": data},
        max_bytes=MAX_WEBHOOK_ANSWER_BYTES,
    )
    result = _interpret(answer, full=False, quote_answer=False)
    return _parse_message_results(result, [device_id])


def is_device_webhook_url(url: str) -> bool:
    """Tell whether ``url`` is a Hologram device inbound webhook URL.

    That is ``https://dashboard.hologram.io/api/1/devices/messages/<id>/<guid>``
    exactly: https, that host, its default port, no user info, query or fragment.
    """
    return _device_webhook_target(url) is not None


def _device_webhook_target(url: str) -> tuple[int, str] | None:
    """Return the device id and the URL to call, rebuilt from the allowed origin."""
    if not isinstance(url, str) or not url.isascii() or not url.isprintable():
        return None
    try:
        parsed = URL(url)
        allowed = URL(DEVICE_WEBHOOK_ORIGIN)
    except (TypeError, ValueError):
        return None
    if (
        parsed.scheme != allowed.scheme
        or parsed.raw_host != allowed.raw_host
        or parsed.explicit_port != allowed.explicit_port
        or parsed.raw_user is not None
        or parsed.raw_password is not None
        or parsed.raw_query_string
        or parsed.raw_fragment
        or "?" in url
        or "#" in url
    ):
        return None
    match = DEVICE_WEBHOOK_PATH.fullmatch(parsed.raw_path)
    if match is None:
        return None
    device_id, guid = match.groups()
    canonical = f"{DEVICE_WEBHOOK_ORIGIN}/api/1/devices/messages/{device_id}/{guid}"
    return int(device_id), canonical


def _interpret(
    answer: RawResponse,
    *,
    full: bool,
    secrets: tuple[str, ...] = (),
    quote_answer: bool = True,
) -> Any:
    """Return what an answer holds (``data``, or all of it), or raise its error.

    No ``secrets`` reach an error; nor does the answer's text unless ``quote_answer``.
    """
    status = answer.status

    payload = decode_json(answer.body)
    if status >= 400:
        detail = _error_text(payload, secrets) if quote_answer else None
        raise error_for_status("Hologram", status, detail, answer.retry_after)
    if not isinstance(payload, dict):  # (a JSON object decodes to a dict)
        raise ProviderResponseError(
            "Hologram answered with something that is not JSON", status=status
        )
    if payload.get("success") is False:
        detail = _error_text(payload, secrets) if quote_answer else None
        raise ProviderBadRequestError(
            f"Hologram refused the request: {detail or 'no reason given'}",
            status=status,
            detail=detail,
        )
    return payload if full else payload.get("data")


def _error_text(payload: Any, secrets: tuple[str, ...]) -> str | None:
    if isinstance(payload, dict):
        return provider_text(payload.get("error"), secrets)
    return None


def _check_device_ids(device_ids: Sequence[int]) -> list[int]:
    ids = list(device_ids)
    if not ids:
        raise ValueError("at least one device id is needed")
    for device_id in ids:
        if isinstance(device_id, bool) or not isinstance(device_id, int):
            raise TypeError("device ids must be integers")
        if device_id <= 0:
            raise ValueError("device ids must be positive")
    return ids


def _check_size(value: str) -> None:
    if len(value.encode()) > MAX_CLOUD_MESSAGE_BYTES:
        raise ValueError(f"data is larger than {MAX_CLOUD_MESSAGE_BYTES} bytes")


def _as_int(value: Any) -> int | None:
    """Return an ID Hologram sent as a number or as ASCII digits (19 at most)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # str.isdigit() takes "²", which int() refuses; and int() refuses > 4300 digits.
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        return int(value) if len(value) <= _MAX_ID_DIGITS else None
    return None


def _as_text(value: Any, limit: int) -> str | None:
    """Return a short printable text or number from Hologram's answer, else None."""
    if type(value) is not str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None
        value = str(value) if isinstance(value, str) or abs(value) < 10**limit else ""
    return value if 0 < len(value) <= limit and value.isprintable() else None


def _parse_device(item: Any) -> HologramDevice | None:
    if not isinstance(item, Mapping):
        return None
    device_id = _as_int(item.get("id"))
    if device_id is None:
        return None
    name = item.get("name")
    return HologramDevice(
        device_id=device_id,
        name=_as_text(name, _MAX_NAME_CHARS) or f"Device {device_id}",
        iccid=_as_text(current_link(item).get("sim"), _MAX_NUMBER_CHARS),
        phone_number=_as_text(item.get("phonenumber"), _MAX_NUMBER_CHARS),
    )


def _sim_state(text: str | None) -> str:
    """Map Hologram's link state (``LIVE``, ``PAUSED-USER``, ...) to ours."""
    if text is None:
        return SIM_UNKNOWN
    state = text.upper()
    if "PENDING" in state:  # PAUSED-PENDING-USER, LIVE-PENDING
        return SIM_PENDING
    if state == "LIVE":
        return SIM_ACTIVE
    if state in _USER_PAUSE_STATES or state in SYSTEM_PAUSE_STATES:
        return SIM_SUSPENDED
    if state in ("INACTIVE", "DEAD", "DEACTIVATED"):
        return SIM_INACTIVE
    return SIM_UNKNOWN


def is_system_pause(provider_state: str | None) -> bool:
    """Tell whether Hologram paused the SIM itself (balance, data or SMS limit).

    Only Hologram resumes such a SIM, once the cause is gone: the API's ``live``
    cannot (docs.hologram.io "Paused by system SIM status").
    """
    return provider_state is not None and provider_state.upper() in SYSTEM_PAUSE_STATES


def current_link(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the cellular link of a ``GET /devices`` device that we show.

    A device usually has one link (``links.cellular[0]``). A multi-profile SIM has
    one per profile: the one whose profile is ``ENABLED`` (the one that can pass
    data) is taken, else the one of the device's last session, else the first.
    The ICCID, state and usage shown all come from that one link.
    """
    links = item.get("links")
    cellular = links.get("cellular") if isinstance(links, Mapping) else None
    if not isinstance(cellular, list):
        return {}
    candidates = [link for link in cellular if isinstance(link, Mapping)]
    if not candidates:
        return {}
    for link in candidates:
        profile = link.get("profile_state", link.get("euicc_state"))
        if isinstance(profile, str) and profile.upper() == "ENABLED":
            return link
    session = item.get("lastsession")
    if isinstance(session, Mapping):
        session_link = _as_int(session.get("linkid"))
        for link in candidates:
            if session_link is not None and _as_int(link.get("id")) == session_link:
                return link
    return candidates[0]


def _period_start(expires: datetime | None) -> datetime | None:
    """When the billing period that ends at ``whenexpires`` began (30 days before)."""
    if expires is None:
        return None
    try:
        return expires - BILLING_PERIOD
    except OverflowError:
        return None


def _parse_sim_status(item: Any) -> SimStatus | None:
    """Read one device of ``GET /devices`` as a SIM status (None without an id)."""
    if not isinstance(item, Mapping):
        return None
    device_id = _as_int(item.get("id"))
    if device_id is None:
        return None
    # The usage, the billing period and the last connection are the link's
    # (apiary.apib "Device Link"; the docs.hologram.io GET /devices example), not
    # the device's: the device carries none of them.
    link = current_link(item)
    provider_state = _as_text(link.get("state"), _MAX_NAME_CHARS)
    state = _sim_state(provider_state)
    session = item.get("lastsession")
    if not isinstance(session, Mapping):
        session = {}
    online = session.get("active")
    # whenexpires: "UTC timestamp when the current billing period ends"; the
    # period is the SIM's own 30 days (docs.hologram.io /usage/data/billing).
    expires = as_time(link.get("whenexpires"))
    # session_end is "0000-00-00 00:00:00" during a session (no time: skipped).
    last_session = (
        as_time(session.get("session_end"))
        or as_time(session.get("session_begin"))
        or as_time(link.get("last_connect_time"))
    )
    return SimStatus(
        provider_id=str(device_id),
        state=state,
        provider_state=provider_state,
        online=online if isinstance(online, bool) else None,
        # Bytes (the plan's "data" is in bytes; the example's 503417039 is the
        # same figure as /usage/data/billing's "bytes").
        data_used=as_count(link.get("cur_billing_data_used")),
        period_start=_period_start(expires),
        last_session=last_session,
        iccid=_as_text(link.get("sim"), _MAX_NUMBER_CHARS),
        # The device's "imei": "Last IMEI seen for this device" (apiary.apib).
        imei=as_digits(item.get("imei"), _MAX_IMEI_DIGITS),
        msisdn=_as_text(link.get("msisdn"), _MAX_NUMBER_CHARS),
        # A system pause cannot be undone through the API: no resume offered.
        can_pause=state == SIM_ACTIVE
        or (state == SIM_SUSPENDED and not is_system_pause(provider_state)),
    )


def _parse_message_results(data: Any, ids: list[int]) -> list[CloudMessageResult]:
    results: list[CloudMessageResult] = []
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, dict):  # (a JSON object decodes to a dict)
                continue
            # One published example spells the key "Devicesid": accept both.
            device_id = _as_int(
                item["deviceid"] if "deviceid" in item else item.get("Devicesid")
            )
            message_id = _as_text(item.get("messageid"), _MAX_NAME_CHARS)
            if device_id is not None:
                results.append(
                    CloudMessageResult(device_id=device_id, message_id=message_id)
                )
    if not results:
        results = [CloudMessageResult(device_id=i, message_id=None) for i in ids]
    return results

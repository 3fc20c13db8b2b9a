"""Async client for the monoZ:Link REST API (https://link.monoz.io/api/v1/{Org-Id}/...).

Covers what the integration needs: proving an organization id and API key, and the
downlink ``POST /{Org-Id}/Publish/Message`` with ``{ICCID, Topic, Message, QoS,
Format}``. Every call sends the API key in the ``X-API-Key`` header. monoZ answers
``{"Error": bool, "StatusCode": int, "Message": str}``; an ``Error: true`` body is an
error whatever the HTTP status says.

The MQTT side (downlinks to ``/{org}/{iccid}/sub{topic}``, uplinks) is
:mod:`.mqtt`; the topic helpers here build and read monoZ's topic scheme.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import re
from typing import Any, Final

import aiohttp
from yarl import URL

from ._http import (
    ReachabilityObserver,
    client_timeout,
    decode_json,
    exchange,
    provider_text,
)
from ._parse import as_short_text
from .errors import (
    ProviderBadRequestError,
    ProviderError,
    ProviderResponseError,
    error_for_status,
)
from .sim import SIM_ACTIVE, SIM_SUSPENDED, SIM_UNKNOWN, SimStatus

PROVIDER: Final = "monoZ"
DEFAULT_BASE_URL: Final = "https://link.monoz.io/api/v1"
DEFAULT_TIMEOUT: Final = 15.0
DEFAULT_BROKER_HOST: Final = "data.monoz.io"
DEFAULT_BROKER_PORT: Final = 1883
FORMAT_JSON: Final = 0
FORMAT_TEXT: Final = 1
# monoZ: "Message: Range is 1-4096 bytes"; topic "Max length is 512 bytes including
# the default topic /<ORGID>/<ICCID>/sub".
MAX_MESSAGE_BYTES: Final = 4096
MAX_TOPIC_BYTES: Final = 512
# A well-formed ICCID no SIM has (issuer 89, all zeros): GET .../Device/Sim/Detail/
# with it proves the key without touching a device. 404 = key accepted.
PROBE_ICCID: Final = "8900000000000000000"
# SIM detail requests in flight at once (monoZ publishes no rate limit).
MAX_IN_FLIGHT: Final = 5
# A SIM detail answer that could not be read (its raw status is left out).
_UNREADABLE: Final = object()
# What a SIM page answers when monoZ does not offer it (the pages were hidden in 2025).
_NOT_OFFERED: Final = (404, 405)
# Applied with fullmatch: "$" would let a trailing newline through.
_ORG_ID: Final = re.compile(r"[A-Za-z0-9]{1,32}")
_ICCID: Final = re.compile(r"[0-9]{10,22}[A-Fa-f]?")


def valid_org_id(value: str) -> bool:
    """MonoZ org ids are short alphanumeric strings (8 characters on sign-up)."""
    return _ORG_ID.fullmatch(value) is not None


def valid_iccid(value: str) -> bool:
    """Return whether ``value`` is an ICCID: 10-22 digits (19 usually), optionally a final hex check character."""
    return _ICCID.fullmatch(value) is not None


def valid_downlink_topic(topic: str) -> bool:
    """Return whether ``topic`` can follow the default downlink topic.

    Empty, or starting with ``/``; no MQTT wildcards or NUL.
    """
    return (not topic or topic.startswith("/")) and not any(
        char in topic for char in "+#\0"
    )


def downlink_topic(org_id: str, iccid: str, topic: str = "") -> str:
    """Return the MQTT topic a device subscribes to: ``/{org}/{iccid}/sub{topic}``."""
    return f"/{org_id}/{iccid}/sub{topic}"


def default_uplink_filters(org_id: str) -> list[str]:
    """Return the filters that hear every uplink topic shape monoZ documents.

    monoZ: "UL Publish Topic ``Level1/<orgid>/<iccid>/Level4``; Level1, level4 are
    optional levels" (docs/monoZLink/featureWalk.md). ``<org>/+/#`` hears the shapes
    without Level1 (``<org>/<iccid>`` and ``<org>/<iccid>/…``: ``#`` matches the
    parent level too); ``+/<org>/+/#`` hears those with one (``Level1/<org>/<iccid>``,
    ``/<org>/<iccid>`` with an empty one, and either followed by levels).
    """
    return [f"{org_id}/+/#", f"+/{org_id}/+/#"]


def legacy_uplink_filter(org_id: str) -> str:
    """Return the default filter of earlier versions (it heard ``/<org>/<iccid>/pub…`` only)."""
    return f"/{org_id}/+/pub/#"


@dataclass(frozen=True, slots=True)
class UplinkTopic:
    """An uplink topic read: the SIM, and the levels around ``<org>/<iccid>``."""

    iccid: str
    before: tuple[str, ...]
    """The levels before the organization id (monoZ's "Level1")."""
    after: tuple[str, ...]
    """The levels after the ICCID (monoZ's "Level4" and any below it)."""

    @property
    def levels(self) -> list[str]:
        """The user's own levels, empty ones left out (the event's ``topics``)."""
        return [level for level in (*self.before, *self.after) if level]


def parse_uplink_topic(org_id: str, topic: str) -> UplinkTopic | None:
    """Find ``<org>/<iccid>`` in an uplink topic (``[level1/]<org>/<iccid>[/level4…]``).

    The first level equal to the organization id that an ICCID follows; None when
    there is none, or when the topic is the organization's downlink topic
    ``/<org>/<iccid>/sub[/…]`` (what the devices subscribe to, not an uplink).
    """
    levels = topic.split("/")
    for index in range(len(levels) - 1):
        if levels[index] != org_id or not valid_iccid(levels[index + 1]):
            continue
        before, after = tuple(levels[:index]), tuple(levels[index + 2 :])
        if before == ("",) and after[:1] == ("sub",):
            return None
        return UplinkTopic(levels[index + 1], before, after)
    return None


def is_downlink_topic(org_id: str, topic: str) -> bool:
    """Return whether ``topic`` is the organization's downlink topic ``/<org>/<iccid>/sub…``."""
    levels = topic.split("/")
    return (
        len(levels) >= 4
        and levels[0] == ""
        and levels[1] == org_id
        and valid_iccid(levels[2])
        and levels[3] == "sub"
    )


def split_uplink_topic(org_id: str, topic: str) -> tuple[str | None, list[str]]:
    """Return an uplink topic's ICCID and the event's ``topics``.

    ``topics`` are the levels the device added around ``<org>/<iccid>`` (monoZ's
    Level1 and Level4, empty ones left out); a topic without ``<org>/<iccid>`` (heard
    through a filter of the user's) has no ICCID, and all its levels as ``topics``.
    """
    found = parse_uplink_topic(org_id, topic)
    if found is None:
        return None, [level for level in topic.split("/") if level]
    return found.iccid, found.levels


def iccid_from_topic(org_id: str, topic: str) -> str | None:
    """Return the ICCID in an uplink topic (``[level1/]{org}/{iccid}[/level4…]``)."""
    found = parse_uplink_topic(org_id, topic)
    return found.iccid if found is not None else None


class MonozClient:
    """A small typed client for monoZ:Link's REST API."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        org_id: str,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Keep the session (HA's), the organization and its API key."""
        self._session = session
        self._org_id = org_id
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        # Built once: a downlink is the call made most (yarl per call costs more
        # than the rest of the client's work).
        self._publish_url = str(self._url("Publish", "Message"))
        # Told after every request whether monoZ could be reached.
        self.observer: ReachabilityObserver | None = None

    @property
    def org_id(self) -> str:
        """Return the organization id the client calls for."""
        return self._org_id

    def _url(self, *parts: str) -> URL:
        base = URL(self._base_url or DEFAULT_BASE_URL)
        return base.joinpath(self._org_id, *parts)

    async def _request(
        self, method: str, url: URL | str, json_body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        raw = await exchange(
            self._session,
            PROVIDER,
            method,
            str(url),
            timeout=client_timeout(self._timeout or DEFAULT_TIMEOUT),
            headers={"X-API-Key": self._api_key, "Accept": "application/json"},
            json_body=json_body,
            observer=self.observer,
        )
        body = decode_json(raw.body)
        if raw.status >= 400:
            detail = _detail(body, self._api_key)
            raise error_for_status(PROVIDER, raw.status, detail, raw.retry_after)
        if not isinstance(body, dict):
            raise ProviderResponseError(
                f"{PROVIDER} answered HTTP {raw.status} without its JSON body",
                status=raw.status,
            )
        if body.get("Error") is True:
            detail = _detail(body, self._api_key)
            code = body.get("StatusCode")
            if isinstance(code, int) and code >= 400:
                raise error_for_status(PROVIDER, code, detail)
            raise ProviderBadRequestError(
                f"{PROVIDER} reported an error: {detail or 'no reason given'}",
                status=raw.status,
                detail=detail,
            )
        return body

    async def validate(self) -> None:
        """Prove the organization id and API key with the cheapest read-only call.

        ``GET /{org}/Device/Sim/Detail/{PROBE_ICCID}``: 401 means the key (or org) is
        refused; 404 means the key was accepted and the probe ICCID is unknown, as it
        should be; 200 is accepted too.
        """
        try:
            await self._request(
                "GET", self._url("Device", "Sim", "Detail", PROBE_ICCID)
            )
        except ProviderError as err:
            if err.status == 404:
                return
            raise

    async def sim_statuses(self, iccids: Sequence[str]) -> dict[str, SimStatus]:
        """Return each SIM's status: ``GET /{org}/Sim/Enable/{ICCID}`` and its detail.

        ``Data.Enabled`` (bool) of ``Sim/Enable`` is the state: active or suspended,
        and the SIM can be paused and resumed (``PUT /{org}/Sim/Enable``).
        ``Data.Status`` of ``GET /{org}/Device/Sim/Detail/{ICCID}`` is documented as
        an integer without its values: it is kept as the provider's state (its text),
        never mapped. A detail answer that is not monoZ's JSON (its published
        example is not valid JSON) leaves the raw status out, nothing else.

        At most :data:`MAX_IN_FLIGHT` requests at once. An ICCID both pages answer
        404 (or 405) is left out, so ``{}`` when monoZ offers no SIM pages at all
        (they were hidden in 2025). ``Volume`` is what remains, not what was used:
        it is not read.
        """
        wanted = [iccid for iccid in dict.fromkeys(iccids) if valid_iccid(iccid)]
        limit = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def _get(
            iccid: str, *parts: str, best_effort: bool = False
        ) -> Any | None:
            async with limit:
                try:
                    body = await self._request("GET", self._url(*parts, iccid))
                except ProviderError as err:
                    if err.status in _NOT_OFFERED:
                        return None
                    if best_effort and err.status == 403:
                        return _UNREADABLE  # the key may not read the detail
                    if (
                        best_effort
                        and isinstance(err, ProviderResponseError)
                        and err.status is not None
                        and err.status < 300
                    ):
                        return _UNREADABLE  # a 2xx answer that is not its JSON
                    raise
            return body.get("Data")

        async def _one(iccid: str) -> SimStatus | None:
            enabled, detail = await asyncio.gather(
                _get(iccid, "Sim", "Enable"),
                _get(iccid, "Device", "Sim", "Detail", best_effort=True),
            )
            if enabled is None and detail is None:
                return None
            return _sim_status(iccid, enabled, detail)

        results = await asyncio.gather(*(_one(iccid) for iccid in wanted))
        return {status.provider_id: status for status in results if status}

    async def set_sim_active(self, iccid: str, active: bool) -> None:
        """Enable or disable a SIM: ``PUT /{org}/Sim/Enable {"ICCID", "Enable"}``."""
        if not isinstance(iccid, str) or not valid_iccid(iccid):
            raise ValueError("not an ICCID")
        if not isinstance(active, bool):
            raise TypeError("active must be a boolean")
        await self._request(
            "PUT", self._url("Sim", "Enable"), {"ICCID": iccid, "Enable": active}
        )

    async def publish_message(
        self,
        iccid: str,
        message: str,
        *,
        topic: str = "",
        qos: int = 0,
        message_format: int = FORMAT_TEXT,
    ) -> str | None:
        """Send a downlink; return monoZ's result text (``MessagePublished``)."""
        body = await self._request(
            "POST",
            self._publish_url,
            {
                "ICCID": iccid,
                "Topic": topic,
                "Message": message,
                "QoS": qos,
                "Format": message_format,
            },
        )
        result = body.get("Message")
        return result if isinstance(result, str) else None


def _sim_status(iccid: str, enabled: Any, detail: Any) -> SimStatus:
    """Read ``Data`` of ``Sim/Enable`` (the state) and of the SIM detail (its raw status).

    Anything unusable: state unknown, no pause offered.
    """
    flag = enabled.get("Enabled") if isinstance(enabled, Mapping) else None
    if flag is True:
        state = SIM_ACTIVE
    elif flag is False:
        state = SIM_SUSPENDED
    else:
        state = SIM_UNKNOWN
    raw = detail.get("Status") if isinstance(detail, Mapping) else None
    return SimStatus(
        provider_id=iccid,
        state=state,
        # A documented integer whose values are not published: kept as its text.
        provider_state=as_short_text(raw, 64),
        iccid=iccid,
        can_pause=state in (SIM_ACTIVE, SIM_SUSPENDED),
    )


def _detail(body: Any, api_key: str) -> str | None:
    if isinstance(body, dict):
        for key in ("Message", "message", "error"):
            if text := provider_text(body.get(key), (api_key,)):
                return text[:200]
    return None

"""Inbound webhook of an account entry: provider deliveries become HA events.

One webhook per account entry, registered with HA's ``webhook`` component (so Home
Assistant Cloud can relay it too: a relayed delivery arrives as HA's ``MockRequest``,
which the handler reads like a real request). Every request must carry the entry's
shared secret (query parameter ``secret``, header ``X-Webhook-Secret`` / ``X-API-Key``,
or the ``Authorization`` header as the bare secret, ``Bearer <secret>``, Basic auth
whose password is the secret, or a JWT signed with it, as emnify sends). A secret in
the query or a header is checked before a byte of the body is read: a request without
one is refused at once (401), unless its body may carry the secret (a Hologram form's
``key``); such a body is read only up to 64 KB and 10 s, and only a few at a time per
webhook (429 beyond), so that nobody without the secret can make Home Assistant hold
large bodies. The body is read to its end (however it is split or chunked) up to the provider's cap (256 KB;
emnify's Data Streamer bulks 8 MB) and within a deadline; a large body is decoded and
parsed in the executor, and its messages are fired in slices between which the event
loop runs. The parts of a long SMS are put together before one event is fired for it
(:mod:`.providers.sms_parts`). The handler never raises: a bad request gets a 4xx with
a short reason and a debug log line, nothing else.

A provider that PATCHes delivery receipts to the same URL (emnify, for the SMS sent
through its API) has them taken as PATCH, with the same secret check and limits, and
handed to the account's SMS tracking (:attr:`InboundWebhook.receipt_sink`). HA's
``webhook`` component takes GET, HEAD, POST and PUT only, so PATCH on the same
``/api/webhook/<id>`` path is served by a view of ours (:class:`_PatchView`): aiohttp
passes a request whose method one resource of a path lacks on to the next resource of
that path. Home Assistant Cloud relays through the ``webhook`` component, so a receipt
sent to a Cloud URL gets its 405; the SMS list is then the only source.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
import json
import secrets
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestPayloadError

from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.util.aiohttp import MockRequest
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_CLOUDHOOK_URL,
    CONF_KIND,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    LOGGER,
)
from .events import async_fire_message, message_event
from .providers.deliveries import (
    FORM,
    JSON,
    NO_CONTENT_TYPE,
    Delivered,
    Form,
    InboundFormatError,
    InboundMessage,
    SimUsage,
    SmsReceipt,
)
from .providers.sms_parts import SmsAssembler
from .recent import RecentIds
from .webhook_auth import (
    DeliveryRequest,
    RejectedError as _RejectedError,
    check_secret,
    secret_presented,
)

# Deliveries are small (monoZ: 10 packets of 6 KB; an SMS), except emnify's Data
# Streamer bulks, whose format says its own cap (DeliveryFormat.max_body_bytes).
MAX_BODY_BYTES: Final = 256 * 1024
# A body larger than this is decoded and parsed in the executor, not in the loop.
OFFLOAD_BYTES: Final = 64 * 1024
# Messages fired in one go before the event loop gets a turn.
FIRE_SLICE: Final = 100
# The whole body must arrive within this time (a sender that trickles gets 408).
BODY_TIMEOUT: Final = 30.0
# A Hologram form has four fields; anything with many more is not one.
MAX_FORM_FIELDS: Final = 16
# A body read before its sender is known (a form that carries the secret as "key"):
# at most this large (a 10 KB message, base64 and form-encoded, is under 42 KB), this
# slow, and this many at a time per webhook.
UNAUTHENTICATED_BODY_BYTES: Final = 64 * 1024
UNAUTHENTICATED_BODY_TIMEOUT: Final = 10.0
MAX_UNAUTHENTICATED_BODIES: Final = 4
# Message ids remembered per entry to drop a delivery the provider retries (a few
# of emnify's bulks of thousands of records).
DEDUP_SIZE: Final = 16384


# The webhooks that take PATCH (delivery receipts), by webhook id.
_PATCH_WEBHOOKS: HassKey[dict[str, InboundWebhook]] = HassKey(
    f"{DOMAIN}_patch_webhooks"
)


class _PatchView(HomeAssistantView):
    """PATCH on ``/api/webhook/<id>``, which HA's own webhook view does not take."""

    url = webhook.URL_WEBHOOK_PATH
    name = f"api:{DOMAIN}:webhook_patch"
    requires_auth = False

    async def patch(self, request: web.Request, webhook_id: str) -> web.Response:
        """Hand a PATCH to the webhook registered for it; 200 for any other id."""
        hass = request.app[KEY_HASS]
        target = hass.data.get(_PATCH_WEBHOOKS, {}).get(webhook_id)
        if target is None:  # (as HA answers an unknown webhook: nothing leaks)
            return web.Response(status=HTTPStatus.OK)
        return await target.handle(hass, webhook_id, request)


def new_webhook_secret() -> str:
    """Return a fresh shared secret (URL-safe)."""
    return secrets.token_urlsafe(24)


def webhook_url(hass: HomeAssistant, webhook_id: str) -> str:
    """Return the full URL of the webhook, or its path when HA knows no URL."""
    try:
        return webhook.async_generate_url(hass, webhook_id)
    except NoURLAvailableError:
        return webhook.async_generate_path(webhook_id)


def external_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the webhook's URL on HA's external URL; None when HA has none."""
    try:
        return webhook.async_generate_url(hass, webhook_id, allow_internal=False)
    except NoURLAvailableError:
        return None


def account_webhook_url(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[str, bool]:
    """Return the URL to paste at the provider, and whether the internet reaches it.

    The Home Assistant Cloud URL when the account has one, else the URL on HA's
    external URL, else the local one (which no provider can reach).
    """
    if cloudhook := data.get(CONF_CLOUDHOOK_URL):
        return str(cloudhook), True
    webhook_id = data[CONF_WEBHOOK_ID]
    if (external := external_webhook_url(hass, webhook_id)) is not None:
        return external, True
    return webhook_url(hass, webhook_id), False


# Home Assistant Cloud stays optional ("cloud" is an after-dependency): its module is
# imported only once the cloud integration is loaded.


def cloud_offers_webhooks(hass: HomeAssistant) -> bool:
    """Return whether Home Assistant Cloud can give a webhook an internet URL now."""
    if "cloud" not in hass.config.components:
        return False
    from homeassistant.components import cloud  # noqa: PLC0415 - optional

    return cloud.async_active_subscription(hass) and cloud.async_is_connected(hass)


async def async_create_cloudhook(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return a new Home Assistant Cloud URL for the webhook; None if cloud is gone."""
    from homeassistant.components import cloud  # noqa: PLC0415 - optional

    try:
        return await cloud.async_create_cloudhook(hass, webhook_id)
    except cloud.CloudNotAvailable:
        return None


async def async_delete_cloudhook(hass: HomeAssistant, webhook_id: str) -> None:
    """Delete the webhook's Home Assistant Cloud URL (a removed entry's)."""
    if "cloud" not in hass.config.components:
        return
    from homeassistant.components import cloud  # noqa: PLC0415 - optional

    try:
        await cloud.async_delete_cloudhook(hass, webhook_id)
    except (cloud.CloudNotAvailable, ValueError) as err:
        LOGGER.debug("Cannot delete the cloudhook of webhook %s: %r", webhook_id, err)


def url_with_secret(url: str, secret: str) -> str:
    """Return the URL to paste at a provider that cannot send headers."""
    return f"{url}?secret={secret}"


def basic_auth_value(secret: str) -> str:
    """Return the Basic auth value for a provider that asks for one (user:secret).

    The value 1NCE's Data Streamer asks for, sent as ``Authorization: Basic …``;
    the webhook takes the password as the secret (whatever the user name).
    """
    return base64.b64encode(f"{DOMAIN}:{secret}".encode()).decode()


def secret_placeholders(url: str, secret: str) -> dict[str, str]:
    """Return the placeholders a form shows a new secret with."""
    return {
        "secret": secret,
        "url_with_secret": url_with_secret(url, secret),
        "basic_auth": basic_auth_value(secret),
    }


def _source(request: DeliveryRequest) -> str | None:
    """Return who sent the request, for the log: its address, or the relay's name."""
    if isinstance(request, MockRequest):
        return request.mock_source
    return request.remote


async def _read_raw(
    request: DeliveryRequest,
    limit: int = MAX_BODY_BYTES,
    deadline: float | None = None,
) -> bytes:
    """Read the body to its end: it may come in many pieces, chunked, or compressed.

    The declared length is checked first; the cap (``limit`` bytes) holds for what
    arrives too (a chunked or compressed body declares none), and the whole body must
    arrive within ``deadline`` seconds (:data:`BODY_TIMEOUT`).
    """
    if (
        not isinstance(request, MockRequest)
        and request.content_length is not None
        and request.content_length > limit
    ):
        raise _RejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    content = request.content  # a MockRequest makes a new reader at each access
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT if deadline is None else deadline):
            while chunk := await content.read(limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise _RejectedError(
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large"
                    )
    except TimeoutError:
        raise _RejectedError(
            HTTPStatus.REQUEST_TIMEOUT, "body not received in time"
        ) from None
    except (
        RequestPayloadError,
        http_exceptions.HttpProcessingError,
        ConnectionError,
    ) as err:
        # aiohttp 3.13 refuses a body that decompresses to more than its own limit.
        too_large = getattr(http_exceptions, "DecompressSizeError", ())
        if too_large and isinstance(err.__cause__, too_large):
            raise _RejectedError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large"
            ) from None
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body could not be read") from None
    return b"".join(chunks)


def _media_type(request: DeliveryRequest) -> str:
    """Return the request's media type (lower case, no parameters), "" if none."""
    values = request.headers.getall("Content-Type", ())
    if len(values) > 1:
        raise _RejectedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "one Content-Type")
    if not values:
        return NO_CONTENT_TYPE
    return values[0].partition(";")[0].strip().lower()


def _form(raw: bytes) -> Form:
    """Decode a form body: UTF-8, each field once, a handful of fields."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:  # also UnicodeDecodeError
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "form is not valid") from None
    form = Form(pairs)
    if len(form) != len(pairs):
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "form repeats a field")
    return form


def _form_or_none(raw: bytes) -> Form | None:
    try:
        return _form(raw)
    except _RejectedError:
        return None  # refused with its reason once the secret has been checked


def _decode(raw: bytes, media_type: str) -> Any:
    """Decode a JSON body (any accepted type but a form), or a form into a Form."""
    if not raw.strip():
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "empty body")
    if media_type == FORM:
        return _form(raw)
    try:
        # JSON is UTF-8; a byte order mark, which some senders put first, is dropped.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body is not UTF-8") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _RejectedError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None


def _parse[T](parser: Callable[[Any], Sequence[T]], body: Any) -> Sequence[T]:
    try:
        return parser(body)
    except InboundFormatError as err:
        raise _RejectedError(HTTPStatus.BAD_REQUEST, str(err)) from None


def _decode_and_parse(
    raw: bytes, media_type: str, parser: Callable[[Any], Sequence[Delivered]]
) -> Sequence[Delivered]:
    """Decode a JSON body and parse it (run in the executor for a large body)."""
    return _parse(parser, _decode(raw, media_type))


def _check_media_type(media_type: str, accepted: frozenset[str]) -> None:
    """Refuse a media type the provider never posts (415, naming what is accepted)."""
    if media_type in accepted:
        return
    names = [JSON] if JSON in accepted else []
    if FORM in accepted:
        names.append("a form")
    raise _RejectedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "use " + " or ".join(names))


@dataclass(frozen=True, slots=True)
class DeliveryFormat:
    """What a provider's webhook posts: its parser and media types.

    The parser of a POST returns the messages in it, and may return delivery
    receipts and SIM usage beside them (a provider that streams those in the same
    POSTs: 1NCE's Data Streamer); the webhook hands each to its sink.
    """

    parser: Callable[[Any], Sequence[Delivered]]
    content_types: frozenset[str]
    # For a message with a topic: the ICCID it names and the event's topics (entry
    # data, topic), as the provider's MQTT uplinks have them.
    split_topic: (
        Callable[[Mapping[str, Any], str], tuple[str | None, list[str]]] | None
    ) = None
    # The parser of the delivery receipts the provider PATCHes (None: no PATCH).
    receipts: Callable[[Any], Sequence[SmsReceipt]] | None = None
    # The largest body the provider posts.
    max_body_bytes: int = MAX_BODY_BYTES


class InboundWebhook:
    """The webhook of one account entry."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, delivery: DeliveryFormat
    ) -> None:
        """Bind the webhook to its entry (the secret is read at each request)."""
        self._hass = hass
        self._entry = entry
        self._provider: str = entry.data[CONF_KIND]
        self._delivery = delivery
        self._parser: Callable[[Any], Sequence[Delivered]] = delivery.parser
        # The ids of the messages delivered lately (an account's poller may share it).
        self.recent = RecentIds(DEDUP_SIZE)
        self._assembler = SmsAssembler(self._fire, self._schedule)
        self._unsub_stop: CALLBACK_TYPE | None = None
        self.webhook_id: str = entry.data[CONF_WEBHOOK_ID]
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self.last_rejection: str | None = None
        # Takes the delivery receipts of a PATCH; returns how many it applied.
        self.receipt_sink: Callable[[list[SmsReceipt]], int] | None = None
        self.receipts = 0
        # Takes the SIM usage records of a POST; returns how many it applied.
        self.usage_sink: Callable[[list[SimUsage]], int] | None = None
        self.usage_records = 0
        # Bodies being read whose sender has not shown the secret yet.
        self.unauthenticated_reads = 0

    @callback
    def register(self) -> None:
        """Register with HA's webhook component (POST, reachable from outside).

        Where the provider PATCHes receipts to the same URL, with our PATCH view too.
        """
        if self._delivery.receipts is not None:
            if _PATCH_WEBHOOKS not in self._hass.data:
                self._hass.data[_PATCH_WEBHOOKS] = {}
                self._hass.http.register_view(_PatchView())
            self._hass.data[_PATCH_WEBHOOKS][self.webhook_id] = self
        webhook.async_register(
            self._hass,
            DOMAIN,
            f"{self._entry.title} inbound",
            self.webhook_id,
            self.handle,
            local_only=False,
            allowed_methods=["POST"],
        )
        self._unsub_stop = self._hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._on_stop
        )

    @callback
    def unregister(self) -> None:
        """Remove the webhook; a long SMS still waiting for parts is fired as it is."""
        webhook.async_unregister(self._hass, self.webhook_id)
        patchable = self._hass.data.get(_PATCH_WEBHOOKS, {})
        if patchable.get(self.webhook_id) is self:
            del patchable[self.webhook_id]
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        self._assembler.flush()

    @callback
    def _on_stop(self, _event: Event) -> None:
        self._unsub_stop = None
        self._assembler.flush()

    @callback
    def _schedule(self, delay: float, action: Callable[[], None]) -> CALLBACK_TYPE:
        @callback
        def _due(_now: Any) -> None:
            action()

        return async_call_later(self._hass, delay, _due)

    async def handle(
        self, hass: HomeAssistant, webhook_id: str, request: DeliveryRequest
    ) -> web.Response:
        """Answer one delivery; never raise."""
        try:
            raw, media_type, form = await self._read_authenticated(request)
            accepted = self._delivery.content_types
            _check_media_type(media_type, accepted)
            receipts: Sequence[SmsReceipt] | None = None
            delivered: Sequence[Delivered] = []
            if request.method == "PATCH" and self._delivery.receipts is not None:
                body = form if form is not None else _decode(raw, media_type)
                receipts = _parse(self._delivery.receipts, body)
            elif form is not None:
                delivered = _parse(self._parser, form)
            elif len(raw) > OFFLOAD_BYTES:
                delivered = await hass.async_add_executor_job(
                    _decode_and_parse, raw, media_type, self._parser
                )
            else:
                delivered = _parse(self._parser, _decode(raw, media_type))
        except _RejectedError as err:
            self.rejected += 1
            self.last_rejection = err.reason
            LOGGER.debug(
                "%s webhook: rejected a request from %s (%s): %s",
                self._entry.title,
                _source(request),
                int(err.status),
                err.reason,
            )
            return web.json_response({"error": err.reason}, status=err.status)
        except Exception:  # noqa: BLE001 - a webhook must answer, whatever happens
            LOGGER.exception("%s webhook: unexpected error", self._entry.title)
            return web.json_response(
                {"error": "internal error"}, status=HTTPStatus.INTERNAL_SERVER_ERROR
            )
        if receipts is not None:
            return self._apply(receipts)
        messages = [item for item in delivered if isinstance(item, InboundMessage)]
        if len(messages) < len(delivered):
            self._apply_records(delivered)
        new = 0
        for index, message in enumerate(messages):
            if index and not index % FIRE_SLICE:
                await asyncio.sleep(0)  # a large bulk: let the loop run between slices
            if not self.recent.claim(message.keys):
                self.duplicates += 1
                continue
            # A part of a long SMS waits for the others; anything else is fired now.
            if not self._assembler.add(message):
                self.duplicates += 1  # the same part again, under another id
                continue
            new += 1
        self.accepted += new
        return web.json_response(
            {"accepted": new, "duplicates": len(messages) - new}, status=HTTPStatus.OK
        )

    async def _read_authenticated(
        self, request: DeliveryRequest
    ) -> tuple[bytes, str, Form | None]:
        """Check the secret, reading the body first only where it carries the secret.

        Return the body, its media type and, for a form the provider posts, the form.
        """
        expected = self._entry.options.get(CONF_WEBHOOK_SECRET, "")
        media_type = _media_type(request)
        # A Hologram form carries the secret in its "key" field.
        takes_form = media_type == FORM and FORM in self._delivery.content_types
        if secret_presented(request, expected):
            raw = await _read_raw(request, self._delivery.max_body_bytes)
            return raw, media_type, _form_or_none(raw) if takes_form else None
        if not takes_form:  # nothing in the body can authenticate it: not read
            raise _RejectedError(HTTPStatus.UNAUTHORIZED, "missing or wrong secret")
        if self.unauthenticated_reads >= MAX_UNAUTHENTICATED_BODIES:
            raise _RejectedError(
                HTTPStatus.TOO_MANY_REQUESTS, "busy: put the secret in the URL"
            )
        self.unauthenticated_reads += 1
        try:
            raw = await _read_raw(
                request,
                min(UNAUTHENTICATED_BODY_BYTES, self._delivery.max_body_bytes),
                UNAUTHENTICATED_BODY_TIMEOUT,
            )
        finally:
            self.unauthenticated_reads -= 1
        form = _form_or_none(raw)
        check_secret(request, expected, form.get("key") if form is not None else None)
        return raw, media_type, form

    def _apply_records(self, delivered: Sequence[Delivered]) -> None:
        """Hand the receipts and the SIM usage of a POST to their sinks (once each)."""
        receipts = [
            item
            for item in delivered
            if isinstance(item, SmsReceipt)
            and self.recent.claim((f"receipt-{item.sms_id}-{item.status}",))
        ]
        usage = [
            item
            for item in delivered
            if isinstance(item, SimUsage) and self.recent.claim((item.record_id,))
        ]
        self.duplicates += (
            sum(not isinstance(item, InboundMessage) for item in delivered)
            - len(receipts)
            - len(usage)
        )
        if receipts:
            self._sink(self.receipt_sink, receipts, "receipts")
            self.receipts += len(receipts)
        if usage:
            self._sink(self.usage_sink, usage, "usage records")
            self.usage_records += len(usage)

    def _sink[T](
        self, sink: Callable[[list[T]], int] | None, items: list[T], what: str
    ) -> int:
        """Hand items to a sink; an error there is logged, never raised."""
        try:
            return sink(items) if sink is not None else 0
        except Exception:  # noqa: BLE001 - a webhook must answer, whatever happens
            LOGGER.exception("%s webhook: %s not applied", self._entry.title, what)
            return 0

    def _apply(self, receipts: Sequence[SmsReceipt]) -> web.Response:
        """Hand delivery receipts to the SMS tracking; 200 whether or not it knew them."""
        applied = self._sink(self.receipt_sink, list(receipts), "receipts")
        self.receipts += len(receipts)
        return web.json_response(
            {"receipts": len(receipts), "applied": applied}, status=HTTPStatus.OK
        )

    def _fire(self, message: InboundMessage) -> None:
        iccid = message.iccid
        topics = message.topics
        split = self._delivery.split_topic
        if split is not None and topics:
            named, topics = split(self._entry.data, topics[0])
            iccid = iccid or named
        event = message_event(
            provider=self._provider,
            source="webhook",
            entry_id=self._entry.entry_id,
            payload=message.payload,
            device_id=message.device_id,
            iccid=iccid,
            topics=topics,
            received_at=message.received_at,
            message_id=message.message_id,
            **message.extra,
        )
        async_fire_message(self._hass, self._entry.entry_id, event)

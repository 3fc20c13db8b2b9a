"""Fuzzing (hypothesis, fixed seed, bounded): no input crashes the inbound paths.

- The webhook parsers take any JSON value (and provider-shaped objects with any
  values) and either return messages or raise InboundFormatError, nothing else.
- The webhook body decoder takes any bytes with any content type and either returns a
  value or rejects the request with a 4xx.
- The listener's TCP framing delivers exactly the bytes sent (cut at the limit, with
  the truncated flag), whatever the bytes and however they are split; UDP likewise.
- The SMS encoder takes any text (see also tests/test_sms_encoding.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from http import HTTPStatus
import json
from typing import Any

from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, seed, settings, strategies as st
import pytest

from custom_components.cellular_iot.inbound import (
    _check_media_type,
    _decode,
    _media_type,
    _RejectedError,
)
from custom_components.cellular_iot.providers.inbound import (
    CONTENT_TYPES,
    PARSERS,
    InboundFormatError,
    InboundMessage,
)
from custom_components.cellular_iot.providers.listener import Listener, ReceivedMessage
from custom_components.cellular_iot.providers.sms import (
    SmsTooLongError,
    encode_sms,
    sms_length,
)

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "ICCID", "Topic", "Payload", "Timestamp", "payload", "data", "decdata", "device_id",
    "deviceid", "device", "device_name", "record_id", "tags", "received", "timestamp",
    "id", "endpoint", "sim", "event_type", "description", "alert", "submit_date",
    "source_address", "dcs", "key",
]  # fmt: skip
provider_like = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
deliveries = provider_like | st.lists(provider_like, max_size=4) | json_values


def _check(messages: list[InboundMessage]) -> None:
    for message in messages:
        assert isinstance(message.payload, bytes)
        assert isinstance(message.message_id, str)
        assert message.message_id
        assert all(isinstance(topic, str) for topic in message.topics)
        json.dumps(message.extra)  # event data must stay serialisable


@pytest.mark.parametrize("provider", sorted(PARSERS))
@seed(20261123)
@FUZZ
@given(body=deliveries)
def test_parsers_never_crash(provider: str, body: Any) -> None:
    try:
        messages = PARSERS[provider](body)
    except InboundFormatError as err:
        reason = str(err)
        assert reason
    else:
        _check(messages)


@seed(20261123)
@FUZZ
@given(
    raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            "multipart/form-data",
            "",
        ]
    ),
)
def test_body_decoder_never_crashes(raw: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    request = make_mocked_request("POST", "/api/webhook/x", headers=headers)
    for provider, parse in PARSERS.items():
        try:
            media_type = _media_type(request)
            _check_media_type(media_type, CONTENT_TYPES[provider])
            value = _decode(raw, media_type)
        except _RejectedError as err:
            status = err.status
            assert status in (
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )
            continue
        with contextlib.suppress(InboundFormatError):
            _check(parse(value))


@seed(20261123)
@settings(FUZZ, max_examples=300)
@given(text=st.text(alphabet=st.characters(), max_size=600))
def test_sms_encoder_never_crashes(text: str) -> None:
    try:
        parts = encode_sms(text, max_parts=32)
    except SmsTooLongError:
        return
    except ValueError:
        assert not text  # the only other refusal: nothing to send
        return
    assert parts
    assert sms_length(text)[0] in ("gsm7", "ucs2")
    assert "".join(part.payload for part in parts) == text


MAX = 64


async def _roundtrip_tcp(chunks: list[bytes]) -> list[ReceivedMessage]:
    received: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
    listener = Listener("TCP", "127.0.0.1", 0, received.put_nowait, max_bytes=MAX)
    await listener.start()
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        try:
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        except ConnectionError:
            pass  # the listener closes early once the limit is reached
        _, end = await asyncio.open_connection("127.0.0.1", listener.port)
        end.write(b"END")
        end.close()
        messages: list[ReceivedMessage] = []
        async with asyncio.timeout(5):
            while not any(m.data == b"END" for m in messages) or (
                b"".join(chunks) and len(messages) < 2
            ):
                messages.append(await received.get())
        return [m for m in messages if m.data != b"END" or b"".join(chunks) == b"END"]
    finally:
        await listener.stop()


@seed(20261123)
@settings(FUZZ, max_examples=40)
@given(chunks=st.lists(st.binary(min_size=0, max_size=40), max_size=5))
def test_tcp_framing_delivers_exactly_what_was_sent(
    socket_enabled: None, chunks: list[bytes]
) -> None:
    sent = b"".join(chunks)
    messages = asyncio.run(_roundtrip_tcp(chunks))
    if not sent:
        assert messages == []
        return
    assert len(messages) == 1
    assert messages[0].data == sent[:MAX]
    assert messages[0].truncated == (len(sent) > MAX)


async def _roundtrip_udp(datagram: bytes) -> ReceivedMessage:
    received: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
    listener = Listener("UDP", "127.0.0.1", 0, received.put_nowait, max_bytes=MAX)
    await listener.start()
    try:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", listener.port)
        )
        transport.sendto(datagram)
        transport.close()
        async with asyncio.timeout(5):
            return await received.get()
    finally:
        await listener.stop()


@seed(20261123)
@settings(FUZZ, max_examples=40)
@given(datagram=st.binary(min_size=1, max_size=200))
def test_udp_datagrams_are_cut_at_the_limit(
    socket_enabled: None, datagram: bytes
) -> None:
    message = asyncio.run(_roundtrip_udp(datagram))
    assert message.data == datagram[:MAX]
    assert message.truncated == (len(datagram) > MAX)

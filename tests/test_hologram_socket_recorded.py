"""The Socket API frames and answers of Hologram's SDK and docs, over a real socket.

tests/fixtures/recorded/hologram/socket_*.yaml hold TCP exchanges: the request body is
the frame hologram-python sends (its test vectors, its SMS builder), the response the
answer the embedded APIs page documents. A loopback server reads our real client's
frame up to the SDK's ``\\r\\r`` and answers with the recorded bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderError,
    ProviderResponseError,
)
from custom_components.cellular_iot.providers.hologram_socket import (
    RESULT_CODES,
    HologramSocketClient,
)

from . import recorded
from .fakes.tcp import LoopbackServer

SDK_KEY = "12345678"  # the device key of the SDK's tests
# What the SDK sends and we do not: "m", the SDK's own modem type and version.
SDK_METADATA = (b'"m": "\\u0001e303-None", ', b'"m": "\\u0001agnostic-None", ')


class RecordedSocket:
    """Answers each connection with the next recorded answer, after the frame."""

    def __init__(self, interactions: Iterable[recorded.Interaction]) -> None:
        self.answers = [item.response.body for item in interactions]
        self.received: list[bytes] = []
        self.server = LoopbackServer(self._handle)

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.received.append(await reader.readuntil(b"\r\r"))
        writer.write(self.answers.pop(0))
        await writer.drain()

    async def client(self, key: str = SDK_KEY) -> HologramSocketClient:
        port = await self.server.start()
        return HologramSocketClient(key, host="127.0.0.1", port=port, timeout=30)


async def test_cloud_message_frames_are_the_sdks(socket_enabled: None) -> None:
    recording = recorded.load("hologram", "socket_sdk_cloud_message.yaml")
    server = RecordedSocket(recording.interactions)
    client = await server.client()
    try:
        await client.send_to_cloud("test without topics")
        await client.send_to_cloud("test with empty modem_type and modem_id")
    finally:
        await server.server.stop()
    for sent, item, metadata in zip(
        server.received, recording.interactions, SDK_METADATA, strict=True
    ):
        assert item.request.body is not None
        assert metadata in item.request.body
        assert sent == item.request.body.replace(metadata, b"")
    assert server.answers == []


async def test_sms_frame_is_the_sdks(socket_enabled: None) -> None:
    recording = recorded.load("hologram", "socket_sdk_sms.yaml")
    server = RecordedSocket(recording.interactions)
    client = await server.client()
    try:
        await client.send_sms("+1234567890", "hello")
    finally:
        await server.server.stop()
    assert server.received == [recording.interactions[0].request.body]


async def test_legacy_sms_frame_is_the_same_bytes(socket_enabled: None) -> None:
    """S + source ID + key: the legacy pair sends the SDK's SMS frame unchanged."""
    recording = recorded.load("hologram", "socket_sdk_sms.yaml")
    server = RecordedSocket(recording.interactions)
    port = await server.server.start()
    client = HologramSocketClient(
        SDK_KEY[4:], source_id=SDK_KEY[:4], host="127.0.0.1", port=port, timeout=30
    )
    try:
        await client.send_sms("+1234567890", "hello")
    finally:
        await server.server.stop()
    assert server.received == [recording.interactions[0].request.body]


# The SDK's table (HologramCloud.py): what each code is, and what we raise for it.
EXPECTED: dict[int, type[ProviderError] | None] = {
    0: None,  # ERR_OK
    1: None,  # ERR_CONNCLOSED: resultWasSuccess counts it as sent
    2: ProviderBadRequestError,  # ERR_MSGINVALID
    3: ProviderAuthError,  # ERR_AUTHINVALID
    4: ProviderBadRequestError,  # ERR_PAYLOADINVALID
    5: ProviderBadRequestError,  # ERR_PROTINVALID
    6: ProviderResponseError,  # ERR_INTERNAL
    7: ProviderBadRequestError,  # ERR_METADATA
    8: ProviderBadRequestError,  # ERR_TOPICINVALID
}


@pytest.mark.parametrize("method", ["cloud", "sms"])
async def test_every_documented_result_code(socket_enabled: None, method: str) -> None:
    recording = recorded.load("hologram", "socket_result_codes.yaml")
    server = RecordedSocket(recording.interactions)
    client = await server.client()
    errors: dict[int, ProviderError | None] = {}
    try:
        for item in recording.interactions:
            code = int(item.response.body.decode().strip("[]").split(",")[0])
            errors[code] = None
            try:
                if method == "cloud":
                    await client.send_to_cloud("21.5", ["TEMP"])
                else:
                    await client.send_sms("+1234567890", "hello")
            except ProviderError as err:
                errors[code] = err
    finally:
        await server.server.stop()
    assert {code: type(err) if err else None for code, err in errors.items()} == (
        EXPECTED
    )
    assert len(server.received) == len(EXPECTED)
    for code, err in errors.items():
        if err is not None:
            assert f"{RESULT_CODES[code]} ({code})" in str(err)
            assert err.detail == f"[{code},0]"
            assert SDK_KEY not in str(err)

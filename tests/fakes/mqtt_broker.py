"""A scripted MQTT 3.1.1 server on 127.0.0.1, for what Mosquitto will not do on request.

Mosquitto refuses to route a topic that is not UTF-8 and never drops a connection it
has just accepted; a hostile or broken broker does both. Each connection runs the
test's script with a :class:`MqttSession` that reads and writes raw packets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import struct

from .tcp import LoopbackServer

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
SUBSCRIBE = 8
SUBACK = 9
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (128 if length else 0))
        if not length:
            return bytes(out)


class MqttSession:
    """One client connection: read a packet, write a packet."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        """Wrap the connection's streams."""
        self.reader = reader
        self.writer = writer
        self.client_id: str | None = None

    async def read(self) -> tuple[int, bytes]:
        """Return the next packet's type and body (PINGREQ is answered here)."""
        while True:
            header = (await self.reader.readexactly(1))[0]
            length, multiplier = 0, 1
            while True:
                byte = (await self.reader.readexactly(1))[0]
                length += (byte & 127) * multiplier
                multiplier *= 128
                if not byte & 128:
                    break
            body = await self.reader.readexactly(length)
            if header >> 4 == PINGREQ:
                self.send(PINGRESP, 0, b"")
                continue
            return header >> 4, body

    async def expect(self, packet_type: int) -> bytes:
        """Read the next packet; it must be of ``packet_type``."""
        got, body = await self.read()
        assert got == packet_type, f"expected packet {packet_type}, got {got}"
        return body

    def send(self, packet_type: int, flags: int, body: bytes) -> None:
        """Write one packet."""
        self.writer.write(
            bytes([packet_type << 4 | flags]) + _remaining_length(len(body)) + body
        )

    async def accept(self, return_code: int = 0) -> None:
        """Read CONNECT and answer CONNACK with ``return_code``."""
        body = await self.expect(CONNECT)
        # Protocol name (2 + 4), level, flags, keep-alive, then the client id.
        (size,) = struct.unpack("!H", body[10:12])
        self.client_id = body[12 : 12 + size].decode()
        self.send(CONNACK, 0, bytes([0, return_code]))
        await self.writer.drain()

    async def grant_subscription(self) -> None:
        """Read SUBSCRIBE and grant every filter at QoS 1."""
        body = await self.expect(SUBSCRIBE)
        mid, rest, filters = body[:2], body[2:], 0
        while rest:
            (size,) = struct.unpack("!H", rest[:2])
            rest = rest[2 + size + 1 :]
            filters += 1
        self.send(SUBACK, 0, mid + bytes([1] * filters))
        await self.writer.drain()

    async def publish(self, topic: bytes, payload: bytes, mid: int) -> None:
        """Send a QoS 1 PUBLISH with a raw (possibly invalid) topic."""
        body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + payload
        self.send(PUBLISH, 0b0010, body)
        await self.writer.drain()

    async def puback(self) -> int:
        """Read the next PUBACK and return its message id."""
        body = await self.expect(PUBACK)
        return int(struct.unpack("!H", body[:2])[0])


class FakeBroker:
    """Runs ``script(session)`` for every connection; counts them."""

    def __init__(self, script: Callable[[MqttSession], Awaitable[None]]) -> None:
        """Keep the script; :meth:`start` listens."""
        self.script = script
        self.connections = 0
        self.port = 0
        self.errors: list[BaseException] = []
        self._server = LoopbackServer(self._handle)

    async def start(self) -> int:
        """Listen on a free loopback port and return it."""
        self.port = await self._server.start()
        return self.port

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            await self.script(MqttSession(reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except Exception as err:  # reported by the test (stop() asserts)
            self.errors.append(err)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        await self._server.stop()
        assert not self.errors, self.errors

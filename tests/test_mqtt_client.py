"""The asyncio paho-mqtt client against a real Mosquitto broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
import ssl
from typing import Any

import pytest

from custom_components.cellular_iot.providers import mqtt as mqtt_module
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderTimeoutError,
)
from custom_components.cellular_iot.providers.mqtt import (
    MqttClient,
    MqttMessage,
    MqttSettings,
    valid_topic_filter,
    valid_topic_name,
)

from .mosquitto import (
    HOST,
    Mosquitto,
    Subscriber,
    free_port,
    make_certificate,
    publish,
)

pytestmark = pytest.mark.usefixtures("fast_reconnect")


class Inbox:
    """Collects received messages and connection changes; waits without sleeping."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[MqttMessage] = asyncio.Queue()
        self.states: asyncio.Queue[bool] = asyncio.Queue()

    def on_message(self, message: MqttMessage) -> None:
        self.messages.put_nowait(message)

    def on_state(self, connected: bool) -> None:
        self.states.put_nowait(connected)

    async def message(self) -> MqttMessage:
        async with asyncio.timeout(10):
            return await self.messages.get()

    async def state(self) -> bool:
        async with asyncio.timeout(10):
            return await self.states.get()


@pytest.fixture
async def make_client() -> AsyncGenerator[Callable[..., Any]]:
    clients: list[MqttClient] = []

    async def _make(
        broker_port: int,
        *,
        inbox: Inbox | None = None,
        subscriptions: tuple[tuple[str, int], ...] = (),
        wait: bool = True,
        **settings: Any,
    ) -> MqttClient:
        client = MqttClient(
            MqttSettings(
                host=HOST, port=broker_port, client_id=f"c{len(clients)}", **settings
            ),
            subscriptions=subscriptions,
            on_message=inbox.on_message if inbox else None,
            on_connection_change=inbox.on_state if inbox else None,
        )
        clients.append(client)
        await client.start(wait=wait, timeout=5)
        return client

    yield _make
    for client in clients:
        await client.stop()


@pytest.fixture
async def subscriber(mosquitto: Mosquitto) -> AsyncGenerator[Subscriber]:
    sub = Subscriber(mosquitto, "#")
    await sub.start()
    yield sub
    await sub.stop()


@pytest.mark.parametrize("qos", [0, 1])
async def test_publish_reaches_topic_with_qos(
    mosquitto: Mosquitto, subscriber: Subscriber, make_client: Any, qos: int
) -> None:
    client = await make_client(mosquitto.port)
    assert client.connected
    mid = await client.publish("/org1/8988/sub/cmd", b'{"led":"on"}', qos)
    assert mid > 0
    got = await subscriber.next()
    assert (got.topic, got.payload, got.qos) == (
        "/org1/8988/sub/cmd",
        b'{"led":"on"}',
        qos,
    )


async def test_subscription_delivers_messages(
    mosquitto: Mosquitto, make_client: Any
) -> None:
    inbox = Inbox()
    await make_client(
        mosquitto.port, inbox=inbox, subscriptions=(("/org1/+/pub/#", 1),)
    )
    assert await inbox.state() is True
    await publish(mosquitto, "/org1/8988/pub/temp", b"\x00\x01 21.5C")
    message = await inbox.message()
    assert message == MqttMessage("/org1/8988/pub/temp", b"\x00\x01 21.5C", 1, False)


async def test_broker_restart_delivers_queued_qos1_and_resubscribes(
    mosquitto: Mosquitto, subscriber: Subscriber, make_client: Any
) -> None:
    inbox = Inbox()
    client = await make_client(
        mosquitto.port, inbox=inbox, subscriptions=(("/org1/+/pub/#", 1),)
    )
    assert await inbox.state() is True
    await subscriber.stop()

    mosquitto.stop()
    assert await inbox.state() is False
    assert not client.connected
    pending = asyncio.create_task(client.publish("/org1/8988/sub", b"during outage", 1))
    await asyncio.sleep(0)
    assert not pending.done()

    mosquitto.start()
    assert await inbox.state() is True
    await asyncio.wait_for(pending, 10)
    # The persistent subscriber session kept the message for mosquitto_sub.
    await subscriber.start()
    got = await subscriber.next()
    assert (got.topic, got.payload, got.qos) == ("/org1/8988/sub", b"during outage", 1)
    # The subscription was made again after the reconnect.
    await publish(mosquitto, "/org1/8988/pub/x", b"after restart")
    assert (await inbox.message()).payload == b"after restart"
    assert client.connect_count == 2


async def test_first_connect_refused_raises(
    make_client: Any, socket_enabled: None
) -> None:
    with pytest.raises(ProviderConnectionError, match="Cannot reach the MQTT broker"):
        await make_client(free_port())


async def test_bad_credentials_raise_auth_error(
    socket_enabled: None, tmp_path: Path, make_client: Any
) -> None:
    broker = Mosquitto(tmp_path, users={"ha": "s3cret"})
    broker.start()
    try:
        with pytest.raises(ProviderAuthError) as err:
            await make_client(broker.port, username="ha", password="wrong")
        assert "wrong" not in str(err.value)
        client = await make_client(broker.port, username="ha", password="s3cret")
        assert client.connected
    finally:
        broker.stop()


async def test_connect_timeout(socket_enabled: None, make_client: Any) -> None:
    # A TCP server that never answers CONNECT.
    writers: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(
        lambda reader, writer: writers.append(writer), HOST, 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        client = MqttClient(MqttSettings(host=HOST, port=port))
        with pytest.raises(ProviderTimeoutError):
            await client.start(wait=True, timeout=0.2)
        assert not client.connected
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_stop_fails_pending_publish(
    mosquitto: Mosquitto, make_client: Any
) -> None:
    inbox = Inbox()
    client = await make_client(mosquitto.port, inbox=inbox)
    assert await inbox.state() is True
    mosquitto.stop()
    assert await inbox.state() is False
    pending = asyncio.create_task(client.publish("/t", b"x", 1))
    await asyncio.sleep(0)
    await client.stop()
    with pytest.raises(ProviderConnectionError, match="stopped"):
        await pending
    with pytest.raises(ProviderConnectionError, match="stopped"):
        await client.publish("/t", b"x", 1)


async def test_publish_times_out_while_disconnected(
    mosquitto: Mosquitto, make_client: Any
) -> None:
    inbox = Inbox()
    client = await make_client(mosquitto.port, inbox=inbox)
    assert await inbox.state() is True
    mosquitto.stop()
    assert await inbox.state() is False
    with pytest.raises(ProviderTimeoutError, match="stays queued"):
        await client.publish("/t", b"x", 1, timeout=0.05)


async def test_background_start_keeps_retrying(
    socket_enabled: None, tmp_path: Path, make_client: Any
) -> None:
    broker = Mosquitto(tmp_path)
    inbox = Inbox()
    client = await make_client(broker.port, inbox=inbox, wait=False)
    assert not client.connected
    broker.start()
    try:
        assert await inbox.state() is True
        assert client.last_error is None
    finally:
        await client.stop()
        broker.stop()


def test_topic_validation() -> None:
    assert valid_topic_filter("/org/+/pub/#")
    assert valid_topic_filter("#")
    assert not valid_topic_filter("")
    assert not valid_topic_filter("/a/#/b")
    assert not valid_topic_filter("/a/b#")
    assert not valid_topic_filter("/a+/b")
    assert valid_topic_name("/org/1/sub/x")
    assert not valid_topic_name("/org/+/sub")
    assert not valid_topic_name("")


@pytest.fixture
def tls_broker(
    socket_enabled: None, tmp_path: Path
) -> Generator[tuple[Mosquitto, Path]]:
    cert, key = make_certificate(tmp_path)
    broker = Mosquitto(tmp_path, tls=(cert, key))
    broker.start()
    yield broker, cert
    broker.stop()


async def test_tls_without_verification_connects(
    tls_broker: tuple[Mosquitto, Path],
) -> None:
    broker, _ = tls_broker
    client = MqttClient(
        MqttSettings(host=HOST, port=broker.port, tls=True, verify_tls=False)
    )
    await client.start(wait=True, timeout=5)
    try:
        assert client.connected
        await client.publish("/t", b"x", 1)
    finally:
        await client.stop()


async def test_tls_verification_refuses_unknown_certificate(
    tls_broker: tuple[Mosquitto, Path],
) -> None:
    broker, _ = tls_broker
    client = MqttClient(MqttSettings(host=HOST, port=broker.port, tls=True))
    with pytest.raises(ProviderConnectionError, match="Cannot reach"):
        await client.start(wait=True, timeout=5)
    assert not client.connected


async def test_tls_with_trusted_certificate_verifies(
    tls_broker: tuple[Mosquitto, Path],
) -> None:
    broker, cert = tls_broker
    context = await asyncio.get_running_loop().run_in_executor(
        None, lambda: ssl.create_default_context(cafile=str(cert))
    )
    client = MqttClient(
        MqttSettings(host=HOST, port=broker.port, tls=True), ssl_context=context
    )
    await client.start(wait=True, timeout=5)
    try:
        assert client.connected
    finally:
        await client.stop()


async def test_silent_broker_is_detected_by_keepalive(
    mosquitto: Mosquitto, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that stops answering (no FIN, no RST) is found by the keep-alive."""
    monkeypatch.setattr(mqtt_module, "MISC_INTERVAL", 0.05)
    inbox = Inbox()
    client = await make_client(mosquitto.port, inbox=inbox, keepalive=1)
    assert await inbox.state() is True
    mosquitto.pause()
    try:
        assert await inbox.state() is False
    finally:
        mosquitto.resume()
    assert await inbox.state() is True
    assert client.connect_count == 2


async def test_callback_error_does_not_stop_the_client(
    mosquitto: Mosquitto, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Inbox()
    calls: list[MqttMessage] = []

    def explode(message: MqttMessage) -> None:
        calls.append(message)
        if len(calls) == 1:
            raise ValueError("bad handler")
        inbox.on_message(message)

    client = MqttClient(
        MqttSettings(host=HOST, port=mosquitto.port),
        subscriptions=(("/a/#", 1),),
        on_message=explode,
    )
    await client.start(wait=True, timeout=5)
    try:
        await publish(mosquitto, "/a/1", b"first")
        await publish(mosquitto, "/a/2", b"second")
        assert (await inbox.message()).payload == b"second"
        assert "Error handling an MQTT message on /a/1" in caplog.text
    finally:
        await client.stop()

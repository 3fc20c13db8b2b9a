"""A real Mosquitto broker for the tests, and mosquitto_sub / mosquitto_pub around it.

Each broker runs on a free loopback port with its own directory, persistence on (so a
persistent subscriber session and its queued QoS 1 messages survive a restart), and
can be stopped and started again on the same port.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import os
from pathlib import Path
import pwd
import shutil
import signal
import socket
import subprocess
import time

from .guards import HANG_GUARD

HOST = "127.0.0.1"


def mosquitto_binary() -> str:
    """The broker binary (Debian installs it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        msg = "mosquitto is not installed: run scripts/system-deps"
        raise RuntimeError(msg)
    return found


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One broker process on 127.0.0.1:<port>."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        acl: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        """Write the configuration; ``users`` turns anonymous access off.

        ``acl`` is the text of an ACL file (Mosquitto then denies what it does not
        allow, silently); ``extra`` are more configuration lines.
        """
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        lines = [
            f"listener {self.port} {HOST}",
            f"allow_anonymous {'false' if users else 'true'}",
            "persistence true",
            f"persistence_location {directory}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 1000",
            # Run as whoever runs the tests (as root it would switch to "mosquitto"
            # and could not write its persistence file here).
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
        ]
        if users:
            passwd = directory / "passwd"
            passwd.write_text("")
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                )
            lines.append(f"password_file {passwd}")
        lines += extra
        if acl is not None:
            (directory / "acl").write_text(acl)
            lines.append(f"acl_file {directory / 'acl'}")
        if tls:
            cert, key = tls
            lines += [f"certfile {cert}", f"keyfile {key}"]
        self.config = directory / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start the broker and return once it accepts connections."""
        with (self.directory / f"broker-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [mosquitto_binary(), "-c", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.starts += 1
        deadline = time.monotonic() + HANG_GUARD
        while True:
            if self.process.poll() is not None:
                log = (self.directory / f"broker-{self.starts - 1}.log").read_text()
                msg = f"mosquitto exited with {self.process.returncode}: {log}"
                raise RuntimeError(msg)
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # readiness poll, not a timing assertion

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused broker run again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the broker (SIGTERM: it saves its persistence file first)."""
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(timeout=HANG_GUARD)
        self.process = None


@dataclass
class Received:
    """A message mosquitto_sub printed."""

    qos: int
    retain: bool
    topic: str
    payload: bytes


class Subscriber:
    """``mosquitto_sub`` with a persistent session: an independent MQTT client."""

    def __init__(
        self, broker: Mosquitto, topic: str, client_id: str = "test-sub"
    ) -> None:
        """Subscribe to ``topic`` at QoS 1 once :meth:`start` runs."""
        self.broker = broker
        self.topic = topic
        self.client_id = client_id
        self.process: asyncio.subprocess.Process | None = None
        self.messages: asyncio.Queue[Received] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        """Start mosquitto_sub and return once the broker acknowledged the subscription."""
        self._subscribed.clear()
        self.process = await asyncio.create_subprocess_exec(
            "stdbuf", "-oL",  # line-buffered: each line as soon as it is printed
            "mosquitto_sub",
            "-h", HOST,
            "-p", str(self.broker.port),
            "-i", self.client_id,
            "-c",  # persistent session: QoS 1 messages wait while it is away
            "-q", "1",
            "-t", self.topic,
            "-d",
            "-F", "MSG %q %r %t %x",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        async with asyncio.timeout(HANG_GUARD):
            await self._subscribed.wait()

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if "received SUBACK" in line:
                self._subscribed.set()
            elif line.startswith("MSG "):
                _, qos, retain, topic, payload = ([*line.split(" ", 4), ""])[:5]
                await self.messages.put(
                    Received(int(qos), retain == "1", topic, bytes.fromhex(payload))
                )

    async def next(self, timeout: float = HANG_GUARD) -> Received:
        """The next message (fails the test after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            return await self.messages.get()

    async def stop(self) -> None:
        """End mosquitto_sub."""
        if self.process is not None and self.process.returncode is None:
            # SIGKILL: the broker keeps the persistent session all the same.
            self.process.kill()
            async with asyncio.timeout(HANG_GUARD):
                await self.process.wait()
        if self._reader is not None:
            async with asyncio.timeout(HANG_GUARD):
                await self._reader
        self.process = None


async def publish(
    broker: Mosquitto, topic: str, payload: bytes, qos: int = 1, *, retain: bool = False
) -> None:
    """Publish one message with mosquitto_pub (as a device would)."""
    args = ["-h", HOST, "-p", str(broker.port), "-t", topic, "-q", str(qos), "-s"]
    if retain:
        args.append("-r")
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate(payload)
    assert process.returncode == 0, output


async def publish_many(broker: Mosquitto, topic: str, count: int, qos: int = 1) -> None:
    """Publish ``count`` messages ("0", "1", ...) from one mosquitto_pub, at once."""
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        *("-h", HOST, "-p", str(broker.port), "-t", topic, "-q", str(qos), "-l"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines = "".join(f"{index}\n" for index in range(count)).encode()
    output, _ = await process.communicate(lines)
    assert process.returncode == 0, output


def make_certificate(directory: Path, names: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A self-signed certificate (as a broker's certfile and keyfile).

    It is for 127.0.0.1, or with ``names`` for those DNS names only.
    """
    from datetime import UTC, datetime, timedelta
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test broker")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name) for name in names]
                if names
                else [x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "broker.crt"
    key_path = directory / "broker.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path

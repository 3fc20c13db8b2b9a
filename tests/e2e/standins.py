# ruff: noqa: T201
"""Stand-ins of every provider: Hologram, emnify, monoZ and 1NCE over HTTPS, and an MQTT broker.

Used by ``scripts/develop --stand-ins`` (a develop Home Assistant that can add every
kind of entry without a provider account) and by the e2e (tests/e2e/run.py). They only
make sense inside a network and mount namespace of their own (as scripts/e2e and
scripts/develop --stand-ins make one) where :data:`HOSTS` is bind-mounted over
/etc/hosts: each provider's host name then points to a loopback address of its own,
where the stand-in answers on the real port with a certificate of a throwaway CA.
Only Home Assistant trusts that CA (``REQUESTS_CA_BUNDLE=<ca_bundle>``, which HA's
client SSL context reads before certifi).

The HTTPS stand-ins are the fakes of tests/fakes (FakeHologram, FakeEmnify,
FakeMonoz, FakeOneNce): they answer only in the shapes of tests/fixtures/recorded and
record every request. The broker is Debian's mosquitto (anonymous, no TLS).

API (kept stable; the e2e builds on it)::

    from tests.e2e import standins

    standins.HOSTS            # /etc/hosts text for the namespace (write it, bind-mount it)
    with standins.running(workdir, ha_python="/path/venv/bin/python") as s:
        s.ca_bundle           # Path: certifi's bundle + the throwaway CA (for HA only)
        s.ca_cert             # Path: the throwaway CA alone
        s.hologram            # tests.fakes.hologram.FakeHologram on https://dashboard.hologram.io
        s.emnify              # tests.fakes.emnify.FakeEmnify on https://cdn.emnify.net
        s.monoz               # tests.fakes.monoz.FakeMonoz on https://link.monoz.io
        s.onence              # tests.fakes.onence.FakeOneNce on https://api.1nce.com
        s.broker_host, s.broker_port   # mosquitto: "data.monoz.io", 1883
        s.credentials         # {kind: {form field: value}}: what to type in each form
        s.devices             # {kind: [device ids / ICCIDs the account has]}
        s.call(fn)            # run fn() on the stand-ins' event loop (read/change a fake)
        s.describe()          # the text scripts/develop prints (hosts, what to type)

``running`` starts everything (mosquitto only when ``broker=True``, the default) and
stops it all when the block ends. The fakes live on an event loop in a thread of
their own: read or change their state with ``s.call(lambda: ...)`` (e.g.
``s.call(lambda: s.hologram.fail("/devices/messages", 500, times=3))``).

``python -m tests.e2e.standins --workdir DIR --ha-python PY -- COMMAND...`` (inside
the namespace) starts the stand-ins, prints :meth:`StandIns.describe`, runs COMMAND
with ``REQUESTS_CA_BUNDLE`` set and stops everything when it exits; with
``--forward-fd FD`` it also forwards connections accepted on that listening socket
(opened outside the namespace) to 127.0.0.1:``--forward-port`` inside it, so a
browser outside reaches the Home Assistant inside.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
import importlib.util
import os
from pathlib import Path
import pwd
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import types
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _providers_without_home_assistant() -> None:
    """Let tests.fakes.emnify import the plain providers package without HA.

    custom_components/cellular_iot/__init__.py imports Home Assistant; the e2e
    driver's venv has none. The providers package itself has no HA imports, so the
    integration's package is registered as a bare namespace when HA is missing.
    """
    if importlib.util.find_spec("homeassistant") is not None:
        return
    if "custom_components.cellular_iot" in sys.modules:
        return
    parent = types.ModuleType("custom_components")
    parent.__path__ = [str(REPO / "custom_components")]
    package = types.ModuleType("custom_components.cellular_iot")
    package.__path__ = [str(REPO / "custom_components" / "cellular_iot")]
    sys.modules.setdefault("custom_components", parent)
    sys.modules["custom_components.cellular_iot"] = package


_providers_without_home_assistant()

from aiohttp import web  # noqa: E402

from tests.fakes.emnify import FakeEmnify  # noqa: E402
from tests.fakes.hologram import FakeHologram  # noqa: E402
from tests.fakes.monoz import FakeMonoz  # noqa: E402
from tests.fakes.onence import CLIENT_ID, CLIENT_SECRET, FakeOneNce  # noqa: E402

HOLOGRAM_HOST = "dashboard.hologram.io"
EMNIFY_HOST = "cdn.emnify.net"
MONOZ_HOST = "link.monoz.io"
BROKER_HOST = "data.monoz.io"
# The client's DEFAULT_BASE_URL is https://api.1nce.com/management-api: the fake
# serves that path prefix.
ONENCE_HOST = "api.1nce.com"
BROKER_PORT = 1883
HTTPS_PORT = 443
# Each host its own loopback address (Linux answers on all of 127/8): one port, 443,
# for every REST API without dispatching on the Host header.
ADDRESSES = {
    HOLOGRAM_HOST: "127.0.0.11",
    EMNIFY_HOST: "127.0.0.12",
    MONOZ_HOST: "127.0.0.13",
    BROKER_HOST: "127.0.0.14",
    ONENCE_HOST: "127.0.0.15",
}
# The SIMs of the 1NCE stand-in's account: ICCID -> label (as the 1NCE Portal shows).
ONENCE_SIMS = {
    "8988228066602300001": "Water meter",
    "8988228066602300002": "Cold store",
    "8988228066602300003": "Gate",
}
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost\n" + "".join(
    f"{address}\t{host}\n" for host, address in ADDRESSES.items()
)


def make_certificates(
    tls: Path, ha_python: str | None = None
) -> tuple[Path, Path, Path, Path]:
    """A throwaway CA and one server certificate for every stand-in host.

    Returns (server cert, server key, CA cert, CA bundle); the bundle is certifi's (of
    ``ha_python``, HA's interpreter, or this one) plus the CA.
    """
    tls.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(
            ["openssl", *args], cwd=tls, check=True, capture_output=True, text=True
        )

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        "-subj", "/CN=cellular_iot stand-ins throwaway CA", "-keyout", "ca.key",
        "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOLOGRAM_HOST}",
        "-keyout", "server.key", "-out", "server.csr",
    )  # fmt: skip
    names = ",".join(f"DNS:{host}" for host in ADDRESSES)
    (tls / "ext.cnf").write_text(
        f"subjectAltName={names}\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "30", "-extfile", "ext.cnf", "-out", "server.pem",
    )  # fmt: skip
    certifi_bundle = subprocess.run(
        [ha_python or sys.executable, "-c", "import certifi; print(certifi.where())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    bundle = tls / "bundle.pem"
    bundle.write_text(
        Path(certifi_bundle).read_text() + "\n" + (tls / "ca.pem").read_text()
    )
    return tls / "server.pem", tls / "server.key", tls / "ca.pem", bundle


def mosquitto_binary() -> str:
    """Debian's broker (in /usr/sbin, often not on PATH)."""
    for candidate in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto"):
        if Path(candidate).exists():
            return candidate
    msg = "mosquitto is not installed (apt-get install mosquitto)"
    raise RuntimeError(msg)


@dataclass
class StandIns:
    """The running stand-ins (see the module docstring)."""

    workdir: Path
    hologram: FakeHologram
    emnify: FakeEmnify
    monoz: FakeMonoz
    onence: FakeOneNce
    ca_cert: Path
    ca_bundle: Path
    loop: asyncio.AbstractEventLoop
    broker_host: str = BROKER_HOST
    broker_port: int = BROKER_PORT
    broker: subprocess.Popen[bytes] | None = None
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, list[str]] = field(default_factory=dict)

    def call(self, func: Callable[[], Any]) -> Any:
        """Run ``func()`` on the stand-ins' loop (to read or change a fake safely)."""

        async def run() -> Any:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def describe(self) -> str:
        """What a contributor types in each form (scripts/develop prints it)."""
        hologram = self.credentials["hologram"]
        emnify = self.credentials["emnify"]
        monoz = self.credentials["monoz"]
        mqtt = self.credentials["mqtt"]
        onence = self.credentials["1nce"]
        sims = ", ".join(
            f"{iccid} ({ONENCE_SIMS.get(iccid, iccid)})"
            for iccid in self.devices["1nce"]
        )
        lines = [
            "Stand-ins (answer in the recorded shapes of tests/fixtures/recorded):",
            f"  Hologram  https://{HOLOGRAM_HOST}  API key: {hologram['api_key']}",
            f"            devices: {', '.join(self.devices['hologram'])}",
            f"  emnify    https://{EMNIFY_HOST}  application token:",
            f"            {emnify['application_token']}",
            f"            devices (endpoint ids): {', '.join(self.devices['emnify'])}",
            f"  monoZ     https://{MONOZ_HOST}  organization ID: {monoz['org_id']}",
            f"            API key: {monoz['api_key']}",
            f"            SIMs (ICCIDs): {', '.join(self.devices['monoz'])}",
            f"  1NCE      https://{ONENCE_HOST}  client ID: {onence['client_id']}",
            f"            client secret: {onence['client_secret']}",
            f"            SIMs (ICCID and label): {sims}",
        ]
        if self.broker is not None:
            topic = f"{monoz['org_id']}/{self.devices['monoz'][0]}/pub"
            publish = f"-h {ADDRESSES[BROKER_HOST]} -t {topic} -m hello"
            pid = os.getpid()
            lines += [
                f"  MQTT      {mqtt['host']}:{mqtt['port']} (mosquitto; no TLS, no user):",
                "            tick 'Also connect to an MQTT broker' in the monoZ form",
                f"            an uplink, from another shell (namespace of PID {pid}):",
                f"            nsenter -t {pid} -n mosquitto_pub {publish}",
            ]
        return "\n".join(lines)


class _LoopThread:
    """An event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        # Signals go to the main thread only: one caught by this thread would not
        # interrupt the main thread's wait for Home Assistant (Ctrl+C unheard).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        self.loop.run_forever()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _serve(
    apps: list[tuple[web.Application, str]], context: ssl.SSLContext, port: int
) -> list[web.AppRunner]:
    runners = []
    for app, address in apps:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, address, port, ssl_context=context).start()
        runners.append(runner)
    return runners


def _start_broker(directory: Path, port: int) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stderr\nlog_type error\nlog_type warning\n"
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
    )
    log = (directory / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        [mosquitto_binary(), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        process_group=0,  # not stopped by Ctrl+C before HA: stopped when the block ends
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            msg = f"mosquitto exited ({process.returncode}); see {directory}"
            raise RuntimeError(msg)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)  # readiness poll, not a timing assumption


@contextlib.contextmanager
def running(
    workdir: Path,
    *,
    ha_python: str | None = None,
    broker: bool = True,
    https_port: int = HTTPS_PORT,
    broker_port: int = BROKER_PORT,
) -> Iterator[StandIns]:
    """Start every stand-in (see the module docstring); stop them when the block ends."""
    workdir = Path(workdir)
    cert, key, ca_cert, bundle = make_certificates(workdir / "tls", ha_python)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    thread = _LoopThread()
    runners: list[web.AppRunner] = []
    process: subprocess.Popen[bytes] | None = None
    try:

        async def make() -> tuple[FakeHologram, FakeEmnify, FakeMonoz, FakeOneNce]:
            # Made on the loop: their asyncio objects belong to it.
            emnify = FakeEmnify()
            emnify.now = time.time()  # tokens expire on the real clock's scale
            onence = FakeOneNce()
            onence.now = time.time()
            for iccid, label in ONENCE_SIMS.items():
                onence.add_sim(iccid, label=label)
            return FakeHologram(), emnify, FakeMonoz(), onence

        hologram, emnify, monoz, onence = thread.run(make())
        runners = thread.run(
            _serve(
                [
                    (hologram.app, ADDRESSES[HOLOGRAM_HOST]),
                    (emnify.app, ADDRESSES[EMNIFY_HOST]),
                    (monoz.app, ADDRESSES[MONOZ_HOST]),
                    (onence.app, ADDRESSES[ONENCE_HOST]),
                ],
                context,
                https_port,
            )
        )
        if broker:
            process = _start_broker(workdir / "mosquitto", broker_port)
        stand_ins = StandIns(
            workdir=workdir,
            hologram=hologram,
            emnify=emnify,
            monoz=monoz,
            onence=onence,
            ca_cert=ca_cert,
            ca_bundle=bundle,
            loop=thread.loop,
            broker_port=broker_port,
            broker=process,
            credentials={
                "hologram": {"api_key": next(iter(hologram.api_keys))},
                "emnify": {"application_token": emnify.application_token},
                "monoz": {"org_id": monoz.org_id, "api_key": monoz.api_key},
                "1nce": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                "mqtt": {
                    "host": BROKER_HOST,
                    "port": broker_port,
                    "tls": False,
                    "username": "",
                    "password": "",
                },
            },
            devices={
                "hologram": [str(device) for device in sorted(hologram.devices)],
                "emnify": [str(endpoint) for endpoint in sorted(emnify.endpoints)],
                "monoz": sorted(monoz.iccids),
                "1nce": list(onence.sims),
            },
        )
        yield stand_ins
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for runner in runners:
            with contextlib.suppress(Exception):
                thread.run(runner.cleanup())
        thread.stop()


# --- scripts/develop --stand-ins: run a command next to the stand-ins --------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _forward(listener: socket.socket, port: int) -> None:
    """Forward every connection accepted on ``listener`` to 127.0.0.1:``port``."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        await server.serve_forever()


async def _cancel_tasks() -> None:
    """Cancel every other task of the running loop and wait for them."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    """Start the stand-ins, run a command with their CA, stop them when it exits."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--ha-python", default=None)
    parser.add_argument("--forward-fd", type=int, default=None)
    parser.add_argument("--forward-port", type=int, default=8123)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [part for part in args.command if part != "--"] if args.command else []
    if not command:
        parser.error("no command to run")
    with running(args.workdir, ha_python=args.ha_python) as stand_ins:
        print(stand_ins.describe(), flush=True)
        forwarder: _LoopThread | None = None
        if args.forward_fd is not None:
            listener = socket.socket(fileno=args.forward_fd)
            listener.setblocking(False)
            forwarder = _LoopThread()
            asyncio.run_coroutine_threadsafe(
                _forward(listener, args.forward_port), forwarder.loop
            )
        env = dict(os.environ, REQUESTS_CA_BUNDLE=str(stand_ins.ca_bundle))
        # A process group of its own: Ctrl+C reaches it once, passed on from here
        # (a second SIGINT would interrupt Home Assistant's own shutdown).
        child = subprocess.Popen(command, env=env, process_group=0)

        def pass_on(signum: int, _frame: Any) -> None:
            child.send_signal(signum)

        signal.signal(signal.SIGINT, pass_on)
        signal.signal(signal.SIGTERM, pass_on)
        status = child.wait()
        if forwarder is not None:
            forwarder.run(_cancel_tasks())
            forwarder.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())

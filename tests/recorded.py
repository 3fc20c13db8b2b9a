"""Replay of the providers' real recorded traffic (tests/fixtures/recorded/).

The files under ``tests/fixtures/recorded/<provider>/`` are recordings and published
examples that nobody on this project wrote: the emnify SDK's VCR cassettes copied
verbatim, and the examples of the providers' docs and SDKs transcribed into the same
cassette shape. The first line of every file is ``# source: …`` and names where it
comes from (repository, commit and path, or the page's address).

One shape for all of them, VCR's (version 1)::

    interactions:
    - request: {method: GET, uri: https://…, body: … or null, headers: {…}}
      response:
        status: {code: 201, message: Created}
        headers: {Content-Type: [text/html], Location: [https://…]}
        body: {string: '…'}        # text, or !!binary for the bytes (gzip) as sent

:class:`RecordedServer` serves such a file on a real loopback socket: every request
our client sends is matched to the next recorded interaction of the same method and
path, and answered with the recorded status, headers and body bytes, unchanged (a
gzip body goes out gzip with its ``Content-Encoding``). A request with no recording
left answers 599 and is kept in :attr:`RecordedServer.unmatched`, so a test fails
loudly instead of reading an answer nobody recorded.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import CIMultiDict
import yaml

RECORDED = Path(__file__).parent / "fixtures" / "recorded"

# Headers that describe the recorded connection, not the answer: aiohttp writes its own.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "date",
        "server",
    }
)


@dataclass(frozen=True)
class RecordedRequest:
    """What the provider received, as recorded."""

    method: str
    uri: str
    body: bytes | None
    headers: CIMultiDict[str]

    @property
    def path(self) -> str:
        """The path of the recorded URI (without the query)."""
        return urlsplit(self.uri).path

    @property
    def query(self) -> str:
        """The query of the recorded URI."""
        return urlsplit(self.uri).query


@dataclass(frozen=True)
class RecordedResponse:
    """What the provider answered, as recorded: status, headers and the body's bytes."""

    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its answer."""

    request: RecordedRequest
    response: RecordedResponse


@dataclass(frozen=True)
class Recording:
    """One file of recorded traffic and where it comes from."""

    path: Path
    source: str
    interactions: tuple[Interaction, ...]

    def find(self, method: str, path_suffix: str) -> Interaction:
        """The first interaction of this method whose path ends with ``path_suffix``."""
        for item in self.interactions:
            if item.request.method == method and item.request.path.endswith(
                path_suffix
            ):
                return item
        raise LookupError(f"{self.path.name}: no {method} …{path_suffix}")


def _headers(raw: dict[str, Any] | None) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for key, values in (raw or {}).items():
        for value in values if isinstance(values, list) else [values]:
            out.add(str(key), str(value))
    return out


def _body(raw: Any) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        raw = raw.get("string")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw
    return str(raw).encode()


def load(provider: str, name: str) -> Recording:
    """Read ``tests/fixtures/recorded/<provider>/<name>`` (a cassette)."""
    path = RECORDED / provider / name
    text = path.read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    if not first.startswith("# source: "):
        raise ValueError(f"{path}: the first line must name the source (# source: …)")
    data = yaml.safe_load(text)
    interactions = []
    for item in data["interactions"]:
        req, resp = item["request"], item["response"]
        interactions.append(
            Interaction(
                RecordedRequest(
                    method=str(req["method"]).upper(),
                    uri=str(req["uri"]),
                    body=_body(req.get("body")),
                    headers=_headers(req.get("headers")),
                ),
                RecordedResponse(
                    status=int(resp["status"]["code"]),
                    reason=str(resp["status"].get("message") or ""),
                    headers=_headers(resp.get("headers")),
                    body=_body(resp.get("body")) or b"",
                ),
            )
        )
    return Recording(
        path, first.removeprefix("# source: ").strip(), tuple(interactions)
    )


def all_files() -> list[Path]:
    """Every recorded file in the suite."""
    return sorted(p for p in RECORDED.rglob("*") if p.is_file())


@dataclass
class Received:
    """A request our client sent to the replay server."""

    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class RecordedServer:
    """Answers our client's requests with recorded interactions, byte for byte."""

    interactions: Iterable[Interaction]
    received: list[Received] = field(default_factory=list)
    unmatched: list[Received] = field(default_factory=list)
    _queues: dict[tuple[str, str], deque[Interaction]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _runner: web.AppRunner | None = None
    url: str = ""

    def __post_init__(self) -> None:
        for item in self.interactions:
            self._queues[(item.request.method, item.request.path)].append(item)

    def base_url(self, recorded_base: str) -> str:
        """Our server's URL in place of the recorded ``recorded_base`` (its path kept)."""
        return self.url + urlsplit(recorded_base).path.rstrip("/")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        got = Received(
            request.method,
            request.path,
            request.query_string,
            CIMultiDict(request.headers),
            await request.read(),
        )
        self.received.append(got)
        queue = self._queues.get((request.method, request.path))
        if not queue:
            self.unmatched.append(got)
            return web.Response(status=599, text="no recording for this request")
        answer = queue.popleft().response
        headers = CIMultiDict(
            (k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP
        )
        resp = web.Response(
            status=answer.status,
            reason=answer.reason or None,
            headers=headers,
            body=answer.body,
        )
        # aiohttp may not add a Content-Type of its own to a recorded answer without one.
        if "Content-Type" not in answer.headers:
            resp.headers.pop("Content-Type", None)
        return resp

    async def start(self) -> RecordedServer:
        """Serve on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> RecordedServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

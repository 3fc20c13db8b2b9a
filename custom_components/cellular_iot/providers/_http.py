"""The HTTP exchange every REST provider client shares: one request, errors mapped."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from .errors import ProviderConnectionError, ProviderTimeoutError


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What a provider answered, before the client interprets it."""

    status: int
    body: bytes
    retry_after: str | None


def basic_authorization(login: str, password: str) -> str:
    """Return the ``Authorization`` value for HTTP Basic authentication.

    Built here rather than with ``aiohttp.BasicAuth``/``auth=``, which aiohttp
    deprecates for 4.0 (HA 2026.10+ runs with the warning on).
    """
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


async def exchange(
    session: aiohttp.ClientSession,
    provider: str,
    method: str,
    url: str,
    *,
    timeout: aiohttp.ClientTimeout,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
    json_body: Mapping[str, Any] | None = None,
) -> RawResponse:
    """Send one request and read the whole answer; network failures become errors."""
    try:
        async with session.request(
            method,
            url,
            params=params,
            json=json_body,
            timeout=timeout,
            headers=dict(headers),
        ) as response:
            return RawResponse(
                response.status,
                await response.read(),
                response.headers.get("Retry-After"),
            )
    except TimeoutError as err:
        raise ProviderTimeoutError(f"{provider} did not answer in time") from err
    except aiohttp.ClientError as err:
        raise ProviderConnectionError(
            f"Cannot reach {provider}: {type(err).__name__}"
        ) from err

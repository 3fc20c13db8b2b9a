"""One error hierarchy for every provider client.

Messages never contain credentials: they carry the HTTP status and the provider's own
error text (``detail``) only. The message is a whole sentence (for the log); ``reason``
is what the provider answered without the kind of failure (``emnify, HTTP 404: Endpoint
not found``), for a translated text that names the kind itself (once).
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class of every error raised by a provider client."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Keep the HTTP status and the provider's error text beside the message."""
        super().__init__(message)
        self.status = status
        self.detail = detail
        # What a translated text quotes in parentheses (the message when not given).
        self.reason: str = reason if reason is not None else message


class ProviderAuthError(ProviderError):
    """The credentials were refused (HTTP 401) or lack the permission (HTTP 403)."""


class ProviderNotFoundError(ProviderError):
    """The target (device, endpoint, ICCID) does not exist for this account (HTTP 404)."""


class ProviderBadRequestError(ProviderError):
    """The provider rejected the request as invalid (HTTP 400/422, ``success: false``)."""


class ProviderRateLimitedError(ProviderError):
    """The provider answered HTTP 429 (too many requests); retry at its time."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        detail: str | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Keep the provider's Retry-After hint (seconds), when it sent one."""
        super().__init__(message, status=status, detail=detail, reason=reason)
        self.retry_after = retry_after


class ProviderConnectionError(ProviderError):
    """The provider could not be reached or did not answer in time."""


class ProviderTimeoutError(ProviderConnectionError):
    """The provider did not answer within the client's timeout."""


class ProviderResponseError(ProviderError):
    """The provider failed (HTTP 5xx) or answered something that is not its API."""


def parse_retry_after(value: str | None) -> float | None:
    """Return a Retry-After header given in seconds, or None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def error_for_status(
    provider: str, status: int, detail: str | None, retry_after: str | None = None
) -> ProviderError:
    """Map an HTTP error status (>= 400) to the error hierarchy.

    ``detail`` is the provider's own error text; it is kept on the error and ends the
    message. Credentials never reach this function.
    """
    reason = detail or "no reason given"
    # What a translated text quotes: who answered what (its kind is in the text).
    answer = f"{provider}, HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return ProviderAuthError(
            f"{provider} refused the credentials (HTTP {status}): {reason}",
            status=status,
            detail=detail,
            reason=answer,
        )
    if status == 404:
        return ProviderNotFoundError(
            f"{provider} does not know the target (HTTP 404): {reason}",
            status=status,
            detail=detail,
            reason=answer,
        )
    if status == 429:
        return ProviderRateLimitedError(
            f"{provider} rate limit (HTTP 429): {reason}",
            detail=detail,
            reason=answer,
            retry_after=parse_retry_after(retry_after),
        )
    if 400 <= status < 500:
        return ProviderBadRequestError(
            f"{provider} rejected the request (HTTP {status}): {reason}",
            status=status,
            detail=detail,
            reason=answer,
        )
    return ProviderResponseError(
        f"{provider} failed (HTTP {status}): {reason}",
        status=status,
        detail=detail,
        reason=answer,
    )

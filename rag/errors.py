"""A small named hierarchy of errors; each carries the HTTP status the API maps it to."""

from __future__ import annotations


class RagError(Exception):
    """Base of every error the service reports to its callers."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(RagError):
    status_code = 400


class Unprocessable(RagError):
    """Well-formed but invalid, e.g. a collection name that breaks the naming rules."""

    status_code = 422


class NotFound(RagError):
    status_code = 404


class Conflict(RagError):
    status_code = 409


class TooLarge(RagError):
    status_code = 413


class UnsupportedType(RagError):
    status_code = 415


class Unauthorized(RagError):
    status_code = 401


class Forbidden(RagError):
    """A valid key whose role does not allow this (a reader uploading, say)."""

    status_code = 403


class BackendError(RagError):
    """The chat backend failed or answered something we cannot use."""

    status_code = 502


class BackendTimeout(RagError):
    status_code = 504


class RetryLater(RagError):
    """Refused for now; the response carries `Retry-After: retry_after` (seconds)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(RetryLater):
    """Too much work in flight here (a full generation queue)."""

    status_code = 429


class BackendBusy(RetryLater):
    """The chat backend asked us to come back later than our time budget allows."""

    status_code = 503

"""Typed Street View errors (each with ``retryable``) and the redaction that keeps keys out of messages and logs."""
from __future__ import annotations

import logging
import re


# --------------------------------------------------------------------------------------- errors
class StreetViewError(Exception):
    """Base class: a Street View request failed. ``retryable``: trying again later may succeed."""

    retryable = False
    status = "ERROR"

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


class NoCoverage(StreetViewError):
    """ZERO_RESULTS (or image HTTP 404): no panorama near the location / no such pano id."""
    status = "ZERO_RESULTS"


class NotFound(StreetViewError):
    """NOT_FOUND: the location (an address string) could not be found."""
    status = "NOT_FOUND"


class RequestDenied(StreetViewError):
    """REQUEST_DENIED / HTTP 403: bad or restricted key, API not enabled, billing off. Stop."""
    status = "REQUEST_DENIED"


class QuotaExceeded(StreetViewError):
    """OVER_QUERY_LIMIT / HTTP 429: too many requests; slow down and retry later."""
    status = "OVER_QUERY_LIMIT"
    retryable = True


class InvalidRequest(StreetViewError):
    """INVALID_REQUEST / HTTP 400: malformed parameters (size, fov, location...). Fix the request."""
    status = "INVALID_REQUEST"


class UnknownError(StreetViewError):
    """UNKNOWN_ERROR: a server-side error that is often temporary."""
    status = "UNKNOWN_ERROR"
    retryable = True


class ServerError(StreetViewError):
    """HTTP 5xx or an unreadable answer."""
    status = "SERVER_ERROR"
    retryable = True


class NetworkError(StreetViewError):
    """Timeout, refused or dropped connection."""
    status = "NETWORK_ERROR"
    retryable = True


class MissingKeyError(StreetViewError):
    """No API key could be found (environment variable or key file)."""
    status = "NO_KEY"


_STATUS_ERRORS: dict[str, type[StreetViewError]] = {
    c.status: c for c in (NoCoverage, NotFound, RequestDenied, QuotaExceeded, InvalidRequest, UnknownError)}


# ------------------------------------------------------------------------------------ redaction
_SECRET_PARAM = re.compile(r"((?:key|signature|client)=)[^&\s'\"#]+", re.IGNORECASE)


def redact(text: object, *secrets: str | None) -> str:
    """``str(text)`` with each secret and every ``key=``/``signature=`` URL value replaced by ``***``."""
    s = str(text)
    for secret in secrets:
        if secret:
            s = s.replace(secret, "***")
    return _SECRET_PARAM.sub(r"\1***", s)


class _RedactFilter(logging.Filter):
    """Logging filter that masks ``key=...`` in records (urllib3 logs request URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if "key=" in str(record.msg) or any("key=" in str(a) for a in args if a is not None):
                record.msg = redact(record.getMessage())
                record.args = None
        except Exception:  # never break logging; drop the suspicious record's arguments instead
            record.msg, record.args = redact(record.msg), None
        return True


for _name in ("urllib3.connectionpool", "requests"):
    if not any(isinstance(f, _RedactFilter) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactFilter())

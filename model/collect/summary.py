"""What a collection run did, and why requests failed: failures grouped by kind, with what a re-run does.

Kinds a re-run retries (temporary): HTTP 5xx, UNKNOWN_ERROR, timeouts, dropped or refused connections,
answers that are not images, and quota errors (after a wait). Kinds that stop the run and are retried
only once their cause is fixed: HTTP 403 / REQUEST_DENIED (key, API or billing settings) and HTTP 400 /
INVALID_REQUEST. Never requested again: points without coverage (ZERO_RESULTS / NOT_FOUND) and views
without imagery (HTTP 404); they are recorded as answered.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .streetview import (InvalidRequest, NetworkError, QuotaExceeded, RequestDenied, ServerError,
                              StreetViewError, UnknownError)

NOT_AN_IMAGE = "HTTP 200 but not a readable image"


def failure_kind(err: BaseException) -> str:
    """A short label for a failed request: its HTTP status or error kind (never the message, which
    may quote the server)."""
    msg = str(err)
    if isinstance(err, QuotaExceeded):
        return "HTTP 429 / OVER_QUERY_LIMIT (quota)"
    if isinstance(err, RequestDenied):
        return "HTTP 403 / REQUEST_DENIED (key, API or billing settings)"
    if isinstance(err, InvalidRequest):
        return "HTTP 400 / INVALID_REQUEST (a parameter)"
    if isinstance(err, UnknownError):
        return "UNKNOWN_ERROR (Google server)"
    if isinstance(err, NetworkError):
        if "timed out" in msg:
            return "timeout (no answer in time)"
        m = re.search(r"request failed: (\w+)", msg)
        return f"connection failed ({m.group(1) if m else 'network'})"
    if isinstance(err, ServerError):
        if "not an image" in msg:
            return NOT_AN_IMAGE
        m = re.search(r"HTTP (\d{3})", msg)
        return f"HTTP {m.group(1)} (server error)" if m else "unreadable answer"
    if isinstance(err, StreetViewError):
        return err.status
    return type(err).__name__


def _counts(c: Counter) -> str:
    return ", ".join(f"{n} x {kind}" for kind, n in c.most_common())


@dataclass
class RunSummary:
    """What a run did. ``complete``: every point answered and every image fetched or missing."""

    points: int = 0
    points_done: int = 0
    no_coverage: int = 0
    duplicates: int = 0
    panoramas: int = 0
    images: int = 0
    images_missing: int = 0
    failed: int = 0
    metadata_requests: int = 0
    image_requests: int = 0
    retries: int = 0
    slowdowns: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    fatal: str | None = None
    manifest: Path | None = None
    failures: Counter = field(default_factory=Counter)    # kind -> requests that failed after retries
    stopped_by: Counter = field(default_factory=Counter)  # kind -> answers that stopped the run

    @property
    def complete(self) -> bool:
        return not (self.interrupted or self.fatal or self.failed) and self.points_done == self.points

    def text(self) -> str:
        s = (f"{self.points_done}/{self.points} points answered: {self.panoramas} panoramas, "
             f"{self.no_coverage} without coverage, {self.duplicates} duplicates; {self.images} images"
             f"{f', {self.images_missing} views unavailable' if self.images_missing else ''}. "
             f"This run: {self.metadata_requests} metadata + {self.image_requests} image requests, "
             f"{self.retries} retries in {self.seconds:.1f} s.")
        if self.failed:
            s += (f"\n{self.failed} request(s) failed after retries: {_counts(self.failures) or 'unknown'}. "
                  "These are temporary errors: run the same command again to retry them (nothing done is "
                  "requested again).")
        if self.stopped_by:
            s += (f"\nStopped by: {_counts(self.stopped_by)}. Not retried until the cause is fixed (see the "
                  "error below); then run the same command again to resume.")
        if self.no_coverage or self.images_missing:
            s += (f"\nNot requested again (recorded as answered): {self.no_coverage} point(s) without coverage "
                  f"(ZERO_RESULTS / NOT_FOUND), {self.images_missing} view(s) without imagery (HTTP 404).")
        return s

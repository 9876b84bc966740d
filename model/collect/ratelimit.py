"""A thread-safe, adaptive token-bucket rate limiter (requests per second).

``acquire()`` blocks until the next request may go. ``slow_down()`` halves the rate after a quota
answer (OVER_QUERY_LIMIT / HTTP 429); ``ok()`` raises it back by 5 % of the target per success
(additive increase, multiplicative decrease), never above the configured rate.
"""
from __future__ import annotations

import threading
import time


class RateLimiter:
    """``rate``: requests per second (0 or None = unlimited); ``burst``: tokens that may accumulate."""

    def __init__(self, rate: float | None, burst: float | None = None, min_rate: float = 0.2,
                 clock=time.monotonic, sleep=time.sleep):
        self.target = float(rate or 0.0)
        self.rate = self.target
        self.min_rate = min(min_rate, self.target) if self.target else min_rate
        self.burst = float(burst if burst is not None else max(1.0, self.target / 4))
        self._tokens = self.burst
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()
        self.slowdowns = 0

    def acquire(self, cancel=None) -> bool:
        """Wait for one token; True once taken. ``cancel`` (a ``threading.Event``) ends the wait early
        (checked at least once a second): False, no token taken."""
        if not self.target:
            return not (cancel is not None and cancel.is_set())
        while True:
            if cancel is not None and cancel.is_set():
                return False
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens -= 1.0
                    return True
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(min(max(wait, 1e-4), 1.0))

    def slow_down(self) -> None:
        """Halve the rate (not below ``min_rate``) and drop saved-up tokens."""
        with self._lock:
            self.slowdowns += 1
            if self.target:
                self.rate = max(self.min_rate, self.rate / 2)
                self._tokens = min(self._tokens, 0.0)

    def ok(self) -> None:
        """A request succeeded: recover towards the target rate."""
        if self.target and self.rate < self.target:
            with self._lock:
                self.rate = min(self.target, self.rate + 0.05 * self.target)

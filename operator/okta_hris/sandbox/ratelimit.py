"""Okta's rate limits: a request budget per endpoint bucket and window, and a concurrency cap.

Okta's windows are not aligned to the clock minute: a bucket's window opens with the first
request after the previous window closed, and ``X-Rate-Limit-Reset`` is the UTC epoch second
at which it closes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from okta_hris.sandbox.config import RateLimitConfig

BUCKETS = ("users", "groups", "logs", "other")


def bucket_for(path: str) -> str:
    for prefix, bucket in (
        ("/api/v1/users", "users"),
        ("/api/v1/groups", "groups"),
        ("/api/v1/logs", "logs"),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return bucket
    return "other"


@dataclass(frozen=True)
class RateLimitState:
    """What the ``X-Rate-Limit-*`` headers of one response say."""

    limit: int
    remaining: int
    reset: int  # UTC epoch seconds
    allowed: bool = True

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset),
        }


@dataclass
class _Window:
    start: float
    used: int


class RateLimiter:
    """Counts requests per bucket. Used from the server's event loop only."""

    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def _window(self, bucket: str, now: float) -> _Window:
        window = self._windows.get(bucket)
        if window is None or now >= window.start + self.config.window:
            window = _Window(start=now, used=0)
            self._windows[bucket] = window
        return window

    def _reset(self, window: _Window) -> int:
        return math.ceil(window.start + self.config.window)

    def acquire(self, bucket: str) -> RateLimitState:
        """Count one request against the bucket, or refuse it when the window is used up."""
        limit = self.config.limit_for(bucket)
        now = self._clock()
        window = self._window(bucket, now)
        if not self.config.enabled:
            # Nothing is counted, so nothing is spent: a client pacing itself by Remaining (as
            # ours does) must not slow down for a budget that is never enforced.
            return RateLimitState(limit, limit, self._reset(window))
        if window.used >= limit:
            return RateLimitState(limit, 0, self._reset(window), allowed=False)
        window.used += 1
        return RateLimitState(limit, max(0, limit - window.used), self._reset(window))

    def peek(self, bucket: str) -> RateLimitState:
        """The bucket's state without counting a request (for responses refused earlier)."""
        limit = self.config.limit_for(bucket)
        now = self._clock()
        window = self._windows.get(bucket)
        if window is None or now >= window.start + self.config.window:
            return RateLimitState(limit, limit, math.ceil(now + self.config.window))
        return RateLimitState(limit, max(0, limit - window.used), self._reset(window))

    def concurrency_refusal(self) -> RateLimitState:
        # Okta signals the concurrent-request limit with Limit and Remaining both 0. Its reset
        # is only a suggestion (slots free as requests finish), so point at the next second.
        return RateLimitState(0, 0, self._next_second(), allowed=False)

    def burst_refusal(self, bucket: str) -> RateLimitState:
        """An injected, transient 429: nothing left now, try again the next second."""
        return RateLimitState(self.config.limit_for(bucket), 0, self._next_second(), allowed=False)

    def _next_second(self) -> int:
        return math.floor(self._clock()) + 1

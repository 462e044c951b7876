"""Okta rate limits, obeyed before a 429 happens.

Okta counts requests per endpoint family ("bucket") in windows of 60 seconds that are not
aligned to the minute, and reports the state of the window on every response:
``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` (the epoch second,
on Okta's clock, at which the window ends). The limiter keeps the last known window per bucket
and lets a request go only while the remaining budget, minus the requests already in flight in
that bucket, stays above a small reserve; otherwise the request waits until the window resets.

The reset time is on Okta's clock, not ours, so :class:`OktaClock` estimates Okta's time from
the ``Date`` header of the responses.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

Bucket = Literal["users", "groups", "logs", "other"]
BUCKETS: tuple[Bucket, ...] = ("users", "groups", "logs", "other")


def bucket_for_path(path: str) -> Bucket:
    """The endpoint family of an API path; ``/api/v1/groups/{id}/users`` counts as groups."""
    for prefix, bucket in (
        ("/api/v1/users", "users"),
        ("/api/v1/groups", "groups"),
        ("/api/v1/logs", "logs"),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return bucket  # type: ignore[return-value]
    return "other"


@dataclass(frozen=True)
class RateLimitHeaders:
    limit: int
    remaining: int
    reset: int

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimitHeaders | None:
        try:
            return cls(
                limit=int(headers["x-rate-limit-limit"]),
                remaining=int(headers["x-rate-limit-remaining"]),
                reset=int(headers["x-rate-limit-reset"]),
            )
        except (KeyError, ValueError):
            return None


class OktaClock:
    """Okta's current time in epoch seconds, estimated from ``Date`` headers.

    Each response gives ``Date - received_at`` (``received_at`` on our monotonic clock), which
    can only underestimate the true offset: ``Date`` is truncated to the second and was stamped
    before we received it. The largest sample is therefore the tightest estimate that never puts
    Okta's clock ahead of where it is, so waiting until a reset time by this clock never ends
    early, whatever our own wall clock says. Without any ``Date`` seen, the local wall clock is
    used.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._offset: float | None = None

    def observe(self, date_epoch: float, received_at: float) -> None:
        sample = date_epoch - received_at
        if self._offset is None or sample > self._offset:
            self._offset = sample

    def now(self) -> float:
        offset = self._offset if self._offset is not None else time.time() - self._monotonic()
        return self._monotonic() + offset


@dataclass
class _Window:
    limit: int
    remaining: int
    reset: int
    # True once the reset time has passed: ``remaining`` is then the assumed full budget of the
    # new window, until a response of the new window reports the real one.
    assumed: bool = False


class BucketBudget:
    """The rate-limit state of one bucket, shared by every request of the client."""

    def __init__(self, reserve: int | float, clock: OktaClock, max_wait: float) -> None:
        self._reserve = reserve
        self._clock = clock
        self._max_wait = max_wait
        self._window: _Window | None = None
        self._answered = False
        self._changed = asyncio.Event()
        self.in_flight = 0

    def reserve_for(self, limit: int) -> int:
        reserve = (
            self._reserve if isinstance(self._reserve, int) else math.ceil(limit * self._reserve)
        )
        # Never hold back the whole window: with a tiny limit one request per window must go.
        return max(0, min(reserve, limit - 1))

    def _delay(self) -> float | None:
        """0 when a request may go now, seconds to wait, or None to wait for a response."""
        window = self._window
        if window is None:
            # Until the first answer tells the budget, one request at a time: a burst of
            # ``max_concurrency`` requests could already exceed a small limit.
            return 0.0 if self.in_flight == 0 or self._answered else None
        okta_now = self._clock.now()
        if not window.assumed and okta_now >= window.reset:
            window.remaining = window.limit
            window.assumed = True
        if window.remaining - self.in_flight > self.reserve_for(window.limit):
            return 0.0
        if window.assumed:
            # A new window whose real state we do not know yet: wait for the requests in flight
            # to report it rather than guess.
            return None
        return min(max(window.reset - okta_now, 0.0), self._max_wait)

    async def acquire(self, on_delay: Callable[[float], None] | None = None) -> bool:
        """Wait until the budget allows one more request and count it in flight.

        Returns True when the request had to wait for the budget (not merely for the first
        answer of the bucket). ``on_delay(seconds)`` is told before each wait for the window to
        reset, with the seconds until it does; an answer freeing the budget may end it earlier.
        """
        waited = False
        while (delay := self._delay()) != 0.0:
            waited = waited or self._window is not None
            if on_delay is not None and delay is not None and self._window is not None:
                on_delay(delay)
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), delay)
            except TimeoutError:
                if delay is not None and delay >= self._max_wait and self._window is not None:
                    # The reset time is implausibly far away (a skewed or bogus header): give up
                    # on this window rather than wait forever.
                    self._window.remaining = self._window.limit
                    self._window.assumed = True
        self.in_flight += 1
        return waited

    def release(self, headers: RateLimitHeaders | None) -> None:
        """A request of this bucket got its answer (or failed); record what Okta reported."""
        self.in_flight -= 1
        self._answered = True
        if headers is not None and headers.limit > 0:
            self._update(headers)
        self._changed.set()
        self._changed = asyncio.Event()

    def _update(self, headers: RateLimitHeaders) -> None:
        window = self._window
        if window is None or headers.reset > window.reset:
            self._window = _Window(headers.limit, headers.remaining, headers.reset)
        elif headers.reset == window.reset and not window.assumed:
            # Answers arrive out of order; the lowest remaining is the latest count.
            window.remaining = min(window.remaining, headers.remaining)
            window.limit = headers.limit
        # Otherwise the answer belongs to a window that has already ended.

    def exhaust(self, reset: int) -> None:
        """A 429 said the window ending at ``reset`` is spent; hold every request until then."""
        window = self._window
        if window is None or reset >= window.reset:
            limit = window.limit if window is not None else 1
            self._window = _Window(limit=limit, remaining=0, reset=reset)
        self._changed.set()
        self._changed = asyncio.Event()

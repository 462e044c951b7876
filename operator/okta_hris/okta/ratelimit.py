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
from collections import deque
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


@dataclass
class _Waiter:
    """A request waiting in a budget's line; ``turn`` is resolved when it may go."""

    turn: asyncio.Future[None]
    on_delay: Callable[[float], None] | None
    waited: bool = False  # for the window to reset, not merely for the bucket's first answer

    def tell(self, delay: float) -> None:
        self.waited = True
        if self.on_delay is not None and not self.turn.done():
            self.on_delay(delay)


class BucketBudget:
    """The rate-limit state of one bucket, shared by every request of the client.

    Requests the budget holds back wait in line (first come, first served), and an answer, a
    429 or the window's reset hands out exactly the requests the budget then allows: with many
    listings parked (one per group), each answer wakes one or two of them, not all of them to
    find they must wait again (which made a sync's CPU grow with the square of its groups).
    """

    def __init__(self, reserve: int | float, clock: OktaClock, max_wait: float) -> None:
        self._reserve = reserve
        self._clock = clock
        self._max_wait = max_wait
        self._window: _Window | None = None
        self._answered = False
        self._waiting: deque[_Waiter] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_gives_up = False  # the timer ends a wait capped at max_wait
        self._told_reset: int | None = None  # the reset the waiting requests were told of
        self.in_flight = 0
        """Requests counted against the window: sent, or let go and about to be."""

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
        answer of the bucket). ``on_delay(seconds)`` is told before a wait for the window to
        reset, with the seconds until it does; an answer freeing the budget may end it earlier.
        """
        self._hand_out()
        if not self._waiting and self._delay() == 0.0:
            self.in_flight += 1
            return False
        waiter = _Waiter(asyncio.get_running_loop().create_future(), on_delay)
        self._waiting.append(waiter)
        window, delay = self._window, self._delay()
        if window is not None and delay is not None and window.reset == self._told_reset:
            waiter.tell(delay)  # the others waiting were told of this reset already
        self._schedule()
        turn = waiter.turn
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                # Let go, then cancelled before it could send: the next in line may go instead.
                self.in_flight -= 1
                self._hand_out()
            raise
        return waiter.waited

    def release(self, headers: RateLimitHeaders | None) -> None:
        """A request of this bucket got its answer (or failed); record what Okta reported."""
        self.in_flight -= 1
        self._answered = True
        if headers is not None and headers.limit > 0:
            self._update(headers)
        self._hand_out()

    def _hand_out(self) -> None:
        """Let go as many waiting requests as the budget allows now, in order, counting each in
        flight at once (so that the next answer does not let the same room go twice)."""
        while self._waiting:
            if self._waiting[0].turn.done():  # cancelled while waiting
                self._waiting.popleft()
            elif self._delay() == 0.0:
                self._waiting.popleft().turn.set_result(None)
                self.in_flight += 1
            else:
                break
        self._schedule()

    def _schedule(self) -> None:
        """One timer for the window's reset while requests wait for it (none while they wait
        for answers: each answer hands out what it frees)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._waiting:
            return
        window, delay = self._window, self._delay()
        if delay is None or window is None:
            return
        if window.reset != self._told_reset:
            # A wait for a new reset (once per window, not per answer): tell every waiter.
            self._told_reset = window.reset
            for waiter in self._waiting:
                waiter.tell(delay)
        self._timer_gives_up = delay >= self._max_wait
        self._timer = asyncio.get_running_loop().call_later(delay, self._window_reset)

    def _window_reset(self) -> None:
        self._timer = None
        if self._timer_gives_up and self._window is not None and not self._window.assumed:
            # The reset time is implausibly far away (a skewed or bogus header): give up on
            # this window rather than wait forever.
            self._window.remaining = self._window.limit
            self._window.assumed = True
        self._hand_out()

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
        self._schedule()

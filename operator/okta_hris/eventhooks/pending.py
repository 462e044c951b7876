"""The events of one integration waiting for their targeted sync.

Okta delivers at least once and in no guaranteed order, so events are de-duplicated by their
``uuid`` (remembering a bounded number of them: a duplicate older than that is re-synced, which
is harmless, never lost). The queue is bounded: a delivery that would overflow it is refused as
a whole, the receiver answers 503 and Okta retries, rather than memory growing without bound
while Okta or the directory is slow. ``next_batch`` debounces: after the first event it waits
until ``debounce`` seconds pass without another, but never more than ``MAX_DELAY_FACTOR`` times
``debounce`` after the first, so a steady stream of changes still syncs.

One event loop uses a ``PendingEvents``: the receiver's handler offers, a sync loop awaits.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from okta_hris.domain.events import EventBatch, HookEvent

DEFAULT_CAPACITY = 10_000
DEFAULT_REMEMBER = 50_000
MAX_DELAY_FACTOR = 1.5  # a 2 s debounce syncs a steady stream every 3 s


class PendingEvents:
    """Events received for one integration and not yet taken by a sync."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, remember: int = DEFAULT_REMEMBER) -> None:
        if capacity < 1 or remember < 1:
            raise ValueError("capacity and remember must be at least 1")
        self.capacity = capacity
        self.remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._received = 0
        self._arrived = asyncio.Event()
        self._clear()

    def _clear(self) -> None:
        self._users: set[str] = set()
        self._groups: set[str] = set()
        self._count = 0
        self._last_event_time: datetime | None = None
        self._first_at = 0.0  # time.monotonic() of the first event waiting, and of the last
        self._last_at = 0.0

    @property
    def received(self) -> int:
        """Unique events accepted so far."""
        return self._received

    @property
    def waiting(self) -> bool:
        return self._count > 0

    def offer(self, events: Sequence[HookEvent]) -> bool:
        """Queue the events not seen before; False (nothing queued) when they do not fit."""
        fresh: dict[str, HookEvent] = {}
        for event in events:
            if event.uuid not in self._seen and event.uuid not in fresh:
                fresh[event.uuid] = event
        if self._count + len(fresh) > self.capacity:
            return False
        if not fresh:
            return True
        now = time.monotonic()
        if not self.waiting:
            self._first_at = now
        self._last_at = now
        for uuid, event in fresh.items():
            self._seen[uuid] = None
            self._users |= event.user_ids
            self._groups |= event.group_ids
            if event.published is not None and (
                self._last_event_time is None or event.published > self._last_event_time
            ):
                self._last_event_time = event.published
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        self._count += len(fresh)
        self._received += len(fresh)
        self._arrived.set()
        return True

    def take(self) -> EventBatch | None:
        """What is waiting now, cleared; None when nothing is."""
        if not self.waiting:
            return None
        batch = EventBatch(
            frozenset(self._users), frozenset(self._groups), self._count, self._last_event_time
        )
        self._clear()
        self._arrived.clear()
        return batch

    async def next_batch(self, debounce: float) -> EventBatch:
        """Wait for events, then for ``debounce`` seconds of quiet (at most
        ``MAX_DELAY_FACTOR * debounce`` after the first), and take them."""
        while not self.waiting:
            await self._arrived.wait()
            self._arrived.clear()
        while True:
            deadline = min(self._last_at + debounce, self._first_at + MAX_DELAY_FACTOR * debounce)
            delay = deadline - time.monotonic()
            if delay <= 0 or not self.waiting:
                break
            await asyncio.sleep(delay)
        batch = self.take()
        if batch is None:  # someone took them meanwhile: wait for the next ones
            return await self.next_batch(debounce)
        return batch

"""PendingEvents: de-duplicated by uuid, bounded, debounced into one batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from okta_hris.domain.events import EventBatch, HookEvent
from okta_hris.eventhooks import PendingEvents

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def event(uuid: str, user: str = "00u1", group: str | None = None, minute: int = 0) -> HookEvent:
    return HookEvent(
        uuid,
        "group.user_membership.add" if group else "user.account.update_profile",
        T0 + timedelta(minutes=minute),
        frozenset({user}),
        frozenset({group} if group else ()),
    )


def test_duplicates_count_once_and_batch_together() -> None:
    pending = PendingEvents()
    assert pending.take() is None and not pending.waiting
    assert pending.offer([event("a", minute=2), event("b", "00u2", "00g1"), event("a")])
    assert pending.offer([event("b", "00u2", "00g1")])  # Okta's retry of a delivery
    assert pending.received == 2 and pending.waiting
    assert pending.take() == EventBatch(
        frozenset({"00u1", "00u2"}), frozenset({"00g1"}), 2, T0 + timedelta(minutes=2)
    )
    assert pending.take() is None
    assert pending.offer([event("a")]) and not pending.waiting  # seen before: nothing to do
    assert pending.received == 2


def test_a_delivery_that_does_not_fit_is_refused_whole() -> None:
    pending = PendingEvents(capacity=3)
    assert pending.offer([event("a"), event("b")])
    assert not pending.offer([event("c"), event("d")])
    assert pending.received == 2
    assert pending.offer([event("c")])  # refused events were not remembered as seen
    assert pending.take() is not None
    assert pending.offer([event("d"), event("e"), event("f")])  # room again once taken


def test_memory_of_seen_uuids_is_bounded() -> None:
    pending = PendingEvents(remember=2)
    pending.offer([event("a"), event("b"), event("c")])
    pending.take()
    pending.offer([event("a")])  # forgotten: synced again, which is harmless
    pending.offer([event("c")])  # remembered: dropped
    batch = pending.take()
    assert batch is not None and batch.events == 1


def test_capacity_and_memory_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PendingEvents(capacity=0)


async def test_next_batch_waits_for_the_first_event_then_for_quiet() -> None:
    pending = PendingEvents()
    waiter = asyncio.create_task(pending.next_batch(debounce=0.3))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    pending.offer([event("a")])
    await asyncio.sleep(0.1)
    pending.offer([event("b", "00u2")])  # within the debounce: the same batch
    batch = await waiter
    assert batch.user_ids == {"00u1", "00u2"} and batch.events == 2
    assert not pending.waiting


async def test_debounce_zero_takes_what_is_there_at_once() -> None:
    pending = PendingEvents()
    pending.offer([event("a")])
    batch = await asyncio.wait_for(pending.next_batch(debounce=0), timeout=5)
    assert batch.events == 1


async def test_a_steady_stream_still_syncs() -> None:
    pending = PendingEvents()
    stop = asyncio.Event()

    async def stream() -> int:
        sent = 0
        while not stop.is_set():  # an event every 50 ms: never 200 ms of quiet
            pending.offer([event(f"e{sent}")])
            sent += 1
            await asyncio.sleep(0.05)
        return sent

    streaming = asyncio.create_task(stream())
    try:
        batch = await asyncio.wait_for(pending.next_batch(debounce=0.2), timeout=10)
        assert not streaming.done()  # taken while the stream went on, never quiet
    finally:
        stop.set()
    assert 0 < batch.events <= await streaming


async def test_cancelling_next_batch_loses_nothing() -> None:
    pending = PendingEvents()
    pending.offer([event("a")])
    waiter = asyncio.create_task(pending.next_batch(debounce=5))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pending.waiting and pending.take() is not None

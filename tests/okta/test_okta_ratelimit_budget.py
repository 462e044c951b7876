"""The budget's line of waiting requests: handed out in order, as far as the window allows, and
never leaking a slot to a request cancelled while it waited (the wake-up cost itself is measured
by bench/ratelimit_wakeups.py)."""

from __future__ import annotations

import asyncio
import time

from okta_hris.okta.ratelimit import BucketBudget, OktaClock, RateLimitHeaders


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def spent_budget(remaining: int = 1) -> tuple[BucketBudget, int]:
    """A budget whose window (a minute away) has ``remaining`` requests left, none in flight."""
    budget = BucketBudget(0, OktaClock(), 90.0)
    reset = int(time.time()) + 60
    await budget.acquire()
    budget.release(RateLimitHeaders(limit=100, remaining=remaining, reset=reset))
    return budget, reset


async def test_waiting_requests_go_in_order_as_far_as_each_answer_allows() -> None:
    budget, reset = await spent_budget(remaining=1)
    went: list[int] = []

    async def request(number: int) -> None:
        await budget.acquire()
        went.append(number)

    tasks = [asyncio.create_task(request(n)) for n in range(20)]
    await settle()
    assert went == [0] and budget.in_flight == 1
    # Each answer (of a newer window) lets go exactly the room it reports, in order.
    for answers, (remaining, expected) in enumerate(((3, 4), (1, 4), (4, 7)), start=1):
        budget.release(RateLimitHeaders(limit=100, remaining=remaining, reset=reset + answers))
        await settle()
        assert went == list(range(expected))
        assert budget.in_flight == len(went) - answers  # sent, not answered yet
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_request_cancelled_after_being_let_go_passes_its_turn_on() -> None:
    budget, reset = await spent_budget(remaining=1)
    first = asyncio.create_task(budget.acquire())
    await settle()
    second, third = asyncio.create_task(budget.acquire()), asyncio.create_task(budget.acquire())
    await settle()
    assert first.done() and not second.done() and budget.in_flight == 1

    budget.release(RateLimitHeaders(limit=100, remaining=1, reset=reset + 1))  # first's answer
    second.cancel()  # let go by that answer, cancelled before it ran
    await settle()
    assert second.cancelled() and third.done()
    assert budget.in_flight == 1  # third's; second gave its slot back

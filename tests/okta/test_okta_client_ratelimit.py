"""Rate limits obeyed before a 429, Okta's clock, and the concurrency cap, over real HTTP.

``FakeOrg`` answers a request beyond its per-window limit with a 429, so "no 429" below means
the client waited on its own. Windows are one second long to keep the tests fast.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from okta_hris.okta import OktaClient, OktaUser, collect

from .okta_stub import FakeOrg, StubServer

TOKEN = "sandbox-token"
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.mark.parametrize("reserve", [0, 1, 0.4])
async def test_waits_for_the_window_instead_of_spending_the_last_requests(
    reserve: int | float,
) -> None:
    org = FakeOrg(users=16, limit=5, window=1)
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, rate_limit_reserve=reserve, **FAST) as client,
    ):
        users = await collect(client.list_users(limit=2))
    assert [user.id for user in users] == [f"00u{i:06d}" for i in range(16)]
    assert org.rate_limited == 0 and client.stats.rate_limited == 0
    assert client.stats.waits_for_rate_limit > 0
    assert client.stats.requests == 8


async def test_counts_requests_in_flight_against_the_budget() -> None:
    # 12 listings at once with room for 8 on the wire, but only 5 requests per window: without
    # counting the requests already sent, a window's budget would be overspent.
    org = FakeOrg(groups={f"00g{i}": 1 for i in range(12)}, limit=5, window=1, delay=0.05)
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, max_concurrency=8, rate_limit_reserve=0) as client,
    ):
        members = await asyncio.gather(
            *(collect(client.list_group_members(group)) for group in org.groups)
        )
    assert all(len(users) == 1 for users in members)
    assert org.rate_limited == 0 and client.stats.rate_limited == 0
    assert client.stats.requests == 12 and client.stats.requests_by_bucket["groups"] == 12


@pytest.mark.timeout(20)
@pytest.mark.parametrize("skew", [-3600.0, 3600.0])
async def test_reset_times_are_read_on_oktas_clock(skew: float) -> None:
    # Okta an hour behind: by our clock every reset is long past, which would spend the budget
    # into 429s. An hour ahead: every reset looks an hour away, which would stall the listing.
    org = FakeOrg(users=12, limit=4, window=1, skew=skew)
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, rate_limit_reserve=1, **FAST) as client,
    ):
        users = await collect(client.list_users(limit=2))
    assert len(users) == 12
    assert org.rate_limited == 0 and client.stats.rate_limited == 0
    assert client.stats.waits_for_rate_limit > 0


async def test_concurrency_is_capped_across_all_listings() -> None:
    org = FakeOrg(users=10, groups={f"00g{i}": 3 for i in range(12)}, delay=0.05)
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, max_concurrency=3) as client,
    ):
        results: list[list[OktaUser]] = await asyncio.gather(
            collect(client.list_users(limit=2)),
            *(collect(client.list_group_members(group, limit=2)) for group in org.groups),
        )
    assert len(results[0]) == 10 and all(len(users) == 3 for users in results[1:])
    # The cap holds, and concurrent listings do use it.
    assert org.max_in_flight == 3
    assert client.stats.requests == 5 + 12 * 2

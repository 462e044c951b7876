"""The Okta client against the Okta sandbox over HTTP: paging, logs, rate limits, faults, auth.

The org is changed only through the sandbox's Okta write API, and what the sandbox saw is read
from ``sandbox.requests``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from okta_hris.errors import OktaUnauthorized
from okta_hris.okta import OktaClient, OktaGroup, OktaUser, collect
from okta_hris.sandbox import Fault, FaultKind, RateLimitConfig, Sandbox

SandboxFactory = Callable[..., Sandbox]
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.1}
# Every user, DEPROVISIONED included (a plain listing omits them; a search does not).
ALL_USERS = 'lastUpdated gt "1970-01-01T00:00:00.000Z"'


def ids(users: list[OktaUser]) -> list[str]:
    return [user.id for user in users]


def user_pages(sandbox: Sandbox) -> list[str | None]:
    """The ``after`` cursor of every answered 200 listing of users, in order."""
    return [
        r.query.get("after")
        for r in sandbox.requests
        if r.path == "/api/v1/users" and r.status == 200
    ]


async def test_lists_every_user_exactly_once(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(users=230, groups=0, seed=3)
    async with OktaClient(sandbox.url, sandbox.token) as client:
        pages = [page async for page in client.list_users(search=ALL_USERS, limit=50)]
        plain = await collect(client.list_users(limit=200))
        deprovisioned = await collect(client.list_users(search='status eq "DEPROVISIONED"'))
    everyone = [user for page in pages for user in page]
    assert len(everyone) == 230 and len(set(ids(everyone))) == 230
    assert [len(page) for page in pages] == [50, 50, 50, 50, 30]
    assert sorted(ids(plain) + ids(deprovisioned)) == sorted(ids(everyone))
    assert "DEPROVISIONED" not in {user.status for user in plain}
    assert all(user.last_updated.tzinfo is not None for user in everyone)
    assert client.stats.requests == len(sandbox.requests) == 5 + 2 + 1
    assert client.first_response_date is not None


async def test_lists_groups_and_their_members_concurrently(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(users=150, groups=12, seed=5)
    async with OktaClient(sandbox.url, sandbox.token, max_concurrency=4) as client:
        groups = await collect(
            client.list_groups(filter='type eq "OKTA_GROUP"', limit=5, expand_stats=True)
        )

        async def members(group: OktaGroup) -> list[OktaUser]:
            return await collect(client.list_group_members(group.id, limit=7))

        async with asyncio.TaskGroup() as tasks:
            jobs = {group.id: tasks.create_task(members(group)) for group in groups}
    # one of the 12 generated groups is an APP_GROUP, which the type filter leaves out
    assert len(groups) == 11 and {group.type for group in groups} == {"OKTA_GROUP"}
    for group in groups:
        listed = ids(jobs[group.id].result())
        assert len(listed) == len(set(listed)) == group.users_count
    member_pages = [r for r in sandbox.requests if r.path.endswith("/users")]
    assert all(r.status == 200 for r in member_pages)
    assert client.stats.requests_by_bucket["groups"] == len(sandbox.requests)


async def test_reads_deletions_from_the_system_log(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(users=0, groups=0)
    since = datetime.now(UTC) - timedelta(minutes=1)
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        created = []
        for n in range(5):
            profile = {
                "firstName": f"Del{n}",
                "lastName": "Eted",
                "email": f"del{n}@example.com",
                "login": f"del{n}@example.com",
            }
            response = await okta.post("/api/v1/users", json={"profile": profile})
            response.raise_for_status()
            created.append(response.json()["id"])
        for user_id in created[:3]:
            for _ in range(2):  # Okta's DELETE deactivates first, then deletes
                (await okta.delete(f"/api/v1/users/{user_id}")).raise_for_status()
    deletions = 'eventType eq "user.lifecycle.delete.initiated"'

    async with OktaClient(sandbox.url, sandbox.token) as client:
        until = datetime.now(UTC) + timedelta(seconds=1)
        deleted = await collect(
            client.list_log_events(since=since, until=until, filter=deletions, limit=1)
        )
        bounded = await collect(
            client.list_log_events(
                since=since, until=datetime.now(UTC) + timedelta(seconds=1), limit=2
            )
        )
    assert [event.target[0].id for event in deleted] == created[:3]
    assert {event.event_type for event in deleted} == {"user.lifecycle.delete.initiated"}
    assert len({event.uuid for event in bounded}) == len(bounded)
    assert Counter(event.event_type for event in bounded)["user.lifecycle.create"] == 5
    published = [event.published for event in bounded]
    assert published == sorted(published)


async def test_obeys_rate_limits_instead_of_running_into_429(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(
        users=50, groups=4, seed=11, rate_limits=RateLimitConfig(users=5, groups=5, window=1.0)
    )
    async with OktaClient(sandbox.url, sandbox.token, max_concurrency=8) as client:

        async def groups_and_members() -> tuple[list[OktaGroup], list[list[OktaUser]]]:
            groups = await collect(client.list_groups())
            listings = (collect(client.list_group_members(g.id)) for g in groups)
            return groups, await asyncio.gather(*listings)

        users, (groups, members) = await asyncio.gather(
            collect(client.list_users(search=ALL_USERS, limit=10)), groups_and_members()
        )
    assert len(set(ids(users))) == 50
    assert len(members) == len(groups) > 0
    assert [r for r in sandbox.requests if r.status == 429] == []
    assert client.stats.rate_limited == 0
    assert client.stats.waits_for_rate_limit > 0
    assert client.stats.requests == len(sandbox.requests)


@pytest.mark.parametrize(
    "kind",
    [
        FaultKind.RATE_LIMITED,
        FaultKind.SERVER_ERROR,
        FaultKind.UNAVAILABLE,
        FaultKind.GATEWAY_TIMEOUT,
        FaultKind.DROP,
        FaultKind.SLOW,
    ],
)
async def test_recovers_from_faults_with_every_page_once(
    sandbox_factory: SandboxFactory, kind: FaultKind
) -> None:
    sandbox = sandbox_factory(users=100, groups=0, seed=2)
    async with OktaClient(sandbox.url, sandbox.token) as client:
        expected = [ids(page) async for page in client.list_users(search=ALL_USERS, limit=20)]
    sandbox.requests.clear()
    # The 2nd and 3rd listing requests fail: the same page twice in a row, then the next one.
    sandbox.add_fault(
        Fault(kind=kind, on_request=2, count=2, path_prefix="/api/v1/users", delay=1.0)
    )
    async with OktaClient(sandbox.url, sandbox.token, timeout=0.3, **FAST) as client:
        got = [ids(page) async for page in client.list_users(search=ALL_USERS, limit=20)]
    assert got == expected
    assert client.stats.retries == 2
    if kind is not FaultKind.SLOW:  # a slow answer is still sent, after the client gave up
        assert len(user_pages(sandbox)) == len(expected)
        assert len([r for r in sandbox.requests if r.status != 200]) == 2


async def test_bad_token_is_unauthorized_without_retries(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(users=3, groups=0)
    wrong = "wrong-token-0123456789"
    async with OktaClient(sandbox.url, wrong) as client:
        with pytest.raises(OktaUnauthorized) as caught:
            await collect(client.list_users())
    assert "E0000011" in str(caught.value) and wrong not in str(caught.value)
    assert [r.status for r in sandbox.requests] == [401]


async def test_stays_under_the_org_concurrency_limit(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(
        users=60, groups=16, seed=4, latency=0.03, rate_limits=RateLimitConfig(concurrency=4)
    )
    async with OktaClient(sandbox.url, sandbox.token, max_concurrency=3) as client:
        groups = await collect(client.list_groups())
        await asyncio.gather(*(collect(client.list_group_members(g.id, limit=3)) for g in groups))
    assert [r for r in sandbox.requests if r.status == 429] == []

    # The control: allowed more than the org's cap, the client meets Okta's concurrency limit
    # (429 with X-Rate-Limit-Limit 0), backs off briefly and still lists every member once.
    sandbox.requests.clear()
    async with OktaClient(
        sandbox.url, sandbox.token, max_concurrency=12, max_retries=12, **FAST
    ) as client:
        listed = await asyncio.gather(
            *(collect(client.list_group_members(g.id, limit=3)) for g in groups)
        )
    assert client.stats.rate_limited == len([r for r in sandbox.requests if r.status == 429]) > 0
    assert all(len(ids(users)) == len(set(ids(users))) for users in listed)

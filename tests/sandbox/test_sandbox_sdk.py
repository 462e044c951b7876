"""The official ``okta`` Python SDK as a client of the sandbox.

The SDK pages with ``okta.pagination.paginate_all`` (reading only the last ``Link`` line),
sends ``SSWS`` tokens, and on a 429 sleeps until ``X-Rate-Limit-Reset`` by Okta's ``Date``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from okta_hris.sandbox import RateLimitConfig, Sandbox

from .sandbox_http import client_for, every_user, list_all

okta_client = pytest.importorskip("okta.client")
okta_pagination = pytest.importorskip("okta.pagination")


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sandbox], Any]:
    # The SDK refuses plain http unless told it is a test.
    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

    def make(sandbox: Sandbox) -> Any:
        config = {"orgUrl": sandbox.url, "token": sandbox.token, "rateLimit": {"maxRetries": 5}}
        return okta_client.Client(config)

    return make


async def collect(method: Any, **kwargs: Any) -> list[Any]:
    return [item async for item in okta_pagination.paginate_all(method, **kwargs)]


async def test_sdk_pages_through_all_users(
    sandbox_factory: Callable[..., Sandbox], sdk: Callable[[Sandbox], Any]
) -> None:
    sandbox = sandbox_factory(users=230, groups=10, seed=7)
    client = sdk(sandbox)
    users = await collect(client.list_users, limit=40)
    with client_for(sandbox) as http:
        expected = [u for u in every_user(http) if u["status"] != "DEPROVISIONED"]
    assert [u.id for u in users] == [u["id"] for u in expected]
    assert len({u.id for u in users}) == len(users)
    first, raw = users[0], expected[0]
    assert first.profile.login == raw["profile"]["login"]
    assert first.status.value == raw["status"]
    searched = await collect(client.list_users, limit=60, search='status eq "DEPROVISIONED"')
    assert searched and {u.status.value for u in searched} == {"DEPROVISIONED"}


async def test_sdk_pages_through_group_members(
    sandbox_factory: Callable[..., Sandbox], sdk: Callable[[Sandbox], Any]
) -> None:
    sandbox = sandbox_factory(users=150, groups=10, seed=7)
    client = sdk(sandbox)
    groups, _, error = await client.list_groups(filter='type eq "OKTA_GROUP"')
    assert error is None
    with client_for(sandbox) as http:
        raw = http.get("/api/v1/groups").json()
        assert {g.id for g in groups} == {g["id"] for g in raw if g["type"] == "OKTA_GROUP"}
        for group in groups:
            members = await collect(client.list_group_users, group_id=group.id, limit=7)
            expected = list_all(http, f"/api/v1/groups/{group.id}/users")
            assert [m.id for m in members] == [m["id"] for m in expected], group.id


async def test_sdk_survives_429_by_its_own_retry(
    sandbox_factory: Callable[..., Sandbox], sdk: Callable[[Sandbox], Any]
) -> None:
    sandbox = sandbox_factory(users=200, groups=2, seed=7)
    client = sdk(sandbox)
    sandbox.set_rate_limits(RateLimitConfig(users=2, window=1.0))
    users = await collect(client.list_users, limit=50)
    assert len(users) == len({u.id for u in users})
    with client_for(sandbox) as http:
        sandbox.set_rate_limits(RateLimitConfig())
        expected = [u["id"] for u in every_user(http) if u["status"] != "DEPROVISIONED"]
    assert [u.id for u in users] == expected
    statuses = [r.status for r in sandbox.requests if r.bucket == "users"]
    assert 429 in statuses
    assert statuses.count(200) >= 4

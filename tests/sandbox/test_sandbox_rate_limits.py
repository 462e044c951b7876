"""Rate limits per bucket, Okta's headers, the 429, window resets and the concurrency cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from okta_hris.sandbox import RateLimitConfig, Sandbox
from okta_hris.sandbox.ratelimit import RateLimiter, bucket_for

from .sandbox_http import client_for


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_windows_open_with_the_first_request_not_on_the_minute() -> None:
    clock = FakeTime(1_000_000_017.25)
    limiter = RateLimiter(RateLimitConfig(users=2, window=60), clock=clock)
    first = limiter.acquire("users")
    assert (first.limit, first.remaining, first.reset) == (2, 1, 1_000_000_078)
    clock.now += 30
    assert limiter.acquire("users").remaining == 0
    refused = limiter.acquire("users")
    assert not refused.allowed and refused.remaining == 0 and refused.reset == 1_000_000_078
    # The next window opens with the next request after this one closed, 100 s later.
    clock.now += 100
    reopened = limiter.acquire("users")
    assert reopened.allowed and reopened.remaining == 1 and reopened.reset == 1_000_000_208


def test_buckets_are_counted_apart() -> None:
    limiter = RateLimiter(RateLimitConfig(users=1, groups=1, logs=1, other=1), clock=FakeTime(5.0))
    for bucket in ("users", "groups", "logs", "other"):
        assert limiter.acquire(bucket).allowed
        assert not limiter.acquire(bucket).allowed
    assert [bucket_for(p) for p in ("/api/v1/users/00u1/groups", "/api/v1/groups", "/api/v1/logs",
                                    "/api/v1/usersx", "/api/v1/apps")] == [
        "users", "groups", "logs", "other", "other"
    ]  # fmt: skip


def test_okta_default_limits_in_the_headers(
    http: httpx.Client, sandbox_factory: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_factory(users=3, groups=1)
    with client_for(sandbox) as client:
        limits = {
            path: int(client.get(path).headers["x-rate-limit-limit"])
            for path in ("/api/v1/users", "/api/v1/groups", "/api/v1/logs")
        }
        assert limits == {"/api/v1/users": 600, "/api/v1/groups": 500, "/api/v1/logs": 120}
        remaining = [
            int(client.get("/api/v1/users").headers["x-rate-limit-remaining"]) for _ in range(3)
        ]
        assert remaining == [598, 597, 596]


def test_past_the_limit_okta_answers_429_e0000047(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=3, groups=1, rate_limits=RateLimitConfig(users=3, window=60))
    with client_for(sandbox) as client:
        statuses = [client.get("/api/v1/users").status_code for _ in range(3)]
        refused = client.get("/api/v1/users/anyone@example.com")
        other_bucket = client.get("/api/v1/groups")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["errorCode"] == "E0000047"
    assert refused.headers["x-rate-limit-limit"] == "3"
    assert refused.headers["x-rate-limit-remaining"] == "0"
    assert int(refused.headers["x-rate-limit-reset"]) >= int(time.time())
    assert refused.headers["date"]
    assert other_bucket.status_code == 200
    assert [r.status for r in sandbox.requests] == [200, 200, 200, 429, 200]


def test_the_window_resets(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=3, groups=1, rate_limits=RateLimitConfig(users=2, window=1.0))
    with client_for(sandbox) as client:
        assert [client.get("/api/v1/users").status_code for _ in range(2)] == [200, 200]
        refused = client.get("/api/v1/users")
        assert refused.status_code == 429
        reset = int(refused.headers["x-rate-limit-reset"])
        while time.time() < reset:
            time.sleep(0.05)
        again = client.get("/api/v1/users")
    assert again.status_code == 200
    assert again.headers["x-rate-limit-remaining"] == "1"


def test_set_rate_limits_and_disabling_them(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=3, groups=1)
    with client_for(sandbox) as client:
        sandbox.set_rate_limits(RateLimitConfig(groups=1))
        assert [client.get("/api/v1/groups").status_code for _ in range(2)] == [200, 429]
        sandbox.set_rate_limits(RateLimitConfig(groups=1, enabled=False))
        answers = [client.get("/api/v1/groups") for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        # Disabled limits spend nothing: a client pacing itself by Remaining never waits.
        assert {answer.headers["x-rate-limit-remaining"] for answer in answers} == {"1"}


def test_concurrency_cap_answers_429_with_limit_zero(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    # Each request is held for a second, so five sent at once overlap: two get in.
    sandbox = sandbox_factory(
        users=3, groups=1, latency=1.0, rate_limits=RateLimitConfig(concurrency=2)
    )

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"SSWS {sandbox.token}"}
        async with httpx.AsyncClient(base_url=sandbox.url, headers=headers, timeout=30) as client:
            return await asyncio.gather(*(client.get("/api/v1/users") for _ in range(5)))

    responses = asyncio.run(burst())
    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429, 429]
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["errorCode"] == "E0000047"
        assert refused.headers["x-rate-limit-limit"] == "0"
        assert refused.headers["x-rate-limit-remaining"] == "0"
        assert int(refused.headers["x-rate-limit-reset"]) > 0
    # Refused requests were not counted against the users bucket.
    admitted = [r for r in responses if r.status_code == 200]
    assert sorted(r.headers["x-rate-limit-remaining"] for r in admitted) == ["598", "599"]


def test_a_token_share_limits_the_token_to_part_of_each_bucket() -> None:
    assert RateLimitConfig().token_share == 1.0 and RateLimitConfig().limit_for("users") == 600
    okta_default = RateLimitConfig(token_share=0.5)
    assert [okta_default.limit_for(b) for b in ("users", "groups", "logs")] == [300, 250, 60]
    limiter = RateLimiter(RateLimitConfig(users=4, token_share=0.5), clock=FakeTime(5.0))
    first = limiter.acquire("users")
    assert (first.limit, first.remaining) == (2, 1)
    assert limiter.acquire("users").allowed and not limiter.acquire("users").allowed
    tiny = RateLimiter(RateLimitConfig(logs=1, token_share=0.1), clock=FakeTime(5.0))
    assert tiny.acquire("logs").allowed and not tiny.acquire("logs").allowed


@pytest.mark.parametrize(
    "bad",
    [{"users": 0}, {"window": 0}, {"concurrency": 0}, {"token_share": 0}, {"token_share": 1.5}],
)
def test_rate_limit_config_is_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimitConfig(**bad)

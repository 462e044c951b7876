"""Delivery of the sandbox's System Log events to verified event hooks, as Okta does it: the
body, the headers, batching, one retry after a timeout or 5xx, and seeded delivery faults."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from okta_hris.sandbox import (
    HookDeliveryConfig,
    HookFault,
    HookFaultKind,
    Sandbox,
    SandboxConfig,
    run_sandbox,
)
from okta_hris.sandbox.hookdelivery import HookFaultPlan

from .hook_endpoint import HookEndpoint, hook_endpoint
from .sandbox_http import OKTA_TIME, client_for
from .test_sandbox_event_hooks import SECRET, hook_body

USER_EVENTS = (
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.account.update_profile",
    "user.lifecycle.deactivate",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
)
MEMBERSHIP_EVENTS = ("group.user_membership.add", "group.user_membership.remove")
# Fast failure handling (Okta waits 3 s), one event per delivery: each write is its own
# delivery, so which deliveries a seeded fault hits does not depend on timing.
ONE_BY_ONE = HookDeliveryConfig(batch_window=0.0, max_events=1, timeout=2.0, retry_delay=0.05)
# The events of one API call in one delivery, and nothing else.
QUICK = HookDeliveryConfig(batch_window=0.0, timeout=2.0, retry_delay=0.05)


@pytest.fixture
def endpoint() -> Iterator[HookEndpoint]:
    with hook_endpoint() as serving:
        yield serving


def register(okta: httpx.Client, uri: str, *events: str) -> str:
    """Create and verify a hook, as ``okta-hris hooks register`` does."""
    hook = okta.post("/api/v1/eventHooks", json=hook_body(uri, *events)).json()
    verified = okta.post(f"/api/v1/eventHooks/{hook['id']}/lifecycle/verify")
    assert verified.status_code == 200, verified.text
    return str(hook["id"])


def new_user(okta: httpx.Client, login: str, **extra: Any) -> dict[str, Any]:
    profile = {"firstName": "Ada", "lastName": "Lovelace", "login": login, "email": login}
    body = {"profile": profile, "credentials": {"password": {"value": "Correct-horse-1"}}, **extra}
    response = okta.post("/api/v1/users", params={"activate": "true"}, json=body)
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()
    return user


def started(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint, **config: Any
) -> tuple[Sandbox, httpx.Client, str]:
    """A sandbox with a verified hook to the endpoint, and a client to open for the writes."""
    sandbox = sandbox_factory(users=0, groups=0, **config)
    with client_for(sandbox) as okta:
        hook_id = register(okta, endpoint.url, *USER_EVENTS, *MEMBERSHIP_EVENTS)
    endpoint.received.clear()
    return sandbox, client_for(sandbox), hook_id


def test_user_and_membership_writes_reach_the_hook_with_okta_body_and_headers(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint
) -> None:
    sandbox, okta, hook_id = started(sandbox_factory, endpoint, hook_delivery=QUICK)
    with okta:
        group = okta.post("/api/v1/groups", json={"profile": {"name": "Design"}}).json()
        user = new_user(okta, "ada@example.com")
        okta.put(f"/api/v1/groups/{group['id']}/users/{user['id']}")
        okta.post(f"/api/v1/users/{user['id']}", json={"profile": {"title": "Engineer"}})
        okta.delete(f"/api/v1/groups/{group['id']}/users/{user['id']}")
        okta.post(f"/api/v1/users/{user['id']}/lifecycle/deactivate")
        okta.delete(f"/api/v1/users/{user['id']}")
        logged = okta.get("/api/v1/logs").json()
        expected = [e for e in logged if e["eventType"] in USER_EVENTS + MEMBERSHIP_EVENTS]
        assert len(expected) == 8  # the group's creation is logged, not subscribed
        # The sandbox records a delivery once it has the answer, after the endpoint has it.
        endpoint.wait_for(lambda: sum(len(d.uuids) for d in sandbox.hook_deliveries) == 8)

    # Exactly the System Log's events, as /api/v1/logs returns them, once each (deliveries
    # run concurrently, so in no guaranteed order).
    assert sorted(endpoint.events, key=by_uuid) == sorted(expected, key=by_uuid)
    [post] = [p for p in endpoint.posts if p.body["data"]["events"][0] == expected[0]]
    assert post.headers["Authorization"] == SECRET
    assert post.headers["X-Other-Header"] == "my-header-value"
    assert post.headers["Content-Type"].startswith("application/json")
    body = post.body
    assert {k: body[k] for k in ("eventType", "eventTypeVersion", "cloudEventsVersion")} == {
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
    }
    assert body["contentType"] == "application/json"
    assert body["source"] == f"{sandbox.url}/api/v1/eventHooks/{hook_id}"
    assert OKTA_TIME.match(body["eventTime"]) and body["eventId"]
    assert len({p.body["eventId"] for p in endpoint.posts}) == len(endpoint.posts)
    # One API call that writes two events (create, then activate) is one delivery.
    assert [e["eventType"] for e in body["data"]["events"]] == [
        "user.lifecycle.create",
        "user.lifecycle.activate",
    ]
    deliveries = sandbox.hook_deliveries
    assert all(d.hook_id == hook_id and d.status == 200 and d.attempt == 1 for d in deliveries)
    assert sorted(u for d in deliveries for u in d.uuids) == sorted(e["uuid"] for e in expected)


def by_uuid(event: dict[str, Any]) -> str:
    return str(event["uuid"])


def test_events_written_together_share_deliveries_of_at_most_max_events(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint
) -> None:
    config = HookDeliveryConfig(batch_window=0.0, max_events=4)
    sandbox, okta, _ = started(sandbox_factory, endpoint, hook_delivery=config)
    with okta:
        groups = [
            okta.post("/api/v1/groups", json={"profile": {"name": f"G{n}"}}).json()["id"]
            for n in range(5)
        ]
        new_user(okta, "ada@example.com", groupIds=groups)  # create, 5 memberships, activate
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 2)
    assert sorted(len(p.body["data"]["events"]) for p in endpoint.posts) == [3, 4]
    assert sorted(d.number for d in sandbox.hook_deliveries) == [1, 2]


def test_only_active_verified_subscribed_hooks_receive_events(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(users=0, groups=0, hook_delivery=QUICK)
    with (
        client_for(sandbox) as okta,
        hook_endpoint() as subscribed,
        hook_endpoint() as other_types,
        hook_endpoint() as unverified,
        hook_endpoint() as inactive,
    ):
        hook_id = register(okta, subscribed.url, "user.lifecycle.create")
        register(okta, other_types.url, "group.user_membership.add")
        okta.post("/api/v1/eventHooks", json=hook_body(unverified.url, "user.lifecycle.create"))
        off = register(okta, inactive.url, "user.lifecycle.create")
        okta.post(f"/api/v1/eventHooks/{off}/lifecycle/deactivate")
        new_user(okta, "ada@example.com")
        new_user(okta, "grace@example.com")
        subscribed.wait_for(lambda: len(sandbox.hook_deliveries) == 2)
    assert {e["eventType"] for e in subscribed.events} == {"user.lifecycle.create"}
    assert {d.hook_id for d in sandbox.hook_deliveries} == {hook_id}
    # The others were verified (one GET each) and then never called.
    assert [r.method for r in other_types.received + inactive.received] == ["GET", "GET"]
    assert unverified.received == []


def test_a_5xx_is_retried_once_and_a_4xx_is_not(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint
) -> None:
    sandbox, okta, _ = started(sandbox_factory, endpoint, hook_delivery=QUICK)
    endpoint.answers = [503, 200, 500, 502, 400]
    with okta:
        user = new_user(okta, "ada@example.com")
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 2)
        okta.post(f"/api/v1/users/{user['id']}", json={"profile": {"title": "Engineer"}})
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 4)
        okta.post(f"/api/v1/users/{user['id']}", json={"profile": {"title": "Manager"}})
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 5)
    attempts = [(d.number, d.attempt, d.status) for d in sandbox.hook_deliveries]
    assert attempts == [(1, 1, 503), (1, 2, 200), (2, 1, 500), (2, 2, 502), (3, 1, 400)]
    first, retry = endpoint.posts[:2]
    assert first.body["eventId"] == retry.body["eventId"]
    assert first.body["data"] == retry.body["data"]


def test_a_timeout_is_retried_and_the_event_arrives_at_least_once(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint
) -> None:
    config = QUICK.model_copy(update={"timeout": 1.0})
    sandbox, okta, _ = started(sandbox_factory, endpoint, hook_delivery=config)
    endpoint.answers = ["stall"]
    with okta:
        user = new_user(okta, "ada@example.com")
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 2)
    timed_out, retried = sandbox.hook_deliveries
    assert (timed_out.attempt, timed_out.status, timed_out.error) == (1, None, "timeout")
    assert (retried.attempt, retried.status) == (2, 200) and retried.uuids == timed_out.uuids
    # The stalled request reached the endpoint too: Okta's delivery is at least once.
    creations = [e for e in endpoint.events if e["eventType"] == "user.lifecycle.create"]
    assert len(creations) == 2 and creations[0]["target"][0]["id"] == user["id"]


def test_a_stalled_endpoint_never_holds_up_the_api_nor_the_sandbox_stopping(
    endpoint: HookEndpoint,
) -> None:
    endpoint.answers = ["stall"] * 10
    config = SandboxConfig(users=0, groups=0, hook_delivery=HookDeliveryConfig(timeout=60))
    with run_sandbox(config) as sandbox, client_for(sandbox) as okta:
        register(okta, endpoint.url, *USER_EVENTS)
        user = new_user(okta, "ada@example.com")
        endpoint.wait_for(lambda: len(endpoint.posts) == 1)
        for number in range(5):
            title = {"profile": {"title": str(number)}}
            assert okta.post(f"/api/v1/users/{user['id']}", json=title).status_code == 200
        assert sandbox.hook_deliveries == []  # the deliveries still wait for their answers
    # The sandbox stopped with its deliveries unanswered, and recorded none as sent.
    assert not endpoint.released and sandbox.hook_deliveries == []


def test_a_vanished_endpoint_costs_two_attempts_per_delivery(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(users=0, groups=0, hook_delivery=QUICK)
    with client_for(sandbox) as okta:
        with hook_endpoint() as endpoint:
            register(okta, endpoint.url, *USER_EVENTS)
        new_user(okta, "ada@example.com")
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 2)
    assert [(d.attempt, d.status, d.error) for d in sandbox.hook_deliveries] == [
        (1, None, "connection failed"),
        (2, None, "connection failed"),
    ]


@pytest.mark.parametrize("seed", [3, 11])
def test_dropped_deliveries_are_seeded_and_reproducible(
    sandbox_factory: Callable[..., Sandbox], seed: int
) -> None:
    def dropped_numbers() -> list[int]:
        with hook_endpoint() as endpoint:
            sandbox, okta, _ = started(
                sandbox_factory,
                endpoint,
                hook_delivery=ONE_BY_ONE,
                hook_faults=(HookFault(kind=HookFaultKind.DROP, probability=0.3),),
                hook_fault_seed=seed,
            )
            with okta:
                user = new_user(okta, "ada@example.com")
                for number in range(18):
                    title = {"profile": {"title": str(number)}}
                    okta.post(f"/api/v1/users/{user['id']}", json=title)
                endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 20)
            deliveries = sandbox.hook_deliveries
            arrived = {e["uuid"] for e in endpoint.events}
            assert arrived == {d.uuids[0] for d in deliveries if not d.dropped}
            assert len(endpoint.events) == len(arrived)
            return sorted(d.number for d in deliveries if d.dropped)

    first = dropped_numbers()
    assert 1 <= len(first) <= 12
    assert dropped_numbers() == first


def test_a_duplicated_delivery_is_sent_twice_with_the_same_event_id(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint
) -> None:
    sandbox, okta, _ = started(sandbox_factory, endpoint, hook_delivery=QUICK)
    sandbox.set_hook_faults([HookFault(kind=HookFaultKind.DUPLICATE)])
    with okta:
        new_user(okta, "ada@example.com")
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 2)
    first, second = endpoint.posts
    assert first.body["eventId"] == second.body["eventId"]
    assert first.body["data"] == second.body["data"]
    assert [(d.number, d.faults) for d in sandbox.hook_deliveries] == [(1, ("duplicate",))] * 2


def test_a_delayed_delivery_is_overtaken_by_the_next(
    sandbox_factory: Callable[..., Sandbox], endpoint: HookEndpoint
) -> None:
    delay = HookFault(kind=HookFaultKind.DELAY, probability=0.5, delay=2.0)
    # A seed under which the hook's 2nd delivery is delayed and its 1st and 3rd are not.
    seed = next(
        s
        for s in range(1000)
        if [bool(HookFaultPlan([delay], s).decide(n)[0]) for n in (1, 2, 3)] == [False, True, False]
    )
    sandbox, okta, _ = started(
        sandbox_factory, endpoint, hook_delivery=QUICK, hook_faults=(delay,), hook_fault_seed=seed
    )
    with okta:
        user = new_user(okta, "ada@example.com")
        endpoint.wait_for(lambda: len(endpoint.posts) == 1)
        for title in ("late", "early"):
            okta.post(f"/api/v1/users/{user['id']}", json={"profile": {"title": title}})
        endpoint.wait_for(lambda: len(sandbox.hook_deliveries) == 3)
        updates = [e for e in okta.get("/api/v1/logs").json() if e["eventType"] == USER_EVENTS[2]]
    arrived = [e["uuid"] for e in endpoint.events[2:]]
    assert arrived == [updates[1]["uuid"], updates[0]["uuid"]]
    assert [d.faults for d in sandbox.hook_deliveries] == [(), (), ("delay",)]


def test_reorder_shuffles_a_delivery_the_same_way_for_a_seed(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    def delivered_order(seed: int) -> list[int]:
        with hook_endpoint() as endpoint:
            _, okta, _ = started(
                sandbox_factory,
                endpoint,
                hook_delivery=QUICK,
                hook_faults=(HookFault(kind=HookFaultKind.REORDER, delay=0.0),),
                hook_fault_seed=seed,
            )
            with okta:
                groups = [
                    okta.post("/api/v1/groups", json={"profile": {"name": f"G{n}"}}).json()["id"]
                    for n in range(6)
                ]
                new_user(okta, "ada@example.com", groupIds=groups)  # one call, eight events
                endpoint.wait_for(lambda: len(endpoint.events) == 8)
                logged = [e["uuid"] for e in okta.get("/api/v1/logs").json()[6:]]
            [post] = endpoint.posts
            order = [e["uuid"] for e in post.body["data"]["events"]]
            assert sorted(order) == sorted(logged)
            return [logged.index(u) for u in order]

    first = delivered_order(5)
    assert first != sorted(first)
    assert delivered_order(5) == first

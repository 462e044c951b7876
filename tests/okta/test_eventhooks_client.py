"""The Event Hooks management client against the Okta sandbox's /api/v1/eventHooks over HTTP,
verified by the operator's own receiver (the sandbox sends Okta's verification GET to it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from okta_hris.domain.events import CONSUMED_EVENT_TYPES, HookEvent
from okta_hris.errors import ConfigError, OktaApiError, OktaForbidden, OktaUnavailable
from okta_hris.eventhooks import EventHookReceiver
from okta_hris.okta import OktaClient, OktaNotFound
from okta_hris.okta.eventhooks import EventHooksApi, authorization_value, check_hook_id
from okta_hris.sandbox import Fault, FaultKind, Sandbox

SandboxFactory = Callable[..., Sandbox]
SECRET = "Bearer hook-secret-123"
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}


class OneIntegration:
    """A receiver target serving integration people-ops/acme with SECRET."""

    def __init__(self) -> None:
        self.delivered: list[HookEvent] = []

    async def authorization(self, integration: str) -> str | None:
        return SECRET if integration == "people-ops/acme" else None

    def offer(self, integration: str, events: Sequence[HookEvent]) -> bool:
        self.delivered.extend(events)
        return True


@pytest.fixture
async def receiver_url() -> AsyncIterator[str]:
    receiver = EventHookReceiver(OneIntegration(), "127.0.0.1", 0)
    await receiver.start()
    try:
        yield f"http://127.0.0.1:{receiver.port}/hooks/okta/people-ops/acme"
    finally:
        await receiver.stop()


async def test_a_hook_is_created_verified_activated_listed_and_deleted(
    sandbox_factory: SandboxFactory, receiver_url: str
) -> None:
    sandbox = sandbox_factory(users=5, groups=1, seed=1)
    async with OktaClient(sandbox.url, sandbox.token) as client:
        hooks = EventHooksApi(client)
        created = await hooks.create(
            "okta-hris people-ops/acme", receiver_url, CONSUMED_EVENT_TYPES, SECRET
        )
        assert created.uri == receiver_url
        assert set(created.event_types) == set(CONSUMED_EVENT_TYPES)
        assert not created.verified
        verified = await hooks.verify(created.id)
        assert verified.verified
        deactivated = await hooks.deactivate(created.id)
        assert not deactivated.active
        assert (await hooks.activate(created.id)).active
        (listed,) = await hooks.list()
        assert listed.id == created.id and listed.active and listed.verified
        assert (await hooks.get(created.id)).name == "okta-hris people-ops/acme"
        with pytest.raises(OktaApiError):  # Okta deletes only an inactive hook
            await hooks.delete(created.id)
        await hooks.deactivate(created.id)
        await hooks.delete(created.id)
        assert await hooks.list() == []
        with pytest.raises(OktaNotFound, match="GET /api/v1/eventHooks/"):
            await hooks.get(created.id)
    # The auth value is write-only: never in an answer the sandbox sent back.
    assert SECRET not in repr(created) + repr(listed)


async def test_verification_fails_when_nothing_answers_at_the_url(
    sandbox_factory: SandboxFactory, receiver_url: str
) -> None:
    sandbox = sandbox_factory(users=1, groups=0, seed=1)
    async with OktaClient(sandbox.url, sandbox.token) as client:
        hooks = EventHooksApi(client)
        wrong_path = receiver_url.replace("/acme", "/unknown")
        created = await hooks.create("x", wrong_path, CONSUMED_EVENT_TYPES, SECRET)
        with pytest.raises(OktaApiError, match=r"POST /api/v1/eventHooks/\w+/lifecycle/verify"):
            await hooks.verify(created.id)
        assert not (await hooks.get(created.id)).verified


async def test_a_create_lost_to_a_5xx_is_not_sent_twice_but_a_replace_is_retried(
    sandbox_factory: SandboxFactory, receiver_url: str
) -> None:
    sandbox = sandbox_factory(users=1, groups=0, seed=1)
    async with OktaClient(sandbox.url, sandbox.token, **FAST) as client:
        hooks = EventHooksApi(client)
        sandbox.add_fault(
            Fault(kind=FaultKind.SERVER_ERROR, path_prefix="/api/v1/eventHooks", on_request=1)
        )
        with pytest.raises(OktaUnavailable, match="POST /api/v1/eventHooks"):
            await hooks.create("x", receiver_url, CONSUMED_EVENT_TYPES, SECRET)
        created = await hooks.create("x", receiver_url, CONSUMED_EVENT_TYPES, SECRET)
        sandbox.add_fault(
            Fault(
                kind=FaultKind.BAD_GATEWAY, path_prefix="/api/v1/eventHooks", on_request=1, count=2
            )
        )
        replaced = await hooks.replace(
            created.id, "renamed", receiver_url, CONSUMED_EVENT_TYPES, SECRET
        )
        assert replaced.name == "renamed"
        sandbox.add_fault(
            Fault(kind=FaultKind.RATE_LIMITED, path_prefix="/api/v1/eventHooks", on_request=1)
        )
        # A 429 applied nothing: even a create is sent again.
        await hooks.create("y", receiver_url, CONSUMED_EVENT_TYPES, SECRET)
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/v1/eventHooks"]
    assert [r.status for r in posts] == [500, 200, 429, 200]
    puts = [r.status for r in sandbox.requests if r.method == "PUT"]
    assert puts == [502, 502, 200]


async def test_a_token_that_may_not_manage_hooks_is_forbidden(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(users=1, groups=0, seed=1)
    sandbox.add_fault(Fault(kind=FaultKind.FORBIDDEN, path_prefix="/api/v1/eventHooks"))
    async with OktaClient(sandbox.url, sandbox.token) as client:
        with pytest.raises(OktaForbidden, match="GET /api/v1/eventHooks"):
            await EventHooksApi(client).list()


@pytest.mark.parametrize("hook_id", ["", "../users", "a b", "x" * 65, "who8%2F"])
def test_a_hook_id_that_cannot_be_okta_s_is_refused(hook_id: str) -> None:
    with pytest.raises(ConfigError, match="event hook id"):
        check_hook_id(hook_id)


@pytest.mark.parametrize("raw", ["", "  \n", "line\nbreak", "tab\there", "é", "x" * 1025])
def test_an_unusable_authorization_value_is_one_line_without_the_value(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        authorization_value(raw, 'key "authorization" of Secret "okta-hook"')
    message = str(caught.value)
    assert "\n" not in message and 'Secret "okta-hook"' in message
    assert not raw.strip() or raw.strip() not in message


def test_the_newline_of_a_secret_made_from_a_file_is_not_part_of_the_value() -> None:
    assert authorization_value("Basic YWRtaW46c2VjcmV0\n", "k") == "Basic YWRtaW46c2VjcmV0"


async def test_an_answer_larger_than_the_client_allows_is_refused(
    sandbox_factory: SandboxFactory, receiver_url: str
) -> None:
    sandbox = sandbox_factory(users=1, groups=0, seed=1)
    async with OktaClient(sandbox.url, sandbox.token, max_body_bytes=2048) as client:
        hooks = EventHooksApi(client)
        for number in range(3):
            await hooks.create(f"hook {number}", receiver_url, CONSUMED_EVENT_TYPES, SECRET)
        with pytest.raises(OktaApiError, match="GET /api/v1/eventHooks is larger than"):
            await hooks.list()

"""The event hook receiver over real HTTP: verification, auth, bodies, back-pressure."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from okta_hris.domain.events import HookEvent
from okta_hris.errors import ConfigError
from okta_hris.eventhooks import EventHookReceiver, PendingEvents, parse_hooks_address
from tests.eventhooks.okta_bodies import delivery, log_event

SECRET = "Bearer s3cr3t-hook-value"
PATH = "/hooks/okta/people-ops/acme"


class Integrations:
    """A HookTarget over a few integrations, each with its own queue."""

    def __init__(self, capacity: int = 100) -> None:
        self.secrets = {"people-ops/acme": SECRET, "people-ops/quiet": None}
        self.pending = {key: PendingEvents(capacity=capacity) for key in self.secrets}

    async def authorization(self, integration: str) -> str | None:
        return self.secrets.get(integration)

    def offer(self, integration: str, events: Sequence[HookEvent]) -> bool:
        return self.pending[integration].offer(events)


@pytest.fixture
def integrations() -> Integrations:
    return Integrations(capacity=3)


@pytest.fixture
async def http(integrations: Integrations) -> AsyncIterator[httpx.AsyncClient]:
    receiver = EventHookReceiver(integrations, "127.0.0.1", 0, max_body_bytes=64 * 1024)
    await receiver.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{receiver.port}") as client:
            yield client
    finally:
        await receiver.stop()


async def post(http: httpx.AsyncClient, body: bytes, auth: str | None = SECRET) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    return await http.post(PATH, content=body, headers=headers)


async def test_verification_echoes_the_challenge_as_json(http: httpx.AsyncClient) -> None:
    challenge = 'abc"<script>'
    response = await http.get(PATH, headers={"X-Okta-Verification-Challenge": challenge})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"verification": challenge}


@pytest.mark.parametrize("challenge", [None, "x" * 513, "two words"])
async def test_verification_without_a_proper_challenge_is_refused(
    http: httpx.AsyncClient, challenge: str | None
) -> None:
    headers = {} if challenge is None else {"X-Okta-Verification-Challenge": challenge}
    response = await http.get(PATH, headers=headers)
    assert response.status_code == 400
    assert challenge is None or challenge not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/hooks/okta/people-ops/quiet",  # hooks off
        "/hooks/okta/people-ops/other",  # no such integration
        "/hooks/okta/People_Ops/acme",  # not a namespace
        "/hooks/okta/people-ops",
        "/healthz",
    ],
)
async def test_unknown_paths_are_404(http: httpx.AsyncClient, path: str) -> None:
    for method in ("GET", "POST"):
        response = await http.request(
            method,
            path,
            headers={"X-Okta-Verification-Challenge": "c", "Authorization": SECRET},
            content=delivery(),
        )
        assert response.status_code == 404, (method, path)


async def test_a_delivery_is_accepted_and_queued(
    http: httpx.AsyncClient, integrations: Integrations
) -> None:
    body = delivery(
        log_event("user.lifecycle.create", ("00u1",)),
        log_event("group.user_membership.add", ("00u1",), ("00g1",)),
    )
    response = await post(http, body)
    assert response.status_code == 200
    batch = integrations.pending["people-ops/acme"].take()
    assert batch is not None
    assert (batch.user_ids, batch.group_ids, batch.events) == ({"00u1"}, {"00g1"}, 2)


@pytest.mark.parametrize(
    "auth", [None, "", "Bearer wrong", SECRET + "x", SECRET[:-1], SECRET.lower()]
)
async def test_bad_or_missing_authorization_is_401_and_queues_nothing(
    http: httpx.AsyncClient,
    integrations: Integrations,
    auth: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="okta_hris")
    response = await post(http, delivery(log_event("user.lifecycle.create", ("00u1",))), auth)
    assert response.status_code == 401
    assert not integrations.pending["people-ops/acme"].waiting
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("okta_hris")]
    assert ours and all("people-ops/acme" in line for line in ours)
    assert not any("s3cr3t" in line or "Bearer" in line for line in ours)


@pytest.mark.parametrize(
    "body",
    [b"{nope", b'{"data": {}}', b'{"data": {"events": [{"eventType": 5}]}}'],
)
async def test_malformed_bodies_are_400_in_one_line(
    http: httpx.AsyncClient, integrations: Integrations, body: bytes
) -> None:
    response = await post(http, body)
    assert response.status_code == 400
    assert "\n" not in response.json()["error"]
    assert not integrations.pending["people-ops/acme"].waiting


async def test_a_huge_body_is_413(http: httpx.AsyncClient, integrations: Integrations) -> None:
    padding = {"padding": "x" * 70 * 1024}
    response = await post(http, json.dumps(padding).encode())
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read up to the limit
        for _ in range(70):
            yield b" " * 1024

    response = await http.post(PATH, content=chunks(), headers={"Authorization": SECRET})
    assert response.status_code == 413
    assert not integrations.pending["people-ops/acme"].waiting


async def test_duplicate_and_reordered_events_count_once(
    http: httpx.AsyncClient, integrations: Integrations
) -> None:
    create = log_event("user.lifecycle.create", ("00u1",))
    update = log_event("user.account.update_profile", ("00u1",))
    assert (await post(http, delivery(update, create))).status_code == 200
    assert (await post(http, delivery(create))).status_code == 200  # Okta's at-least-once
    pending = integrations.pending["people-ops/acme"]
    assert pending.received == 2
    batch = pending.take()
    assert batch is not None and batch.events == 2 and batch.user_ids == {"00u1"}


async def test_a_full_queue_answers_503_with_retry_after(
    http: httpx.AsyncClient, integrations: Integrations
) -> None:
    events = [log_event("user.lifecycle.create", (f"00u{n}",)) for n in range(3)]
    assert (await post(http, delivery(*events))).status_code == 200
    response = await post(http, delivery(log_event("user.lifecycle.create", ("00u9",))))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    integrations.pending["people-ops/acme"].take()
    response = await post(http, delivery(log_event("user.lifecycle.create", ("00u9",))))
    assert response.status_code == 200  # Okta's retry after the sync took the queue


async def test_deliveries_are_answered_while_many_arrive_at_once(
    http: httpx.AsyncClient, integrations: Integrations
) -> None:
    integrations.pending["people-ops/acme"] = PendingEvents(capacity=1000)
    bodies = [delivery(log_event("user.lifecycle.create", (f"00u{n}",))) for n in range(50)]
    responses = await asyncio.gather(*(post(http, body) for body in bodies))
    assert {r.status_code for r in responses} == {200}
    assert integrations.pending["people-ops/acme"].received == 50


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("0.0.0.0:8081", ("0.0.0.0", 8081)),
        ("[::]:8081", ("::", 8081)),
        (" 127.0.0.1:0 ", ("127.0.0.1", 0)),
        ("hooks.internal:80", ("hooks.internal", 80)),
    ],
)
def test_hooks_address(text: str, address: tuple[str, int]) -> None:
    assert parse_hooks_address(text) == address


@pytest.mark.parametrize("text", ["8081", "0.0.0.0", "0.0.0.0:99999", "[::1:80", ":80", "a b:1"])
def test_a_bad_hooks_address_is_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match="HRIS_HOOKS_ADDRESS") as caught:
        parse_hooks_address(text)
    assert "\n" not in str(caught.value)


async def test_a_port_in_use_is_one_line(http: httpx.AsyncClient) -> None:
    port = int(str(http.base_url).rsplit(":", 1)[1].strip("/"))
    busy = EventHookReceiver(Integrations(), "127.0.0.1", port)
    with pytest.raises(
        ConfigError, match=f"cannot listen for Okta event hooks on 127.0.0.1:{port}"
    ):
        await busy.start()


async def test_refusals_before_the_target_are_reported_by_reason() -> None:
    refused: list[tuple[str, str]] = []
    receiver = EventHookReceiver(
        Integrations(), "127.0.0.1", 0, max_body_bytes=1024, on_refused=lambda *r: refused.append(r)
    )
    await receiver.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{receiver.port}") as client:
            await post(client, delivery(), auth="Bearer wrong")
            await post(client, b"{nope")
            await post(client, b" " * 2048)
            await post(client, delivery(log_event("user.lifecycle.create", ("00u1",))))
    finally:
        await receiver.stop()
    key = "people-ops/acme"
    assert refused == [(key, "unauthorized"), (key, "malformed"), (key, "malformed")]

"""A sync against an inconsistent or hostile Okta (issue 13, items 5 and 10): ghost members,
users listed twice, the token echoed back. The sandbox over real HTTP behind an editing proxy,
or a hostile server, and a real directory on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from okta_hris.directory.store import Directory
from okta_hris.errors import OktaApiError, OktaError, WrongOktaUrl
from okta_hris.okta import OktaClient
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.okta import hostile_okta as hostile
from tests.okta.okta_stub import Handler, StubServer, user_json
from tests.support.directory import recent_runs

from .helpers import make_spec

KEY = "people-ops/acme"
GHOST = "00uGHOST0000000000001"
EVERYONE = 'status eq "STAGED"'  # the start of the full sync's search over every status


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(users=30, groups=4, seed=5)


def quick_client(base_url: str, token: Any) -> OktaClient:
    return OktaClient(
        base_url, token, timeout=1.0, max_retries=1, backoff_base=0.01, backoff_max=0.05
    )


async def sync(url: str, token: str, directory: Directory) -> SyncReport:
    request = SyncRequest(integration=KEY, spec=make_spec(), token=token, okta_url=url)
    return await run_sync(request, directory, Settings(), client_factory=quick_client)


def is_members(path: str) -> bool:
    return path.startswith("/api/v1/groups/") and path.endswith("/users")


async def test_ghost_members_are_left_out_and_members_missing_from_the_listing_read(
    sandbox: Sandbox, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    hidden: str | None = None

    def edit(path: str, query: dict[str, str], body: Any) -> Any:
        nonlocal hidden
        if is_members(path) and body:
            # A member Okta has no user for, and one the users listing leaves out (as one
            # created while the sync lists would be).
            hidden = hidden or body[0]["id"]
            return [*body, user_json(999) | {"id": GHOST}]
        if path == "/api/v1/users" and query.get("search", "").startswith(EVERYONE):
            return [user for user in body if user["id"] != hidden]
        return body

    caplog.set_level(logging.WARNING, logger="okta_hris.sync.engine")
    async with hostile.OktaProxy(sandbox.url, edit=edit) as proxy:
        report = await sync(proxy.url, sandbox.token, directory)
    assert report.mode == "Full" and hidden is not None
    state = directory.load_state(KEY)
    assert all(GHOST not in members for members in state.okta_members.values())
    assert GHOST not in state.okta_users
    rows = {row.okta_id: row for row in directory.list_employees(integration=KEY)}
    assert GHOST not in rows
    # The member the listing missed was read by id: an employee with the teams Okta says.
    assert hidden in rows and rows[hidden].teams
    assert any(hidden in members for members in state.okta_members.values())
    assert any(
        "group members it has no user for (e.g. 00uGHOST0000000000001); left out" in r.message
        for r in caplog.records
    )


async def test_a_user_listed_twice_fails_the_sync_and_changes_nothing(
    sandbox: Sandbox, directory: Directory
) -> None:
    def edit(path: str, query: dict[str, str], body: Any) -> Any:
        if path == "/api/v1/users" and body:
            return [*body, body[0]]
        return body

    async with hostile.OktaProxy(sandbox.url, edit=edit) as proxy:
        with pytest.raises(OktaApiError, match=r"twice in GET /api/v1/users \(page 1\)"):
            await sync(proxy.url, sandbox.token, directory)
    assert directory.list_employees(integration=KEY) == []
    (run,) = recent_runs(directory, KEY)
    assert run.outcome == "failed" and run.error is not None
    assert run.error.startswith("OktaError: Okta listed OktaUser ")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("attack", "error"),
    [
        (hostile.drip(every=0.05), "OktaUnavailable: cannot reach http://127.0.0.1:"),
        (hostile.Firehose(total=2**30).handle, "OktaError: Okta's answer to GET /api/v1/"),
        (hostile.endless_next("empty"), "OktaError: Okta's listing GET /api/v1/"),
        (hostile.rate_limited_until(3600), "OktaUnavailable: Okta's rate limit at http://"),
    ],
    ids=["drip", "firehose", "endless-next", "429-for-an-hour"],
)
async def test_a_sync_against_an_okta_that_never_ends_fails_in_one_line(
    attack: Handler, error: str, directory: Directory
) -> None:
    async with StubServer(attack) as server:
        with pytest.raises(OktaError):
            await sync(server.url, "sandbox-token", directory)
    (run,) = recent_runs(directory, KEY)
    assert run.outcome == "failed" and run.error is not None
    assert run.error.startswith(error) and "\n" not in run.error, run.error


async def test_a_token_echoed_in_a_redirect_is_not_stored_with_the_failed_run(
    directory: Directory,
) -> None:
    token = "00aBcDsecretTOKENvalue1234567890xyz"

    def location(request: web.Request) -> str:
        return f"https://{token}.evil.example/{token}?token={token}"

    async with StubServer(hostile.redirect(location)) as server:
        with pytest.raises(WrongOktaUrl) as caught:
            await sync(server.url, token, directory)
    (run,) = recent_runs(directory, KEY)
    assert run.error == f"WrongOktaUrl: {caught.value}"
    assert "redirect (302) to https://**********.evil.example, not" in run.error
    assert token.lower() not in run.error.lower()

"""Incremental syncs take membership changes from the System Log (issue 12): the sandbox over
HTTP, the directory on SQLite and PostgreSQL.

Each test changes the org through Okta's write API, runs an incremental sync into one
integration and a full sync of the same org into another, and requires the same directory
(memberships, teams, employees): the log changes what is requested, never what is written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.employees import Employee
from okta_hris.sandbox import Fault, Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.sync.test_engine import quick_client, spec

INCREMENTAL = "people-ops/incremental"
FULL = "people-ops/full"
SYNCED_FIELDS = {f.name for f in dataclasses.fields(Employee)}
# What the proxy below does not pass on: it sends the body whole and decoded.
HOP_HEADERS = ("content-length", "content-encoding", "transfer-encoding", "connection")


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def okta(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as client:
        yield client


def _synced(row: Employee) -> dict[str, object]:
    return {k: v for k, v in dataclasses.asdict(row).items() if k in SYNCED_FIELDS}


def sync(url: str, token: str, directory: Directory, integration: str, **kw: Any) -> SyncReport:
    request = SyncRequest(integration=integration, spec=spec(), token=token, okta_url=url, **kw)
    return asyncio.run(run_sync(request, directory, Settings(), client_factory=quick_client))


def memberships(okta: httpx.Client) -> dict[str, set[str]]:
    """Every OKTA_GROUP's members, as Okta lists them now."""
    groups = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()
    return {
        g["id"]: {u["id"] for u in okta.get(f"/api/v1/groups/{g['id']}/users").json()}
        for g in groups
    }


def write(okta: httpx.Client, method: str, path: str, **body: Any) -> None:
    okta.request(method, path, **body).raise_for_status()


def rows(directory: Directory, table: sa.Table, integration: str) -> set[tuple[Any, ...]]:
    with directory.engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c.integration == integration))
        return {tuple(row)[1:] for row in found}


def assert_same_directory(directory: Directory, sandbox: Sandbox) -> None:
    """The incremental integration holds what a full sync of the org writes now."""
    sync(sandbox.url, sandbox.token, directory, FULL, force_full=True)
    for table in (schema.okta_group_members, schema.teams):
        assert rows(directory, table, INCREMENTAL) == rows(directory, table, FULL), table.name
    full = {r.okta_id: r for r in directory.list_employees(integration=FULL)}
    incremental = {r.okta_id: r for r in directory.list_employees(integration=INCREMENTAL)}
    for okta_id, row in full.items():
        assert _synced(row) == _synced(incremental[okta_id])
    # Rows out of scope keep their last teams (SPEC §9); the others' are the full sync's.
    kept = {(u, g) for u, g in rows(directory, schema.employee_teams, INCREMENTAL) if u in full}
    assert kept == rows(directory, schema.employee_teams, FULL)
    # Users deleted in Okta are in no listing: their rows stay, inactive.
    assert all(not incremental[gone].active for gone in incremental.keys() - full.keys())


def member_listings(sandbox: Sandbox) -> set[str]:
    return {
        r.path.split("/")[4]
        for r in sandbox.requests
        if r.path.startswith("/api/v1/groups/") and r.path.endswith("/users")
    }


def log_requests(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.path == "/api/v1/logs")


def change_memberships(okta: httpx.Client, rng: random.Random) -> str:
    """Adds, removes, an add and remove of one pair (and the reverse), a user deleted, a group
    deleted, one renamed, one created with a member; returns the created group's id."""
    members = memberships(okta)
    users = sorted({u for ids in members.values() for u in ids})
    groups = sorted(members)
    for _ in range(6):
        group = rng.choice(groups)
        outsider = rng.choice([u for u in users if u not in members[group]])
        write(okta, "PUT", f"/api/v1/groups/{group}/users/{outsider}")
        insider = rng.choice(sorted(members[group]))
        write(okta, "DELETE", f"/api/v1/groups/{group}/users/{insider}")
    group = groups[0]
    outsider = next(u for u in users if u not in members[group])
    write(okta, "PUT", f"/api/v1/groups/{group}/users/{outsider}")
    write(okta, "DELETE", f"/api/v1/groups/{group}/users/{outsider}")
    insider = sorted(members[group])[0]
    write(okta, "DELETE", f"/api/v1/groups/{group}/users/{insider}")
    write(okta, "PUT", f"/api/v1/groups/{group}/users/{insider}")
    leaver = rng.choice([u for u in users if sum(u in ids for ids in members.values()) >= 2])
    if okta.get(f"/api/v1/users/{leaver}").json()["status"] != "DEPROVISIONED":
        write(okta, "POST", f"/api/v1/users/{leaver}/lifecycle/deactivate")
    write(okta, "DELETE", f"/api/v1/users/{leaver}")
    write(okta, "DELETE", f"/api/v1/groups/{groups[1]}")
    write(okta, "PUT", f"/api/v1/groups/{groups[2]}", json={"profile": {"name": "Renamed team"}})
    created: str = okta.post("/api/v1/groups", json={"profile": {"name": "Moonshots"}}).json()["id"]
    write(okta, "PUT", f"/api/v1/groups/{created}/users/{users[0]}")
    return created


def test_changes_from_the_log_give_what_a_full_sync_gives(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client
) -> None:
    sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    created = change_memberships(okta, random.Random(3))
    sandbox.requests.clear()
    report = sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    assert report.mode == "Incremental"
    # Only the new group is listed; every other change came from one page of the log.
    assert member_listings(sandbox) == {created}
    assert log_requests(sandbox) == 1
    assert_same_directory(directory, sandbox)
    # And a sync after it (the log's window overlaps the last one) changes nothing.
    again = sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    assert (again.stats.created, again.stats.updated, again.stats.deactivated) == (0, 0, 0)


def test_one_percent_of_memberships_costs_a_log_page_not_a_listing_per_group(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    sandbox = sandbox_factory(users=2000, groups=40, seed=11)
    sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    rng = random.Random(5)
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        members = memberships(okta)
        pairs = sorted((g, u) for g, ids in members.items() for u in ids)
        users = sorted({u for _, u in pairs})
        changes = len(pairs) // 100
        for group, user in rng.sample(pairs, changes // 2):
            write(okta, "DELETE", f"/api/v1/groups/{group}/users/{user}")
        for _ in range(changes - changes // 2):
            write(
                okta,
                "PUT",
                f"/api/v1/groups/{rng.choice(sorted(members))}/users/{rng.choice(users)}",
            )
    groups_before = {r[0]: r[-1] for r in rows(directory, schema.okta_groups, INCREMENTAL)}
    sandbox.requests.clear()
    report = sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    groups_after = {r[0]: r[-1] for r in rows(directory, schema.okta_groups, INCREMENTAL)}
    moved = {g for g, at in groups_after.items() if groups_before.get(g) != at}
    print(
        f"{changes} membership changes in {len(moved)} groups: {report.stats.api_requests} "
        f"requests ({log_requests(sandbox)} log pages, {len(member_listings(sandbox))} listings)"
    )
    assert len(moved) >= 10  # what the sync before the log listed again
    assert member_listings(sandbox) == set()
    assert log_requests(sandbox) == 1
    # One users search page, the groups listing, the log page.
    assert report.stats.api_requests == len(sandbox.requests) == 3
    assert_same_directory(directory, sandbox)


@pytest.mark.parametrize("kind", ["403", "503"])
def test_without_the_log_every_moved_group_is_listed(
    sandbox: Sandbox,
    directory: Directory,
    okta: httpx.Client,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    members = memberships(okta)
    moved = sorted(members)[:3]
    for group in moved:
        newcomer = next(u for ids in members.values() for u in ids if u not in members[group])
        write(okta, "PUT", f"/api/v1/groups/{group}/users/{newcomer}")
    renamed = sorted(members)[3]  # listed too, as before the log
    write(okta, "PUT", f"/api/v1/groups/{renamed}", json={"profile": {"name": "Renamed"}})
    sandbox.add_fault(Fault(kind=kind, path_prefix="/api/v1/logs"))
    sandbox.requests.clear()
    with caplog.at_level(logging.WARNING, logger="okta_hris.sync.engine"):
        report = sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    assert report.mode == "Incremental"
    assert member_listings(sandbox) == {*moved, renamed}
    warnings = [r.getMessage() for r in caplog.records if "System Log" in r.getMessage()]
    assert len(warnings) == 1 and sandbox.token not in warnings[0]
    assert ("Forbidden" if kind == "403" else "OktaUnavailable") in warnings[0]
    sandbox.clear_faults()
    assert_same_directory(directory, sandbox)


@contextmanager
def log_hiding_proxy(sandbox: Sandbox, hidden: set[str]) -> Iterator[str]:
    """Okta as seen through a System Log that trails its writes: every request passed to the
    sandbox, the log's answer without the events whose uuid is in ``hidden``."""
    upstream = httpx.Client(base_url=sandbox.url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = upstream.get(self.path, headers=dict(self.headers))
            body = answer.content
            if self.path.startswith("/api/v1/logs") and answer.status_code == 200:
                events = [e for e in json.loads(body) if e["uuid"] not in hidden]
                body = json.dumps(events).encode()
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # The Host header goes through: the sandbox's next links lead back here.
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        upstream.close()


def test_a_move_the_log_has_not_caught_up_with_is_listed(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client
) -> None:
    sync(sandbox.url, sandbox.token, directory, INCREMENTAL)
    members = memberships(okta)
    trailing, logged = sorted(members)[:2]
    for group in (trailing, logged):
        newcomer = next(u for ids in members.values() for u in ids if u not in members[group])
        write(okta, "PUT", f"/api/v1/groups/{group}/users/{newcomer}")
    last = okta.get(
        "/api/v1/logs",
        params={"filter": 'eventType eq "group.user_membership.add"', "sortOrder": "DESCENDING"},
    ).json()
    hidden = {e["uuid"] for e in last if e["target"][1]["id"] == trailing}
    assert len(hidden) == 1
    sandbox.requests.clear()
    with log_hiding_proxy(sandbox, hidden) as url:
        sync(url, sandbox.token, directory, INCREMENTAL)
    assert member_listings(sandbox) == {trailing}
    assert_same_directory(directory, sandbox)

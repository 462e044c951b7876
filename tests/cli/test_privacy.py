"""SPEC §9 privacy: a user who has never been in scope leaves no name, e-mail, phone, address or
other profile value anywhere in the database; only what the filters need is kept.

The filtered example is synced from the sandbox over HTTP with the CLI, then every row of every
table is dumped and searched for the personal values of every user never in scope, on SQLite
and PostgreSQL, after a full and after an incremental sync.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.sandbox import Sandbox

from ..support.cli import run_cli

# Profile attributes that name, reach or locate a person.
PERSONAL = (
    "firstName",
    "lastName",
    "displayName",
    "login",
    "email",
    "secondEmail",
    "mobilePhone",
    "primaryPhone",
    "streetAddress",
    "city",
    "zipCode",
    "state",
    "employeeNumber",
    "manager",
    "title",
    "department",
    "costCenter",
)


@pytest.fixture
def org(sandbox_factory: Any) -> Sandbox:
    return sandbox_factory(users=400, groups=12, seed=21)


def okta_users(org: Sandbox) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    with httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"}) as client:
        url: str | None = "/api/v1/users?limit=200&search=" + " or ".join(
            f'status eq "{s}"'
            for s in (
                "ACTIVE",
                "PROVISIONED",
                "STAGED",
                "SUSPENDED",
                "DEPROVISIONED",
                "RECOVERY",
                "PASSWORD_EXPIRED",
                "LOCKED_OUT",
            )
        )
        while url:
            response = client.get(url)
            response.raise_for_status()
            users += response.json()
            url = response.links.get("next", {}).get("url")
    return users


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        text = str(value)
        yield text.strip().lower()
        if isinstance(value, str) and value.startswith(("{", "[")):
            with contextlib.suppress(ValueError):
                yield from _leaves(json.loads(value))
        for line in text.splitlines():  # a street of several lines
            yield line.strip().lower()


def stored_values(url: str) -> set[str]:
    """Every value of every column of every table (JSON documents opened up), lower-case."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                leaf
                for table in schema.metadata.sorted_tables
                for row in conn.execute(sa.select(table)).mappings()
                for leaf in _leaves(dict(row))
            }
    finally:
        engine.dispose()


def values(profile: dict[str, Any]) -> Iterable[str]:
    for key in PERSONAL:
        value = profile.get(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str | int) and len(str(item).strip()) >= 4:
                yield str(item).strip().lower()


def never_in_scope_values(
    url: str, users: list[dict[str, Any]], groups: set[str]
) -> dict[str, set[str]]:
    """Personal values of users without a row, minus values a user with a row shares and
    group names (a department is often a group: the org's structure, not a person's)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with_rows = set(conn.scalars(sa.select(schema.employees.c.okta_id)))
    finally:
        engine.dispose()
    shared = {v for u in users if u["id"] in with_rows for v in values(u["profile"])} | groups
    # A manager named by full name is a person with a row (their display name may be built).
    shared |= {
        f"{u['profile'].get('firstName', '')} {u['profile'].get('lastName', '')}".strip().lower()
        for u in users
        if u["id"] in with_rows
    }
    return {u["id"]: set(values(u["profile"])) - shared for u in users if u["id"] not in with_rows}


def group_names(org: Sandbox) -> set[str]:
    with httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"}) as client:
        return {g["profile"]["name"].lower() for g in client.get("/api/v1/groups").json()}


def assert_nothing_of(url: str, org: Sandbox) -> int:
    users = okta_users(org)
    stored = stored_values(url)
    outside = never_in_scope_values(url, users, group_names(org))
    assert len(outside) > len(users) // 2  # the filtered example keeps a minority
    leaks = {user_id: sorted(found & stored) for user_id, found in outside.items()}
    leaks = {k: v for k, v in leaks.items() if v}
    assert leaks == {}, f"personal values of users never in scope: {list(leaks.items())[:3]}"
    for user_id in outside:  # the mirror keeps them, with the filters' values only
        assert user_id.lower() in stored
    return len(outside)


def test_no_personal_value_of_a_user_never_in_scope_is_stored(
    org: Sandbox, manifest: Path, database_url: str
) -> None:
    common = ("-f", str(manifest), "--okta-url", org.url, "--database", database_url)
    result = run_cli("sync", *common)
    assert result.returncode == 0, result.stderr
    users = okta_users(org)
    assert assert_nothing_of(database_url, org) > 0

    # An incremental sync after changes in Okta keeps it so.
    outsider = next(u for u in users if u["profile"].get("countryCode") == "FR")
    with httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"}) as client:
        client.post(
            f"/api/v1/users/{outsider['id']}",
            json={"profile": {"city": "Carcassonne-sur-Mer", "title": "Chief Cheese Officer"}},
        ).raise_for_status()
    result = run_cli("sync", *common)
    assert result.returncode == 0, result.stderr
    assert "Incremental" in result.stdout
    assert assert_nothing_of(database_url, org) > 0
    stored = stored_values(database_url)
    assert not {"carcassonne-sur-mer", "chief cheese officer"} & stored


def test_a_user_brought_into_scope_by_a_group_change_gets_a_whole_row(
    org: Sandbox, manifest: Path, database_url: str
) -> None:
    """The mirror knows such a user by their filter values only, and Okta does not move the
    user's lastUpdated for a membership: the incremental sync reads the whole user."""
    common = ("-f", str(manifest), "--okta-url", org.url, "--database", database_url)
    assert run_cli("sync", *common).returncode == 0
    users = okta_users(org)
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        with_rows = set(conn.scalars(sa.select(schema.employees.c.okta_id)))
    engine.dispose()
    with httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"}) as client:
        groups = client.get("/api/v1/groups", params={"q": "Engineering"}).json()
        engineering = next(g for g in groups if g["profile"]["name"] == "Engineering")
        newcomer = next(
            u
            for u in users
            if u["id"] not in with_rows
            and u["status"] == "ACTIVE"
            and u["profile"].get("countryCode") in ("US", "DE")
            and str(u["profile"].get("userType", "")).lower() in ("full-time", "contractor")
        )
        client.put(f"/api/v1/groups/{engineering['id']}/users/{newcomer['id']}").raise_for_status()
    result = run_cli("sync", *common, "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["mode"] == "Incremental"
    assert [c["oktaId"] for c in document["changes"]["created"]] == [newcomer["id"]]
    rows = json.loads(
        run_cli("directory", "employees", "--database", database_url, "-o", "json").stdout
    )
    [row] = [r for r in rows if r["okta_id"] == newcomer["id"]]
    assert row["work_email"] == newcomer["profile"]["email"].strip().lower()
    assert row["display_name"] and row["first_name"] == newcomer["profile"]["firstName"].strip()

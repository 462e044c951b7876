"""Property tests: any JSON Okta could send as a user, mapped and planned, never raises and
only ever yields values the directory's columns can hold (issue 13, item 7).

Text comes with lone surrogates, NUL and other controls, line separators, and very long runs;
numbers as huge integers, NaN and infinities; objects and lists nested. Ids and statuses are
arbitrary too: such a user is left out of the sync, never stored cut or cleaned. The last test
writes what the plan says into PostgreSQL (the stricter of the two databases), when it runs.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryState, OktaGroupRecord, OktaUserRecord
from okta_hris.domain.okta import ALL_OKTA_STATUSES
from okta_hris.sync.mapping import clean_text, map_user, quality_of, storable_id, unstorable
from okta_hris.sync.plan import OktaSnapshot, compute_plan

from .helpers import make_spec

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SPEC = make_spec()
ATTRIBUTES = (
    "displayName", "firstName", "lastName", "email", "secondEmail", "login", "userType",
    "title", "department", "employeeNumber", "manager", "mobilePhone", "streetAddress",
    "countryCode", "state", "city", "zipCode",
)  # fmt: skip

awkward_characters = st.one_of(
    st.characters(),
    st.integers(0xD800, 0xDFFF).map(chr),  # lone surrogates (st.characters never draws them)
    st.sampled_from(["\x00", "\x1b", "\n", "\r", "\t", "\x85", "\u2028", "\u202e", "\ufeff"]),
)
text = st.one_of(
    st.lists(awkward_characters, max_size=40).map("".join),
    st.builds(lambda c, n: c * n, awkward_characters, st.integers(0, 5_000)),  # long runs
    st.sampled_from(["", " ", "DE", "US", "Bavaria", "+49 30 1234567", "a@b.example"]),
)
numbers = st.one_of(
    st.integers(),
    st.builds(lambda n: 10**n, st.integers(4300, 5000)),  # more digits than str() converts
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, text),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(text, inner, max_size=5)),
    max_leaves=20,
)
profiles = st.dictionaries(
    st.one_of(st.sampled_from(ATTRIBUTES), text), json_values, max_size=len(ATTRIBUTES) + 3
)
okta_ids = st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=20).map("00u".__add__),
    text,
)
statuses = st.one_of(st.sampled_from(ALL_OKTA_STATUSES), text)
users = st.builds(
    lambda okta_id, status, profile: OktaUserRecord(
        id=okta_id, status=status, last_updated=NOW, profile=profile
    ),
    okta_ids,
    statuses,
    profiles,
)

PROPERTIES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LENGTHS = {
    column.name: column.type.length
    for column in schema.employees.columns
    if isinstance(column.type, String) and column.type.length is not None
}


def assert_storable(value: Any, limit: int | None = None) -> None:
    """What every database encoding and column takes: UTF-8 text without NUL, within length."""
    if isinstance(value, str):
        value.encode("utf-8")  # raises for a lone surrogate
        assert "\x00" not in value
        assert limit is None or len(value) <= limit
    elif isinstance(value, tuple | list):
        for item in value:
            assert_storable(item)


@PROPERTIES
@given(user=users, teams=st.lists(text, max_size=3))
def test_mapping_any_profile_never_raises_and_fits_the_columns(
    user: OktaUserRecord, teams: list[str]
) -> None:
    # Team names are group names, which the engine cleans as it reads the groups.
    employee = map_user(user, [clean_text(t) or "team" for t in teams], SPEC)
    quality_of(user, employee)
    for name, value in dataclasses.asdict(employee).items():
        if name in ("okta_id", "okta_status"):
            continue  # as Okta sent them: the plan leaves such a user out (below)
        assert_storable(value, LENGTHS.get(name))


@PROPERTIES
@given(batch=st.lists(users, max_size=8))
def test_a_plan_holds_only_storable_users_and_counts_the_others(
    batch: list[OktaUserRecord],
) -> None:
    by_id = {user.id: user for user in batch}
    group = OktaGroupRecord(id="00gAll", type="OKTA_GROUP", name="All", last_updated=NOW)
    snapshot = OktaSnapshot(
        users=dict(by_id), groups={group.id: group}, members={group.id: frozenset(by_id)}
    )
    plan = compute_plan(SPEC, "people-ops/acme", DirectoryState(), snapshot, NOW)

    left_out = {i for i, user in by_id.items() if unstorable(user) is not None}
    assert plan.skipped == len(left_out)
    assert {row.okta_id for row in plan.changes.employees_create} == set(by_id) - left_out
    for row in plan.changes.employees_create:
        assert storable_id(row.okta_id) and row.okta_status in ALL_OKTA_STATUSES
        for name, value in dataclasses.asdict(row).items():
            assert_storable(value, LENGTHS.get(name))
    assert all(storable_id(u) for _, u in plan.changes.okta_members_add)
    for warning in plan.warnings:
        assert warning.message.isprintable()


_integrations = (f"people-ops/p{i}" for i in itertools.count())


@pytest.fixture(scope="module")
def postgres_directory(postgres_admin_url: str) -> Iterator[Directory]:
    """One PostgreSQL directory for every example (each writes an integration of its own)."""
    import sqlalchemy as sa

    name = f"hris_properties_{datetime.now(UTC):%H%M%S%f}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(postgres_admin_url).set(database=name)
    try:
        with Directory.open(url.render_as_string(hide_password=False)) as directory:
            yield directory
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(users, max_size=5))
def test_what_a_plan_says_postgresql_stores(
    postgres_directory: Directory, batch: list[OktaUserRecord]
) -> None:
    integration = next(_integrations)
    snapshot = OktaSnapshot(users={user.id: user for user in batch})
    plan = compute_plan(SPEC, integration, DirectoryState(), snapshot, NOW)
    postgres_directory.apply(plan.changes)  # raises if any value does not fit
    stored = {e.okta_id for e in postgres_directory.list_employees(integration=integration)}
    assert stored == {row.okta_id for row in plan.changes.employees_create}

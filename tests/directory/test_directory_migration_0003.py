"""Migration 0003 (SPEC §9) on a directory that today's release wrote, on SQLite and PostgreSQL.

Each test builds the directory as the release before contract v2 leaves it: Alembic up to 0002
only, then rows written with plain SQL (the old code's statements, not today's store). The
upgrade then runs the way the operator runs it at start-up, through ``Directory.open``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    BindParameter,
    Connection,
    Engine,
    bindparam,
    column,
    inspect,
    select,
    table,
    text,
)

from okta_hris.directory import Directory
from okta_hris.directory.database import (
    alembic_config,
    current_revision,
    head_revision,
    write_transaction,
)
from okta_hris.directory.schema import UTCDateTime, metadata
from okta_hris.domain.changes import OktaUserRecord
from okta_hris.sync.engine import choose_mode

from .directory_samples import INTEGRATION, T0, changes, employee

OTHER = "other/beta"
NEW_COLUMNS = (
    "first_name",
    "last_name",
    "personal_email",
    "title",
    "department",
    "employee_number",
    "manager",
    "state_code",
)
# The tables downstream apps read, and the mirror's other tables: 0003 leaves their rows alone.
UNTOUCHED = (
    "employees",
    "teams",
    "employee_teams",
    "invitations",
    "sync_runs",
    "okta_groups",
    "okta_group_members",
    "sync_leases",
)
# More than one of the migration's batches of 1,000, so that paging is exercised.
MANY_OUTSIDERS = 2_345


def full_profile(okta_id: str, country: str = "DE") -> dict[str, Any]:
    """What Okta returns for a user, and what releases before 0003 mirrored whole."""
    return {
        "login": f"{okta_id}@acme.example",
        "email": f"{okta_id}@acme.example",
        "secondEmail": f"{okta_id}@home.example",
        "firstName": "Ann",
        "lastName": "Müller",
        "displayName": "Ann Müller",
        "mobilePhone": "+49 30 1234567",
        "streetAddress": "Unter den Linden 1",
        "city": "Berlin",
        "state": "Berlin",
        "zipCode": "10117",
        "countryCode": country,
        "userType": "Full-time",
        "employeeType": "Contractor",
        "title": "Engineer",
        "department": "R&D",
        "manager": "Grace Hopper",
        "nested": {"list": [1, None, "ü"]},
    }


# -- a directory as the release before 0003 wrote it ---------------------------------------------


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with write_transaction(engine) as connection:
        config.attributes["connection"] = connection
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


def insert(connection: Connection, table_name: str, *rows: dict[str, Any]) -> None:
    """Plain INSERTs, binding values as the release's column types did (UTC, JSON)."""
    names = list(rows[0])
    statement = text(
        f"INSERT INTO {table_name} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + name for name in names)})"
    )
    typed: list[BindParameter[Any]] = []
    for name in names:
        value = next((row[name] for row in rows if row[name] is not None), None)
        if isinstance(value, datetime):
            typed.append(bindparam(name, type_=UTCDateTime()))
        elif isinstance(value, dict | list):
            typed.append(bindparam(name, type_=JSON()))
    connection.execute(statement.bindparams(*typed), list(rows))


def employee_values(okta_id: str, integration: str = INTEGRATION, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "integration": integration,
        "okta_id": okta_id,
        "okta_status": "ACTIVE",
        "active": True,
        "display_name": "Ann Müller",
        "work_email": f"{okta_id}@acme.example",
        "employment_status": "Full-time",
        "mobile_phone": "+49 30 1234567",
        "mobile_phone_e164": "+49301234567",
        "street_address": "Unter den Linden 1",
        "country_code": "DE",
        "state": "Berlin",
        "city": "Berlin",
        "zip_code": "10117",
        "teams": ["Engineering"],
        "okta_last_updated": T0 - timedelta(days=3),
        "first_synced_at": T0 - timedelta(days=30),
        "last_synced_at": T0,
        "deactivated_at": None,
    }
    values.update(fields)
    return values


def mirror_user(
    okta_id: str, profile: dict[str, Any], integration: str = INTEGRATION
) -> dict[str, Any]:
    return {
        "integration": integration,
        "okta_id": okta_id,
        "status": "ACTIVE",
        "last_updated": T0 - timedelta(days=3),
        "profile": profile,
    }


def release_0002_directory(url: str, *, outsiders: int = 0) -> None:
    """Two integrations as syncs of the release before 0003 leave them.

    In people-ops/acme, ann is an employee and old left scope (an employee row, inactive): both
    have been in scope. out and nocountry have never been; neither has the ann of other/beta,
    whose id is an employee's only in the other integration. ``outsiders`` adds that many more
    users never in scope, with in-scope ones between them.
    """
    with Directory.open(url, migrate=False) as directory:
        migrate(directory.engine, "0002")
        with directory.engine.begin() as connection:
            insert(
                connection,
                "integrations",
                {
                    "integration": INTEGRATION,
                    "spec_hash": "a" * 64,
                    "watermark": T0,
                    "last_full_sync_at": T0 - timedelta(hours=2),
                    "invitations_enabled_at": T0 - timedelta(days=1),
                    "removed_at": None,
                    "sync_version": 7,
                },
                {
                    "integration": OTHER,
                    "spec_hash": "b" * 64,
                    "watermark": T0,
                    "last_full_sync_at": T0,
                    "invitations_enabled_at": None,
                    "removed_at": T0,
                    "sync_version": 2,
                },
            )
            insert(
                connection,
                "employees",
                employee_values("00u-ann", teams=["Engineering", "Développement"]),
                employee_values(
                    "00u-old",
                    okta_status="DEPROVISIONED",
                    active=False,
                    deactivated_at=T0 - timedelta(days=1),
                    teams=[],
                ),
            )
            insert(
                connection,
                "teams",
                {
                    "integration": INTEGRATION,
                    "okta_group_id": "00g-eng",
                    "name": "Engineering",
                    "description": "Builds things",
                },
                {
                    "integration": INTEGRATION,
                    "okta_group_id": "00g-dev",
                    "name": "Développement",
                    "description": None,
                },
            )
            insert(
                connection,
                "employee_teams",
                {"integration": INTEGRATION, "okta_id": "00u-ann", "okta_group_id": "00g-eng"},
                {"integration": INTEGRATION, "okta_id": "00u-ann", "okta_group_id": "00g-dev"},
            )
            insert(
                connection,
                "okta_users",
                mirror_user("00u-ann", full_profile("00u-ann")),
                mirror_user("00u-old", full_profile("00u-old", country="FR")),
                mirror_user("00u-out", full_profile("00u-out", country="US")),
                mirror_user(
                    "00u-nocountry",
                    {k: v for k, v in full_profile("00u-nocountry").items() if k != "countryCode"},
                ),
                mirror_user("00u-ann", full_profile("00u-ann", country="GB"), integration=OTHER),
            )
            if outsiders:
                insert(
                    connection,
                    "okta_users",
                    *(
                        mirror_user(f"00u-many-{i:05d}", full_profile(f"00u-many-{i:05d}", "CH"))
                        for i in range(outsiders)
                    ),
                )
                # In-scope users between them, so that pages hold both kinds.
                insiders = [f"00u-many-{i:05d}x" for i in range(0, outsiders, 97)]
                insert(connection, "employees", *(employee_values(i) for i in insiders))
                insert(
                    connection,
                    "okta_users",
                    *(mirror_user(i, full_profile(i)) for i in insiders),
                )
            insert(
                connection,
                "okta_groups",
                {
                    "integration": INTEGRATION,
                    "okta_group_id": "00g-eng",
                    "type": "OKTA_GROUP",
                    "name": "Engineering",
                    "description": "Builds things",
                    "last_updated": T0,
                    "last_membership_updated": T0,
                },
            )
            insert(
                connection,
                "okta_group_members",
                {"integration": INTEGRATION, "okta_group_id": "00g-eng", "okta_id": "00u-ann"},
                {"integration": INTEGRATION, "okta_group_id": "00g-eng", "okta_id": "00u-out"},
            )
            insert(
                connection,
                "invitations",
                {
                    "integration": INTEGRATION,
                    "okta_id": "00u-ann",
                    "email": "00u-ann@acme.example",
                    "status": "sent",
                    "attempts": 1,
                    "last_error": None,
                    "sent_at": T0,
                    "message_id": "<1@acme.example>",
                    "created_at": T0 - timedelta(minutes=5),
                    "next_attempt_at": None,
                    "claimed_until": None,
                },
            )
            insert(
                connection,
                "sync_runs",
                {
                    "integration": INTEGRATION,
                    "mode": "Full",
                    "started_at": T0 - timedelta(seconds=9),
                    "finished_at": T0,
                    "outcome": "succeeded",
                    "stats": {"fetched": 4, "created": 2, "note": "ünïcode"},
                    "error": None,
                },
            )
            insert(
                connection,
                "sync_leases",
                {
                    "integration": OTHER,
                    "holder": "h1",
                    "owner": "pid 4242 on build-7",
                    "taken_at": T0,
                    "expires_at": T0 + timedelta(minutes=5),
                },
            )


# -- reading it back as stored ---------------------------------------------------------------------


def rows_of(
    engine: Engine, table_name: str, columns: list[str] | None = None
) -> list[tuple[Any, ...]]:
    """A table's rows as the database holds them (no types of ours), in primary-key order."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        names = columns or [c["name"] for c in inspector.get_columns(table_name)]
        key = inspector.get_pk_constraint(table_name)["constrained_columns"]
        source = table(table_name, *(column(name) for name in dict.fromkeys([*names, *key])))
        rows = connection.execute(
            select(*(source.c[name] for name in names)).order_by(*(source.c[k] for k in key))
        )
        return [tuple(row) for row in rows]


def column_names(engine: Engine, table_name: str) -> list[str]:
    with engine.connect() as connection:
        return [c["name"] for c in inspect(connection).get_columns(table_name)]


def snapshot(engine: Engine, columns: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    return {name: rows_of(engine, name, names) for name, names in columns.items()}


def profiles(engine: Engine) -> dict[tuple[str, str], Any]:
    users = table("okta_users", column("integration"), column("okta_id"), column("profile", JSON()))
    with engine.connect() as connection:
        return {
            (row.integration, row.okta_id): row.profile
            for row in connection.execute(
                select(users.c.integration, users.c.okta_id, users.c.profile)
            )
        }


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


# -- the tests -------------------------------------------------------------------------------------


def test_upgrade_adds_the_columns_minimises_the_mirror_and_keeps_everything_else(
    database_url: str,
) -> None:
    release_0002_directory(database_url)
    with Directory.open(database_url, migrate=False) as old:
        old_columns = {name: column_names(old.engine, name) for name in UNTOUCHED}
        before = snapshot(old.engine, old_columns)
        integrations_before = rows_of(old.engine, "integrations")
        mirror_before = rows_of(
            old.engine, "okta_users", ["integration", "okta_id", "status", "last_updated"]
        )
        profiles_before = profiles(old.engine)

    with Directory.open(database_url) as directory:
        engine = directory.engine
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
        assert schema_differences(engine) == []

        # The new columns exist and hold nothing yet: the next sync maps them.
        employees_now = column_names(engine, "employees")
        assert set(NEW_COLUMNS) <= set(employees_now)
        assert rows_of(engine, "employees", list(NEW_COLUMNS)) == [(None,) * len(NEW_COLUMNS)] * 2

        # Every row of the tables downstream apps read, and of the rest of the mirror, as it was.
        assert snapshot(engine, old_columns) == before
        mirror_now = rows_of(
            engine, "okta_users", ["integration", "okta_id", "status", "last_updated"]
        )
        assert mirror_now == mirror_before

        # Users who have been in scope keep their profile; the others keep only their country.
        now = profiles(engine)
        assert now == {
            (INTEGRATION, "00u-ann"): profiles_before[(INTEGRATION, "00u-ann")],
            (INTEGRATION, "00u-old"): profiles_before[(INTEGRATION, "00u-old")],
            (INTEGRATION, "00u-out"): {"countryCode": "US"},
            (INTEGRATION, "00u-nocountry"): {},
            (OTHER, "00u-ann"): {"countryCode": "GB"},
        }
        assert now[(INTEGRATION, "00u-ann")] == full_profile("00u-ann")
        # Nothing of theirs is left anywhere but their ids, status, country and memberships.
        everything = repr([rows_of(engine, name) for name in inspect(engine).get_table_names()])
        assert "00u-ann@acme.example" in everything  # an employee's values are there to find
        for value in ("00u-out@acme.example", "00u-out@home.example", "00u-nocountry@"):
            assert value not in everything, value

        # Every integration's next sync is a Full one; the rest of its bookkeeping stays.
        spec_hash = column_names(engine, "integrations").index("spec_hash")
        # (Columns of later migrations, at the end of the row, aside.)
        width = len(integrations_before[0])
        integrations_now = [row[:width] for row in rows_of(engine, "integrations")]
        assert [row[spec_hash] for row in integrations_now] == [None, None]
        assert [row[:spec_hash] + row[spec_hash + 1 :] for row in integrations_now] == [
            row[:spec_hash] + row[spec_hash + 1 :] for row in integrations_before
        ]
        for key in (INTEGRATION, OTHER):
            state = directory.load_state(key).sync_state
            assert state.spec_hash is None
            assert choose_mode(state, "a" * 64, force_full=False, now=T0) == "Full"


def test_the_store_reads_and_writes_an_upgraded_directory(database_url: str) -> None:
    release_0002_directory(database_url)
    with Directory.open(database_url) as directory:
        state = directory.load_state(INTEGRATION)
        ann = state.employees["00u-ann"]
        assert ann.first_name is None and ann.state_code is None
        assert ann.teams == ("Engineering", "Développement")
        assert state.okta_users["00u-out"] == OktaUserRecord(
            id="00u-out",
            status="ACTIVE",
            last_updated=T0 - timedelta(days=3),
            profile={"countryCode": "US"},
        )

        # A Full sync's re-mapping: every new field set, on the old row and on a new one.
        mapped = dataclasses.replace(
            ann,
            first_name="Ann",
            last_name="Müller",
            personal_email="ann@home.example",
            title="Engineer",
            department="R&D",
            employee_number="0042",
            manager="Grace Hopper",
            state_code="DE-BE",
            last_synced_at=T0 + timedelta(hours=1),
        )
        newcomer = employee("00u-new", state_code="GB-ENG", country_code="GB")
        for row in (mapped, newcomer):
            assert all(getattr(row, name) is not None for name in NEW_COLUMNS)
        directory.apply(
            changes(
                synced_at=T0 + timedelta(hours=1),
                employees_update=[mapped],
                employees_create=[newcomer],
            )
        )
        employees = directory.load_state(INTEGRATION).employees
        assert employees["00u-ann"] == mapped
        assert employees["00u-new"] == newcomer


def test_the_mirror_is_minimised_in_batches_across_many_rows(database_url: str) -> None:
    release_0002_directory(database_url, outsiders=MANY_OUTSIDERS)
    with Directory.open(database_url, migrate=False) as old:
        in_scope = set(rows_of(old.engine, "employees", ["integration", "okta_id"]))
        profiles_before = profiles(old.engine)

    with Directory.open(database_url) as directory:
        now = profiles(directory.engine)

    assert now.keys() == profiles_before.keys()
    assert len(now) == MANY_OUTSIDERS + len(in_scope) + 3
    for key, profile in now.items():
        if key in in_scope:
            assert profile == profiles_before[key], key
        else:
            before = profiles_before[key]
            assert profile == (
                {"countryCode": before["countryCode"]} if "countryCode" in before else {}
            ), key
    outsiders = [
        p
        for (_, okta_id), p in now.items()
        if okta_id.startswith("00u-many-") and not okta_id.endswith("x")
    ]
    assert len(outsiders) == MANY_OUTSIDERS and all(p == {"countryCode": "CH"} for p in outsiders)


def test_downgrade_to_0002_and_upgrade_again(database_url: str) -> None:
    release_0002_directory(database_url)
    with Directory.open(database_url, migrate=False) as old:
        old_columns = {name: column_names(old.engine, name) for name in UNTOUCHED}
        old_employee_columns = old_columns["employees"]

    with Directory.open(database_url) as directory:
        engine = directory.engine
        upgraded = snapshot(engine, old_columns)
        upgraded_profiles = profiles(engine)
        migrate(engine, "0002", down=True)
        with engine.connect() as connection:
            assert current_revision(connection) == "0002"
            if connection.dialect.name == "sqlite":
                # The rebuild left no membership dangling and nothing of its own behind.
                assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert (
                    "hris_parked_employee_teams" not in inspect(connection).get_temp_table_names()
                )
        assert column_names(engine, "employees") == old_employee_columns
        assert snapshot(engine, old_columns) == upgraded  # memberships included
        assert profiles(engine) == upgraded_profiles

    with Directory.open(database_url) as directory:
        engine = directory.engine
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
        assert schema_differences(engine) == []
        assert snapshot(engine, old_columns) == upgraded
        # The rebuilt table still enforces its keys and takes the new columns.
        directory.apply(changes(employees_create=[employee("00u-new")]))
        assert directory.load_state(INTEGRATION).employees["00u-new"] == employee("00u-new")


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_an_empty_directory_of_an_older_release_upgrades(database_url: str, revision: str) -> None:
    with Directory.open(database_url, migrate=False) as old:
        migrate(old.engine, revision)
    with Directory.open(database_url) as directory:
        assert schema_differences(directory.engine) == []
        assert directory.integrations() == []

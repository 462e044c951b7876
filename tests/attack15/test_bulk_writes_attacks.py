"""The bulk writes of directory/statements.py (executemany on SQLite, COPY on PostgreSQL)
against what the SQLAlchemy statements they replaced wrote, and against hostile values,
conflicts and a production role's privileges."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.directory import Directory, schema, statements
from okta_hris.directory.statements import Store
from okta_hris.errors import DirectoryError

NEW, OLD = "acme/new", "acme/old"
HOSTILE = [
    "tab\there",
    "line\nbreak\r\nthen",
    "back\\slash",
    "\\N",
    "\\.",
    "\\",
    "quote ' \" `",
    "emoji 😀 \u200d \ufeff",
    "x" * 1_000_000,
    "",
    " padded ",
    "\x7f\x08\x1b",
]


def _employee(integration: str, okta_id: str, text: str, **extra: Any) -> dict[str, Any]:
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    row = {
        "integration": integration,
        "okta_id": okta_id,
        "okta_status": "ACTIVE",
        "active": okta_id.endswith("1"),
        "display_name": text,
        "first_name": None,
        "last_name": text,
        "work_email": None,
        "personal_email": None,
        "employment_status": None,
        "title": text,
        "department": None,
        "employee_number": None,
        "manager": None,
        "mobile_phone": None,
        "mobile_phone_e164": None,
        "street_address": text,
        "country_code": None,
        "state": None,
        "state_code": None,
        "city": None,
        "zip_code": None,
        "teams": [text, "Ünïcode 😀", 'a"b'],
        "okta_last_updated": when,
        "first_synced_at": when.astimezone(UTC),
        "last_synced_at": datetime(2026, 1, 1, tzinfo=UTC),
        "deactivated_at": None,
    }
    row.update(extra)
    return row


def _stored(connection: sa.Connection, table: sa.Table, integration: str) -> dict[Any, tuple]:
    """Every column as the database holds it (text on PostgreSQL, value and type on SQLite),
    by key without the integration."""
    key = [c.name for c in table.primary_key.columns if c.name != "integration"]
    others = [c.name for c in table.columns if c.name != "integration"]
    if connection.dialect.name == "postgresql":
        selected = ", ".join(f'"{n}"::text' for n in others)
    else:
        selected = ", ".join(f'"{n}", typeof("{n}")' for n in others)
    rows = connection.exec_driver_sql(
        f'SELECT {", ".join(key)}, {selected} FROM "{table.name}" WHERE integration = ?'
        if connection.dialect.name == "sqlite"
        else f'SELECT {", ".join(key)}, {selected} FROM "{table.name}" WHERE integration = %(i)s',
        (integration,) if connection.dialect.name == "sqlite" else {"i": integration},
    ).all()
    return {tuple(r[: len(key)]): tuple(r[len(key) :]) for r in rows}


def test_bulk_writes_store_what_the_sqlalchemy_statements_stored(database_url: str) -> None:
    """The same employees, mirror users and teams written by the new bulk writes (insert_rows,
    upsert twice: the second over existing rows, so PostgreSQL's staging path) and by plain
    SQLAlchemy ``insert()`` executemany: every stored column is the same text (datetimes, JSON,
    booleans, NULLs, hostile text, a 1 MB value)."""
    with Directory.open(database_url) as directory:
        engine = directory.engine
        employees = [_employee(NEW, f"00u{i}", text) for i, text in enumerate(HOSTILE)]
        profiles = [
            {
                "integration": NEW,
                "okta_id": f"00u{i}",
                "status": "ACTIVE",
                "last_updated": datetime(2026, 1, 1, 12, tzinfo=UTC),
                "profile": {
                    "login": text,
                    "n": 1.5,
                    "big": 10**18,
                    "nested": {"k": [text, None, True]},
                },
            }
            for i, text in enumerate(HOSTILE)
        ]
        team_rows = [
            {
                "integration": NEW,
                "okta_group_id": f"00g{i}",
                "name": text,
                "description": text or None,
            }
            for i, text in enumerate(HOSTILE)
        ]
        with engine.begin() as connection:
            statements.insert_rows(connection, schema.employees, employees)
            statements.upsert(connection, schema.okta_users, profiles[:3])
            statements.upsert(connection, schema.okta_users, profiles)  # the first 3 exist
            statements.insert_missing(connection, schema.teams, team_rows[:2])
            statements.upsert(connection, schema.teams, team_rows)
            for table, rows in (
                (schema.employees, employees),
                (schema.okta_users, profiles),
                (schema.teams, team_rows),
            ):
                connection.execute(table.insert(), [{**r, "integration": OLD} for r in rows])
        with engine.connect() as connection:
            for table in (schema.employees, schema.okta_users, schema.teams):
                new = _stored(connection, table, NEW)
                old = _stored(connection, table, OLD)
                assert new == old, table.name
            assert len(new) == len(HOSTILE)


def test_update_rows_stores_what_update_stored(database_url: str) -> None:
    """update_rows (UPDATE ... FROM a staged table on PostgreSQL) sets the very text an
    SQLAlchemy UPDATE sets, hostile values and NULLs included, and counts the rows."""
    with Directory.open(database_url) as directory:
        engine = directory.engine
        with engine.begin() as connection:
            for integration in (NEW, OLD):
                statements.insert_rows(
                    connection,
                    schema.employees,
                    [_employee(integration, f"00u{i}", "before") for i in range(len(HOSTILE))],
                )
        changed = [
            {
                k: v
                for k, v in _employee(
                    NEW, f"00u{i}", text, deactivated_at=datetime(2026, 2, 2, tzinfo=UTC)
                ).items()
                if k != "first_synced_at"
            }
            for i, text in enumerate(HOSTILE)
        ]
        with engine.begin() as connection:
            assert statements.update_rows(connection, schema.employees, changed) == len(HOSTILE)
            table = schema.employees
            for row in changed:
                values = {k: v for k, v in row.items() if k not in ("integration", "okta_id")}
                connection.execute(
                    sa.update(table)
                    .where(table.c.integration == OLD, table.c.okta_id == row["okta_id"])
                    .values(**values)
                )
        with engine.connect() as connection:
            assert _stored(connection, table, NEW) == _stored(connection, table, OLD)


def test_insert_missing_with_a_row_inserted_by_hand_takes_the_rest(database_url: str) -> None:
    """An employee_teams row a DBA inserted by hand: the COPY straight into the table fails in
    its savepoint, the staging path inserts the others, and the hand row stays as it was; a
    second insert_missing of the same table in the transaction (a second staging table of the
    same name) works too."""
    with Directory.open(database_url) as directory:
        engine = directory.engine
        with engine.begin() as connection:
            statements.insert_rows(
                connection, schema.employees, [_employee(NEW, f"00u{i}", "x") for i in range(5)]
            )
            statements.insert_rows(
                connection,
                schema.teams,
                [{"integration": NEW, "okta_group_id": "00g1", "name": "T", "description": None}],
            )
            connection.execute(
                schema.employee_teams.insert(),
                [{"integration": NEW, "okta_id": "00u1", "okta_group_id": "00g1"}],
            )
        rows = [
            {"integration": NEW, "okta_id": f"00u{i}", "okta_group_id": "00g1"} for i in range(5)
        ]
        with engine.begin() as connection:
            statements.insert_missing(connection, schema.employee_teams, rows)
            statements.insert_missing(connection, schema.employee_teams, [*rows, *rows])
            statements.delete_keys(
                connection,
                schema.employee_teams,
                NEW,
                ("okta_id", "okta_group_id"),
                [("00u4", "00g1")],
            )
            statements.delete_keys(
                connection,
                schema.employee_teams,
                NEW,
                ("okta_id", "okta_group_id"),
                [("00u3", "00g1"), ("00u3", "00g1")],
            )
        with engine.connect() as connection:
            held = sorted(connection.execute(sa.select(schema.employee_teams.c.okta_id)).scalars())
        assert held == ["00u0", "00u1", "00u2"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("nul \x00 byte", id="nul"),
        pytest.param("lone \udc80 surrogate", id="surrogate"),
    ],
)
def test_a_refused_value_fails_the_whole_transaction_with_one_clean_line(
    database_url: str, bad: str
) -> None:
    """A value no driver sends, in the last of several bulk writes of one transaction (one
    of them on the staging path): DirectoryError, one line, no row values; nothing written.
    (SQLite stores NUL, so that case runs on PostgreSQL only.)"""
    if "\x00" in bad and not database_url.startswith("postgresql"):
        pytest.skip("SQLite stores NUL")
    with Directory.open(database_url) as directory:
        store = Store(directory.engine)
        with directory.engine.begin() as connection:
            statements.insert_rows(
                connection,
                schema.teams,
                [
                    {
                        "integration": NEW,
                        "okta_group_id": "00g1",
                        "name": "kept",
                        "description": None,
                    }
                ],
            )
        with directory.engine.connect() as connection:
            before = connection.execute(sa.select(schema.teams)).all()
        with (
            pytest.raises(DirectoryError) as caught,
            store._writing("cannot apply the sync of acme/new") as connection,
        ):
            statements.upsert(
                connection,
                schema.teams,
                [
                    {
                        "integration": NEW,
                        "okta_group_id": "00g1",
                        "name": "secret-one",
                        "description": None,
                    }
                ],
            )
            statements.insert_missing(
                connection,
                schema.teams,
                [
                    {
                        "integration": NEW,
                        "okta_group_id": "00g2",
                        "name": "secret-two",
                        "description": None,
                    }
                ],
            )
            statements.insert_rows(
                connection, schema.employees, [_employee(NEW, "00u1", f"Jane Doe {bad}")]
            )
        message = str(caught.value)
        assert "\n" not in message and "Jane" not in message and "secret" not in message
        with directory.engine.connect() as connection:
            assert connection.execute(sa.select(schema.teams)).all() == before
            assert connection.execute(sa.select(schema.employees)).all() == []


def test_a_naive_datetime_is_refused_without_the_row(database_url: str) -> None:
    """UTCDateTime's own refusal of a naive datetime comes out as one DirectoryError line."""
    with Directory.open(database_url) as directory:
        store = Store(directory.engine)
        with pytest.raises(DirectoryError) as caught, store._writing("apply") as connection:
            statements.insert_rows(
                connection,
                schema.employees,
                [_employee(NEW, "00u1", "Jane Doe", okta_last_updated=datetime(2026, 1, 1))],
            )
        assert "Jane" not in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.postgres
def test_a_role_without_temp_privilege_can_still_update_employees(postgres_url: str) -> None:
    """A hardened PostgreSQL (REVOKE TEMPORARY ... FROM PUBLIC, common in CIS-style setups)
    where the operator's role holds only SELECT/INSERT/UPDATE/DELETE on the directory's tables:
    the old UPDATE/INSERT ... ON CONFLICT/DELETE statements needed nothing more. Staging
    tables (CREATE TEMPORARY TABLE) failed every sync there ("permission denied to create
    temporary tables"): without the privilege, large writes go row by row instead."""
    many = statements.STAGED_ROWS + 1  # the path that would stage: too many to send one by one
    ids = [f"00u{n}1" for n in range(many)]
    with Directory.open(postgres_url) as directory, directory.engine.begin() as connection:
        statements.insert_rows(
            connection, schema.employees, [_employee(NEW, i, "before") for i in ids]
        )
    with _writer_role(
        postgres_url, "hris_writer", 'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC'
    ) as writer:
        rows = [
            {k: v for k, v in _employee(NEW, i, "after").items() if k != "first_synced_at"}
            for i in ids
        ]
        teams = [{"integration": NEW, "okta_group_id": i, "name": "T"} for i in ids]
        with writer.begin() as connection:
            assert statements.update_rows(connection, schema.employees, rows) == many
            statements.upsert(connection, schema.teams, teams)
            statements.upsert(connection, schema.teams, teams)
            statements.insert_missing(connection, schema.teams, teams)
            statements.delete_keys(
                connection, schema.teams, NEW, ("okta_group_id",), [(i,) for i in ids[1:]]
            )
            titles = connection.execute(sa.select(schema.employees.c.title)).scalars().all()
            left = connection.execute(sa.select(schema.teams.c.okta_group_id)).scalars().all()
        assert set(titles) == {"after"} and left == [ids[0]]


@pytest.mark.postgres
def test_row_level_security_on_employees_still_takes_new_rows(postgres_url: str) -> None:
    """A DBA separating integrations with row-level security (ENABLE ROW LEVEL SECURITY and a
    policy letting the operator's role write every row): INSERT, which the old statements
    used, obeys the policy, but PostgreSQL refuses COPY FROM into a table with RLS for a role
    it applies to ("COPY FROM not supported with row-level security"): insert_rows (every
    sync that creates an employee) failed; into such a table it inserts instead."""
    with Directory.open(postgres_url):
        pass
    with _writer_role(
        postgres_url,
        "hris_rls",
        "ALTER TABLE employees ENABLE ROW LEVEL SECURITY",
        'CREATE POLICY operator_writes ON employees TO "{role}" USING (true) WITH CHECK (true)',
    ) as writer:
        with writer.begin() as connection:
            connection.execute(schema.employees.insert(), [_employee(OLD, "00u1", "old path")])
        with writer.begin() as connection:
            statements.insert_rows(
                connection, schema.employees, [_employee(NEW, "00u1", "new path")]
            )


@contextmanager
def _writer_role(url_text: str, prefix: str, *setup: str) -> Iterator[sa.Engine]:
    """An engine as a login role holding only SELECT/INSERT/UPDATE/DELETE on the tables, after
    the admin ran ``setup`` (with ``{role}`` and ``{database}`` filled in); dropped after."""
    url = sa.make_url(url_text)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    role = f"{prefix}_{url.database}"[:60]
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        connection.exec_driver_sql(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
        for statement in setup:
            connection.exec_driver_sql(statement.format(role=role, database=url.database))
    writer = sa.create_engine(url.set(username=role))
    try:
        yield writer
    finally:
        writer.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
            connection.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


@pytest.mark.postgres
def test_an_ordinary_second_apply_runs_no_statement_that_fails_on_the_server(
    postgres_url: str,
) -> None:
    """A straight COPY tried first for every insert_missing and upsert failed (a unique
    violation, rolled back to its savepoint) whenever a row existed: on every apply for the
    integrations lock row, and for every mirror upsert of a user who changed. Each was an ERROR
    in PostgreSQL's server log with a DETAIL naming the key (an Okta id). An incremental-like
    second apply (the integration exists, one mirror user changed, on both the row-by-row and
    the staged path) fails no statement and rolls back no savepoint."""
    from okta_hris.domain.changes import DirectoryChanges, OktaUserRecord

    failed: list[str] = []
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with Directory.open(postgres_url) as directory:
        sa.event.listen(directory.engine, "rollback_savepoint", lambda *a: failed.append("sp"))
        sa.event.listen(directory.engine, "handle_error", lambda c: failed.append("error"))
        many = statements.STAGED_ROWS + 1
        users = [
            OktaUserRecord(
                id=f"00u{n}", status="ACTIVE", last_updated=when, profile={"login": f"{n}"}
            )
            for n in range(many)
        ]
        directory.apply(
            DirectoryChanges(integration=NEW, synced_at=when, okta_users_upsert=(users[0],))
        )
        later = when + timedelta(hours=1)
        for changed in ([users[0]], users):
            changed = [u.replace(last_updated=later) for u in changed]
            directory.apply(
                DirectoryChanges(integration=NEW, synced_at=when, okta_users_upsert=tuple(changed))
            )
        mirror = directory.load_state(NEW).okta_users
        assert len(mirror) == many
        assert {u.last_updated for u in mirror.values()} == {later}
    assert failed == []


def test_upsert_with_duplicate_keys_keeps_the_last_on_both_paths(database_url: str) -> None:
    """upsert of a batch naming one key twice, once for a new row (PostgreSQL's straight COPY)
    and once for a batch over an existing row (the staging path, where ON CONFLICT DO UPDATE
    may not touch a row twice): the last one wins, as row by row, on both backends."""
    with Directory.open(database_url) as directory:

        def team(gid: str, name: str) -> dict[str, Any]:
            return {"integration": NEW, "okta_group_id": gid, "name": name, "description": None}

        with directory.engine.begin() as connection:
            statements.upsert(connection, schema.teams, [team("00g1", "a"), team("00g1", "b")])
            statements.upsert(
                connection,
                schema.teams,
                [team("00g1", "c"), team("00g2", "x"), team("00g1", "d"), team("00g2", "y")],
            )
        with directory.engine.connect() as connection:
            rows = connection.execute(
                sa.select(schema.teams.c.okta_group_id, schema.teams.c.name).order_by(
                    schema.teams.c.okta_group_id
                )
            ).all()
        assert [tuple(r) for r in rows] == [("00g1", "d"), ("00g2", "y")]

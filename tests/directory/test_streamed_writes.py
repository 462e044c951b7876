"""Bulk writes convert and send their rows as they read them (statements.py ``_Converted``):
batches past ``CHUNK_ROWS`` and ``STAGED_ROWS`` keep the semantics of one write whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.directory import Directory, schema, statements
from okta_hris.directory.statements import CHUNK_ROWS, STAGED_ROWS, Store
from okta_hris.errors import DirectoryError
from tests.attack15.test_bulk_writes_attacks import _employee

KEY = "acme/streamed"
MANY = 2 * CHUNK_ROWS + 7  # three chunks, the last one short
assert MANY > STAGED_ROWS


def team(group_id: str, name: str) -> dict[str, Any]:
    return {"integration": KEY, "okta_group_id": group_id, "name": name, "description": None}


def names(directory: Directory) -> dict[str, str]:
    with directory.engine.connect() as connection:
        rows = connection.execute(sa.select(schema.teams.c.okta_group_id, schema.teams.c.name))
        return {group_id: name for group_id, name in rows}


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def test_an_upsert_naming_keys_again_in_later_chunks_keeps_the_last(directory: Directory) -> None:
    def batch() -> Iterator[dict[str, Any]]:  # read once, as the store's generators are
        for n in range(MANY):
            yield team(f"00g{n % CHUNK_ROWS}", f"first {n}")
        yield team("00g0", "last")

    with directory.engine.begin() as connection:
        statements.upsert(connection, schema.teams, batch())
    stored = names(directory)
    assert len(stored) == CHUNK_ROWS
    assert stored["00g0"] == "last"
    assert stored["00g1"] == f"first {2 * CHUNK_ROWS + 1}"  # its third and last row
    assert stored[f"00g{CHUNK_ROWS - 1}"] == f"first {2 * CHUNK_ROWS - 1}"


def test_updates_and_deletes_across_chunks_touch_each_row_once(directory: Directory) -> None:
    with directory.engine.begin() as connection:
        statements.insert_rows(
            connection, schema.teams, (team(f"00g{n}", "old") for n in range(MANY))
        )
        updated = statements.update_rows(
            connection, schema.teams, (team(f"00g{n}", "new") for n in range(MANY))
        )
        statements.delete_keys(
            connection,
            schema.teams,
            KEY,
            ("okta_group_id",),
            ((f"00g{n}",) for n in range(0, MANY, 2)),
        )
    assert updated in (MANY, None)  # None: a driver that cannot count an executemany
    stored = names(directory)
    assert set(stored) == {f"00g{n}" for n in range(1, MANY, 2)}
    assert set(stored.values()) == {"new"}


@pytest.mark.parametrize("write", ["insert_rows", "insert_missing", "upsert"])
def test_a_refused_value_in_the_last_chunk_leaves_nothing_of_the_first(
    directory: Directory, write: str
) -> None:
    """The value is converted (and refused) after whole chunks were sent, or mid-COPY: the
    transaction fails as one clean line, and nothing of the batch is kept."""

    def batch() -> Iterator[dict[str, Any]]:
        for n in range(MANY):
            yield _employee(KEY, f"00u{n}", f"Jane Doe {n}")
        yield _employee(
            KEY, "00ubad", "Jane Doe", okta_last_updated=datetime(2026, 1, 1)
        )  # naive: refused

    store = Store(directory.engine)
    with pytest.raises(DirectoryError) as caught, store._writing("apply") as connection:
        getattr(statements, write)(connection, schema.employees, batch())
    assert "\n" not in str(caught.value) and "Jane" not in str(caught.value)
    with directory.engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(schema.employees)).scalar()
            == 0
        )


def members(directory: Directory) -> list[tuple[str, str, str]]:
    table = schema.okta_group_members
    with directory.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.integration, table.c.okta_group_id, table.c.okta_id).order_by(
                *table.primary_key.columns
            )
        )
        return [tuple(row) for row in rows]


def test_pairs_go_straight_into_a_table_without_the_integration_and_count_once(
    directory: Directory,
) -> None:
    """The first write of an integration's pairs (COPY straight into the table on PostgreSQL)
    takes each distinct pair once; a later one (through the conflict check) adds the new ones
    beside what is there, also beside another integration's rows."""
    columns = ("okta_group_id", "okta_id")
    first = [("00g2", "00u1"), ("00g1", "00u2"), ("00g2", "00u1")] * STAGED_ROWS
    first += [(f"00g{n}", "00u9") for n in range(STAGED_ROWS)]
    with directory.engine.begin() as connection:
        statements.insert_pairs(connection, schema.okta_group_members, "other", columns, first)
        statements.insert_pairs(connection, schema.okta_group_members, KEY, columns, first)
    expected = sorted({(KEY, g, u) for g, u in first})
    assert [m for m in members(directory) if m[0] == KEY] == expected
    later = [("00g2", "00u1"), ("00g3", "00u3"), ("00g3", "00u3")] * STAGED_ROWS
    with directory.engine.begin() as connection:
        statements.insert_pairs(connection, schema.okta_group_members, KEY, columns, later)
    assert [m for m in members(directory) if m[0] == KEY] == sorted(
        {*expected, (KEY, "00g3", "00u3")}
    )
    assert len([m for m in members(directory) if m[0] == "other"]) == len(expected)


def test_distinct_upserts_go_straight_in_first_then_overwrite(directory: Directory) -> None:
    """``upsert_distinct`` into a table without the integration's rows (COPY on PostgreSQL)
    writes every row as given, beside another integration's; a later one overwrites the rows
    it names and adds the others, through the conflict check."""
    with directory.engine.begin() as connection:
        statements.upsert_distinct(
            connection,
            schema.teams,
            "other",
            ({**team(f"00g{n}", "theirs"), "integration": "other"} for n in range(3)),
        )
        statements.upsert_distinct(
            connection, schema.teams, KEY, (team(f"00g{n}", "first") for n in range(MANY))
        )
    stored = names(directory)
    assert len(stored) == MANY and set(stored.values()) == {"first"}
    with directory.engine.begin() as connection:
        statements.upsert_distinct(
            connection,
            schema.teams,
            KEY,
            (team(f"00g{n}", "second") for n in range(MANY - STAGED_ROWS, MANY + STAGED_ROWS)),
        )
    stored = names(directory)
    assert len(stored) == MANY + STAGED_ROWS
    assert stored["00g0"] == "first" and stored[f"00g{MANY}"] == "second"
    assert stored[f"00g{MANY - 1}"] == "second"
    with directory.engine.connect() as connection:
        theirs = connection.execute(
            sa.select(sa.func.count())
            .select_from(schema.teams)
            .where(schema.teams.c.integration == "other", schema.teams.c.name == "theirs")
        ).scalar()
    assert theirs == 3


def test_a_key_given_twice_to_a_first_distinct_upsert_fails_whole(directory: Directory) -> None:
    """The straight path has no conflict check: a key given twice is the database's own
    one-line refusal, and nothing of the write stays."""
    rows = [team(f"00g{n}", "first") for n in range(STAGED_ROWS)] + [team("00g1", "again")]
    store = Store(directory.engine)
    with pytest.raises(DirectoryError) as caught, store._writing("apply") as connection:
        statements.upsert_distinct(connection, schema.teams, KEY, iter(rows))
    assert "\n" not in str(caught.value)
    assert names(directory) == {}

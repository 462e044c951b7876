"""Red-team of ``insert_pairs``: odd characters in ids through COPY (text format escapes),
pairs already there of the same integration, another integration's rows, duplicates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema, statements
from okta_hris.directory.statements import STAGED_ROWS
from okta_hris.directory.store import Directory

KEY = "acme/attack18-pairs"
ODD = ["00u\tTab", "00u\nLine", "00u\\N", "\\N", "00u\\", "00u'\"", "00u é", "00uZ", "00ua", "00u "]
COLUMNS = ("okta_group_id", "okta_id")


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def members(directory: Directory, integration: str) -> set[tuple[str, str]]:
    table = schema.okta_group_members
    with directory.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.okta_group_id, table.c.okta_id).where(
                table.c.integration == integration
            )
        )
        return {(g, u) for g, u in rows}


@pytest.mark.parametrize("repeat", [1, STAGED_ROWS], ids=["few", "staged"])
def test_odd_ids_go_in_and_read_back_exactly(directory: Directory, repeat: int) -> None:
    pairs = [(f"00g{n % 3}", odd) for n, odd in enumerate(ODD)] * repeat
    with directory.engine.begin() as connection:
        # first write: straight in (COPY on PostgreSQL)
        statements.insert_pairs(connection, schema.okta_group_members, KEY, COLUMNS, pairs)
    assert members(directory, KEY) == set(pairs)
    more = pairs + [("00g9", odd) for odd in ODD] * repeat
    with directory.engine.begin() as connection:
        # later write: through the conflict check (staged on PostgreSQL when many)
        statements.insert_pairs(connection, schema.okta_group_members, KEY, COLUMNS, more)
        statements.insert_pairs(connection, schema.okta_group_members, "other", COLUMNS, more)
    assert members(directory, KEY) == set(more) == members(directory, "other")


def test_no_pairs_write_nothing_and_do_not_fail(directory: Directory) -> None:
    with directory.engine.begin() as connection:
        statements.insert_pairs(connection, schema.okta_group_members, KEY, COLUMNS, [])
        statements.insert_pairs(connection, schema.okta_group_members, KEY, COLUMNS, iter(()))
    assert members(directory, KEY) == set()


def test_pairs_deleted_earlier_in_the_same_transaction_go_back_in(directory: Directory) -> None:
    pairs = [("00g1", "00u1"), ("00g1", "00u2")]
    with directory.engine.begin() as connection:
        statements.insert_pairs(connection, schema.okta_group_members, KEY, COLUMNS, pairs)
    with directory.engine.begin() as connection:
        statements.delete_keys(connection, schema.okta_group_members, KEY, COLUMNS, pairs)
        statements.insert_pairs(connection, schema.okta_group_members, KEY, COLUMNS, pairs * 2)
    assert members(directory, KEY) == set(pairs)

"""What every store over the directory's tables shares: transactions that turn database
failures into one-line ``DirectoryError``s, and the dialect-neutral bulk writes.

``Directory`` (``store.py``) and ``Outbox`` (``outbox.py``) are both a ``Store``: one engine,
one way to read and write, one error message shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from okta_hris.directory import database
from okta_hris.errors import DirectoryError

# Rows of each index SQLite's ANALYZE reads (its documentation suggests 100 to 1,000): enough
# for the planner to tell a key from a flag, in milliseconds at any size.
SQLITE_ANALYSIS_LIMIT = 1000


class Store:
    """A view of the directory database through one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        """A read-only snapshot; a database failure is a DirectoryError naming ``action``."""
        with self._failures(action), database.read_transaction(self.engine) as connection:
            yield connection

    @contextmanager
    def _writing(self, action: str) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any exception.

        On SQLite it starts with BEGIN IMMEDIATE, so a writer waits for the write lock
        instead of failing when it upgrades a read.
        """
        with self._failures(action), database.write_transaction(self.engine) as connection:
            yield connection

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            reason = database.describe_error(exc, self.engine.url)
            raise DirectoryError(f"{action}: {reason}") from exc


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    # Both spell ON CONFLICT the same way; SQLAlchemy has no dialect-neutral construct for it.
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def primary_key(table: Table) -> list[str]:
    return [column.name for column in table.primary_key.columns]


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, or overwrite every non-key column of the rows that exist."""
    if not rows:
        return
    key = primary_key(table)
    statement = dialect_insert(connection, table)
    statement = statement.on_conflict_do_update(
        index_elements=key,
        set_={name: statement.excluded[name] for name in rows[0] if name not in key},
    )
    connection.execute(statement, rows)


def insert_missing(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose primary key is not taken; leave existing rows untouched."""
    if not rows:
        return
    statement = dialect_insert(connection, table).on_conflict_do_nothing(
        index_elements=primary_key(table)
    )
    connection.execute(statement, rows)


def analyze(connection: Connection, tables: Iterable[Table]) -> None:
    """Refresh the query planner's statistics of ``tables``. PostgreSQL's ANALYZE reads a
    sample of each (30,000 rows); SQLite's is bounded to a sample too (``analysis_limit``, rows
    per index), rather than reading every index whole."""
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
    for table in tables:
        connection.exec_driver_sql(f"ANALYZE {quote(table.name)}")


def delete_keys(
    connection: Connection,
    table: Table,
    integration: str,
    columns: tuple[str, ...],
    keys: Iterable[tuple[str, ...]],
) -> None:
    """Delete the integration's rows whose ``columns`` equal one of ``keys``."""
    parameters = [
        {f"key_{name}": value for name, value in zip(columns, key, strict=True)} for key in keys
    ]
    if not parameters:
        return
    statement = delete(table).where(
        table.c.integration == integration,
        *(table.c[name] == bindparam(f"key_{name}") for name in columns),
    )
    connection.execute(statement, parameters)

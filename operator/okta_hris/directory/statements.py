"""What every store over the directory's tables shares: transactions that turn database
failures into one-line ``DirectoryError``s, and the dialect-neutral bulk writes.

``Directory`` (``store.py``) and ``Outbox`` (``outbox.py``) are both a ``Store``: one engine,
one way to read and write, one error message shape.

The bulk writes are the hot path of a large sync (100,000 employees, their memberships and the
Okta mirror in one transaction), so they bypass SQLAlchemy's per-row parameter compilation,
which measured two thirds of an apply: each value goes through its column's own bind
processor (the very conversion SQLAlchemy would make, so stored values are the same) into a
plain tuple, and then
- on SQLite, one ``executemany`` of the tuples, in process;
- on PostgreSQL, new rows by ``COPY ... FROM STDIN`` into the table; ``STAGED_ROWS`` or
  more to update, upsert or delete by ``COPY`` into a staging table of the transaction and
  one set-based ``INSERT ... ON CONFLICT``, ``UPDATE ... FROM`` or ``DELETE ... USING``;
  fewer as one pipelined ``executemany``. A role without TEMPORARY (a hardened database)
  uses ``executemany`` for all but new rows, and a table under row-level security (which
  COPY refuses) for new rows too. No statement of an ordinary apply fails on the server.
Either way nothing is written outside the caller's transaction, and a database error is
SQLAlchemy's (``DBAPIError``), which ``Store`` turns into one line without the rows.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError

from okta_hris.directory import database
from okta_hris.domain.changes import Pairs
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
        except UnicodeEncodeError as exc:  # a lone surrogate: the driver cannot send it
            raise DirectoryError(f"{action}: a value is not valid text ({exc.reason})") from exc


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    # Both spell ON CONFLICT the same way; SQLAlchemy has no dialect-neutral construct for it.
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def primary_key(table: Table) -> list[str]:
    return [column.name for column in table.primary_key.columns]


Conflict = Literal["fail", "ignore", "update"]
# On PostgreSQL a write of at least this many rows to update, upsert or delete goes through a
# staging table; fewer are sent as one pipelined executemany (no DDL for a sync that changed a
# handful of rows). New rows always go by COPY.
STAGED_ROWS = 500


def insert_rows(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows that must be new: a taken primary key fails the transaction."""
    _insert(connection, table, rows, "fail")


def upsert(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows, or overwrite every non-key column of the rows that exist (of rows with
    one key, the last)."""
    _insert(connection, table, rows, "update")


def insert_missing(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert the rows whose primary key is not taken; leave existing rows untouched."""
    _insert(connection, table, rows, "ignore")


def insert_pairs(
    connection: Connection,
    table: Table,
    integration: str,
    columns: tuple[str, str],
    pairs: Iterable[tuple[str, str]],
) -> None:
    """``insert_missing`` of the integration's ``pairs`` (a membership table's two key columns
    besides the integration). Into a table that holds none of the integration's rows (its
    first sync; writers of one integration are serialised by its lock), the distinct pairs
    go straight in, on PostgreSQL by COPY into the table, which spares a staging table and
    the conflict check of every row (2.5 of the 14 s of a first apply at 100,000 users)."""
    # Sorted: distinct, in order (a plan's Pairs are, and are read as they are, one at a time).
    ordered = (
        iter(pairs)
        if isinstance(pairs, Pairs)
        else (p for p, _ in itertools.groupby(sorted(pairs)))
    )
    rows = (
        {"integration": integration, columns[0]: first, columns[1]: second}
        for first, second in ordered
    )
    _insert(
        connection, table, rows, "ignore" if _holds_rows(connection, table, integration) else "fail"
    )


def upsert_distinct(
    connection: Connection, table: Table, integration: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    """``upsert`` of rows of ``integration`` that hold each primary key once (a plan's rows of
    a mirror table). Into a table that holds none of the integration's rows yet (its first
    sync), they go straight in, as ``insert_pairs``'s do: by COPY on PostgreSQL, with no
    staging table and no conflict check (1.5 of the 15 s of a first apply at 100,000 users);
    a key given twice then fails the transaction."""
    _insert(
        connection, table, rows, "update" if _holds_rows(connection, table, integration) else "fail"
    )


def _holds_rows(connection: Connection, table: Table, integration: str) -> bool:
    """Whether ``table`` holds a row of ``integration`` (in this transaction's view)."""
    quote = connection.dialect.identifier_preparer.quote
    mark = _placeholder(connection)
    found = connection.exec_driver_sql(
        f"SELECT 1 FROM {quote(table.name)} WHERE {quote('integration')} = {mark} LIMIT 1",
        (integration,),
    ).first()
    return found is not None


def update_rows(
    connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]
) -> int | None:
    """Set the non-key columns of each row to its values, found by its primary key columns
    (every row has the same columns); how many rows were updated (None: the driver cannot
    tell)."""
    converted = _converted(connection, table, rows)
    if converted is None:
        return 0
    names = converted.names
    key = primary_key(table)
    quote = connection.dialect.identifier_preparer.quote
    target = quote(table.name)
    assigned = [name for name in names if name not in key]
    if _stages(connection, converted):
        with _staged(connection, table, names, converted) as stage:
            result = connection.exec_driver_sql(
                f"UPDATE {target} SET "
                + ", ".join(f"{quote(n)} = s.{quote(n)}" for n in assigned)
                + f" FROM {stage} AS s WHERE "
                + " AND ".join(f"{target}.{quote(k)} = s.{quote(k)}" for k in key)
            )
            return int(result.rowcount)
    mark = _placeholder(connection)
    positions = operator.itemgetter(*(names.index(name) for name in (*assigned, *key)))
    statement = (
        f"UPDATE {target} SET "
        + ", ".join(f"{quote(n)} = {mark}" for n in assigned)
        + " WHERE "
        + " AND ".join(f"{quote(k)} = {mark}" for k in key)
    )
    updated: int | None = 0
    for chunk in converted.chunks():
        result = connection.exec_driver_sql(statement, [positions(row) for row in chunk])
        if len(chunk) > 1 and not connection.dialect.supports_sane_multi_rowcount:
            updated = None
        elif updated is not None:
            updated += int(result.rowcount)
    return updated


def delete_keys(
    connection: Connection,
    table: Table,
    integration: str,
    columns: tuple[str, ...],
    keys: Iterable[tuple[str, ...]],
) -> None:
    """Delete the integration's rows whose ``columns`` equal one of ``keys``."""
    names = ("integration", *columns)
    converted = _converted(
        connection, table, (dict(zip(names, (integration, *key), strict=True)) for key in keys)
    )
    if converted is None:
        return
    quote = connection.dialect.identifier_preparer.quote
    target = quote(table.name)
    if _stages(connection, converted):
        with _staged(connection, table, list(names), converted) as stage:
            connection.exec_driver_sql(
                f"DELETE FROM {target} USING {stage} AS s WHERE "
                + " AND ".join(f"{target}.{quote(n)} = s.{quote(n)}" for n in names)
            )
        return
    mark = _placeholder(connection)
    statement = f"DELETE FROM {target} WHERE " + " AND ".join(f"{quote(n)} = {mark}" for n in names)
    for chunk in converted.chunks():
        connection.exec_driver_sql(statement, chunk)


def analyze(connection: Connection, tables: Iterable[Table]) -> None:
    """Refresh the query planner's statistics of ``tables``. PostgreSQL's ANALYZE reads a
    sample of each (30,000 rows); SQLite's is bounded to a sample too (``analysis_limit``, rows
    per index), rather than reading every index whole."""
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
    for table in tables:
        connection.exec_driver_sql(f"ANALYZE {quote(table.name)}")


def _insert(
    connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]], conflict: Conflict
) -> None:
    converted = _converted(connection, table, rows)
    if converted is None:
        return
    names = converted.names
    key = primary_key(table)
    quote = connection.dialect.identifier_preparer.quote
    target = quote(table.name)
    columns = ", ".join(quote(name) for name in names)
    if conflict == "fail" and _copies(connection, table):
        _copy(connection, f"{target} ({columns})", converted)
        return
    assigned = [name for name in names if name not in key]
    on_conflict = ""
    if conflict != "fail":
        on_conflict = f" ON CONFLICT ({', '.join(quote(k) for k in key)}) DO "
        if conflict == "update" and assigned:
            on_conflict += "UPDATE SET " + ", ".join(
                f"{quote(n)} = excluded.{quote(n)}" for n in assigned
            )
        else:
            on_conflict += "NOTHING"
    if conflict != "fail" and _stages(connection, converted):
        staged: Iterable[tuple[Any, ...]] = converted
        if conflict == "update":
            # One statement cannot update a row twice (PostgreSQL refuses it): the last one
            # wins, as it does row by row.
            positions = operator.itemgetter(*(names.index(name) for name in key))
            staged = {positions(row): row for row in converted}.values()
        with _staged(connection, table, names, staged) as stage:
            connection.exec_driver_sql(
                f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}{on_conflict}"
            )
        return
    marks = ", ".join(_placeholder(connection) for _ in names)
    statement = f"INSERT INTO {target} ({columns}) VALUES ({marks}){on_conflict}"
    for chunk in converted.chunks():
        connection.exec_driver_sql(statement, chunk)


def _placeholder(connection: Connection) -> str:
    return "%s" if connection.dialect.name == "postgresql" else "?"


@dataclass(frozen=True)
class _ServerAllows:
    """What this PostgreSQL connection's role may use: temporary tables (a hardened database
    revokes TEMPORARY from PUBLIC), and COPY into each table (refused for a table under
    row-level security)."""

    temporary_tables: bool
    row_security: frozenset[str]  # tables COPY may not write


def _server_allows(connection: Connection) -> _ServerAllows:
    info = connection.connection.info  # per database connection, across checkouts
    allows = info.get("hris_server_allows")
    if allows is None:
        temporary = connection.exec_driver_sql(
            "SELECT has_database_privilege(current_database(), 'TEMPORARY')"
        ).scalar()
        secured = connection.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relrowsecurity "
            "AND relnamespace = current_schema()::regnamespace"
        ).scalars()
        allows = _ServerAllows(bool(temporary), frozenset(secured))
        info["hris_server_allows"] = allows
    return cast(_ServerAllows, allows)


def _copies(connection: Connection, table: Table) -> bool:
    """Whether new rows of ``table`` go by COPY (PostgreSQL, no row-level security on it)."""
    if connection.dialect.name != "postgresql":
        return False
    return table.name not in _server_allows(connection).row_security


def _stages(connection: Connection, rows: _Converted) -> bool:
    """Whether these rows go through a staging table (PostgreSQL, TEMPORARY allowed, at least
    ``STAGED_ROWS`` of them)."""
    if connection.dialect.name != "postgresql" or len(rows.head) < STAGED_ROWS:
        return False
    return _server_allows(connection).temporary_tables


_NOTHING = object()
# (dialect name, table, columns) -> each column's bind processor (None: the value as it is)
_PROCESSORS: dict[tuple[str, str, tuple[str, ...]], list[Callable[[Any], Any] | None]] = {}


@dataclass
class _Converted:
    """Rows as the driver takes them (``_converted``): the column names, the first
    ``STAGED_ROWS`` rows converted, and the others converted as they are read, so that no
    write holds every row's values at once (100,000 employees of 27 columns)."""

    names: list[str]
    head: list[tuple[Any, ...]]
    rest: Iterator[tuple[Any, ...]]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return itertools.chain(self.head, self.rest)

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The rows in lists of at most ``CHUNK_ROWS``, one ``executemany`` each."""
        rows = iter(self)
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            yield chunk


# Rows a write converts and sends at a time where it cannot stream them (executemany).
CHUNK_ROWS = 5000


def _converted(
    connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]
) -> _Converted | None:
    """The rows (each with the first one's columns) as the driver takes them; None for no
    rows. Each value is converted by its column's type for this dialect, as SQLAlchemy's own
    statements would (UTC datetimes, JSON text, booleans). Rows may come one by one and are
    converted as they are read: a value a column refuses is a ``StatementError`` there."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return None
    names = list(first)
    dialect = connection.dialect
    cache_key = (dialect.name, table.name, tuple(names))
    processors = _PROCESSORS.get(cache_key)
    if processors is None:
        processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ]
        _PROCESSORS[cache_key] = processors
    converted = _each_converted(names, processors, itertools.chain((first,), iterator))
    return _Converted(names, list(itertools.islice(converted, STAGED_ROWS)), converted)


def _each_converted(
    names: list[str],
    processors: list[Callable[[Any], Any] | None],
    rows: Iterator[Mapping[str, Any]],
) -> Iterator[tuple[Any, ...]]:
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    # Each column's last value and what it became: a value shared by consecutive rows (the
    # sync's time on every row, None) is converted once, not once a row.
    seen: list[Any] = [_NOTHING] * len(names)
    made: list[Any] = [None] * len(names)
    fields = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    try:
        for row in rows:
            if not converting:
                yield fields(row)
                continue
            value = list(fields(row))
            for i, process in converting:
                given = value[i]
                if given is seen[i]:
                    value[i] = made[i]
                else:
                    value[i] = made[i] = process(given)
                    seen[i] = given
            yield tuple(value)
    except (TypeError, ValueError) as exc:  # a value the column's type refuses, as SQLAlchemy says
        raise StatementError(str(exc), None, None, exc, hide_parameters=True) from exc


@contextmanager
def _staged(
    connection: Connection, table: Table, names: list[str], values: Iterable[tuple[Any, ...]]
) -> Iterator[str]:
    """A temporary table of ``table``'s ``names`` columns (their types, no constraints) holding
    ``values``, for one set-based statement; dropped after it (and at commit whatever
    happens)."""
    quote = connection.dialect.identifier_preparer.quote
    # In pg_temp by name: no table of another schema on the search path can stand in for it.
    stage = "pg_temp." + quote(f"hris_stage_{table.name}")
    columns = ", ".join(quote(name) for name in names)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {columns} FROM {quote(table.name)} WITH NO DATA"
    )
    _copy(connection, f"{stage} ({columns})", values)
    yield stage
    connection.exec_driver_sql(f"DROP TABLE {stage}")


def _copy(connection: Connection, target: str, values: Iterable[tuple[Any, ...]]) -> None:
    """``COPY target FROM STDIN`` of ``values`` on the connection's own transaction."""
    statement = f"COPY {target} FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi.Error, hide_parameters=True, dialect=connection.dialect
        ) from exc

"""Opening the directory database: URL rules, engine set-up, transactions and migrations.

The directory is an embedded SQLite file by default and PostgreSQL in production (SPEC §6).
Everything that differs between the two lives here, so ``store.py`` reads as plain SQL.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL, Connection, Engine, create_engine, event, func, make_url, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError, StatementError
from sqlalchemy.pool import StaticPool

from okta_hris.errors import DirectoryError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any constant every replica agrees on; spelled "oktahris" in ASCII so that it is unlikely to
# collide with another application's advisory lock in a shared database.
MIGRATION_LOCK_KEY = 0x6F6B7461_68726973

# Long enough to outwait another writer's sync (about a second for 10,000 employees), short
# enough that a stuck writer surfaces as an error instead of a hung operator.
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 10

# Execution option read by the SQLite "begin" hook below.
_SQLITE_BEGIN = "hris_sqlite_begin"

_URL_EXAMPLE = "expected e.g. sqlite:///PATH or postgresql://USER@HOST:5432/DATABASE"


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL of the directory, with the driver we ship for PostgreSQL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # The unparsable string may hold a password: name the problem, never the value.
        raise DirectoryError(
            f"the directory URL is not a valid database URL ({_URL_EXAMPLE})"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql") and parsed.drivername in ("postgres", "postgresql"):
        # SQLAlchemy would pick psycopg2, which we do not ship; "postgres://" is the Heroku and
        # libpq spelling that SQLAlchemy rejects.
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise DirectoryError(
            f"the directory database {backend!r} is not supported: use sqlite or postgresql"
        )
    if backend == "sqlite" and parsed.database and parsed.database.startswith("~"):
        parsed = parsed.set(database=str(Path(parsed.database).expanduser()))
    return parsed


# Query parameters libpq and the drivers read a secret from (``?password=...`` works as well as
# ``user:password@``).
_SECRET_PARAMETERS = ("password", "passwd", "pwd", "sslpassword", "passfile_password")


_SECRET_ALTERNATIVES = "|".join(_SECRET_PARAMETERS)
_SECRET_IN_QUERY = re.compile(rf"([?&](?:{_SECRET_ALTERNATIVES})=)[^&]*", re.IGNORECASE)


def _query_secrets(url: URL) -> list[str]:
    values: list[str] = []
    for key, value in url.query.items():
        if key.lower() in _SECRET_PARAMETERS:
            values += [value] if isinstance(value, str) else list(value)
    return [v for v in values if v]


def has_password(url: URL) -> bool:
    """Whether ``url`` carries a password, in the user part or in the query."""
    return bool(url.password) or bool(_query_secrets(url))


def describe_url(url: URL) -> str:
    """The URL as it may appear in messages and logs: every password masked, in the user
    part and in the query."""
    return _SECRET_IN_QUERY.sub(r"\1***", url.render_as_string(hide_password=True))


def describe_error(exc: BaseException, url: URL | None = None) -> str:
    """One line saying what the database said, without SQL, parameters or a password.

    SQLAlchemy's own message carries the statement and its parameters, and PostgreSQL's DETAIL
    line the conflicting row: personal data. The driver's first line ("UNIQUE constraint
    failed: ...", "connection ... failed: Connection refused") carries neither.
    """
    cause: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        cause = exc.orig
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    text = lines[0] if lines else type(cause).__name__
    if url is not None:
        for secret in [str(url.password or ""), *_query_secrets(url)]:
            if secret:
                text = text.replace(secret, "***")
    return text


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _read_only_sqlite(path: str) -> Callable[[], sqlite3.Connection]:
    """Connections that open ``path`` read-only (``mode=ro``): they create no file, and work on
    a file that is not writable (chmod 0444, a read-only mount)."""
    uri = f"file:{quote(str(Path(path).absolute()))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return connect


def read_json(text: str | bytes) -> Any:
    """A JSON column's value: msgspec's decoder (a third of the standard library's time over a
    mirror of 100,000 profiles), or the standard library's for what msgspec refuses and
    ``json.dumps`` writes (NaN, a lone surrogate escape), so every stored value still reads."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def write_json(value: Any) -> str:
    """A JSON column's text: ``msgspec.Raw`` is JSON already encoded (a mirror's profile, held
    as its canonical bytes: domain/profiles.py), written as it is; any other value is encoded
    by the standard library, as SQLAlchemy does by default."""
    if isinstance(value, msgspec.Raw):
        return bytes(value).decode()
    return json.dumps(value)


def create_directory_engine(url: URL, *, read_only: bool = False) -> Engine:
    """An engine with the directory's connection settings; connects lazily.

    ``read_only``: connections that cannot write (``okta-hris plan``): SQLite opens the file
    with ``mode=ro`` and ``query_only``, and keeps its journal mode; PostgreSQL starts every
    transaction read-only, which a SELECT-only role needs no more rights for.
    """
    kwargs: dict[str, Any] = {
        # Parameters are employees' personal data: keep them out of exceptions and logs.
        "hide_parameters": True,
        "json_deserializer": read_json,
        "json_serializer": write_json,
    }
    backend = url.get_backend_name()
    if backend == "sqlite":
        # The pool hands connections to whichever asyncio.to_thread worker asks.
        kwargs["connect_args"] = {"check_same_thread": False}
        if _is_memory_sqlite(url):
            # One connection, or every checkout would see its own empty database. Only safe
            # when access is serialised (tests, dry runs).
            kwargs["poolclass"] = StaticPool
        elif read_only and url.database and not url.database.startswith("file:"):
            kwargs["creator"] = _read_only_sqlite(url.database)
        elif url.database and not url.database.startswith("file:"):
            folder = Path(url.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DirectoryError(
                    f"cannot create the directory's folder {folder}: {exc.strerror or exc}"
                ) from exc
    else:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        if "application_name" not in url.query:
            connect_args["application_name"] = "okta-hris-operator"
        if read_only:
            connect_args["options"] = "-c default_transaction_read_only=on"
        kwargs["connect_args"] = connect_args
        # The operator lives for weeks; a database restart must not poison the pool.
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DirectoryError(
            f"cannot use the directory URL {describe_url(url)}: {describe_error(exc, url)}"
        ) from None
    if backend == "sqlite":
        _install_sqlite_hooks(engine, read_only=read_only)
    return engine


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, waiting for a writer that holds the file meanwhile.

    The switch needs the file to itself. While another connection (a replica starting at the
    same moment, migrating) holds the write lock, SQLite answers "database is locked" at once
    instead of calling the busy handler, since waiting for the lock with a read lock held could
    deadlock. So wait here, as the busy timeout would.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _install_sqlite_hooks(engine: Engine, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module, whose legacy mode starts no transaction for
        # SELECT or DDL: reads would not be snapshots and migrations not atomic. SQLAlchemy
        # emits BEGIN itself in _on_begin (the recipe of SQLAlchemy's SQLite documentation).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if read_only:
                # Switching the journal mode writes the file; a reader leaves it as it is.
                cursor.execute("PRAGMA query_only=ON")
            else:
                # WAL lets the dashboard read while a sync writes.
                _switch_to_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers start with BEGIN IMMEDIATE: taking the write lock up front waits in the busy
        # handler, while upgrading a read transaction later fails at once with SQLITE_BUSY.
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any exception."""
    with engine.connect() as connection:
        connection.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction whose statements all see one snapshot of the database."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # READ COMMITTED would give every SELECT its own snapshot; SQLite's deferred
            # transaction in WAL mode is a snapshot already.
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with connection.begin():
            yield connection


def alembic_config() -> Config:
    """Alembic's configuration, built in code: users need no alembic.ini."""
    config = Config()
    # ConfigParser interpolates "%": a site-packages path containing one must survive.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def require_head_revision(revision: str, url: URL) -> None:
    """For a reader that may not migrate: the schema at ``revision`` must be this release's."""
    if revision == head_revision():
        return
    where = describe_url(url)
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if revision in known:
        raise DirectoryError(
            f"the directory {where} has an older schema (revision {revision!r}): run "
            "okta-hris sync (or the operator) once to upgrade it, then plan again"
        )
    raise DirectoryError(
        f"the directory {where} has schema revision {revision!r}, which this version of "
        "okta-hris does not know: it was migrated by a newer release"
    )


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; safe with several replicas starting at once.

    Everything happens in one transaction (both databases have transactional DDL). On
    PostgreSQL a transaction-scoped advisory lock is taken before Alembic reads
    ``alembic_version``, so a second replica waits, then finds the schema current and does
    nothing. On SQLite, BEGIN IMMEDIATE's write lock gives the same ordering.
    """
    config = alembic_config()
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        revision = current_revision(connection)
        if revision is not None and revision not in known:
            raise DirectoryError(
                f"the directory schema is at revision {revision!r}, which this version of "
                "okta-hris does not know: it was migrated by a newer release"
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_engine(url: str, *, migrate_schema: bool = True, read_only: bool = False) -> Engine:
    """Parse, connect and (by default) migrate; every failure is one clear DirectoryError.

    ``read_only`` connections cannot write (see ``create_directory_engine``) and so never
    migrate.
    """
    parsed = parse_url(url)
    migrate_schema = migrate_schema and not read_only
    engine = create_directory_engine(parsed, read_only=read_only)
    try:
        if migrate_schema:
            migrate(engine)
        else:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
    except DirectoryError:
        engine.dispose()
        raise
    except (SQLAlchemyError, CommandError) as exc:
        engine.dispose()
        raise DirectoryError(
            f"cannot open the directory {describe_url(parsed)}: {describe_error(exc, parsed)}"
        ) from exc
    return engine

"""Alembic environment of the directory.

The operator runs it through ``database.migrate``, which hands over a connection already inside
the migration transaction (and holding the migration lock). Run from the ``alembic`` command
line with ``migrations/alembic.ini``, it opens ``HRIS_DATABASE_URL`` (or the embedded SQLite
file) the way the operator does, so developers can autogenerate new revisions.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from okta_hris.directory.database import create_directory_engine, parse_url
from okta_hris.directory.schema import UTCDateTime, metadata
from okta_hris.settings import default_database_url


def render_item(type_: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revisions must not import our types: a migration is a frozen snapshot, and UTCDateTime's
    # conversion is Python-side only; the column type in the database is a plain timestamp.
    if type_ == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _database_url() -> str:
    return os.environ.get("HRIS_DATABASE_URL") or default_database_url()


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_item=render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        context.configure(
            dialect_name=parse_url(_database_url()).get_backend_name(),
            target_metadata=metadata,
            literal_binds=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        run_migrations(connection)
        return
    engine = create_directory_engine(parse_url(_database_url()))
    try:
        with engine.begin() as own_connection:
            run_migrations(own_connection)
    finally:
        engine.dispose()


main()

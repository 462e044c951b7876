"""Contract v2: the new employee columns, a minimised Okta mirror, a Full sync of everything.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

SPEC §9 adds eight ``employees`` columns: first_name, last_name, personal_email, title,
department, employee_number, manager and state_code. They are nullable, and the rows an older
release wrote hold NULL there until their next sync maps them.

SPEC §9 "Privacy": a user who has never been in scope leaves no name, e-mail, phone, address or
other profile value in the database. Older releases mirrored the whole profile of every user
they fetched into ``okta_users``. A user without an ``employees`` row has never been in scope
(employee rows are never deleted), so the profile of each such mirror row is reduced to
``countryCode``. The filters also need the employment value, but which attribute holds it is in
the OktaIntegration's spec, which a migration cannot see; group ids are in
``okta_group_members``, which is left alone. The mirror rows of users with an ``employees`` row
keep their profiles.

``integrations.spec_hash`` is set to NULL for every integration, so that the next sync of each
is a Full sync (the engine picks Full when the stored spec hash differs from the spec's,
``sync.engine.choose_mode``). That sync re-fetches every user and group, so it restores what
the filters need in the mirror, and re-maps every employee row into the new columns: no
incremental sync ever runs on the minimised mirror.

The profiles are rewritten in Python, ``BATCH_SIZE`` rows at a time in primary-key order
(keyset pagination: each batch starts after the last key of the one before), so memory stays
flat whatever the directory's size. The statements are plain SQLAlchemy over ``profile``'s JSON
type (JSON on both databases, not JSONB): the same code runs on SQLite and PostgreSQL.

Downgrade drops the columns. Minimised profiles and spec hashes stay as they are: the next sync
re-fetches the one and writes the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_EMPLOYEE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("first_name", sa.Text()),
    ("last_name", sa.Text()),
    ("personal_email", sa.Text()),
    ("title", sa.Text()),
    ("department", sa.Text()),
    ("employee_number", sa.Text()),
    ("manager", sa.Text()),
    # ISO 3166-2 ("US-CA", "GB-ENG"): at most 6 characters.
    ("state_code", sa.String(8)),
)

# What the filters need of a profile and a migration can tell apart (SPEC §9 "Privacy").
KEPT_PROFILE_KEYS = ("countryCode",)

# Mirror rows read and rewritten per round trip: a thousand profiles in memory at most.
BATCH_SIZE = 1_000

# Frozen views of the tables as this revision knows them, not schema.py's (which moves on).
_okta_users = sa.table(
    "okta_users",
    sa.column("integration", sa.String()),
    sa.column("okta_id", sa.String()),
    sa.column("profile", sa.JSON()),
)
_employees = sa.table("employees", sa.column("integration"), sa.column("okta_id"))
_integrations = sa.table("integrations", sa.column("spec_hash", sa.String()))


def upgrade() -> None:
    if op.get_context().as_sql:
        # alembic upgrade --sql: the rewrite reads rows, so there is no script to print.
        raise RuntimeError("revision 0003 rewrites rows of okta_users: run it against a database")
    # Nullable and without a default: SQLite adds these in place, without a table rebuild.
    for name, type_ in NEW_EMPLOYEE_COLUMNS:
        op.add_column("employees", sa.Column(name, type_, nullable=True))
    _minimise_profiles_never_in_scope(op.get_bind())
    op.execute(sa.update(_integrations).values(spec_hash=None))


def downgrade() -> None:
    # Batch mode: plain ALTER TABLE on PostgreSQL; on SQLite (which could not drop a column
    # before 3.35) a rebuild of the table.
    with _memberships_set_aside(), op.batch_alter_table("employees") as batch:
        for name, _ in reversed(NEW_EMPLOYEE_COLUMNS):
            batch.drop_column(name)


def _minimal_profile(profile: object) -> dict[str, Any]:
    """The part of a mirrored profile that may be kept for a user never in scope."""
    if not isinstance(profile, dict):
        return {}
    return {key: profile[key] for key in KEPT_PROFILE_KEYS if key in profile}


def _minimise_profiles_never_in_scope(connection: sa.Connection) -> None:
    users = _okta_users.c
    never_in_scope = ~sa.exists().where(
        _employees.c.integration == users.integration, _employees.c.okta_id == users.okta_id
    )
    page = (
        sa.select(users.integration, users.okta_id, users.profile)
        .where(never_in_scope)
        .order_by(users.integration, users.okta_id)
        .limit(BATCH_SIZE)
    )
    # The SET clause comes from the parameters' "profile" key; the key columns are bound under
    # other names because SQLAlchemy reserves a column's own name for its SET value.
    rewrite = sa.update(_okta_users).where(
        users.integration == sa.bindparam("key_integration"),
        users.okta_id == sa.bindparam("key_okta_id"),
    )
    after: tuple[str, str] | None = None
    while True:
        query = page
        if after is not None:
            query = query.where(sa.tuple_(users.integration, users.okta_id) > sa.tuple_(*after))
        rows = connection.execute(query).all()
        if not rows:
            return
        changed = [
            {"key_integration": row.integration, "key_okta_id": row.okta_id, "profile": kept}
            for row in rows
            if (kept := _minimal_profile(row.profile)) != row.profile
        ]
        if changed:
            connection.execute(rewrite, changed)
        if len(rows) < BATCH_SIZE:
            return
        after = (rows[-1].integration, rows[-1].okta_id)


@contextmanager
def _memberships_set_aside() -> Iterator[None]:
    """On SQLite, empty ``employee_teams`` while ``employees`` is rebuilt, then refill it.

    Batch mode copies ``employees`` into a new table and drops the old one. With foreign keys
    on (database.py turns them on, and PRAGMA foreign_keys cannot change inside the migration's
    transaction) that DROP fails while any membership points at an employee.
    """
    if op.get_context().dialect.name != "sqlite":
        yield
        return
    columns = "integration, okta_id, okta_group_id"
    op.execute(
        f"CREATE TEMP TABLE hris_parked_employee_teams AS SELECT {columns} FROM employee_teams"
    )
    op.execute("DELETE FROM employee_teams")
    yield
    op.execute(
        f"INSERT INTO employee_teams ({columns}) SELECT {columns} FROM hris_parked_employee_teams"
    )
    op.execute("DROP TABLE hris_parked_employee_teams")

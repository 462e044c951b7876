"""Memberships are checked by the sync's apply, set-based, not by a foreign key per row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

``employee_teams`` had two foreign keys, to ``employees`` and to ``teams``. On PostgreSQL each
inserted row then ran two lookups, each taking a row lock, at the end of its statement: 12 s of
a 28 s apply of 100,000 new employees and their 424,000 memberships, against 3.5 s for the rows
themselves. The sync's apply now checks, in its transaction, that every membership it added
names an employee and a team of its integration (``Directory.apply``: an ``EXCEPT`` of id sets
per table, or a count of the few employees it gave memberships), and rolls everything back
otherwise, as the foreign key did. Nothing else writes these tables (SPEC §6: downstream apps read them).

On PostgreSQL this drops the constraints; on SQLite, which cannot drop a constraint, batch mode
rebuilds the table without them. Downgrading adds them back, and fails, changing nothing, if a
membership names an employee or a team that is not there.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migration 0001 named them: (name, referenced table, its key columns)
FOREIGN_KEYS = (
    ("fk_employee_teams_integration_employees", "employees", ["integration", "okta_id"]),
    ("fk_employee_teams_integration_teams", "teams", ["integration", "okta_group_id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("employee_teams") as batch:
        for name, _, _ in FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("employee_teams") as batch:
        for name, referent, columns in FOREIGN_KEYS:
            batch.create_foreign_key(name, referent, columns, columns)

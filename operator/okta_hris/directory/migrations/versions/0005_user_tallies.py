"""Per-user tallies: an incremental sync reads only the users that changed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

``okta_user_tallies`` holds what each mirrored user added to the last plan's counts (in scope
or not, the filters that keep them, data quality, employment values); ``integrations.
tallies_hash`` the spec hash they were counted under, NULL until a sync has counted every user.
An index on ``okta_group_members (integration, okta_id)`` reads one user's memberships. Nothing
is backfilled: the first sync after this migration reads the whole directory, as every sync
did before, and writes the tallies.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTEGRATION_LENGTH = 253 + 1 + 253


def upgrade() -> None:
    op.add_column("integrations", sa.Column("tallies_hash", sa.String(64), nullable=True))
    op.create_table(
        "okta_user_tallies",
        sa.Column("integration", sa.String(INTEGRATION_LENGTH), nullable=False),
        sa.Column("okta_id", sa.String(64), nullable=False),
        sa.Column("in_scope", sa.Boolean(), nullable=False),
        sa.Column("tally", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("integration", "okta_id", name="pk_okta_user_tallies"),
    )
    op.create_index("ix_okta_group_members_user", "okta_group_members", ["integration", "okta_id"])


def downgrade() -> None:
    op.drop_index("ix_okta_group_members_user", table_name="okta_group_members")
    op.drop_table("okta_user_tallies")
    # SQLite before 3.35 cannot drop a column; batch mode rebuilds the table there.
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("tallies_hash")

"""Who holds an invitation's lease: a rerun after a kill reclaims it at once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-15

``invitations.claimed_by`` names the sender process that set ``claimed_until`` (its host,
pid and start time, ``leases.Claimant``). A sender that finds a row claimed by a process of
its own machine that no longer runs takes the row over at once, instead of waiting for the
lease to expire. NULL, as every row of an older release holds, means "unknown": such a lease
is waited out as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("invitations", sa.Column("claimed_by", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite before 3.35 cannot drop a column; batch mode rebuilds the table there.
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("claimed_by")

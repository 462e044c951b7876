"""Sync leases and the apply counter: two syncs of one integration never both apply.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

``sync_leases`` holds one row per integration while a sync runs (``leases.py``);
``integrations.sync_version`` counts applies, so an apply computed from an older state is
refused (``store.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTEGRATION_LENGTH = 253 + 1 + 253


def upgrade() -> None:
    # SQLite adds a NOT NULL column in place when it has a default: no table rebuild.
    op.add_column(
        "integrations",
        sa.Column("sync_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "sync_leases",
        sa.Column("integration", sa.String(INTEGRATION_LENGTH), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration", name="pk_sync_leases"),
    )


def downgrade() -> None:
    op.drop_table("sync_leases")
    # SQLite before 3.35 cannot drop a column; batch mode rebuilds the table there.
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("sync_version")

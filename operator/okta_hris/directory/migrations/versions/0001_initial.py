"""The initial directory: SPEC §6 tables, the Okta mirror and per-integration bookkeeping.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written out rather than derived from ``schema.metadata``: a migration is a frozen snapshot, and
``tests/directory/test_migrations.py`` proves this one still equals the tables in schema.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# "<namespace>/<name>": both are DNS subdomains of at most 253 characters.
INTEGRATION_LENGTH = 253 + 1 + 253


def _integration() -> sa.Column[str]:
    return sa.Column("integration", sa.String(INTEGRATION_LENGTH), nullable=False)


def _timestamp(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "integrations",
        _integration(),
        sa.Column("spec_hash", sa.String(64), nullable=True),
        _timestamp("watermark", nullable=True),
        _timestamp("last_full_sync_at", nullable=True),
        _timestamp("invitations_enabled_at", nullable=True),
        _timestamp("removed_at", nullable=True),
        sa.PrimaryKeyConstraint("integration", name="pk_integrations"),
    )
    op.create_table(
        "employees",
        _integration(),
        sa.Column("okta_id", sa.String(64), nullable=False),
        sa.Column("okta_status", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("work_email", sa.Text(), nullable=True),
        sa.Column("employment_status", sa.Text(), nullable=True),
        sa.Column("mobile_phone", sa.Text(), nullable=True),
        sa.Column("mobile_phone_e164", sa.String(32), nullable=True),
        sa.Column("street_address", sa.Text(), nullable=True),
        sa.Column("country_code", sa.String(2), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("zip_code", sa.Text(), nullable=True),
        sa.Column("teams", sa.JSON(), nullable=False),
        _timestamp("okta_last_updated", nullable=False),
        _timestamp("first_synced_at", nullable=False),
        _timestamp("last_synced_at", nullable=False),
        _timestamp("deactivated_at", nullable=True),
        sa.PrimaryKeyConstraint("integration", "okta_id", name="pk_employees"),
    )
    op.create_index("ix_employees_integration_active", "employees", ["integration", "active"])
    op.create_index("ix_employees_country_code", "employees", ["country_code"])
    op.create_table(
        "teams",
        _integration(),
        sa.Column("okta_group_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("integration", "okta_group_id", name="pk_teams"),
    )
    op.create_table(
        "employee_teams",
        _integration(),
        sa.Column("okta_id", sa.String(64), nullable=False),
        sa.Column("okta_group_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "integration", "okta_id", "okta_group_id", name="pk_employee_teams"
        ),
        sa.ForeignKeyConstraint(
            ["integration", "okta_id"],
            ["employees.integration", "employees.okta_id"],
            name="fk_employee_teams_integration_employees",
        ),
        sa.ForeignKeyConstraint(
            ["integration", "okta_group_id"],
            ["teams.integration", "teams.okta_group_id"],
            name="fk_employee_teams_integration_teams",
        ),
    )
    op.create_index("ix_employee_teams_group", "employee_teams", ["integration", "okta_group_id"])
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _integration(),
        sa.Column("mode", sa.String(16), nullable=False),
        _timestamp("started_at", nullable=False),
        _timestamp("finished_at", nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_index("ix_sync_runs_integration_started", "sync_runs", ["integration", "started_at"])
    op.create_table(
        "invitations",
        _integration(),
        sa.Column("okta_id", sa.String(64), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _timestamp("sent_at", nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("next_attempt_at", nullable=True),
        _timestamp("claimed_until", nullable=True),
        sa.PrimaryKeyConstraint("integration", "okta_id", name="pk_invitations"),
    )
    op.create_index("ix_invitations_status", "invitations", ["integration", "status"])
    op.create_table(
        "okta_users",
        _integration(),
        sa.Column("okta_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _timestamp("last_updated", nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("integration", "okta_id", name="pk_okta_users"),
    )
    op.create_table(
        "okta_groups",
        _integration(),
        sa.Column("okta_group_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _timestamp("last_updated", nullable=False),
        _timestamp("last_membership_updated", nullable=True),
        sa.PrimaryKeyConstraint("integration", "okta_group_id", name="pk_okta_groups"),
    )
    op.create_table(
        "okta_group_members",
        _integration(),
        sa.Column("okta_group_id", sa.String(64), nullable=False),
        sa.Column("okta_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "integration", "okta_group_id", "okta_id", name="pk_okta_group_members"
        ),
    )


def downgrade() -> None:
    for table in (
        "okta_group_members",
        "okta_groups",
        "okta_users",
        "invitations",
        "sync_runs",
        "employee_teams",
        "teams",
        "employees",
        "integrations",
    ):
        # Dropping a table drops its indexes with it on both databases.
        op.drop_table(table)

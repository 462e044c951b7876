"""Tables of the directory (SPEC §6).

``employees``, ``teams``, ``employee_teams``, ``sync_runs`` and ``invitations`` are read by
downstream apps: their names and columns are contract. ``employees`` holds the fields of SPEC §1
and those contract v2 added (§9: first_name, last_name, personal_email, title, department,
employee_number, manager, state_code; migration 0003), each named as the ``Employee`` field it
stores. The ``okta_*`` mirror tables, ``integrations`` and ``sync_leases`` are the operator's own
bookkeeping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime written to the directory")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def key_text(length: int) -> TypeEngine[str]:
    """A column of ids and integration names, compared byte by byte on PostgreSQL too.

    Keys are compared on every index insert and lookup: under the database's own collation
    (en_US.UTF-8, even C.UTF-8) each comparison is a locale-aware ``strcoll``, which measured
    a third of inserting 400,000 memberships. The "C" collation compares bytes, orders ids
    as SQLite and Python do, and is the same equality for the ASCII ids Okta issues
    (migration 0006).
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


INTEGRATION_LENGTH = 253 + 1 + 253
INTEGRATION = key_text(INTEGRATION_LENGTH)
# The widest Okta id and user status the directory stores. A longer one from Okta is never cut
# (two users could share a row): sync/mapping.py leaves that user or group out of the sync.
OKTA_ID_LENGTH = 64
OKTA_STATUS_LENGTH = 32
OKTA_ID = key_text(OKTA_ID_LENGTH)
OKTA_STATUS = String(OKTA_STATUS_LENGTH)

integrations = Table(
    "integrations",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("spec_hash", String(64)),
    Column("watermark", UTCDateTime()),
    Column("last_full_sync_at", UTCDateTime()),
    Column("invitations_enabled_at", UTCDateTime()),
    Column("removed_at", UTCDateTime()),  # the OktaIntegration was deleted; rows are kept
    # Bumped by every apply: a plan computed from an older version is refused (store.py).
    Column("sync_version", Integer, nullable=False, default=0, server_default=text("0")),
    # The spec hash ``okta_user_tallies`` were counted under, when they are whole (every
    # mirrored user counted by the last apply); NULL otherwise. Migration 0005.
    Column("tallies_hash", String(64)),
)

# At most one running sync per integration (leases.py): a row exists while a sync holds it.
sync_leases = Table(
    "sync_leases",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("holder", String(64), nullable=False),  # a random id per sync run
    Column("owner", Text, nullable=False),  # who, for messages: "pid 4242 on build-7"
    Column("taken_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

employees = Table(
    "employees",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_id", OKTA_ID, primary_key=True),
    Column("okta_status", OKTA_STATUS, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("work_email", Text),
    Column("personal_email", Text),  # profile.secondEmail
    Column("employment_status", Text),
    Column("title", Text),
    Column("department", Text),
    Column("employee_number", Text),
    Column("manager", Text),  # profile.manager as Okta holds it: a name or an id
    Column("mobile_phone", Text),
    Column("mobile_phone_e164", String(32)),
    Column("street_address", Text),
    Column("country_code", String(2)),
    Column("state", Text),
    Column("state_code", String(8)),  # ISO 3166-2: "US-CA", "GB-ENG" (at most 6 characters)
    Column("city", Text),
    Column("zip_code", Text),
    Column("teams", JSON, nullable=False),  # sorted team names, denormalised from employee_teams
    Column("okta_last_updated", UTCDateTime(), nullable=False),
    Column("first_synced_at", UTCDateTime(), nullable=False),
    Column("last_synced_at", UTCDateTime(), nullable=False),
    Column("deactivated_at", UTCDateTime()),
    Index("ix_employees_integration_active", "integration", "active"),
    Index("ix_employees_country_code", "country_code"),
)

teams = Table(
    "teams",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_group_id", OKTA_ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text),
)

# Every membership names an employee and a team of its integration. The apply checks it, set-based,
# in its transaction (store.py ``_dangling_memberships``), not a foreign key per row: on
# PostgreSQL each row's check was two lookups and a row lock, most of a first sync's apply
# (12 s of 28 s at 100k on a slow day). Migration 0007 dropped the two keys.
employee_teams = Table(
    "employee_teams",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_id", OKTA_ID, primary_key=True),
    Column("okta_group_id", OKTA_ID, primary_key=True),
    Index("ix_employee_teams_group", "integration", "okta_group_id"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("integration", INTEGRATION, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("stats", JSON, nullable=False),
    Column("error", Text),
    Index("ix_sync_runs_integration_started", "integration", "started_at"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_id", OKTA_ID, primary_key=True),
    Column("email", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | failed
    # server_default too: the invitations module and downstream tools insert rows directly.
    Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    Column("last_error", Text),
    Column("sent_at", UTCDateTime()),
    Column("message_id", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime()),
    Column("claimed_until", UTCDateTime()),  # a sender's lease on a pending row
    Column("claimed_by", Text),  # the sender process holding that lease (leases.Claimant)
    Index("ix_invitations_status", "integration", "status"),
)

# The mirror: what the last sync saw in Okta, so an incremental sync can re-evaluate filters
# for users whose group membership changed without one request per user. The profile of a user
# who has never been in scope (no employees row) may hold only what the filters need (SPEC §9).
okta_users = Table(
    "okta_users",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_id", OKTA_ID, primary_key=True),
    Column("status", OKTA_STATUS, nullable=False),
    Column("last_updated", UTCDateTime(), nullable=False),
    Column("profile", JSON, nullable=False),
)

okta_groups = Table(
    "okta_groups",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_group_id", OKTA_ID, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("last_updated", UTCDateTime(), nullable=False),
    Column("last_membership_updated", UTCDateTime()),
)

okta_group_members = Table(
    "okta_group_members",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_group_id", OKTA_ID, primary_key=True),
    Column("okta_id", OKTA_ID, primary_key=True),
    Index("ix_okta_group_members_user", "integration", "okta_id"),
)

# What each mirrored user added to the last plan's counts (sync/plan.py ``UserTally``): an
# incremental sync sums them in SQL for the users nothing moved under, and reads only the
# users that changed (SPEC §9's counts without loading the org). Migration 0005.
okta_user_tallies = Table(
    "okta_user_tallies",
    metadata,
    Column("integration", INTEGRATION, primary_key=True),
    Column("okta_id", OKTA_ID, primary_key=True),
    Column("in_scope", Boolean, nullable=False),
    Column("tally", Text, nullable=False),
)

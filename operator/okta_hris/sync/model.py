"""Domain types shared by the engine and the directory.

The engine reads a ``DirectoryState``, computes a ``DirectoryChanges`` with pure functions,
and hands it to ``Directory.apply``, which writes it in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SyncMode = Literal["Full", "Incremental"]
SyncOutcome = Literal["succeeded", "failed", "held", "planned"]


class Employee(BaseModel):
    """The synced fields of one directory row (SPEC §1), as the engine wants them now."""

    model_config = ConfigDict(frozen=True)

    okta_id: str
    okta_status: str
    active: bool
    display_name: str
    work_email: str | None = None
    employment_status: str | None = None
    mobile_phone: str | None = None
    mobile_phone_e164: str | None = None
    street_address: str | None = None
    country_code: str | None = None
    state: str | None = None
    city: str | None = None
    zip_code: str | None = None
    teams: tuple[str, ...] = ()  # sorted team (group) names
    okta_last_updated: datetime


class EmployeeRow(Employee):
    """A directory row: the synced fields plus bookkeeping."""

    integration: str
    first_synced_at: datetime
    last_synced_at: datetime
    deactivated_at: datetime | None = None


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    okta_group_id: str
    name: str
    description: str | None = None


class OktaUserRecord(BaseModel):
    """What the last sync saw of one Okta user (the mirror that makes incremental syncs exact)."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: str
    last_updated: datetime
    profile: dict[str, Any]


class OktaGroupRecord(BaseModel):
    """What the last sync saw of one Okta group of a configured type."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    name: str
    description: str | None = None
    last_updated: datetime
    last_membership_updated: datetime | None = None


@dataclass
class SyncState:
    """Per-integration bookkeeping kept in the directory."""

    spec_hash: str | None = None
    watermark: datetime | None = None  # start of the previous successful fetch, minus a margin
    last_full_sync_at: datetime | None = None
    invitations_enabled_at: datetime | None = None  # when invitations were first seen enabled


@dataclass
class DirectoryState:
    """Everything the engine needs from the directory for one integration."""

    employees: dict[str, EmployeeRow] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    memberships: dict[str, frozenset[str]] = field(default_factory=dict)  # okta_id -> group ids
    okta_users: dict[str, OktaUserRecord] = field(default_factory=dict)
    okta_groups: dict[str, OktaGroupRecord] = field(default_factory=dict)
    okta_members: dict[str, frozenset[str]] = field(default_factory=dict)  # group id -> user ids
    sync_state: SyncState = field(default_factory=SyncState)
    invited: frozenset[str] = frozenset()  # okta ids with an invitations row (any status)


@dataclass
class SyncStats:
    fetched: int = 0
    matched: int = 0
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    unchanged: int = 0
    api_requests: int = 0
    rate_limited: int = 0

    def as_status(self) -> dict[str, int]:
        """The ``status.lastSync`` shape of SPEC §5."""
        return {
            "fetched": self.fetched,
            "matched": self.matched,
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "unchanged": self.unchanged,
            "apiRequests": self.api_requests,
        }


@dataclass
class SyncRunRecord:
    """A ``sync_runs`` row."""

    integration: str
    mode: SyncMode
    started_at: datetime
    finished_at: datetime
    outcome: SyncOutcome
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class InvitationRequest:
    """An ``invitations`` row to insert as ``pending`` (ignored when one exists)."""

    okta_id: str
    email: str


@dataclass
class DirectoryChanges:
    """One sync's writes; ``Directory.apply`` commits all of it or nothing."""

    integration: str
    synced_at: datetime
    employees_create: list[EmployeeRow] = field(default_factory=list)
    employees_update: list[EmployeeRow] = field(default_factory=list)  # full new values
    teams_upsert: list[Team] = field(default_factory=list)
    teams_delete: list[str] = field(default_factory=list)
    memberships_add: list[tuple[str, str]] = field(default_factory=list)  # (okta_id, group_id)
    memberships_remove: list[tuple[str, str]] = field(default_factory=list)
    okta_users_upsert: list[OktaUserRecord] = field(default_factory=list)
    okta_users_delete: list[str] = field(default_factory=list)
    okta_groups_upsert: list[OktaGroupRecord] = field(default_factory=list)
    okta_groups_delete: list[str] = field(default_factory=list)
    okta_members_add: list[tuple[str, str]] = field(default_factory=list)  # (group_id, user_id)
    okta_members_remove: list[tuple[str, str]] = field(default_factory=list)
    invitations_queue: list[InvitationRequest] = field(default_factory=list)
    sync_state: SyncState = field(default_factory=SyncState)
    run: SyncRunRecord | None = None

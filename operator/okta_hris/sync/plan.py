"""Diff what Okta holds now against the directory: the pure core of a sync.

``compute_plan`` takes the directory's state and a snapshot of Okta (the mirror after this
sync's fetch) and returns every write the sync must make, with the counts and names that
``plan``, status and Events report. It does no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from okta_hris.domain.changes import (
    DirectoryChanges,
    DirectoryState,
    OktaGroupRecord,
    OktaUserRecord,
)
from okta_hris.domain.employees import Employee, EmployeeRow, Team
from okta_hris.domain.okta import DELETED_STATUS
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sync.filters import in_scope
from okta_hris.sync.mapping import map_user

# Fields whose change rewrites a row; okta_last_updated alone moves for attributes we do not
# sync (a title, a password change) and must not cause a write.
COMPARED_FIELDS: tuple[str, ...] = tuple(
    name for name in Employee.model_fields if name not in ("okta_id", "okta_last_updated")
)


@dataclass
class OktaSnapshot:
    """The org as this sync sees it: users, team groups and their members."""

    users: dict[str, OktaUserRecord] = field(default_factory=dict)
    groups: dict[str, OktaGroupRecord] = field(default_factory=dict)
    members: dict[str, frozenset[str]] = field(default_factory=dict)  # group id -> user ids

    def groups_of_users(self) -> dict[str, set[str]]:
        index: dict[str, set[str]] = defaultdict(set)
        for group_id, user_ids in self.members.items():
            if group_id in self.groups:
                for user_id in user_ids:
                    index[user_id].add(group_id)
        return index


@dataclass(frozen=True)
class EmployeeChange:
    """One row the sync writes, for ``okta-hris plan`` and logs."""

    okta_id: str
    display_name: str
    fields: tuple[str, ...] = ()  # changed fields, for updates


@dataclass(frozen=True)
class SyncPlan:
    """Every write one sync makes, and the names and counts that report it. Never mutated:
    the engine derives a new plan (``dataclasses.replace``) when it adds bookkeeping."""

    changes: DirectoryChanges
    matched: int = 0
    created: tuple[EmployeeChange, ...] = ()
    updated: tuple[EmployeeChange, ...] = ()
    deactivated: tuple[EmployeeChange, ...] = ()
    reactivated: tuple[EmployeeChange, ...] = ()
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        """Whether the sync writes anything a reader of the directory can see."""
        return bool(
            self.created
            or self.updated
            or self.deactivated
            or self.changes.teams_upsert
            or self.changes.teams_delete
        )


@dataclass
class _PlanBuilder:
    """The plan while ``compute_plan`` collects it."""

    integration: str
    now: datetime
    matched: int = 0
    unchanged: int = 0
    created: list[EmployeeChange] = field(default_factory=list)
    updated: list[EmployeeChange] = field(default_factory=list)
    deactivated: list[EmployeeChange] = field(default_factory=list)
    reactivated: list[EmployeeChange] = field(default_factory=list)
    employees_create: list[EmployeeRow] = field(default_factory=list)
    employees_update: list[EmployeeRow] = field(default_factory=list)
    teams_upsert: list[Team] = field(default_factory=list)
    teams_delete: list[str] = field(default_factory=list)
    memberships_add: list[tuple[str, str]] = field(default_factory=list)
    memberships_remove: list[tuple[str, str]] = field(default_factory=list)
    okta_users_upsert: list[OktaUserRecord] = field(default_factory=list)
    okta_users_delete: list[str] = field(default_factory=list)
    okta_groups_upsert: list[OktaGroupRecord] = field(default_factory=list)
    okta_groups_delete: list[str] = field(default_factory=list)
    okta_members_add: list[tuple[str, str]] = field(default_factory=list)
    okta_members_remove: list[tuple[str, str]] = field(default_factory=list)

    def build(self) -> SyncPlan:
        changes = DirectoryChanges(
            integration=self.integration,
            synced_at=self.now,
            employees_create=tuple(self.employees_create),
            employees_update=tuple(self.employees_update),
            teams_upsert=tuple(self.teams_upsert),
            teams_delete=tuple(self.teams_delete),
            memberships_add=tuple(self.memberships_add),
            memberships_remove=tuple(self.memberships_remove),
            okta_users_upsert=tuple(self.okta_users_upsert),
            okta_users_delete=tuple(self.okta_users_delete),
            okta_groups_upsert=tuple(self.okta_groups_upsert),
            okta_groups_delete=tuple(self.okta_groups_delete),
            okta_members_add=tuple(self.okta_members_add),
            okta_members_remove=tuple(self.okta_members_remove),
        )
        return SyncPlan(
            changes=changes,
            matched=self.matched,
            created=tuple(self.created),
            updated=tuple(self.updated),
            deactivated=tuple(self.deactivated),
            reactivated=tuple(self.reactivated),
            unchanged=self.unchanged,
        )


def _differing(old: Employee, new: Employee) -> tuple[str, ...]:
    return tuple(name for name in COMPARED_FIELDS if getattr(old, name) != getattr(new, name))


def _row(
    employee: Employee,
    integration: str,
    first: datetime,
    now: datetime,
    deactivated: datetime | None,
) -> EmployeeRow:
    return EmployeeRow(
        **employee.model_dump(),
        integration=integration,
        first_synced_at=first,
        last_synced_at=now,
        deactivated_at=None if employee.active else deactivated,
    )


def compute_plan(
    spec: OktaIntegrationSpec,
    integration: str,
    state: DirectoryState,
    snapshot: OktaSnapshot,
    now: datetime,
) -> SyncPlan:
    plan = changes = _PlanBuilder(integration, now)
    user_groups = snapshot.groups_of_users()
    membership_target: dict[str, frozenset[str]] = {}

    for user in snapshot.users.values():
        group_ids = user_groups.get(user.id, set())
        desired = map_user(user, (snapshot.groups[g].name for g in group_ids), spec)
        existing = state.employees.get(user.id)
        if in_scope(desired, spec):
            plan.matched += 1
            membership_target[user.id] = frozenset(group_ids)
            if existing is None:
                row = _row(desired, integration, now, now, now)
                changes.employees_create.append(row)
                plan.created.append(EmployeeChange(user.id, desired.display_name))
                continue
            changed = _differing(existing, desired)
            if not changed:
                plan.unchanged += 1
                continue
            deactivated_at = existing.deactivated_at if not existing.active else now
            changes.employees_update.append(
                _row(desired, integration, existing.first_synced_at, now, deactivated_at)
            )
            _classify(plan, existing, desired, changed)
        elif existing is not None:
            # Out of scope: the row stays, inactive, and we stop syncing the person's details.
            memberships = state.memberships.get(user.id, frozenset())
            _leave_scope(
                plan, changes, existing, memberships, snapshot, user.status, user.last_updated, now
            )

    for okta_id, existing in state.employees.items():
        if okta_id not in snapshot.users:
            memberships = state.memberships.get(okta_id, frozenset())
            _leave_scope(
                plan,
                changes,
                existing,
                memberships,
                snapshot,
                DELETED_STATUS,
                existing.okta_last_updated,
                now,
            )

    _plan_teams(changes, state, snapshot)
    _plan_memberships(changes, state, snapshot, membership_target)
    _plan_mirror(changes, state, snapshot)
    return plan.build()


def _classify(
    plan: _PlanBuilder, existing: Employee, desired: Employee, changed: tuple[str, ...]
) -> None:
    change = EmployeeChange(desired.okta_id, desired.display_name, changed)
    if existing.active and not desired.active:
        plan.deactivated.append(change)
    else:
        if desired.active and not existing.active:
            plan.reactivated.append(change)
        plan.updated.append(change)


def _frozen_teams(memberships: frozenset[str], snapshot: OktaSnapshot) -> tuple[str, ...]:
    """Teams of a row out of scope: its last memberships minus deleted teams, by current name
    (so ``employees.teams`` always agrees with ``employee_teams`` and ``teams``)."""
    return tuple(sorted({snapshot.groups[g].name for g in memberships if g in snapshot.groups}))


def _leave_scope(
    plan: _PlanBuilder,
    changes: _PlanBuilder,
    existing: EmployeeRow,
    memberships: frozenset[str],
    snapshot: OktaSnapshot,
    okta_status: str,
    okta_last_updated: datetime,
    now: datetime,
) -> None:
    teams = _frozen_teams(memberships, snapshot)
    if not existing.active and existing.okta_status == okta_status and existing.teams == teams:
        plan.unchanged += 1
        return
    row = existing.model_copy(
        update={
            "active": False,
            "okta_status": okta_status,
            "okta_last_updated": okta_last_updated,
            "teams": teams,
            "last_synced_at": now,
            "deactivated_at": existing.deactivated_at if not existing.active else now,
        }
    )
    changes.employees_update.append(row)
    change = EmployeeChange(existing.okta_id, existing.display_name, _differing(existing, row))
    if existing.active:
        plan.deactivated.append(change)
    else:
        plan.updated.append(change)


def _plan_teams(changes: _PlanBuilder, state: DirectoryState, snapshot: OktaSnapshot) -> None:
    for group in snapshot.groups.values():
        team = Team(okta_group_id=group.id, name=group.name, description=group.description)
        if state.teams.get(group.id) != team:
            changes.teams_upsert.append(team)
    changes.teams_delete = sorted(set(state.teams) - set(snapshot.groups))


def _plan_memberships(
    changes: _PlanBuilder,
    state: DirectoryState,
    snapshot: OktaSnapshot,
    target: dict[str, frozenset[str]],
) -> None:
    """employee_teams follows Okta for users in scope; rows out of scope keep their last teams,
    except teams that no longer exist."""
    for okta_id in set(state.memberships) | set(target):
        old = state.memberships.get(okta_id, frozenset())
        new = target.get(okta_id)
        if new is None:  # out of scope or gone: frozen, minus deleted teams
            new = frozenset(g for g in old if g in snapshot.groups)
        changes.memberships_add.extend((okta_id, g) for g in sorted(new - old))
        changes.memberships_remove.extend((okta_id, g) for g in sorted(old - new))


def _plan_mirror(changes: _PlanBuilder, state: DirectoryState, snapshot: OktaSnapshot) -> None:
    changes.okta_users_upsert = [
        user for user_id, user in snapshot.users.items() if state.okta_users.get(user_id) != user
    ]
    changes.okta_users_delete = sorted(set(state.okta_users) - set(snapshot.users))
    changes.okta_groups_upsert = [
        group
        for group_id, group in snapshot.groups.items()
        if state.okta_groups.get(group_id) != group
    ]
    changes.okta_groups_delete = sorted(set(state.okta_groups) - set(snapshot.groups))
    for group_id in set(state.okta_members) | set(snapshot.members):
        old = state.okta_members.get(group_id, frozenset())
        new = snapshot.members.get(group_id, frozenset())
        changes.okta_members_add.extend((group_id, u) for u in sorted(new - old))
        changes.okta_members_remove.extend((group_id, u) for u in sorted(old - new))

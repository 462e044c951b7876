"""Diff what Okta holds now against the directory: the pure core of a sync.

``compute_plan`` takes the directory's state and a snapshot of Okta (the mirror after this
sync's fetch) and returns every write the sync must make, with the counts and names that
``plan``, status and Events report. It does no I/O.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import operator
import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from okta_hris.domain.changes import (
    DataQuality,
    DirectoryChanges,
    DirectoryState,
    OktaGroupRecord,
    OktaUserRecord,
    OrgTotals,
    Pairs,
    PlanWarning,
)
from okta_hris.domain.employees import Employee, EmployeeRow, Team, field_values
from okta_hris.domain.okta import DELETED_STATUS
from okta_hris.errors import EmploymentAttributeMissing
from okta_hris.memory import collection_paused
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.resource.validation import describe_value
from okta_hris.sync.filters import (
    ResolvedFilters,
    ScopeFacts,
    TeamEntry,
    resolve_filters,
)
from okta_hris.sync.mapping import (
    employment_values,
    loose_key,
    map_profile,
    quality_of,
    shown_id,
    storable_id,
    unstorable,
)

# What the mirror keeps of a user who has never been in scope (SPEC §9 privacy): what the
# filters read, and nothing that names or locates a person. The employment attribute's name
# comes from the spec and is added to these: an employment filter reads it, and whether any
# user has it at all decides whether employment values are kept (``keep_employment``).
MINIMAL_PROFILE_KEYS: tuple[str, ...] = ("countryCode",)
# Marks a minimised profile; Okta attribute names start with a letter, so none is this.
MINIMAL_MARK = "_minimal"

# How many left-out users a warning names; the count says how many more.
SKIPPED_NAMED = 10

# Fields whose change rewrites a row; okta_last_updated alone moves for attributes we do not
# sync (a title, a password change) and must not cause a write.
COMPARED_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Employee) if f.name not in ("okta_id", "okta_last_updated")
)


# user id -> (the record mapped, ``map_profile`` of it)
Premapped = dict[str, tuple[OktaUserRecord, Employee]]
# How many users ``premap`` maps between looks at whether it should stop.
PREMAP_BATCH = 500


def premap(
    users: Iterable[OktaUserRecord],
    spec: OktaIntegrationSpec,
    stop: threading.Event,
    rows: Mapping[str, Employee] | None = None,
) -> Premapped:
    """``map_profile`` of each user, for ``compute_plan(premapped=...)``: run in a worker
    thread while the sync lists group members. Stops early (with what it mapped) once ``stop``
    is set: the sync failed and nobody will use the rest.

    ``rows``: the directory's, loaded for the sync. A value equal to the user's row's is
    kept as the row's own object: a daily full sync maps 100,000 users to what their rows
    hold already, and would otherwise hold each of their names, e-mails and addresses
    twice until the plan compares them (35 MB at 100k)."""
    rows = rows or {}
    mapped: Premapped = {}
    for index, user in enumerate(users):
        if index % PREMAP_BATCH == 0 and stop.is_set():
            break
        employee = map_profile(user, spec)
        row = rows.get(user.id)
        mapped[user.id] = (user, employee if row is None else _sharing(employee, row))
    return mapped


def _sharing(employee: Employee, row: Employee) -> Employee:
    """``employee``, its values equal to ``row``'s as ``row``'s objects."""
    values = field_values(employee)
    for name, value in values.items():
        held = getattr(row, name)
        if value is not None and type(held) is type(value) and held == value:
            values[name] = held
    return Employee(**values)


# The set filters in the order a tally's mask lists them.
CLAUSES: tuple[str, ...] = ("countries", "teams", "status", "employment")


@dataclass(frozen=True)
class UserTally:
    """What one user added to a plan's counts. Stored per mirrored user (``okta_user_tallies``)
    so that a sync that reads only the users that changed can sum everyone else's in SQL
    (``RestOfOrg``) and still report what a plan of everyone reports."""

    in_scope: bool
    kept: tuple[bool, ...]  # per CLAUSES: the clause keeps the user on its own (set filters)
    quality: DataQuality  # counted for active in-scope employees only
    with_employment: bool  # the user has a value for the employment attribute
    employment: tuple[str, ...]  # sorted loose keys of those values

    def text(self) -> str:
        """The stored form: digits, then the keys as ASCII JSON (any value, NUL included,
        stays storable)."""
        q = self.quality
        digits = "".join("1" if k else "0" for k in self.kept)
        digits += f"{q.invalid_phones}{q.unknown_countries}{q.incomplete_addresses}"
        digits += "1" if self.with_employment else "0"
        return digits + json.dumps(list(self.employment), ensure_ascii=True)

    @classmethod
    def parse(cls, in_scope: bool, text: str) -> UserTally:
        n = len(CLAUSES)
        return cls(
            in_scope=in_scope,
            kept=tuple(c == "1" for c in text[:n]),
            quality=DataQuality(int(text[n]), int(text[n + 1]), int(text[n + 2])),
            with_employment=text[n + 3] == "1",
            employment=tuple(json.loads(text[n + 4 :])),
        )


@dataclass(frozen=True)
class RestOfOrg:
    """The counts of the users a plan does not see: everyone but the users a sync read
    (those that changed, and rows that lose a team), from ``OrgTotals`` less what the read
    users' stored tallies say. Their rows all stand as they are (``unchanged``)."""

    users: int = 0
    matched: int = 0
    kept: tuple[int, ...] = (0,) * len(CLAUSES)
    quality: DataQuality = field(default_factory=DataQuality)
    with_employment: int = 0
    employment_seen: frozenset[str] = frozenset()
    used: frozenset[str] = frozenset()  # groups with an in-scope member among them
    group_members: dict[str, int] = field(default_factory=dict)  # members among them, by group
    rows: int = 0
    # Whether, counting the read users as they were, nobody had the employment attribute: a
    # plan that finds otherwise now must see every row (``keep_employment`` flipped).
    employment_was_missing: bool = False


class WholeStateNeeded(Exception):
    """A plan of some users cannot stand for a plan of everyone: plan with the whole state."""


def rest_of(totals: OrgTotals, state: DirectoryState) -> RestOfOrg | None:
    """``totals`` less what the users in ``state`` (read by ``Directory.load_users``) added;
    None when their tallies do not account for them (a mirrored user without one)."""
    if any(user_id not in state.tallies for user_id in state.okta_users):
        return None
    counts = dict(totals.tallies)
    all_with_employment = sum(
        n for (_, text), n in counts.items() if UserTally.parse(False, text).with_employment
    )
    for in_scope, text in state.tallies.values():
        left = counts.get((in_scope, text), 0) - 1
        if left < 0:
            return None
        counts[(in_scope, text)] = left
    users = matched = with_employment = 0
    kept = [0] * len(CLAUSES)
    quality = DataQuality()
    seen: set[str] = set()
    for (in_scope, text), n in counts.items():
        if n == 0:
            continue
        tally = UserTally.parse(in_scope, text)
        users += n
        matched += n if in_scope else 0
        kept = [k + (n if on else 0) for k, on in zip(kept, tally.kept, strict=True)]
        quality += DataQuality(
            tally.quality.invalid_phones * n,
            tally.quality.unknown_countries * n,
            tally.quality.incomplete_addresses * n,
        )
        with_employment += n if tally.with_employment else 0
        seen.update(tally.employment)
    in_scope_members = dict(totals.in_scope_members)
    group_members = dict(totals.group_members)
    for group_id, user_ids in state.okta_members.items():
        group_members[group_id] = group_members.get(group_id, 0) - len(user_ids)
        in_scope_members[group_id] = in_scope_members.get(group_id, 0) - sum(
            1 for u in user_ids if state.tallies.get(u, (False, ""))[0]
        )
    if any(n < 0 for n in (*group_members.values(), *in_scope_members.values())):
        return None
    rows = totals.rows - len(state.employees)
    if rows < 0:
        return None
    return RestOfOrg(
        users=users,
        matched=matched,
        kept=tuple(kept),
        quality=quality,
        with_employment=with_employment,
        employment_seen=frozenset(seen),
        used=frozenset(g for g, n in in_scope_members.items() if n > 0),
        group_members=group_members,
        rows=rows,
        employment_was_missing=sum(totals.tallies.values()) > 0 and all_with_employment == 0,
    )


@dataclass
class OktaSnapshot:
    """The org as this sync sees it: users, team groups and their members."""

    users: dict[str, OktaUserRecord] = field(default_factory=dict)
    groups: dict[str, OktaGroupRecord] = field(default_factory=dict)
    members: dict[str, frozenset[str]] = field(default_factory=dict)  # group id -> user ids

    @functools.cached_property
    def user_groups(self) -> dict[str, tuple[str, ...]]:
        """user id -> the ids of their team groups, sorted; built once (groups and members
        are fixed once fetched; only users may still be completed). Tuples, which the plan
        keeps as each user's memberships as they are: a tenth of a frozen set's size for the
        handful of groups most users are in (a set of five or more has 32 slots)."""
        return groups_by_user(self.members, self.groups)


def groups_by_user(
    members: Mapping[str, Iterable[str]], groups: Collection[str]
) -> dict[str, tuple[str, ...]]:
    """user id -> the sorted ids of the ``groups`` that ``members`` (group id -> user ids, each
    once) lists them in."""
    index: dict[str, list[str]] = defaultdict(list)
    for group_id in sorted(members):
        if group_id in groups:
            for user_id in members[group_id]:
                index[user_id].append(group_id)
    # Each list freed as its tuple is made: every user's list and tuple side by side were the
    # peak of a daily full sync's plan (24 MB at 100,000 users).
    return {user_id: tuple(index.pop(user_id)) for user_id in list(index)}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One column of an updated row: ``city Berlin → Hamburg``."""

    name: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class EmployeeChange:
    """One row the sync writes, for ``okta-hris plan`` and logs."""

    okta_id: str
    display_name: str
    changes: tuple[FieldChange, ...] = ()  # changed columns with old and new values, for updates

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(change.name for change in self.changes)


@dataclass(frozen=True)
class FilterReport:
    """How the filters resolved and what each kept, for ``okta-hris plan`` and a GitOps
    reviewer: a filter change shows which groups it means and how many users each clause
    keeps. Counts are of the users Okta holds (all statuses)."""

    scope_all: bool
    users: int = 0
    team_entries: tuple[TeamEntry, ...] = ()
    group_members: tuple[tuple[str, int], ...] = ()  # (group id, members) of the entries' groups
    # (filter, its include/exclude as written, users it keeps on its own), for set filters
    kept: tuple[tuple[str, str, int], ...] = ()
    matched: int = 0


@dataclass(frozen=True)
class SyncPlan:
    """Every write one sync makes, and the names and counts that report it. Never mutated:
    the engine derives a new plan (``dataclasses.replace``) when it adds bookkeeping."""

    changes: DirectoryChanges
    matched: int = 0
    created: tuple[EmployeeChange, ...] = ()  # each list ordered by name
    updated: tuple[EmployeeChange, ...] = ()
    deactivated: tuple[EmployeeChange, ...] = ()
    reactivated: tuple[EmployeeChange, ...] = ()
    unchanged: int = 0
    data_quality: DataQuality = field(default_factory=DataQuality)
    filters: FilterReport = field(default_factory=lambda: FilterReport(scope_all=True))
    warnings: tuple[PlanWarning, ...] = ()
    teams: int = 0  # teams the directory holds after this sync
    skipped: int = 0  # Okta users left out because the directory cannot store them as sent

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
    data_quality: DataQuality = field(default_factory=DataQuality)
    filters: FilterReport = field(default_factory=lambda: FilterReport(scope_all=True))
    warnings: list[PlanWarning] = field(default_factory=list)
    teams: int = 0
    skipped: int = 0
    created: list[EmployeeChange] = field(default_factory=list)
    updated: list[EmployeeChange] = field(default_factory=list)
    deactivated: list[EmployeeChange] = field(default_factory=list)
    reactivated: list[EmployeeChange] = field(default_factory=list)
    employees_create: list[EmployeeRow] = field(default_factory=list)
    employees_update: list[EmployeeRow] = field(default_factory=list)
    teams_upsert: list[Team] = field(default_factory=list)
    teams_delete: list[str] = field(default_factory=list)
    memberships_add: dict[str, tuple[str, ...]] = field(default_factory=dict)
    memberships_remove: dict[str, tuple[str, ...]] = field(default_factory=dict)
    okta_users_upsert: list[OktaUserRecord] = field(default_factory=list)
    okta_users_delete: list[str] = field(default_factory=list)
    okta_groups_upsert: list[OktaGroupRecord] = field(default_factory=list)
    okta_groups_delete: list[str] = field(default_factory=list)
    okta_members_add: dict[str, tuple[str, ...]] = field(default_factory=dict)
    okta_members_remove: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tallies_upsert: list[tuple[str, bool, str]] = field(default_factory=list)
    tallies_delete: list[str] = field(default_factory=list)
    tallies_whole: bool = False
    # Rows leaving scope, settled once the used teams are known: (row, memberships, status,
    # lastUpdated).
    leaving: list[tuple[EmployeeRow, tuple[str, ...], str, datetime]] = field(default_factory=list)

    def build(self) -> SyncPlan:
        changes = DirectoryChanges(
            integration=self.integration,
            synced_at=self.now,
            employees_create=tuple(self.employees_create),
            employees_update=tuple(self.employees_update),
            teams_upsert=tuple(self.teams_upsert),
            teams_delete=tuple(self.teams_delete),
            memberships_add=Pairs(self.memberships_add),
            memberships_remove=Pairs(self.memberships_remove),
            okta_users_upsert=tuple(self.okta_users_upsert),
            okta_users_delete=tuple(self.okta_users_delete),
            okta_groups_upsert=tuple(self.okta_groups_upsert),
            okta_groups_delete=tuple(self.okta_groups_delete),
            okta_members_add=Pairs(self.okta_members_add),
            okta_members_remove=Pairs(self.okta_members_remove),
            tallies_upsert=tuple(self.tallies_upsert),
            tallies_delete=tuple(self.tallies_delete),
            tallies_whole=self.tallies_whole,
        )
        return SyncPlan(
            changes=changes,
            matched=self.matched,
            created=_by_name(self.created),
            updated=_by_name(self.updated),
            deactivated=_by_name(self.deactivated),
            reactivated=_by_name(self.reactivated),
            unchanged=self.unchanged,
            data_quality=self.data_quality,
            filters=self.filters,
            warnings=tuple(self.warnings),
            teams=self.teams,
            skipped=self.skipped,
        )


def _by_name(changes: list[EmployeeChange]) -> tuple[EmployeeChange, ...]:
    """By name, then id: two stable sorts in place, keyed by one string each, rather than a
    tuple of two per change (a first sync creates 100,000: 6 MB at the plan's peak)."""
    changes.sort(key=_ID)
    changes.sort(key=lambda change: change.display_name.casefold())
    return tuple(changes)


_ID = operator.attrgetter("okta_id")


def _differing(old: Employee, new: Employee) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, getattr(old, name), getattr(new, name))
        for name in COMPARED_FIELDS
        if getattr(old, name) != getattr(new, name)
    )


def _row(
    employee: Employee,
    integration: str,
    first: datetime,
    now: datetime,
    deactivated: datetime | None,
    **decided: Any,
) -> EmployeeRow:
    """``employee``'s row, with the fields in ``decided`` as given there instead."""
    return EmployeeRow(
        **(field_values(employee) | decided),
        integration=integration,
        first_synced_at=first,
        last_synced_at=now,
        deactivated_at=None if employee.active else deactivated,
    )


@collection_paused()  # every user's row, tally and mirror record (okta_hris.memory)
def compute_plan(
    spec: OktaIntegrationSpec,
    integration: str,
    state: DirectoryState,
    snapshot: OktaSnapshot,
    now: datetime,
    filters: ResolvedFilters | None = None,
    *,
    trust_rows: bool = False,
    premapped: Premapped | None = None,
    rest: RestOfOrg | None = None,
) -> SyncPlan:
    """Every write of one sync. ``filters`` are the spec's, resolved against
    ``snapshot.groups`` (raises ``UnknownTeam`` when resolving them here fails).

    ``trust_rows`` (an incremental sync: the spec is the one the rows were synced with) lets
    a row stand for the employee a user maps to when nothing it was mapped from moved (see
    ``_RowsOfLastSync``), instead of mapping every user again; a full sync maps everyone.
    ``premapped``: users mapped already (``premap``), while the sync was still listing; the
    plan takes each entry out as it uses it, and empties it once past the users.

    ``rest``: ``state`` and ``snapshot`` hold only some users (those an incremental sync
    found changed, and rows that may lose a team); ``rest`` counts everyone else, whose rows
    all stand. The plan is then the one of the whole org. Raises ``WholeStateNeeded`` when
    it cannot be: a team group was added, removed or renamed, or the employment attribute
    appeared or went from the whole org."""
    if filters is None:
        filters = resolve_filters(spec, snapshot.groups, state.okta_groups)
    plan = changes = _PlanBuilder(integration, now)
    snapshot, skipped = _leave_out_unstorable(plan, snapshot)
    user_groups = snapshot.user_groups
    last_sync = _RowsOfLastSync.of(state, snapshot) if trust_rows or rest is not None else None
    if rest is not None and last_sync is None:
        raise WholeStateNeeded("a team group was added, removed or renamed")
    # A left-out user's row keeps its teams: as far as this sync goes, nothing happened to them.
    membership_target: dict[str, Collection[str]] = {
        okta_id: frozenset(g for g in state.memberships.get(okta_id, ()) if g in snapshot.groups)
        for okta_id in skipped
        if okta_id in state.employees
    }
    attribute = spec.mapping.employment_attribute
    # Each user's employment values, read once: whether anyone has them decides the plan's
    # first step, and the filters read them again for each user.
    employment_of = {
        user_id: values
        for user_id, user in snapshot.users.items()
        if (values := employment_values(user.profile, attribute))
    }
    with_employment = employment_of.keys()
    if rest is None:
        keep_employment = bool(snapshot.users) and not with_employment
    else:
        keep_employment = (
            rest.users + len(snapshot.users) > 0
            and not rest.with_employment
            and not with_employment
        )
        if keep_employment != rest.employment_was_missing:
            raise WholeStateNeeded("the employment attribute appeared or went")
        plan.matched, plan.unchanged = rest.matched, rest.rows
        plan.data_quality = rest.quality
    if keep_employment and filters.employment_include:
        raise EmploymentAttributeMissing(
            f"no Okta user has the profile attribute {describe_value(attribute)} "
            "(spec.mapping.employmentAttribute), so spec.filters.employment.include would keep "
            "nobody; nothing was applied"
        )
    if keep_employment:
        plan.warnings.append(
            PlanWarning(
                "EmploymentAttributeMissing",
                f"no Okta user has the profile attribute {describe_value(attribute)} "
                "(spec.mapping.employmentAttribute); employment values are left as they were",
            )
        )
    kept = _ClauseCounter(filters, spec, rest)
    tallies = _Tallies(state)

    for user in snapshot.users.values():
        group_ids = user_groups.get(user.id, ())
        # Taken out as each user is planned: a premapped employee is freed once its row is
        # built, rather than both living until the plan ends (250 MB at 100,000 users).
        mapped = premapped.pop(user.id, None) if premapped is not None else None
        profiled = mapped[1] if mapped is not None and mapped[0] is user else None
        facts = filters.facts(
            user,
            group_ids,
            employment_of.get(user.id, ()) if filters.employment_attribute == attribute else None,
            # The country as the premapped employee has it, not the profile decoded again.
            profiled.country_code if profiled is not None else ...,
        )
        mask = kept.count(facts)
        has_employment = user.id in with_employment
        employment = tuple(sorted(facts.employment))
        existing = state.employees.get(user.id)
        if not filters.keeps(facts):
            tallies.add(user.id, UserTally(False, mask, DataQuality(), has_employment, employment))
            if existing is not None:
                # Out of scope: the row stays, inactive, and we stop syncing the person's details.
                memberships = state.memberships.get(user.id, ())
                plan.leaving.append((existing, memberships, user.status, user.last_updated))
            continue
        plan.matched += 1
        membership_target[user.id] = group_ids
        team_names = tuple(sorted({snapshot.groups[g].name for g in group_ids}))
        if (
            existing is not None
            and last_sync is not None
            and existing.teams == team_names
            and last_sync.mapped(existing, user, group_ids, keep_employment, attribute)
        ):
            quality = quality_of(user, existing) if existing.active else DataQuality()
            plan.data_quality += quality
            tallies.add(user.id, UserTally(True, mask, quality, has_employment, employment))
            plan.unchanged += 1
            continue
        if profiled is None:
            profiled = map_profile(user, spec)
        # What the user's record alone does not decide: teams, and a kept employment value. A
        # new employee's row is made with them at once, not through an employee first.
        decided: dict[str, Any] = {"teams": team_names}
        if keep_employment:
            kept_value = existing.employment_status if existing is not None else None
            decided["employment_status"] = kept_value
        # The quality of an employee reads neither teams nor employment.
        quality = quality_of(user, profiled) if profiled.active else DataQuality()
        plan.data_quality += quality
        tallies.add(user.id, UserTally(True, mask, quality, has_employment, employment))
        if existing is None:
            row = _row(profiled, integration, now, now, now, **decided)
            changes.employees_create.append(row)
            plan.created.append(EmployeeChange(user.id, profiled.display_name))
            continue
        desired = dataclasses.replace(profiled, **decided)
        changed = _differing(existing, desired)
        if not changed:
            plan.unchanged += 1
            continue
        deactivated_at = existing.deactivated_at if not existing.active else now
        changes.employees_update.append(
            _row(desired, integration, existing.first_synced_at, now, deactivated_at)
        )
        _classify(plan, existing, desired, changed)
    # What only the users' loop needed, freed before the rest of the plan adds its part: a
    # dict emptied by pops keeps its table, and each user's employment values their tuple
    # (at 100,000 users 12 MB of a full sync's peak, the end of the plan).
    del employment_of, with_employment
    if premapped is not None:
        premapped.clear()

    for okta_id, existing in state.employees.items():
        if okta_id not in snapshot.users and okta_id not in skipped:
            memberships = state.memberships.get(okta_id, ())
            plan.leaving.append((existing, memberships, DELETED_STATUS, existing.okta_last_updated))

    used = _used_teams(snapshot, membership_target, filters, rest)
    _freeze_teams(plan, used, snapshot)
    _plan_teams(changes, state, snapshot, used)
    _plan_memberships(changes, state, used, membership_target)
    _plan_mirror(changes, state, snapshot, membership_target, attribute, skipped)
    plan.warnings.extend(_unmatched_employment(spec, filters, kept.employment_seen))
    plan.teams = len(used)
    plan.filters = kept.report(snapshot, plan.matched, rest)
    plan.tallies_upsert, plan.tallies_delete = tallies.changes(snapshot, skipped)
    plan.tallies_whole = not skipped
    return plan.build()


class _Tallies:
    """Each user's tally as this plan counts it, against the one stored."""

    def __init__(self, state: DirectoryState) -> None:
        self.stored = state.tallies
        self.upsert: list[tuple[str, bool, str]] = []
        self._texts: dict[str, str] = {}  # most users' tallies read alike: one string each

    def add(self, user_id: str, tally: UserTally) -> None:
        text = tally.text()
        text = self._texts.setdefault(text, text)
        if self.stored.get(user_id) != (tally.in_scope, text):
            self.upsert.append((user_id, tally.in_scope, text))

    def changes(
        self, snapshot: OktaSnapshot, skipped: frozenset[str]
    ) -> tuple[list[tuple[str, bool, str]], list[str]]:
        gone = sorted(set(self.stored) - snapshot.users.keys() - skipped)
        return self.upsert, gone


class _RowsOfLastSync:
    """Which rows are what ``map_user`` would make of their user now, without mapping them.

    A user in scope whose mirror record is the one Okta answered now and whose team groups are
    the mirror's was in scope at the last sync too, with the same facts: the spec is the same
    (an incremental sync), and so are the groups the filters resolve against (``of`` asks).
    That sync mapped the very record with the very team names into the row, so the row is the
    mapping. The caller checks the row's teams too: a user the directory could not store (left
    out, row and mirror record as they were) still had the mirror's memberships follow Okta.
    One exception: a row whose employment value was kept while no user had the attribute is
    mapped again once someone has it, unless the user has it too (then nobody lacked it at
    that sync either).
    """

    def __init__(self, state: DirectoryState, mirror_groups: dict[str, tuple[str, ...]]) -> None:
        self.state = state
        self.mirror_groups = mirror_groups

    @classmethod
    def of(cls, state: DirectoryState, snapshot: OktaSnapshot) -> _RowsOfLastSync | None:
        """None when a team group was added, removed, renamed or retyped since the last sync
        (filters name groups: they may resolve differently), else the mirror's memberships by
        user."""
        if group_names(state.okta_groups) != group_names(snapshot.groups):
            return None
        # Sorted tuples, as ``OktaSnapshot.user_groups`` holds the groups of each user now.
        return cls(state, groups_by_user(state.okta_members, state.okta_groups))

    def mapped(
        self,
        row: EmployeeRow,
        user: OktaUserRecord,
        group_ids: tuple[str, ...],
        keep_employment: bool,
        attribute: str,
    ) -> bool:
        """``group_ids``: the user's team groups now, sorted (``OktaSnapshot.user_groups``)."""
        mirrored = self.state.okta_users.get(user.id)
        if mirrored is None or not (mirrored is user or mirrored == user):
            return False
        if self.mirror_groups.get(user.id, ()) != group_ids:
            return False
        return (
            keep_employment
            or row.employment_status is None
            or bool(employment_values(user.profile, attribute))
        )


def group_names(groups: Mapping[str, OktaGroupRecord]) -> dict[str, tuple[str, str]]:
    """Each team group's (type, name): what filters resolve against."""
    return {group_id: (group.type, group.name) for group_id, group in groups.items()}


def _leave_out_unstorable(
    plan: _PlanBuilder, snapshot: OktaSnapshot
) -> tuple[OktaSnapshot, frozenset[str]]:
    """The snapshot without the users and groups the directory cannot store as Okta sent them
    (mapping.unstorable), and the ids of those users. One such user must not fail the sync of
    everyone (nor fail it on PostgreSQL only): they are left out, named in a warning, counted;
    their rows (teams included) and mirror entries stay as they were. Member ids that cannot
    be stored (a ghost member's, say) are dropped from the memberships."""
    reasons = {
        okta_id: reason
        for okta_id, user in snapshot.users.items()
        if (reason := unstorable(user)) is not None
    }
    bad_groups = sorted(g for g in snapshot.groups if not storable_id(g))
    bad_members = any(not storable_id(u) for ids in snapshot.members.values() for u in ids)
    if not reasons and not bad_groups and not bad_members:
        return snapshot, frozenset()
    skipped = frozenset(reasons)
    plan.skipped = len(skipped)
    if reasons:
        named = [f"{shown_id(i)} ({reason})" for i, reason in sorted(reasons.items())]
        more = len(named) - SKIPPED_NAMED
        listed = "; ".join(named[:SKIPPED_NAMED]) + (f"; and {more} more" if more > 0 else "")
        plan.warnings.append(
            PlanWarning(
                "UsersSkipped",
                f"{len(named)} Okta user{'' if len(named) == 1 else 's'} left out of this sync, "
                f"their directory rows as they were: {listed}",
            )
        )
    if bad_groups:
        plan.warnings.append(
            PlanWarning(
                "GroupsSkipped",
                f"{len(bad_groups)} Okta group{'' if len(bad_groups) == 1 else 's'} left out "
                "of this sync (an id the directory cannot store): "
                + ", ".join(shown_id(g) for g in bad_groups[:SKIPPED_NAMED]),
            )
        )
    groups = {gid: group for gid, group in snapshot.groups.items() if storable_id(gid)}
    return (
        OktaSnapshot(
            users={i: u for i, u in snapshot.users.items() if i not in skipped},
            groups=groups,
            members={
                gid: frozenset(u for u in members if storable_id(u))
                for gid, members in snapshot.members.items()
                if gid in groups
            },
        ),
        skipped,
    )


class _ClauseCounter:
    """How many users each set filter keeps on its own, for the plan's filter lines."""

    def __init__(
        self, filters: ResolvedFilters, spec: OktaIntegrationSpec, rest: RestOfOrg | None
    ) -> None:
        self.filters = filters
        self.spec = spec
        self.users = rest.users if rest is not None else 0
        checks = {
            "countries": (filters.countries_include, filters.countries_exclude),
            "teams": (filters.teams_include, filters.teams_exclude),
            "status": (filters.status_include, filters.status_exclude),
            "employment": (filters.employment_include, filters.employment_exclude),
        }
        tests = {
            "countries": filters.keeps_country,
            "teams": filters.keeps_teams,
            "status": filters.keeps_status,
            "employment": filters.keeps_employment,
        }
        # The set filters' own tests; none under scope All, which keeps everyone.
        self.tests = [
            (name, tests[name])
            for name, sides in checks.items()
            if any(sides) and not filters.scope_all
        ]
        rested = dict(zip(CLAUSES, rest.kept, strict=True)) if rest is not None else {}
        self.kept = {name: rested.get(name, 0) for name, _ in self.tests}
        # loose keys of every employment value seen
        self.employment_seen: set[str] = set(rest.employment_seen) if rest is not None else set()

    def count(self, facts: ScopeFacts) -> tuple[bool, ...]:
        """Count one user; which set filters keep them on their own (per CLAUSES)."""
        self.users += 1
        self.employment_seen.update(facts.employment)
        keeps_of = {name: keeps(facts) for name, keeps in self.tests}
        for name, keeps_it in keeps_of.items():
            if keeps_it:
                self.kept[name] += 1
        return tuple(keeps_of.get(name, False) for name in CLAUSES)

    def report(self, snapshot: OktaSnapshot, matched: int, rest: RestOfOrg | None) -> FilterReport:
        entries = self.filters.team_entries
        group_ids = sorted({g for e in entries for g in e.group_ids})
        others = rest.group_members if rest is not None else {}
        return FilterReport(
            scope_all=self.filters.scope_all,
            users=self.users,
            team_entries=entries,
            group_members=tuple(
                (g, len(snapshot.members.get(g, frozenset())) + others.get(g, 0)) for g in group_ids
            ),
            kept=tuple((name, self._written(name), n) for name, n in self.kept.items()),
            matched=matched,
        )

    def _written(self, name: str) -> str:
        clause = getattr(self.spec.filters, name)
        return "; ".join(
            f"{side} {', '.join(values)}"
            for side, values in (("include", clause.include), ("exclude", clause.exclude))
            if values
        )


def _unmatched_employment(
    spec: OktaIntegrationSpec, filters: ResolvedFilters, seen: set[str]
) -> list[PlanWarning]:
    """An employment entry no user's value matches (a typo, most likely) is said, with a
    did-you-mean among the values Okta holds and spec.mapping.employmentValues."""
    if filters.scope_all:
        return []
    known = {loose_key(v): v for v in spec.mapping.employment_values}
    warnings = []
    clause = spec.filters.employment
    for side, entries in (("include", clause.include), ("exclude", clause.exclude)):
        for index, entry in enumerate(entries):
            if loose_key(entry) in seen:
                continue
            hint = ""
            close = difflib.get_close_matches(loose_key(entry), sorted(seen | set(known)), 1, 0.7)
            if close:
                hint = f"; did you mean {describe_value(known.get(close[0], close[0]))}?"
            warnings.append(
                PlanWarning(
                    "EmploymentValueUnmatched",
                    f"spec.filters.employment.{side}[{index}]: {describe_value(entry)} matches no Okta "
                    f"user's {describe_value(spec.mapping.employment_attribute)}{hint}",
                )
            )
    return warnings


def _used_teams(
    snapshot: OktaSnapshot,
    target: Mapping[str, Collection[str]],
    filters: ResolvedFilters,
    rest: RestOfOrg | None,
) -> frozenset[str]:
    """The teams the directory holds (SPEC §9): groups with at least one in-scope member,
    minus the excluded ones."""
    used = {g for group_ids in target.values() for g in group_ids if g in snapshot.groups}
    if rest is not None:
        used.update(g for g in rest.used if g in snapshot.groups)
    return frozenset(used - filters.teams_exclude)


def _classify(
    plan: _PlanBuilder, existing: Employee, desired: Employee, changed: tuple[FieldChange, ...]
) -> None:
    change = EmployeeChange(desired.okta_id, desired.display_name, changed)
    if existing.active and not desired.active:
        plan.deactivated.append(change)
    else:
        if desired.active and not existing.active:
            plan.reactivated.append(change)
        plan.updated.append(change)


def _freeze_teams(plan: _PlanBuilder, used: frozenset[str], snapshot: OktaSnapshot) -> None:
    """Rows leaving scope (or gone from Okta) become inactive, their details frozen; they keep
    their last teams that the directory still holds, by current name, so ``employees.teams``
    always agrees with ``employee_teams`` and ``teams``."""
    now = plan.now
    for existing, memberships, okta_status, okta_last_updated in plan.leaving:
        teams = tuple(sorted({snapshot.groups[g].name for g in memberships if g in used}))
        if not existing.active and existing.okta_status == okta_status and existing.teams == teams:
            plan.unchanged += 1
            continue
        row = dataclasses.replace(
            existing,
            active=False,
            okta_status=okta_status,
            okta_last_updated=okta_last_updated,
            teams=teams,
            last_synced_at=now,
            deactivated_at=existing.deactivated_at if not existing.active else now,
        )
        plan.employees_update.append(row)
        change = EmployeeChange(existing.okta_id, existing.display_name, _differing(existing, row))
        if existing.active:
            plan.deactivated.append(change)
        else:
            plan.updated.append(change)


def _plan_teams(
    changes: _PlanBuilder, state: DirectoryState, snapshot: OktaSnapshot, used: frozenset[str]
) -> None:
    for group_id in sorted(used):
        group = snapshot.groups[group_id]
        team = Team(okta_group_id=group.id, name=group.name, description=group.description)
        if state.teams.get(group.id) != team:
            changes.teams_upsert.append(team)
    changes.teams_delete = sorted(set(state.teams) - used)


def _plan_memberships(
    changes: _PlanBuilder,
    state: DirectoryState,
    used: frozenset[str],
    target: Mapping[str, Collection[str]],
) -> None:
    """employee_teams follows Okta for users in scope; rows out of scope keep their last teams
    that the directory still holds."""
    for okta_id in set(state.memberships) | set(target):
        old = frozenset(state.memberships.get(okta_id, ()))
        given = target.get(okta_id)
        if given is None:  # out of scope or gone: frozen
            given = old
        new = frozenset(g for g in given if g in used)
        if added := new - old:
            changes.memberships_add[okta_id] = _sorted_as(added, given)
        if removed := old - new:
            changes.memberships_remove[okta_id] = tuple(sorted(removed))


def _sorted_as(groups: frozenset[str], given: Collection[str]) -> tuple[str, ...]:
    """``groups`` sorted, as the very tuple ``given`` (a user's sorted groups, of
    ``groups_by_user``) when they are all of it: a first sync adds every user's groups,
    and ``Pairs`` keeps that tuple rather than a copy of it (10 MB at 100,000 users)."""
    if isinstance(given, tuple) and len(given) == len(groups):
        return given
    return tuple(sorted(groups))


def minimal_profile(profile: dict[str, Any], employment_attribute: str | None) -> dict[str, Any]:
    """What the mirror keeps of a user never in scope: the values the filters read (and
    ``keep_employment``: the employment attribute), and the mark."""
    keys = (*MINIMAL_PROFILE_KEYS, *((employment_attribute,) if employment_attribute else ()))
    return {key: profile[key] for key in keys if key in profile} | {MINIMAL_MARK: True}


def is_minimal(user: OktaUserRecord) -> bool:
    """Whether the mirror holds only the filters' values of this user (never in scope then).
    Marked so; a profile without ``login`` (which Okta requires) is one minimised by
    migration 0003."""
    return user.profile.get(MINIMAL_MARK) is True or "login" not in user.profile


def _plan_mirror(
    changes: _PlanBuilder,
    state: DirectoryState,
    snapshot: OktaSnapshot,
    target: Mapping[str, Collection[str]],
    employment_attribute: str | None,
    skipped: frozenset[str],
) -> None:
    """The mirror keeps whole profiles of users who are or were in scope (they have a row)
    and only the filters' values of everyone else (SPEC §9 privacy). Left-out users' entries
    are kept as they were."""
    has_row = set(state.employees) | set(target)
    upserts: list[OktaUserRecord] = []
    for user_id, user in snapshot.users.items():
        if user_id not in has_row:
            user = user.replace(profile=minimal_profile(user.profile, employment_attribute))
        # Every record holds its profile as the mirror stores it (domain/profiles.py).
        if state.okta_users.get(user_id) != user:
            upserts.append(user)
    changes.okta_users_upsert = upserts
    changes.okta_users_delete = sorted(set(state.okta_users) - set(snapshot.users) - skipped)
    changes.okta_groups_upsert = [
        group
        for group_id, group in snapshot.groups.items()
        if state.okta_groups.get(group_id) != group
    ]
    changes.okta_groups_delete = sorted(set(state.okta_groups) - set(snapshot.groups))
    for group_id in set(state.okta_members) | set(snapshot.members):
        old = state.okta_members.get(group_id, frozenset())
        # Okta's word even for left-out users: an incremental sync relists a group only when
        # Okta says its membership moved, so a membership kept here would never be corrected.
        new = snapshot.members.get(group_id, frozenset())
        if added := new - old:
            changes.okta_members_add[group_id] = tuple(sorted(added))
        if removed := old - new:
            changes.okta_members_remove[group_id] = tuple(removed)

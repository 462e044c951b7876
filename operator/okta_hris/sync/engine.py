"""One sync of one integration: fetch Okta, plan, hold or apply (SPEC §3).

The outer loop is the only place with I/O: the Okta client over HTTP and the directory (in a
worker thread, since SQLAlchemy is synchronous). Deciding who belongs and what changes is
``plan.compute_plan``, a pure function.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from okta_hris import memory
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import (
    DirectoryState,
    DirectorySummary,
    OktaGroupRecord,
    OktaUserRecord,
    SyncMode,
    SyncOutcome,
    SyncRunRecord,
    SyncState,
    SyncStats,
)
from okta_hris.domain.employees import Employee
from okta_hris.domain.events import EventBatch
from okta_hris.domain.okta import ALL_OKTA_STATUSES
from okta_hris.errors import (
    DeactivationThresholdExceeded,
    HrisError,
    OktaApiError,
    OktaForbidden,
    OktaUnavailable,
)
from okta_hris.invitations import plan_invitations
from okta_hris.okta import (
    MAX_CLOCK_SKEW,
    OktaClient,
    OktaCredential,
    OktaGroup,
    OktaNotFound,
    OktaUser,
    OktaUserFields,
)
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.settings import Settings, check_okta_url_override
from okta_hris.sync.filters import ResolvedFilters, resolve_filters
from okta_hris.sync.mapping import clean_text, shared, storable_id
from okta_hris.sync.membership_log import LOG_FILTER, MembershipLog, settle_members
from okta_hris.sync.plan import (
    OktaSnapshot,
    Premapped,
    RestOfOrg,
    SyncPlan,
    WholeStateNeeded,
    compute_plan,
    group_names,
    is_minimal,
    premap,
    rest_of,
)

logger = logging.getLogger(__name__)

FULL_SYNC_EVERY = timedelta(hours=24)
# A last full sync stored later than now by more than this is not believed: the sync is Full.
CLOCK_TOLERANCE = timedelta(minutes=10)
# Okta's search index trails writes by a little; re-reading a few minutes is cheap and exact.
WATERMARK_MARGIN = timedelta(minutes=2)
# A plain listing omits DEPROVISIONED users; search returns every status it names.
SEARCH_ALL_USERS = " or ".join(f'status eq "{s}"' for s in ALL_OKTA_STATUSES)
# Okta's Date header counts whole seconds, the estimate of its clock too (plus one for slack).
DATE_RESOLUTION = timedelta(seconds=2)
# Users read whole by id in one search (``id eq "…" or …``): short enough for any URL limit.
WHOLE_PROFILES_PER_SEARCH = 50
_OKTA_ID = re.compile(r"[A-Za-z0-9]{1,64}")
# A failed run's error as stored: room for any of our messages, not for a server's essay.
MAX_RUN_ERROR = 1000
# A targeted sync reads each user by id; past this many the incremental listing is cheaper.
MAX_TARGETED_USERS = 100


class SyncProgress(Protocol):
    """Told about listings as they go (the CLI draws a progress bar from it)."""

    def start(self, listing: str, total: int | None) -> None: ...

    def advance(self, listing: str, count: int) -> None: ...

    def waiting(self, bucket: str, seconds: float | None) -> None:
        """Requests of Okta's ``bucket`` wait ``seconds`` for its rate limit; None: no more."""


@dataclass(frozen=True)
class SyncRequest:
    integration: str  # "<namespace>/<name>"
    spec: OktaIntegrationSpec
    # The SSWS API token (a str or ApiToken), or the OAuth service app (spec.okta.oauth).
    token: str | OktaCredential = field(repr=False)
    okta_url: str | None = None  # replaces https://<subdomain>.<domain> (development and tests)
    force_full: bool = False
    approved_deactivations: int | None = None
    # Okta Event Hook events: a targeted sync of just the users and groups they name (mode
    # Event), unless the integration needs a Full sync (``choose_mode``).
    events: EventBatch | None = None


@dataclass(frozen=True)
class PlannedSync:
    """A sync computed but not applied: what ``okta-hris plan`` shows and ``apply_plan`` writes."""

    integration: str
    mode: SyncMode
    started_at: datetime
    stats: SyncStats
    plan: SyncPlan
    deactivation_limit: int
    active_before: int  # active employees before the sync, what a percentage limit is of
    hold: DeactivationThresholdExceeded | None  # the safety hold, unless approved
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per phase

    @property
    def held(self) -> bool:
        return self.hold is not None

    @property
    def invitations_queued(self) -> int:
        return len(self.plan.changes.invitations_queue)


@dataclass(frozen=True)
class SyncReport:
    """A sync that applied."""

    integration: str
    mode: SyncMode
    started_at: datetime
    finished_at: datetime
    stats: SyncStats
    plan: SyncPlan
    summary: DirectorySummary
    invitations_queued: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per phase
    deactivation_limit: int | None = None  # the safety threshold the sync was checked against

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def changed(self) -> bool:
        return self.plan.changed


def _now() -> datetime:
    return datetime.now(UTC)


def choose_mode(
    state: SyncState,
    spec_hash: str,
    force_full: bool,
    now: datetime,
    events: EventBatch | None = None,
) -> SyncMode:
    """Full when due; else Event for a batch of events, Incremental otherwise. A Full or
    Incremental sync covers whatever events asked for; so does one for a batch naming more than
    ``MAX_TARGETED_USERS`` users (a bulk change in Okta), which one listing reads cheaper."""
    if (
        force_full
        or state.watermark is None
        or state.last_full_sync_at is None
        or state.spec_hash != spec_hash
        or not timedelta(0) <= now - state.last_full_sync_at + CLOCK_TOLERANCE
        or now - state.last_full_sync_at >= FULL_SYNC_EVERY
    ):
        return "Full"
    if events is not None and len(events.user_ids) <= MAX_TARGETED_USERS:
        return "Event"
    return "Incremental"


def _user_record(user: OktaUser | OktaUserFields) -> OktaUserRecord:
    """The user as the mirror stores them (``storable_json``: no NUL, no lone surrogate, no
    NaN, bounded depth, as every record is): planned from the very profile a later sync reads
    back, a user maps, filters and counts alike whichever of them reads it."""
    # Ids interned, here and in member listings: a user's id is then one string however many
    # groups list them (400,000 memberships at 100,000 users).
    return OktaUserRecord(
        id=sys.intern(user.id),
        status=shared(user.status),
        last_updated=user.last_updated,
        profile=user.profile,
    )


def _group_record(group: OktaGroup) -> OktaGroupRecord:
    # Names become teams.name and employees.teams: one clean line, as profile values are (a NUL
    # in a group's name would otherwise stop every sync on PostgreSQL).
    return OktaGroupRecord(
        id=group.id,
        type=group.type,
        name=clean_text(group.name) or group.id,
        description=clean_text(group.description),
        last_updated=group.last_updated,
        last_membership_updated=group.last_membership_updated,
    )


_Members = dict[str, frozenset[str]]  # group id -> the ids of its members


class _Fetcher:
    """Reads Okta for one sync; counts what it fetched."""

    def __init__(
        self, client: OktaClient, spec: OktaIntegrationSpec, progress: SyncProgress | None
    ):
        self.client = client
        self.spec = spec
        self.progress = progress
        self.users_fetched = 0
        self.stale_kept = 0  # users Okta answered older than the mirror holds (kept the mirror's)
        self.premapped: Premapped | None = None  # users mapped while members were listed
        # The mirror's records, when loaded: a listed user equal to theirs is kept as that
        # one object, so a full sync of a populated directory holds most profiles once.
        self.known: Mapping[str, OktaUserRecord] = {}
        # And the mirror's members of each group, when loaded: a listing equal to theirs is
        # kept as that one set (the org's memberships, held once in a daily full sync); and
        # the rows, whose values a user maps to again are kept as the rows' own strings.
        self.known_members: Mapping[str, frozenset[str]] = {}
        self.rows: Mapping[str, Employee] = {}
        self._relisted: _Members = {}  # groups whose members this sync listed
        # Where the profiles of a long user listing wait for the apply (okta_hris.memory).
        self._spilling = memory.Spilling("Okta profiles", logger)

    def knowing(self, state: DirectoryState) -> None:
        """Keep what Okta answers as ``state``'s objects where it is the same (above)."""
        self.known, self.known_members, self.rows = (
            state.okta_users,
            state.okta_members,
            state.employees,
        )

    def _advance(self, listing: str, count: int) -> None:
        if self.progress is not None:
            self.progress.advance(listing, count)

    async def users(self, search: str) -> list[OktaUserRecord]:
        records: list[OktaUserRecord] = []
        known = self.known
        async for page in self.client.list_user_fields(search=search):
            new: list[OktaUserRecord] = []
            for user in page:
                record = _user_record(user)
                kept = known.get(record.id)
                if kept is not None and kept == record:
                    records.append(kept)
                else:
                    new.append(record)
            records.extend(self._spilling.held(new, OktaUserRecord.spilled))
            self._advance("users", len(page))
        self.users_fetched += len(records)
        return records

    async def team_groups(self) -> dict[str, OktaGroupRecord]:
        # BUILT_IN (Everyone) is never a team: teamGroupTypes only admits OKTA_GROUP / APP_GROUP.
        type_filter = " or ".join(f'type eq "{t}"' for t in self.spec.mapping.team_group_types)
        groups: dict[str, OktaGroupRecord] = {}
        async for page in self.client.list_groups(filter=type_filter):
            for group in page:
                if group.type in self.spec.mapping.team_group_types:
                    groups[group.id] = _group_record(group)
            self._advance("groups", len(page))
        return groups

    async def members(self, group_ids: Iterable[str]) -> _Members:
        async def one(group_id: str) -> tuple[str, frozenset[str]]:
            ids: set[str] = set()
            async for page in self.client.list_group_member_ids(group_id):
                ids.update(map(sys.intern, page))
            self._advance("memberships", 1)
            members = frozenset(ids)
            known = self.known_members.get(group_id)
            return group_id, known if known == members else members

        group_ids = list(group_ids)
        if self.progress is not None:
            self.progress.start("memberships", len(group_ids))
        # One listing per group, run concurrently under the client's own concurrency cap.
        async with _failing_fast() as group:
            tasks = [group.create_task(one(g)) for g in group_ids]
        return dict(t.result() for t in tasks)

    async def whole_profiles(self, snapshot: OktaSnapshot, filters: ResolvedFilters) -> None:
        """Users the mirror knew only by their filter values (never in scope) who are in scope
        now, because a group membership changed their scope without touching the user: read
        each whole, ``WHOLE_PROFILES_PER_SEARCH`` to a search (rare: the incremental listing
        has the others)."""
        minimal = [user for user in snapshot.users.values() if is_minimal(user)]
        if not minimal:  # scope All, or nobody outside it: no membership index to build
            return
        user_groups = snapshot.user_groups
        wanted = [
            user.id
            for user in minimal
            if filters.keeps(filters.facts(user, user_groups.get(user.id, ())))
        ]
        if not wanted:
            return
        found = await self.read_users(wanted)
        for user_id in wanted:  # one not found was deleted since: gone, as the log will say
            if user_id in found:
                snapshot.users[user_id] = found[user_id]
            else:
                del snapshot.users[user_id]

    async def read_users(self, user_ids: list[str]) -> dict[str, OktaUserRecord]:
        """The users of ``user_ids`` Okta has (whole), ``WHOLE_PROFILES_PER_SEARCH`` to a
        search; one it does not have is missing from the answer."""

        async def batch(user_ids: list[str]) -> list[OktaUserRecord]:
            search = " or ".join(f'id eq "{user_id}"' for user_id in user_ids)
            records: list[OktaUserRecord] = []
            async for page in self.client.list_users(search=search):
                records.extend(_user_record(u) for u in page)
            return records

        async def one(user_id: str) -> list[OktaUserRecord]:
            try:
                return [_user_record(await self.client.get_user(user_id))]
            except OktaNotFound:
                return []

        # Okta's ids are letters and digits; any other (a hostile answer) is never put in a
        # search expression, but read on its own.
        plain = [user_id for user_id in user_ids if _OKTA_ID.fullmatch(user_id)]
        odd = [user_id for user_id in user_ids if not _OKTA_ID.fullmatch(user_id)]
        async with _failing_fast() as group:
            tasks = [
                group.create_task(batch(plain[i : i + WHOLE_PROFILES_PER_SEARCH]))
                for i in range(0, len(plain), WHOLE_PROFILES_PER_SEARCH)
            ]
            tasks += [group.create_task(one(user_id)) for user_id in odd]
        wanted = set(user_ids)
        return {
            record.id: record
            for task in tasks
            for record in task.result()
            if record.id in wanted  # an answer naming others is no reason to take them
        }

    async def unknown_members(self, snapshot: OktaSnapshot) -> None:
        """Members Okta listed that its users listing did not have (created while this sync
        listed, or ghosts of an inconsistent org): each read by id, kept as a user when Okta
        has them, else left out of the memberships rather than stored for a user nobody
        knows."""
        listed = set().union(*snapshot.members.values()) if snapshot.members else set()
        unknown = sorted(listed - snapshot.users.keys())
        if not unknown:
            return
        found = await self.read_users(unknown)
        snapshot.users.update(found)
        ghosts = set(unknown) - found.keys()
        if ghosts:
            logger.warning(
                "Okta listed %d group members it has no user for (e.g. %s); left out",
                len(ghosts),
                clean_text(min(ghosts), 64) or "?",
            )
            for group_id, user_ids in snapshot.members.items():
                snapshot.members[group_id] = user_ids - ghosts

    async def membership_log(self, since: datetime, until: datetime) -> MembershipLog:
        """The System Log's membership changes and user deletions in [since, until), folded
        page by page. Without the log (403: no ``okta.logs.read``; Okta failing past the
        retries) the sync still runs, as syncs did before the log: the moved groups are listed,
        and users deleted in Okta wait for the next full sync (they are in no listing)."""
        log = MembershipLog(since, until)
        try:
            async for page in self.client.list_log_events(
                since=since, until=until, filter=LOG_FILTER
            ):
                log.record(page)
        except (OktaForbidden, OktaUnavailable, OktaApiError) as exc:
            return MembershipLog.failed(since, until, f"{exc.reason}: {exc}")
        return log

    async def full(self) -> OktaSnapshot:
        """Users, and groups then their members, listed side by side: the member listings
        (most of the requests, in the groups bucket) need not wait for the users listing (in
        its own bucket). Under scope All every user is mapped once listed, in a worker thread,
        while the member listings still wait for Okta (``premapped``)."""

        async def groups_and_members() -> tuple[dict[str, OktaGroupRecord], _Members]:
            groups = await self.team_groups()
            return groups, await self.members(groups)

        async with _failing_fast() as group:
            users_task = group.create_task(self._users_mapped(SEARCH_ALL_USERS))
            members_task = group.create_task(groups_and_members())
        groups, members = members_task.result()
        users = users_task.result()
        return OktaSnapshot(users={u.id: u for u in users}, groups=groups, members=members)

    async def _users_mapped(self, search: str) -> list[OktaUserRecord]:
        users = await self.users(search)
        if self.spec.sync.scope != "All":  # who is in scope waits for the memberships
            return users
        stop = threading.Event()
        try:
            self.premapped = await asyncio.to_thread(premap, users, self.spec, stop, self.rows)
        finally:
            stop.set()  # a listing failed: the thread stops within a batch
        return users

    async def incremental_reads(self, watermark: datetime) -> _IncrementalReads:
        """What an incremental sync reads from Okta whatever it reads from the directory: the
        users changed since the watermark, the team groups, and the System Log."""
        since = watermark.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        async with _failing_fast() as group:
            users_task = group.create_task(self.users(f'lastUpdated gt "{since}"'))
            groups = await self.team_groups()
            # ``until`` on Okta's clock, as ``since`` is (the watermark): read now that Okta's
            # answers have told it (our own would be before ``since`` with Okta ahead). Its
            # Date is whole seconds, so the estimate trails by up to one: a little past it.
            until = self.client.okta_now() + DATE_RESOLUTION
            log_task = group.create_task(self.membership_log(watermark, until))
        log = log_task.result()
        if log.distrust is not None:
            logger.warning(
                "System Log not used for memberships (%s): listing every group that moved%s",
                log.distrust,
                "; users deleted in Okta show at the next full sync" if log.unreadable else "",
            )
        return _IncrementalReads(users_task.result(), groups, log)

    async def relisted(self, group_ids: Iterable[str]) -> _Members:
        """The members of ``group_ids`` listed from Okta, each group at most once a sync."""
        group_ids = list(group_ids)
        missing = [g for g in group_ids if g not in self._relisted]
        if missing or not group_ids:
            self._relisted.update(await self.members(missing))
        return {g: self._relisted[g] for g in group_ids}

    async def incremental(self, state: DirectoryState, reads: _IncrementalReads) -> OktaSnapshot:
        """The org from the whole mirror in ``state`` and what ``reads`` found changed."""
        groups, log = reads.groups, reads.log
        # Groups are listed whole (one cheap page for most orgs) so that renamed and deleted
        # groups show; members are listed only where the log cannot vouch for the change.
        settled = settle_members(groups, state.okta_groups, state.okta_members, log)
        logger.debug(
            "Incremental sync: %d System Log events read, %d of %d groups listed",
            log.events_read,
            len(settled.relist),
            len(groups),
        )
        relisted = await self.relisted(settled.relist)
        deleted = frozenset(log.deleted_users)
        users = dict(state.okta_users)
        users.update((u.id, u) for u in reads.changed_users)
        for user_id in deleted:
            users.pop(user_id, None)
        members = {
            gid: (relisted[gid] if gid in relisted else settled.members[gid]) - deleted
            for gid in groups
        }
        return OktaSnapshot(users=users, groups=groups, members=members)

    async def changed_only(
        self, directory: Directory, integration: str, head: DirectoryState, reads: _IncrementalReads
    ) -> _ChangedOnly | None:
        """The users an incremental sync found changed, and their part of the directory,
        read without loading the rest: those Okta's listing returned, those the System Log
        names, the members a relisted group gained or lost, and the rows of teams that may
        lose their last in-scope member. The rest of the org is counted in SQL
        (``RestOfOrg``). None when that cannot stand for the whole org (a team group added,
        removed or renamed; tallies that do not add up): plan with the whole state."""
        groups, log = reads.groups, reads.log
        if group_names(head.okta_groups) != group_names(groups):
            return None
        changed = {u.id: u for u in reads.changed_users}
        deleted = frozenset(log.deleted_users)
        logged = log.named_users | deleted
        # An id the directory cannot store is in none of its rows (and cannot be looked up):
        # such a user is left out by the plan, as from the whole state.
        mirror_logged = await asyncio.to_thread(
            directory.mirror_members, integration, users=filter(storable_id, logged)
        )
        sizes = await asyncio.to_thread(directory.mirror_group_sizes, integration)
        settled = settle_members(groups, head.okta_groups, mirror_logged, log, sizes)
        relisted = await self.relisted(settled.relist)
        moved = await _moved_members(directory, integration, relisted)
        touched = set(changed) | logged | moved
        part = await _read_part(directory, integration, head, touched, "Incremental")
        if part is None:
            return None
        state, rest, active_rows = part
        read = set(state.employees) | set(state.okta_users) | touched
        users: dict[str, OktaUserRecord] = {}
        for user_id in read - deleted:
            record = changed.get(user_id) or state.okta_users.get(user_id)
            if record is not None:
                users[user_id] = record
        members: _Members = {}
        for group_id in groups:
            if group_id in relisted:
                now_members = relisted[group_id] & read
            else:
                # The mirror's members among the users read, with the log's word on those it
                # names (settled from the mirror's members among them).
                now_members = (state.okta_members.get(group_id, frozenset()) - logged) | (
                    settled.members.get(group_id, frozenset())
                )
            members[group_id] = now_members - deleted
        logger.debug(
            "Incremental sync of %s: %d System Log events, %d of %d groups listed, %d users "
            "read from the directory",
            integration,
            log.events_read,
            len(settled.relist),
            len(groups),
            len(read),
        )
        snapshot = OktaSnapshot(users=users, groups=groups, members=members)
        return _ChangedOnly(state, snapshot, rest, active_rows)

    async def targeted_reads(self, head: DirectoryState, events: EventBatch) -> _TargetedReads:
        """What an Event sync reads of Okta: each user the events named, by id (a 404: the
        user was deleted), and when groups were named, the team groups listed and the members
        re-listed of those named or moved since the mirror's records in ``head`` (as an
        incremental sync would: a group record stored with a moved ``lastMembershipUpdated``
        but old members would hide the move from it)."""

        async def one(user_id: str) -> tuple[str, OktaUserRecord | None]:
            try:
                return user_id, _user_record(await self.client.get_user(user_id))
            except OktaNotFound:
                return user_id, None

        async with _failing_fast() as group:
            user_tasks = [group.create_task(one(u)) for u in sorted(events.user_ids)]
            groups_task = group.create_task(self.team_groups()) if events.group_ids else None
        users = dict(task.result() for task in user_tasks)
        self.users_fetched += sum(1 for record in users.values() if record is not None)
        if groups_task is None:
            return _TargetedReads(users, None, {})
        groups = groups_task.result()
        relisted = await self.members(
            gid
            for gid, record in groups.items()
            if gid in events.group_ids or _group_moved(head, record)
        )
        return _TargetedReads(users, groups, relisted)

    def _merged(
        self, mirror: Mapping[str, OktaUserRecord], reads: _TargetedReads
    ) -> tuple[dict[str, OktaUserRecord], frozenset[str]]:
        """``mirror`` with the users read by id, and those Okta no longer has.

        Events arrive late and out of order: a user Okta answers with an older ``lastUpdated``
        than the mirror's (a lagging replica) keeps the mirror's record, never regresses.
        """
        users = dict(mirror)
        gone: set[str] = set()
        self.stale_kept = 0
        for user_id, record in reads.users.items():
            known = users.get(user_id)
            if record is None:
                gone.add(user_id)
                users.pop(user_id, None)
            elif known is not None and record.last_updated < known.last_updated:
                self.stale_kept += 1
            else:
                users[user_id] = record
        return users, frozenset(gone)

    def targeted(self, state: DirectoryState, reads: _TargetedReads) -> OktaSnapshot:
        """The org from the whole mirror in ``state``, updated with what an Event sync read."""
        users, gone = self._merged(state.okta_users, reads)
        groups = dict(state.okta_groups) if reads.groups is None else reads.groups
        members = {
            gid: reads.relisted.get(gid, state.okta_members.get(gid, frozenset())) - gone
            for gid in groups
        }
        return OktaSnapshot(users=users, groups=groups, members=members)

    async def targeted_part(
        self, directory: Directory, integration: str, head: DirectoryState, reads: _TargetedReads
    ) -> _ChangedOnly | None:
        """An Event sync's part of the directory, read without loading the rest (as
        ``changed_only`` reads an incremental sync's): the users the events named, the
        members a re-listed group gained or lost, and the rows of teams that may lose their
        last in-scope member. None when that cannot stand for the whole org."""
        groups = dict(head.okta_groups) if reads.groups is None else reads.groups
        if group_names(head.okta_groups) != group_names(groups):
            return None
        moved = await _moved_members(directory, integration, reads.relisted)
        touched = set(reads.users) | moved
        part = await _read_part(directory, integration, head, touched, "Event")
        if part is None:
            return None
        state, rest, active_rows = part
        read = set(state.employees) | set(state.okta_users) | touched
        merged, gone = self._merged(state.okta_users, reads)
        users = {user_id: merged[user_id] for user_id in read if user_id in merged}
        members: _Members = {}
        for group_id in groups:
            if group_id in reads.relisted:
                now_members = reads.relisted[group_id] & read
            else:  # the mirror's members among the users read
                now_members = state.okta_members.get(group_id, frozenset())
            members[group_id] = now_members - gone
        logger.debug(
            "Event sync of %s: %d of %d groups listed, %d users read from the directory",
            integration,
            len(reads.relisted),
            len(groups),
            len(read),
        )
        snapshot = OktaSnapshot(users=users, groups=groups, members=members)
        return _ChangedOnly(state, snapshot, rest, active_rows)


async def _moved_members(directory: Directory, integration: str, relisted: _Members) -> set[str]:
    """The users the ``relisted`` groups gained or lost against the mirror's members."""
    mirrored = await asyncio.to_thread(
        directory.mirror_members, integration, groups=filter(storable_id, relisted)
    )
    moved: set[str] = set()
    for group_id, now_members in relisted.items():
        moved.update(now_members ^ mirrored.get(group_id, frozenset()))
    return moved


async def _read_part(
    directory: Directory, integration: str, head: DirectoryState, touched: set[str], mode: SyncMode
) -> tuple[DirectoryState, RestOfOrg, int] | None:
    """``read_changed_part`` in a worker thread; None, said in a warning, when the tallies
    do not add up."""
    part = await asyncio.to_thread(read_changed_part, directory, integration, head, touched)
    if part is None:
        logger.warning(
            "%s sync of %s: the directory's tallies do not add up; reading it whole",
            mode,
            integration,
        )
    return part


def read_changed_part(
    directory: Directory, integration: str, head: DirectoryState, touched: Iterable[str]
) -> tuple[DirectoryState, RestOfOrg, int] | None:
    """The directory's part for a sync that touches only ``touched`` users: ``head`` (a
    ``Directory.load_head``) with their rows and mirror, plus the rows of the teams that may
    lose their last in-scope member (out of scope, frozen: a team going unused is dropped
    from them); the rest of the org's counts; and how many employees are active. None when
    the stored tallies do not add up."""
    touched = set(touched)
    # An id the directory cannot store has no row to read (nor can it be looked up).
    state = directory.load_users(integration, filter(storable_id, touched), head)
    totals = directory.org_totals(integration)
    in_scope_left = dict(totals.in_scope_members)
    for group_id, user_ids in state.okta_members.items():
        in_scope_left[group_id] = in_scope_left.get(group_id, 0) - sum(
            1 for u in user_ids if state.tallies.get(u, (False, ""))[0]
        )
    doubtful = [g for g in state.teams if in_scope_left.get(g, 0) <= 0]
    extra = directory.employees_in_teams(integration, doubtful) - touched
    if extra:
        state = directory.load_users(integration, extra, state)
    rest = rest_of(totals, state)
    return None if rest is None else (state, rest, totals.active_rows)


@dataclass(frozen=True)
class _IncrementalReads:
    changed_users: list[OktaUserRecord]
    groups: dict[str, OktaGroupRecord]
    log: MembershipLog


@dataclass(frozen=True)
class _TargetedReads:
    users: dict[str, OktaUserRecord | None]  # each named user; None: Okta has no such user
    groups: dict[str, OktaGroupRecord] | None  # the team groups, when the events named groups
    relisted: _Members  # members of the groups named or moved


@dataclass(frozen=True)
class _ChangedOnly:
    """An incremental or Event sync's part of the directory and of Okta, and the rest's
    counts."""

    state: DirectoryState
    snapshot: OktaSnapshot
    rest: RestOfOrg
    active_rows: int


def _group_moved(state: DirectoryState, group: OktaGroupRecord) -> bool:
    """Whether Okta says a group or its membership changed since the mirror's record."""
    known = state.okta_groups.get(group.id)
    return (
        known is None
        or known.last_membership_updated != group.last_membership_updated
        or known.last_updated != group.last_updated
    )


@contextlib.asynccontextmanager
async def _failing_fast() -> AsyncIterator[asyncio.TaskGroup]:
    """A TaskGroup whose first failure cancels the other listings and is raised as itself.

    Unlike ``asyncio.gather``, no listing keeps calling Okta after another failed; unlike a
    bare TaskGroup, callers see ``OktaUnavailable`` rather than an ExceptionGroup.
    """
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as failure:
        raise _first_error(failure) from None


def _first_error(failure: BaseExceptionGroup[BaseException]) -> BaseException:
    for error in failure.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return failure.exceptions[0]


def _without_future_times(integration: str, state: SyncState, now: datetime) -> SyncState:
    """The stored state without a watermark or last full sync in the future (further than any
    clock skew the Okta client accepts): one stored by an older version from a bogus Okta
    ``Date`` would otherwise fail every incremental sync and hold off the daily full one for
    good. Without them the sync is Full, and stores times from a checked clock."""
    latest = now + MAX_CLOCK_SKEW
    future = [t for t in (state.watermark, state.last_full_sync_at) if t is not None and t > latest]
    if not future:
        return state
    logger.warning(
        "Sync of %s: the stored watermark or last full sync (%s) is in the future; syncing Full",
        integration,
        max(future).isoformat(timespec="seconds"),
    )
    return replace(state, watermark=None, last_full_sync_at=None)


def _next_state(
    request: SyncRequest, state: SyncState, mode: SyncMode, fetch_start: datetime, now: datetime
) -> SyncState:
    invitations = request.spec.invitations
    return SyncState(
        spec_hash=request.spec.sync_hash(),
        watermark=fetch_start - WATERMARK_MARGIN,
        # Compared with this machine's clock (choose_mode): never later than it, so that one
        # Okta Date a day ahead cannot put the next daily full sync two days away.
        last_full_sync_at=min(fetch_start, now) if mode == "Full" else state.last_full_sync_at,
        # Invitations go only to employees first synced once invitations are on (SPEC §3).
        invitations_enabled_at=(state.invitations_enabled_at or now)
        if invitations.enabled
        else None,
    )


ClientFactory = Callable[[str, str | OktaCredential], OktaClient]


@dataclass
class _Attempt:
    """What a sync knows of itself so far: enough for the ``sync_runs`` row of a failure."""

    integration: str
    started: datetime
    mode: SyncMode | None = None  # None until the directory was read: nothing to record
    stats: SyncStats = field(default_factory=SyncStats)


async def plan_sync(
    request: SyncRequest,
    directory: Directory,
    settings: Settings,
    *,
    progress: SyncProgress | None = None,
    client_factory: ClientFactory | None = None,
) -> PlannedSync:
    """Read the directory and Okta and compute the sync; write nothing, not even a failure.

    ``client_factory(base_url, token)`` builds the Okta client (tests pass a smaller retry budget).
    """
    attempt = _Attempt(request.integration, _now())
    return await _plan(request, directory, settings, attempt, progress, client_factory)


async def apply_plan(planned: PlannedSync, directory: Directory) -> SyncReport:
    """Write a planned sync in one transaction, or record why not.

    Raises ``DeactivationThresholdExceeded`` (recorded as a held run) when the plan is held,
    and the directory's error (recorded as a failed run) when the write fails; either way the
    directory is as it was.
    """
    integration, mode, stats = planned.integration, planned.mode, planned.stats
    if planned.hold is not None:
        await _record(directory, integration, mode, planned.started_at, "held", stats, planned.hold)
        raise planned.hold
    clock = _PhaseClock(planned.timings)
    run = SyncRunRecord(
        integration, mode, planned.started_at, _now(), "succeeded", stats_json(stats)
    )
    try:
        await asyncio.to_thread(directory.apply, planned.plan.changes, run)
    except Exception as exc:
        await _record(directory, integration, mode, planned.started_at, "failed", stats, exc)
        raise
    clock.lap("apply")
    summary = await asyncio.to_thread(directory.summary, integration)
    logger.info(
        "%s sync of %s: %d fetched, %d created, %d updated, %d deactivated, %d Okta requests",
        mode,
        integration,
        stats.fetched,
        stats.created,
        stats.updated,
        stats.deactivated,
        stats.api_requests,
    )
    return SyncReport(
        integration,
        mode,
        planned.started_at,
        _now(),
        stats,
        planned.plan,
        summary,
        invitations_queued=planned.invitations_queued,
        timings=clock.laps,
        deactivation_limit=planned.deactivation_limit,
    )


async def run_sync(
    request: SyncRequest,
    directory: Directory,
    settings: Settings,
    *,
    progress: SyncProgress | None = None,
    client_factory: ClientFactory | None = None,
) -> SyncReport:
    """Plan and apply one sync. Raises the errors of ``okta_hris.errors``; a failure changes
    nothing in the directory but its ``sync_runs`` row."""
    attempt = _Attempt(request.integration, _now())
    try:
        planned = await _plan(request, directory, settings, attempt, progress, client_factory)
    except Exception as exc:
        if attempt.mode is not None:
            await _record(
                directory,
                attempt.integration,
                attempt.mode,
                attempt.started,
                "failed",
                attempt.stats,
                exc,
            )
        raise
    return await apply_plan(planned, directory)


async def _plan(
    request: SyncRequest,
    directory: Directory,
    settings: Settings,
    attempt: _Attempt,
    progress: SyncProgress | None,
    client_factory: ClientFactory | None,
) -> PlannedSync:
    started = attempt.started
    clock = _PhaseClock()
    spec_hash = request.spec.sync_hash()
    state = await asyncio.to_thread(directory.load_head, request.integration)
    mode = choose_mode(
        _without_future_times(request.integration, state.sync_state, started),
        spec_hash,
        request.force_full,
        started,
        request.events,
    )
    # An incremental or Event sync reads only the users that changed when the last apply
    # counted everyone under this spec (the tallies); a Full sync reads the whole directory.
    changed_only = mode != "Full" and state.tallies_hash == spec_hash
    if not changed_only:
        state = await asyncio.to_thread(directory.load_state, request.integration)
    clock.lap("load")
    base_url = (
        check_okta_url_override(request.okta_url)
        if request.okta_url
        else request.spec.okta.base_url
    )
    attempt.mode = mode
    factory = client_factory or functools.partial(OktaClient, max_retries=settings.okta_max_retries)
    plan: SyncPlan | None = None
    active_before: int | None = None
    async with factory(base_url, request.token) as client:
        fetcher = _Fetcher(client, request.spec, progress)
        fetcher.knowing(state)
        if progress is not None:
            client.on_wait = progress.waiting
        try:
            if mode == "Full":
                snapshot = await fetcher.full()
            elif mode == "Event":
                assert request.events is not None
                targeted = await fetcher.targeted_reads(state, request.events)
                if changed_only:
                    part = await fetcher.targeted_part(
                        directory, request.integration, state, targeted
                    )
                    plan, active_before, state = await _plan_part(
                        request, fetcher, state, part, clock, mode
                    )
                if plan is None:
                    if changed_only:
                        state = await asyncio.to_thread(directory.load_state, request.integration)
                    snapshot = fetcher.targeted(state, targeted)
            else:
                assert state.sync_state.watermark is not None
                reads = await fetcher.incremental_reads(state.sync_state.watermark)
                if changed_only:
                    part = await fetcher.changed_only(directory, request.integration, state, reads)
                    plan, active_before, state = await _plan_part(
                        request, fetcher, state, part, clock, mode
                    )
                if plan is None:
                    if changed_only:
                        state = await asyncio.to_thread(directory.load_state, request.integration)
                    snapshot = await fetcher.incremental(state, reads)
            if plan is None:
                await fetcher.unknown_members(snapshot)
                # Before planning: a team entry naming no group fails the sync here (UnknownTeam).
                filters = resolve_filters(request.spec, snapshot.groups, state.okta_groups)
                await fetcher.whole_profiles(snapshot, filters)
        finally:
            attempt.stats = SyncStats(
                fetched=fetcher.users_fetched,
                api_requests=client.stats.requests,
                rate_limited=client.stats.rate_limited,
                rate_limit_waits=client.stats.rate_limit_waits,
                rate_limit_wait_seconds=round(client.stats.rate_limit_wait_seconds, 3),
            )
        fetch_start = client.first_response_date or started
    clock.lap("fetch")
    now = plan.changes.synced_at if plan is not None else _now()
    if plan is None:
        # In a worker thread: seconds of CPU at 100k users, during which the event loop (the
        # operator's other syncs, Kopf, the liveness probe) keeps its turns.
        plan = await asyncio.to_thread(
            compute_plan,
            request.spec,
            request.integration,
            state,
            snapshot,
            now,
            filters,
            trust_rows=mode != "Full",
            premapped=fetcher.premapped,
        )
    for warning in plan.warnings:
        logger.warning("Sync of %s: %s", request.integration, warning.message)
    next_state = _next_state(request, state.sync_state, mode, fetch_start, now)
    if mode == "Event":
        # A targeted sync read only what some events named: the next incremental sync must
        # still read everything since the watermark, the net for events Okta never delivered.
        next_state = replace(next_state, watermark=state.sync_state.watermark)
        if fetcher.stale_kept:
            logger.info(
                "Event sync of %s: kept the newer record of %d users Okta answered older",
                request.integration,
                fetcher.stale_kept,
            )
    queue = plan_invitations(
        request.spec.invitations,
        state,
        [*plan.changes.employees_create, *plan.changes.employees_update],
        next_state.invitations_enabled_at,
    )
    plan = replace(
        plan,
        changes=replace(
            plan.changes,
            sync_state=next_state,
            invitations_queue=tuple(queue),
            base_version=state.version,  # refused if another sync applies first
        ),
    )
    stats = replace(
        attempt.stats,
        matched=plan.matched,
        created=len(plan.created),
        updated=len(plan.updated),
        deactivated=len(plan.deactivated),
        reactivated=len(plan.reactivated),
        unchanged=plan.unchanged,
        skipped=plan.skipped,
    )
    attempt.stats = stats
    if active_before is None:
        active_before = sum(1 for row in state.employees.values() if row.active)
    limit = request.spec.safety.limit(active_before)
    would_deactivate = len(plan.deactivated)
    held = would_deactivate > limit and request.approved_deactivations != would_deactivate
    clock.lap("plan")
    return PlannedSync(
        integration=request.integration,
        mode=mode,
        started_at=started,
        stats=stats,
        plan=plan,
        deactivation_limit=limit,
        active_before=active_before,
        hold=DeactivationThresholdExceeded(
            would_deactivate, limit, active_before, request.approved_deactivations
        )
        if held
        else None,
        timings=clock.laps,
    )


async def _plan_part(
    request: SyncRequest,
    fetcher: _Fetcher,
    head: DirectoryState,
    part: _ChangedOnly | None,
    clock: _PhaseClock,
    mode: SyncMode,
) -> tuple[SyncPlan | None, int | None, DirectoryState]:
    """The plan of an incremental or Event sync from its ``part`` of the directory
    (``_Fetcher.changed_only``, ``targeted_part``), with the active employees before it;
    (None, None, head) when only the whole state can plan it."""
    if part is None:
        return None, None, head
    snapshot = part.snapshot
    await fetcher.unknown_members(snapshot)
    filters = resolve_filters(request.spec, snapshot.groups, part.state.okta_groups)
    await fetcher.whole_profiles(snapshot, filters)
    clock.lap("fetch")
    try:
        plan = await asyncio.to_thread(
            compute_plan,
            request.spec,
            request.integration,
            part.state,
            snapshot,
            _now(),
            filters,
            trust_rows=True,
            rest=part.rest,
        )
    except WholeStateNeeded as why:
        logger.info("%s sync of %s reads the whole directory: %s", mode, request.integration, why)
        return None, None, head
    finally:
        clock.lap("plan")
    return plan, part.active_rows, part.state


class _PhaseClock:
    def __init__(self, laps: Mapping[str, float] | None = None) -> None:
        self.laps: dict[str, float] = dict(laps or {})
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        """The time since the last lap goes to ``phase`` (added, when it had some already)."""
        now = time.perf_counter()
        self.laps[phase] = round(self.laps.get(phase, 0.0) + now - self._last, 3)
        self._last = now


def stats_json(stats: SyncStats) -> dict[str, int | float]:
    """A run's counts, camelCase as in status: ``sync_runs.stats`` and ``-o json``'s counts."""
    return {
        "fetched": stats.fetched,
        "matched": stats.matched,
        "created": stats.created,
        "updated": stats.updated,
        "reactivated": stats.reactivated,
        "deactivated": stats.deactivated,
        "unchanged": stats.unchanged,
        "skipped": stats.skipped,
        "apiRequests": stats.api_requests,
        "rateLimited": stats.rate_limited,
        "rateLimitWaits": stats.rate_limit_waits,
        "rateLimitWaitSeconds": stats.rate_limit_wait_seconds,
    }


def _describe(exc: BaseException) -> str:
    """``sync_runs.error``: one clean, bounded line, whatever an exception's text holds (the
    Okta client's have the token redacted already)."""
    label = exc.reason if isinstance(exc, HrisError) else type(exc).__name__
    return clean_text(f"{label}: {exc}", MAX_RUN_ERROR) or label


async def _record(
    directory: Directory,
    integration: str,
    mode: SyncMode,
    started: datetime,
    outcome: SyncOutcome,
    stats: SyncStats,
    error: BaseException,
) -> None:
    # A hold's own message says how to approve in the operator; the run records only why.
    if isinstance(error, DeactivationThresholdExceeded):
        message = error.summary
    else:
        message = _describe(error)
    run = SyncRunRecord(integration, mode, started, _now(), outcome, stats_json(stats), message)
    try:
        await asyncio.to_thread(directory.record_run, run)
    except Exception:  # the directory may be what failed; the original error matters more
        logger.warning(
            "could not record the %s sync run of %s", outcome, integration, exc_info=True
        )

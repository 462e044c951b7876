"""The directory store: what the sync engine reads and writes, and what the CLI lists.

Synchronous SQLAlchemy Core; the asyncio operator calls it through ``asyncio.to_thread``.
Bulk writes go through ``executemany`` (one statement, many parameter sets): psycopg 3 pipelines
them (no waiting on a round trip per row) and SQLite runs them in-process, and no statement ever
carries more than one row's parameters, so SQLite's variable limit cannot be hit. (Multi-row
VALUES via SQLAlchemy's insertmanyvalues measured twice as slow on PostgreSQL here.)

Concurrent applies: every write transaction first locks the integration's ``integrations`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` already holds the
database's single write lock). Two applies for one integration therefore run one after the
other, never interleaved, and each commits entirely or not at all. Every apply bumps the
integration's ``sync_version``; changes that name the version they were computed from
(``DirectoryChanges.base_version``, as the engine's do) are refused with ``SyncInProgress``
when another apply came in between, so a sync planned from an older state never applies over
a newer one (no double-counted deactivations, no duplicate creates). Applies for different
integrations touch disjoint rows and do not wait for each other on PostgreSQL.
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import msgspec
from sqlalchemy import (
    ColumnElement,
    Connection,
    Exists,
    RowMapping,
    Select,
    Table,
    and_,
    case,
    except_,
    func,
    literal,
    select,
    update,
)

from okta_hris import memory
from okta_hris.directory import database
from okta_hris.directory.leases import Leases
from okta_hris.directory.outbox import Outbox
from okta_hris.directory.schema import (
    employee_teams,
    employees,
    integrations,
    invitations,
    okta_group_members,
    okta_groups,
    okta_user_tallies,
    okta_users,
    sync_runs,
    teams,
)
from okta_hris.directory.statements import (
    Store,
    analyze,
    delete_keys,
    insert_missing,
    insert_pairs,
    insert_rows,
    update_rows,
    upsert_distinct,
)
from okta_hris.domain.changes import (
    DirectoryChanges,
    DirectoryState,
    DirectorySummary,
    OktaGroupRecord,
    OktaUserRecord,
    OrgTotals,
    SyncMode,
    SyncOutcome,
    SyncRunRecord,
    SyncState,
)
from okta_hris.domain.employees import EmployeeRow, Team, field_values
from okta_hris.domain.invitations import InvitationCounts
from okta_hris.errors import DirectoryError, SyncInProgress
from okta_hris.memory import collection_paused

logger = logging.getLogger(__name__)

# Written once when a row is created and never by an update: the history downstream apps use.
_EMPLOYEE_UPDATE_KEEPS = frozenset({"first_synced_at"})
# A table that took more rows than this in one apply has its planner statistics refreshed right
# after. Until autovacuum comes by, PostgreSQL plans a bulk-loaded table as the empty table it
# was: the next sync's DELETE of 2,100 employee_teams rows ran a sequential scan per row at
# 100,000 employees (19 s, against 0.08 s once analysed).
BULK_WRITE_ROWS = 1000


class Directory(Store):
    """The employee directory of every integration, in one SQLite or PostgreSQL database."""

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Directory:
        """Connect to ``url`` (creating an SQLite file's folder) and migrate the schema.

        Raises DirectoryError with one line naming the problem (never the password).
        """
        return cls(database.open_engine(url, migrate_schema=migrate))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Directory({database.describe_url(self.engine.url)!r})"

    # -- the sync engine's reads and writes ---------------------------------------------------

    @collection_paused()  # 100,000 users' rows, records and memberships (okta_hris.memory)
    def load_state(self, integration: str) -> DirectoryState:
        """Everything the engine diffs against, read from one snapshot in a few queries."""
        with self._reading(f"cannot read the directory of {integration}") as connection:
            return _load_state(connection, integration)

    def load_head(self, integration: str) -> DirectoryState:
        """The part of the state every sync reads before it knows which users it touches:
        bookkeeping, teams and the mirror's groups (a few thousand rows at most)."""
        with self._reading(f"cannot read the directory of {integration}") as connection:
            return _load_head(connection, integration)

    def load_users(
        self, integration: str, user_ids: Iterable[str], into: DirectoryState
    ) -> DirectoryState:
        """``into`` (a ``load_head``) with the rows, memberships, mirror records, mirror
        memberships, tallies and invitations of ``user_ids`` added: the state of just those
        users, for a sync that touches only them."""
        wanted = sorted(set(user_ids))
        with self._reading(f"cannot read the directory of {integration}") as connection:
            _load_users(connection, integration, wanted, into)
        return into

    def mirror_members(
        self,
        integration: str,
        *,
        groups: Iterable[str] | None = None,
        users: Iterable[str] | None = None,
    ) -> dict[str, frozenset[str]]:
        """The mirror's members (group id -> user ids) of ``groups``, or the memberships of
        ``users`` only."""
        member = okta_group_members.c
        key = member.okta_group_id if groups is not None else member.okta_id
        keys = sorted(set(groups if groups is not None else users or ()))
        pairs: list[tuple[str, str]] = []
        with self._reading(f"cannot read the directory of {integration}") as connection:
            for chunk in _chunks(keys):
                pairs.extend(
                    connection.execute(
                        select(member.okta_group_id, member.okta_id)
                        .where(member.integration == integration)
                        .where(key.in_(chunk))
                    )
                )
        return _grouped(pairs)

    def mirror_group_sizes(self, integration: str) -> dict[str, int]:
        """How many members the mirror holds of each group (groups without any left out)."""
        member = okta_group_members.c
        with self._reading(f"cannot read the directory of {integration}") as connection:
            rows = connection.execute(
                select(member.okta_group_id, func.count())
                .where(member.integration == integration)
                .group_by(member.okta_group_id)
            )
            return {group_id: int(count) for group_id, count in rows}

    def employees_in_teams(self, integration: str, group_ids: Iterable[str]) -> set[str]:
        """The okta ids of the employees with a membership in any of ``group_ids``."""
        found: set[str] = set()
        with self._reading(f"cannot read the directory of {integration}") as connection:
            for chunk in _chunks(sorted(set(group_ids))):
                found.update(
                    connection.scalars(
                        select(employee_teams.c.okta_id)
                        .where(employee_teams.c.integration == integration)
                        .where(employee_teams.c.okta_group_id.in_(chunk))
                    )
                )
        return found

    def org_totals(self, integration: str) -> OrgTotals:
        """The integration's sums in SQL (``OrgTotals``): a few grouped queries, no rows."""
        with self._reading(f"cannot count the directory of {integration}") as connection:
            return _org_totals(connection, integration)

    @collection_paused()
    def apply(self, changes: DirectoryChanges, run: SyncRunRecord | None = None) -> None:
        """Write one sync's changes, and its ``sync_runs`` row, in one transaction: all of them
        or, on any error, none."""
        _check_integration(changes, run)
        with self._writing(f"cannot apply the sync of {changes.integration}") as connection:
            version = _lock_integration(connection, changes.integration)
            if changes.base_version is not None and version != changes.base_version:
                raise SyncInProgress(
                    f"another sync of {changes.integration} applied while this one ran; "
                    "nothing was applied: the next sync starts from its result"
                )
            _apply(connection, changes)
            if _dangling_memberships(connection, changes):
                raise DirectoryError(
                    f"cannot apply the sync of {changes.integration}: a membership it adds names "
                    "an employee or a team the directory does not hold; nothing was applied"
                )
            if run is not None:
                _insert_run(connection, run)
        self._analyze_bulk_written(changes)

    def _analyze_bulk_written(self, changes: DirectoryChanges) -> None:
        """ANALYZE the tables ``changes`` wrote more than ``BULK_WRITE_ROWS`` rows to. After
        the commit, in a transaction of its own: the sync has applied whatever this does, and
        ANALYZE's lock, which one of another integration would wait for, is held a moment."""
        tables = [table for table, rows in _rows_written(changes).items() if rows > BULK_WRITE_ROWS]
        if not tables:
            return
        try:
            with self._writing("cannot refresh the directory's planner statistics") as connection:
                analyze(connection, tables)
        except DirectoryError as exc:
            # Only slower plans until autovacuum runs: no reason to call the sync failed.
            logger.warning("%s", exc)

    def record_run(self, run: SyncRunRecord) -> None:
        """Record a run that applied nothing (failed, held, planned)."""
        with self._writing(f"cannot record the sync run of {run.integration}") as connection:
            _lock_integration(connection, run.integration)
            _insert_run(connection, run)

    def mark_integration_removed(self, integration: str, at: datetime) -> None:
        """The OktaIntegration was deleted: keep its rows, note when (cleared by the next apply)."""
        with self._writing(f"cannot mark {integration} removed") as connection:
            _lock_integration(connection, integration)
            connection.execute(
                update(integrations)
                .where(integrations.c.integration == integration)
                .values(removed_at=at)
            )

    # -- reads for status, the CLI and downstream tools ---------------------------------------

    def list_employees(
        self,
        integration: str | None = None,
        team: str | None = None,
        country: str | None = None,
        active: bool | None = None,
    ) -> list[EmployeeRow]:
        """Employees matching every given filter; team and country ignore case."""
        query = select(employees).order_by(
            employees.c.integration, employees.c.display_name, employees.c.okta_id
        )
        if integration is not None:
            query = query.where(employees.c.integration == integration)
        if country is not None:
            query = query.where(func.upper(employees.c.country_code) == country.strip().upper())
        if active is not None:
            query = query.where(employees.c.active == active)
        with self._reading("cannot list employees") as connection:
            if team is not None:
                names = _team_names_matching(connection, team, integration)
                if not names:
                    return []
                query = query.where(_in_team_named(names))
            return [_employee_from_row(row) for row in connection.execute(query).mappings()]

    def summary(self, integration: str) -> DirectorySummary:
        with self._reading(f"cannot count the directory of {integration}") as connection:
            by_active: dict[bool, int] = {
                bool(is_active): count
                for is_active, count in connection.execute(
                    select(employees.c.active, func.count())
                    .where(employees.c.integration == integration)
                    .group_by(employees.c.active)
                )
            }
            team_count = connection.scalar(
                select(func.count()).select_from(teams).where(teams.c.integration == integration)
            )
            by_status: dict[str, int] = {
                status: count
                for status, count in connection.execute(
                    select(invitations.c.status, func.count())
                    .where(invitations.c.integration == integration)
                    .group_by(invitations.c.status)
                )
            }
        return DirectorySummary(
            total=sum(by_active.values()),
            active=by_active.get(True, 0),
            inactive=by_active.get(False, 0),
            teams=team_count or 0,
            invitations=InvitationCounts(
                sent=by_status.get("sent", 0),
                pending=by_status.get("pending", 0),
                failed=by_status.get("failed", 0),
            ),
        )

    @property
    def outbox(self) -> Outbox:
        """The ``invitations`` table as an outbox, over the same engine."""
        return Outbox(self.engine)

    @property
    def leases(self) -> Leases:
        """The ``sync_leases`` table: one running sync per integration, over the same engine."""
        return Leases(self.engine)

    def integrations(self, *, include_removed: bool = True) -> list[str]:
        """Every integration the directory has seen, sorted."""
        query = select(integrations.c.integration).order_by(integrations.c.integration)
        if not include_removed:
            query = query.where(integrations.c.removed_at.is_(None))
        with self._reading("cannot list the integrations") as connection:
            return list(connection.scalars(query))

    # -- reads for the CLI's listings ----------------------------------------------------------

    @classmethod
    def open_existing(cls, url: str, *, read_only: bool = False) -> Directory | None:
        """The directory at ``url`` if a sync ever created one there, else None.

        Creates nothing: no SQLite file or folder, no tables in an empty PostgreSQL database
        (what ``open`` would do). A schema an older release wrote is migrated, as by ``open``;
        ``read_only`` (``okta-hris plan``) connects so that nothing can be written, and a
        schema that is not this release's is a DirectoryError instead.
        """
        parsed = database.parse_url(url)
        sqlite_file = (
            parsed.get_backend_name() == "sqlite"
            and parsed.database not in (None, "", ":memory:")
            and not str(parsed.database).startswith("file:")
        )
        if sqlite_file and not Path(str(parsed.database)).is_file():
            return None
        engine = database.open_engine(url, migrate_schema=False, read_only=read_only)
        directory = cls(engine)
        try:
            with directory._reading("cannot read the directory's schema") as connection:
                revision = database.current_revision(connection)
            if revision is None:
                directory.close()
                return None
            if read_only:
                database.require_head_revision(revision, engine.url)
            elif revision != database.head_revision():
                database.migrate(engine)
        except BaseException:
            directory.close()
            raise
        return directory

    def teams(self, integration: str | None = None) -> list[TeamMembers]:
        """The teams of the directory with their member counts, by integration and name."""
        membership = and_(
            employees.c.integration == employee_teams.c.integration,
            employees.c.okta_id == employee_teams.c.okta_id,
        )
        counts = (
            select(
                employee_teams.c.integration,
                employee_teams.c.okta_group_id,
                func.count().label("members"),
                func.sum(case((employees.c.active.is_(True), 1), else_=0)).label("active"),
            )
            .select_from(employee_teams.join(employees, membership))
            .group_by(employee_teams.c.integration, employee_teams.c.okta_group_id)
            .subquery()
        )
        query = select(
            teams.c.integration,
            teams.c.okta_group_id,
            teams.c.name,
            teams.c.description,
            counts.c.members,
            counts.c.active,
        ).select_from(
            teams.outerjoin(
                counts,
                and_(
                    counts.c.integration == teams.c.integration,
                    counts.c.okta_group_id == teams.c.okta_group_id,
                ),
            )
        )
        if integration is not None:
            query = query.where(teams.c.integration == integration)
        with self._reading("cannot list the teams") as connection:
            rows = connection.execute(query).all()
        listed = [
            TeamMembers(
                integration=row.integration,
                okta_group_id=row.okta_group_id,
                name=row.name,
                description=row.description,
                members=int(row.members or 0),
                active=int(row.active or 0),
            )
            for row in rows
        ]
        # Sorted here: SQLite and PostgreSQL collate names differently.
        return sorted(listed, key=lambda t: (t.integration, t.name.casefold(), t.okta_group_id))

    def runs(self, integration: str | None = None, limit: int = 20) -> list[SyncRunRecord]:
        """The ``sync_runs`` rows, newest first."""
        query = (
            select(sync_runs)
            .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
            .limit(limit)
        )
        if integration is not None:
            query = query.where(sync_runs.c.integration == integration)
        with self._reading("cannot list the sync runs") as connection:
            rows = connection.execute(query).mappings().all()
        return [
            SyncRunRecord(
                integration=row["integration"],
                mode=cast(SyncMode, row["mode"]),
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                outcome=cast(SyncOutcome, row["outcome"]),
                stats=dict(row["stats"] or {}),
                error=row["error"],
            )
            for row in rows
        ]

    def sync_states(self) -> dict[str, SyncState]:
        """Each integration's bookkeeping (``invitations_enabled_at`` is None while invitations
        are off); ``spec_hash`` is None for one that never had a sync applied, or none since
        migration 0003 cleared it."""
        with self._reading("cannot list the integrations") as connection:
            rows = connection.execute(select(integrations)).mappings().all()
        return {
            row["integration"]: SyncState(
                spec_hash=row["spec_hash"],
                watermark=row["watermark"],
                last_full_sync_at=row["last_full_sync_at"],
                invitations_enabled_at=row["invitations_enabled_at"],
            )
            for row in rows
        }


@dataclass(frozen=True)
class TeamMembers:
    """A row of ``teams`` with how many employees it has (``active`` of them active now)."""

    integration: str
    okta_group_id: str
    name: str
    description: str | None
    members: int
    active: int


# -- reading ------------------------------------------------------------------------------------


def _load_state(connection: Connection, integration: str) -> DirectoryState:
    def rows(table: Table) -> Iterator[dict[str, Any]]:
        return _rows_of(connection, select(table).where(table.c.integration == integration))

    state = _load_head(connection, integration)
    shared = _Shared()
    state.employees = {
        row.okta_id: row for row in (_employee_from_row(r, shared) for r in rows(employees))
    }
    state.memberships = _grouped_sorted(
        connection.execute(
            select(employee_teams.c.okta_id, employee_teams.c.okta_group_id).where(
                employee_teams.c.integration == integration
            )
        ),
        shared,
    )
    state.okta_users = _by_id_spilled(_okta_user_from_row(row, shared) for row in rows(okta_users))
    state.okta_members = _grouped(
        connection.execute(
            select(okta_group_members.c.okta_group_id, okta_group_members.c.okta_id).where(
                okta_group_members.c.integration == integration
            )
        )
    )
    state.tallies = {
        sys.intern(okta_id): (bool(in_scope), shared(tally))
        for okta_id, in_scope, tally in connection.execute(
            select(
                okta_user_tallies.c.okta_id, okta_user_tallies.c.in_scope, okta_user_tallies.c.tally
            ).where(okta_user_tallies.c.integration == integration)
        )
    }
    state.invited = frozenset(
        connection.scalars(
            select(invitations.c.okta_id).where(invitations.c.integration == integration)
        )
    )
    return state


def _rows_of(connection: Connection, query: Select[Any]) -> Iterator[dict[str, Any]]:
    # Plain dicts from plain rows: a RowMapping per row (and ``dict`` of one) measured a fifth
    # of the load at 100,000 employees.
    result = connection.execute(query)
    names = tuple(result.keys())
    return (dict(zip(names, row, strict=True)) for row in result)


def _load_head(connection: Connection, integration: str) -> DirectoryState:
    state = DirectoryState()
    for table in (teams, okta_groups, integrations):
        query = select(table).where(table.c.integration == integration)
        for row in _rows_of(connection, query):
            if table is teams:
                state.teams[row["okta_group_id"]] = Team(
                    okta_group_id=row["okta_group_id"],
                    name=row["name"],
                    description=row["description"],
                )
            elif table is okta_groups:
                state.okta_groups[row["okta_group_id"]] = OktaGroupRecord(
                    id=row["okta_group_id"],
                    type=row["type"],
                    name=row["name"],
                    description=row["description"],
                    last_updated=row["last_updated"],
                    last_membership_updated=row["last_membership_updated"],
                )
            else:
                state.sync_state = SyncState(
                    spec_hash=row["spec_hash"],
                    watermark=row["watermark"],
                    last_full_sync_at=row["last_full_sync_at"],
                    invitations_enabled_at=row["invitations_enabled_at"],
                )
                state.version = row["sync_version"]
                state.tallies_hash = row["tallies_hash"]
    return state


def _load_users(
    connection: Connection, integration: str, user_ids: list[str], state: DirectoryState
) -> None:
    """Add what the directory holds of ``user_ids`` to ``state``."""
    memberships: list[tuple[str, str]] = []
    members: list[tuple[str, str]] = []
    invited: set[str] = set()

    def of_chunk(table: Table, chunk: Sequence[str], *columns: ColumnElement[Any]) -> Select[Any]:
        return (
            select(*columns or (table,))
            .where(table.c.integration == integration)
            .where(table.c.okta_id.in_(chunk))
        )

    shared = _Shared()
    for chunk in _chunks(user_ids):
        for row in _rows_of(connection, of_chunk(employees, chunk)):
            employee = _employee_from_row(row, shared)
            state.employees[employee.okta_id] = employee
        for row in _rows_of(connection, of_chunk(okta_users, chunk)):
            user = _okta_user_from_row(row, shared)
            state.okta_users[user.id] = user
        memberships.extend(
            connection.execute(
                of_chunk(
                    employee_teams, chunk, employee_teams.c.okta_id, employee_teams.c.okta_group_id
                )
            )
        )
        members.extend(
            connection.execute(
                of_chunk(
                    okta_group_members,
                    chunk,
                    okta_group_members.c.okta_group_id,
                    okta_group_members.c.okta_id,
                )
            )
        )
        tallies = okta_user_tallies.c
        for okta_id, in_scope, tally in connection.execute(
            of_chunk(okta_user_tallies, chunk, tallies.okta_id, tallies.in_scope, tallies.tally)
        ):
            state.tallies[okta_id] = (bool(in_scope), tally)
        invited.update(connection.scalars(of_chunk(invitations, chunk, invitations.c.okta_id)))
    state.memberships = {**state.memberships, **_grouped_sorted(memberships, shared)}
    merged = {group_id: set(ids) for group_id, ids in state.okta_members.items()}
    for group_id, user_id in members:
        merged.setdefault(group_id, set()).add(user_id)
    state.okta_members = {group_id: frozenset(ids) for group_id, ids in merged.items()}
    state.invited = state.invited | invited


def _org_totals(connection: Connection, integration: str) -> OrgTotals:
    tally = okta_user_tallies.c
    tallies = {
        (bool(in_scope), text_): int(count)
        for in_scope, text_, count in connection.execute(
            select(tally.in_scope, tally.tally, func.count())
            .where(tally.integration == integration)
            .group_by(tally.in_scope, tally.tally)
        )
    }
    member = okta_group_members.c
    group_members = {
        group_id: int(count)
        for group_id, count in connection.execute(
            select(member.okta_group_id, func.count())
            .where(member.integration == integration)
            .group_by(member.okta_group_id)
        )
    }
    in_scope_members = {
        group_id: int(count)
        for group_id, count in connection.execute(
            select(member.okta_group_id, func.count())
            .select_from(
                okta_group_members.join(
                    okta_user_tallies,
                    and_(tally.integration == member.integration, tally.okta_id == member.okta_id),
                )
            )
            .where(member.integration == integration)
            .where(tally.in_scope.is_(True))
            .group_by(member.okta_group_id)
        )
    }
    rows, active = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((employees.c.active.is_(True), 1), else_=0)), 0),
        ).where(employees.c.integration == integration)
    ).one()
    return OrgTotals(
        tallies=tallies,
        group_members=group_members,
        in_scope_members=in_scope_members,
        rows=int(rows),
        active_rows=int(active),
    )


# Keys per ``IN (...)``: well inside SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 500


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), IN_CHUNK):
        yield keys[start : start + IN_CHUNK]


# A load holds every employee, mirror record and membership of an integration (100,000 and
# more), and the driver gives each value of each row as an object of its own. Ids are
# interned (as the engine interns those Okta sends: a loaded user and the same user fetched
# share one id string), and the employee columns whose values repeat across rows (a status,
# a country, a team's name, the sync's times) hold one object per distinct value and load.
_SHARED_COLUMNS = (
    "integration",
    "okta_status",
    "first_name",
    "last_name",
    "employment_status",
    "title",
    "department",
    "manager",
    "country_code",
    "state",
    "state_code",
    "city",
    "first_synced_at",
    "last_synced_at",
    "deactivated_at",
)


class _Shared:
    """One object per distinct value (of text and times: values equal only when alike)."""

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        return value if value is None else self._seen.setdefault(value, value)


# Records loaded before they go to the Spill together (one write for each this many).
_SPILL_BATCH = 1_000


def _by_id_spilled(records: Iterator[OktaUserRecord]) -> dict[str, OktaUserRecord]:
    """``records`` by id; past ``memory.SPILL_AFTER`` of them, their profiles in a ``Spill`` (as a
    sync's listing keeps them, okta_hris.memory): a daily full sync of 100,000 users loads
    70 MB of them. In memory when no temporary file can be written."""
    loaded: dict[str, OktaUserRecord] = {}
    spilling = memory.Spilling("the mirror's profiles", logger)
    batch: list[OktaUserRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= _SPILL_BATCH:
            loaded.update((kept.id, kept) for kept in spilling.held(batch, OktaUserRecord.spilled))
            batch = []
    loaded.update((kept.id, kept) for kept in spilling.held(batch, OktaUserRecord.spilled))
    return loaded


def _okta_user_from_row(row: Mapping[str, Any], shared: _Shared) -> OktaUserRecord:
    return OktaUserRecord(
        id=sys.intern(row["okta_id"]),
        status=shared(row["status"]),
        last_updated=row["last_updated"],
        profile=row["profile"],
    )


def _employee_from_row(
    row: Mapping[str, Any] | RowMapping, shared: _Shared | None = None
) -> EmployeeRow:
    values = dict(row)
    values["okta_id"] = sys.intern(values["okta_id"])
    if shared is None:
        values["teams"] = tuple(values["teams"])
    else:
        for name in _SHARED_COLUMNS:
            values[name] = shared(values[name])
        values["teams"] = shared(tuple(shared(team) for team in values["teams"]))
    return EmployeeRow(**values)


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    intern = sys.intern
    grouped: defaultdict[str, set[str]] = defaultdict(set)
    for key, value in pairs:
        grouped[intern(key)].add(intern(value))
    return {key: frozenset(values) for key, values in grouped.items()}


def _grouped_sorted(
    pairs: Iterable[tuple[str, str]], shared: _Shared
) -> dict[str, tuple[str, ...]]:
    """As ``_grouped``, each key's values a sorted tuple, one per distinct tuple: a user's
    team groups (100,000 users: a tuple of four ids is 88 bytes, a frozen set of them 216,
    of five or more 728)."""
    intern = sys.intern
    grouped: defaultdict[str, set[str]] = defaultdict(set)
    for key, value in pairs:
        grouped[intern(key)].add(intern(value))
    return {key: shared(tuple(sorted(values))) for key, values in grouped.items()}


def _team_names_matching(connection: Connection, team: str, integration: str | None) -> list[str]:
    # Compared in Python: SQLite's lower() folds ASCII only, and team names are often not ASCII.
    query = select(teams.c.name).distinct()
    if integration is not None:
        query = query.where(teams.c.integration == integration)
    wanted = team.casefold()
    return [name for name in connection.scalars(query) if name.casefold() == wanted]


def _in_team_named(names: list[str]) -> Exists:
    """The employee row of the enclosing query is a member of a team with one of ``names``."""
    return (
        select(literal(1))
        .select_from(
            employee_teams.join(
                teams,
                and_(
                    teams.c.integration == employee_teams.c.integration,
                    teams.c.okta_group_id == employee_teams.c.okta_group_id,
                ),
            )
        )
        .where(
            employee_teams.c.integration == employees.c.integration,
            employee_teams.c.okta_id == employees.c.okta_id,
            teams.c.name.in_(names),
        )
        .exists()
    )


# -- writing ------------------------------------------------------------------------------------


def _check_integration(changes: DirectoryChanges, run: SyncRunRecord | None) -> None:
    # Rows of another integration would be written without that integration's lock.
    for row in (*changes.employees_create, *changes.employees_update):
        if row.integration != changes.integration:
            raise ValueError(
                f"employee {row.okta_id} belongs to {row.integration!r}, "
                f"not to {changes.integration!r}"
            )
    if run is not None and run.integration != changes.integration:
        raise ValueError(
            f"the sync run belongs to {run.integration!r}, not {changes.integration!r}"
        )


def _lock_integration(connection: Connection, integration: str) -> int:
    """Serialise writers of one integration until the transaction ends (see the module doc);
    the integration's ``sync_version`` as the lock found it."""
    insert_missing(connection, integrations, [{"integration": integration}])
    # SQLite compiles no FOR UPDATE; its BEGIN IMMEDIATE write lock is already held.
    version = connection.scalar(
        select(integrations.c.sync_version)
        .where(integrations.c.integration == integration)
        .with_for_update()
    )
    return int(version or 0)


def _apply(connection: Connection, changes: DirectoryChanges) -> None:
    integration = changes.integration
    _apply_okta_mirror(connection, changes)
    upsert_distinct(
        connection,
        teams,
        integration,
        (
            {
                "integration": integration,
                "okta_group_id": team.okta_group_id,
                "name": team.name,
                "description": team.description,
            }
            for team in changes.teams_upsert
        ),
    )
    insert_rows(connection, employees, (_employee_values(row) for row in changes.employees_create))
    _update_employees(connection, changes.employees_update)
    # Memberships go before the teams they point to, and come after the employees they need.
    delete_keys(
        connection,
        employee_teams,
        integration,
        ("okta_id", "okta_group_id"),
        changes.memberships_remove,
    )
    delete_keys(
        connection,
        employee_teams,
        integration,
        ("okta_group_id",),
        [(group_id,) for group_id in changes.teams_delete],
    )
    # In key order (insert_pairs sorts them), as the mirror's: see below.
    insert_pairs(
        connection,
        employee_teams,
        integration,
        ("okta_id", "okta_group_id"),
        changes.memberships_add,
    )
    delete_keys(
        connection,
        teams,
        integration,
        ("okta_group_id",),
        [(group_id,) for group_id in changes.teams_delete],
    )
    # The outbox: queued with the employee, in the same transaction; never reset once present.
    insert_missing(
        connection,
        invitations,
        (
            {
                "integration": integration,
                "okta_id": request.okta_id,
                "email": request.email,
                "status": "pending",
                "attempts": 0,
                "created_at": changes.synced_at,
            }
            for request in changes.invitations_queue
        ),
    )
    delete_keys(
        connection,
        okta_user_tallies,
        integration,
        ("okta_id",),
        [(okta_id,) for okta_id in sorted({*changes.tallies_delete, *changes.okta_users_delete})],
    )
    upsert_distinct(
        connection,
        okta_user_tallies,
        integration,
        (
            {"integration": integration, "okta_id": okta_id, "in_scope": in_scope, "tally": tally}
            for okta_id, in_scope, tally in changes.tallies_upsert
        ),
    )
    state = changes.sync_state
    connection.execute(
        update(integrations)
        .where(integrations.c.integration == integration)
        .values(
            spec_hash=state.spec_hash,
            tallies_hash=state.spec_hash if changes.tallies_whole else None,
            watermark=state.watermark,
            last_full_sync_at=state.last_full_sync_at,
            invitations_enabled_at=state.invitations_enabled_at,
            removed_at=None,  # a sync means the OktaIntegration exists (again)
            sync_version=integrations.c.sync_version + 1,
        )
    )


def _dangling_memberships(connection: Connection, changes: DirectoryChanges) -> bool:
    """Whether a membership ``changes`` added names an employee or a team the integration does
    not hold, once the apply has written them all. The foreign keys that checked it row by row
    are gone (migration 0007). Employees are never deleted, and a deleted team's memberships go
    with it (``_apply``): only the memberships an apply adds can dangle.

    When the employees given memberships fit one ``IN (...)`` (an incremental or event sync),
    those employees are counted and their memberships' teams checked; otherwise every
    membership of the integration is. Each check of a set of ids is an ``EXCEPT``, which both
    databases run set-based however they estimate the tables: a bulk-loaded table has no
    statistics until the ANALYZE after the commit, and PostgreSQL planned ``NOT EXISTS`` over
    424,000 new memberships as a nested loop over every team (minutes), where this takes a
    third of a second."""
    if not changes.memberships_add:
        return False
    integration = changes.integration
    given = {okta_id for okta_id, _ in changes.memberships_add}
    okta_ids = sorted(given) if len(given) <= IN_CHUNK else None  # None: the whole integration
    member = employee_teams.c

    def unheld(referent: Table, key: str) -> bool:
        named = select(member[key]).where(member.integration == integration)
        if okta_ids is not None:
            named = named.where(member.okta_id.in_(okta_ids))
        held = select(referent.c[key]).where(referent.c.integration == integration)
        missing = except_(named, held).subquery()
        return (
            connection.execute(select(literal(1)).select_from(missing).limit(1)).first() is not None
        )

    if okta_ids is None:
        return unheld(employees, "okta_id") or unheld(teams, "okta_group_id")
    counted = select(func.count()).where(
        employees.c.integration == integration, employees.c.okta_id.in_(okta_ids)
    )
    held_employees: int = connection.execute(counted).scalar_one()
    return held_employees != len(okta_ids) or unheld(teams, "okta_group_id")


def _apply_okta_mirror(connection: Connection, changes: DirectoryChanges) -> None:
    integration = changes.integration
    delete_keys(
        connection,
        okta_group_members,
        integration,
        ("okta_group_id", "okta_id"),
        changes.okta_members_remove,
    )
    # A deleted user or group takes its member rows along: the mirror holds no dangling pairs.
    for key, ids in (
        ("okta_group_id", changes.okta_groups_delete),
        ("okta_id", changes.okta_users_delete),
    ):
        delete_keys(connection, okta_group_members, integration, (key,), [(i,) for i in ids])
    delete_keys(
        connection,
        okta_groups,
        integration,
        ("okta_group_id",),
        [(group_id,) for group_id in changes.okta_groups_delete],
    )
    delete_keys(
        connection,
        okta_users,
        integration,
        ("okta_id",),
        [(okta_id,) for okta_id in changes.okta_users_delete],
    )
    upsert_distinct(
        connection,
        okta_users,
        integration,
        (
            {
                "integration": integration,
                "okta_id": user.id,
                "status": user.status,
                "last_updated": user.last_updated,
                "profile": msgspec.Raw(user.profile_json),  # written as it is
            }
            for user in changes.okta_users_upsert
        ),
    )
    upsert_distinct(
        connection,
        okta_groups,
        integration,
        (
            {
                "integration": integration,
                "okta_group_id": group.id,
                "type": group.type,
                "name": group.name,
                "description": group.description,
                "last_updated": group.last_updated,
                "last_membership_updated": group.last_membership_updated,
            }
            for group in changes.okta_groups_upsert
        ),
    )
    # In primary key order (insert_pairs sorts them), as employee_teams: SQLite then writes
    # each page of the key's B-tree once rather than once a row (15 to 12 s of the apply at
    # 100,000 users).
    insert_pairs(
        connection,
        okta_group_members,
        integration,
        ("okta_group_id", "okta_id"),
        changes.okta_members_add,
    )


def _rows_written(changes: DirectoryChanges) -> dict[Table, int]:
    """How many rows ``changes`` inserts, updates or deletes in each table (deletions by group
    count once: a few, whatever they take along)."""
    return {
        employees: len(changes.employees_create) + len(changes.employees_update),
        employee_teams: len(changes.memberships_add) + len(changes.memberships_remove),
        teams: len(changes.teams_upsert) + len(changes.teams_delete),
        okta_users: len(changes.okta_users_upsert) + len(changes.okta_users_delete),
        okta_groups: len(changes.okta_groups_upsert) + len(changes.okta_groups_delete),
        okta_group_members: len(changes.okta_members_add) + len(changes.okta_members_remove),
        okta_user_tallies: len(changes.tallies_upsert) + len(changes.tallies_delete),
        invitations: len(changes.invitations_queue),
    }


def _employee_values(row: EmployeeRow) -> Mapping[str, Any]:
    # ``teams`` is a tuple, which the JSON column writes as the same array a list would be.
    return field_values(row)


def _update_employees(connection: Connection, rows: Sequence[EmployeeRow]) -> None:
    if not rows:
        return
    updated = update_rows(
        connection,
        employees,
        (
            {
                name: value
                for name, value in _employee_values(row).items()
                if name not in _EMPLOYEE_UPDATE_KEEPS
            }
            for row in rows
        ),
    )
    if updated is not None and updated != len(rows):
        # Rows are never deleted, so the engine diffed against a state this database never had.
        missing = len(rows) - updated
        raise DirectoryError(
            f"cannot apply the sync of {rows[0].integration}: "
            f"{missing} of the employees to update are not in the directory"
        )


def _insert_run(connection: Connection, run: SyncRunRecord) -> None:
    connection.execute(
        sync_runs.insert().values(
            integration=run.integration,
            mode=run.mode,
            started_at=run.started_at,
            finished_at=run.finished_at,
            outcome=run.outcome,
            stats=run.stats,
            error=run.error,
        )
    )

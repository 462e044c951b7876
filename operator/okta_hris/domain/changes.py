"""What a sync reads from the directory (``DirectoryState``) and writes back (``DirectoryChanges``).

The engine reads a ``DirectoryState``, computes a ``DirectoryChanges`` with pure functions,
and hands it to ``Directory.apply``, which writes it in one transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeGuard, cast, overload

from okta_hris.domain.employees import EmployeeRow, Team
from okta_hris.domain.invitations import InvitationCounts, InvitationRequest
from okta_hris.domain.profiles import decode_profile, encode_profile
from okta_hris.errors import SpillLost
from okta_hris.memory import Spill

# Event: a targeted sync of the users and groups some Okta Event Hook events named (SPEC §11).
SyncMode = Literal["Full", "Incremental", "Event"]
SyncOutcome = Literal["succeeded", "failed", "held", "planned"]


def _increasing(values: Iterable[str]) -> TypeGuard[tuple[str, ...]]:
    """A tuple whose values are distinct and sorted."""
    return isinstance(values, tuple) and all(a < b for a, b in itertools.pairwise(values))


class Pairs(Sequence[tuple[str, str]]):
    """Distinct (first, second) pairs in sorted order, held by first: each first once, with
    its seconds in one tuple. A plan's memberships (400,000 at 100,000 users) take 8 bytes a
    pair this way, against 64 for a tuple of two in a list; the pairs are made as they are
    read. Equal to (and hashed as) the tuple of the same pairs in the same order."""

    __slots__ = ("_firsts", "_len", "_seconds")

    def __init__(self, grouped: Mapping[str, Iterable[str]] | None = None) -> None:
        grouped = grouped or {}
        firsts: list[str] = []
        seconds: list[tuple[str, ...]] = []
        for first in sorted(grouped):
            given = grouped[first]
            # A tuple in order already is kept as given: a plan's are made so (one per user).
            them = given if _increasing(given) else tuple(sorted(set(given)))
            if them:
                firsts.append(first)
                seconds.append(them)
        self._firsts = tuple(firsts)
        self._seconds = tuple(seconds)
        self._len = sum(map(len, seconds))

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for first, seconds in zip(self._firsts, self._seconds, strict=True):
            for second in seconds:
                yield first, second

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        """By position, in a walk over the pairs: a plan's are read in order, not indexed."""
        if isinstance(index, slice):
            return tuple(self)[index]
        position = index + self._len if index < 0 else index
        if not 0 <= position < self._len:
            raise IndexError("pair index out of range")
        return next(itertools.islice(self, position, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Pairs):
            return self._firsts == other._firsts and self._seconds == other._seconds
        if isinstance(other, tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))  # as the equal tuple's (rarely asked: every pair made once)

    def __repr__(self) -> str:
        if len(self) > REPR_PAIRS:  # a plan's: its size, not 400,000 pairs
            return f"Pairs(<{len(self)} pairs>)"
        return f"Pairs({list(self)!r})"


REPR_PAIRS = 20


class OktaUserRecord:
    """What the last sync saw of one Okta user (the mirror that makes incremental syncs exact).

    Immutable, with its profile kept as canonical JSON bytes (domain/profiles.py): a sync holds
    one record per Okta user. ``profile`` decodes them, a new dict at each read; a record is
    made from a profile that is cleaned to what the mirror stores, so every record is
    storable as it is."""

    __slots__ = ("_profile", "_spill", "id", "last_updated", "status")

    id: str
    status: str
    last_updated: datetime
    _profile: bytes | int  # the bytes, or their handle in _spill
    _spill: Spill | None

    def __init__(
        self, *, id: str, status: str, last_updated: datetime, profile: Mapping[str, Any]
    ) -> None:
        self._set(id, status, last_updated, encode_profile(profile))

    @classmethod
    def _of(cls, id: str, status: str, last_updated: datetime, data: bytes) -> OktaUserRecord:
        record = cls.__new__(cls)
        record._set(id, status, last_updated, data)
        return record

    def _set(self, id: str, status: str, last_updated: datetime, data: bytes) -> None:
        setter = object.__setattr__
        setter(self, "id", id)
        setter(self, "status", status)
        setter(self, "last_updated", last_updated)
        setter(self, "_profile", data)
        setter(self, "_spill", None)

    @staticmethod
    def spilled(records: Sequence[OktaUserRecord], spill: Spill) -> list[OktaUserRecord]:
        """``records`` (equal to them) with their profiles kept in ``spill``, not in memory;
        raises ``OSError`` when it cannot write them."""
        handles = spill.put([record.profile_json for record in records])
        moved: list[OktaUserRecord] = []
        for record, handle in zip(records, handles, strict=True):
            copy = OktaUserRecord.__new__(OktaUserRecord)
            copy._set(record.id, record.status, record.last_updated, b"")
            object.__setattr__(copy, "_profile", handle)
            object.__setattr__(copy, "_spill", spill)
            moved.append(copy)
        return moved

    @property
    def profile_json(self) -> bytes:
        """The profile as canonical JSON (domain/profiles.py)."""
        spill = self._spill
        if spill is None:
            return cast(bytes, self._profile)
        try:
            return spill.get(cast(int, self._profile))
        except OSError as exc:
            raise SpillLost(
                "this sync could not read back its temporary file of Okta profiles "
                f"({exc.strerror or exc}); nothing was written"
            ) from None

    @property
    def profile(self) -> dict[str, Any]:
        return decode_profile(self.profile_json)

    def replace(
        self,
        *,
        status: str | None = None,
        last_updated: datetime | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> OktaUserRecord:
        """This record with the values given changed (the profile cleaned as in a new one)."""
        return OktaUserRecord._of(
            self.id,
            self.status if status is None else status,
            self.last_updated if last_updated is None else last_updated,
            self.profile_json if profile is None else encode_profile(profile),
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"OktaUserRecord is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"OktaUserRecord is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OktaUserRecord):
            return NotImplemented
        return (
            self.profile_json == other.profile_json
            and self.id == other.id
            and self.status == other.status
            and self.last_updated == other.last_updated
        )

    def __hash__(self) -> int:
        return hash((self.id, self.status, self.last_updated, self.profile_json))

    def __repr__(self) -> str:
        return (
            f"OktaUserRecord(id={self.id!r}, status={self.status!r}, "
            f"last_updated={self.last_updated!r}, profile={self.profile!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return OktaUserRecord._of, (self.id, self.status, self.last_updated, self.profile_json)


@dataclass(frozen=True, slots=True, kw_only=True)
class OktaGroupRecord:
    """What the last sync saw of one Okta group of a configured type."""

    id: str
    type: str
    name: str
    description: str | None = None
    last_updated: datetime
    last_membership_updated: datetime | None = None


@dataclass(frozen=True)
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
    # okta_id -> the sorted ids of their team groups (a tuple: 100,000 users' frozen sets took
    # 40 MB, their tuples 9)
    memberships: dict[str, tuple[str, ...]] = field(default_factory=dict)
    okta_users: dict[str, OktaUserRecord] = field(default_factory=dict)
    okta_groups: dict[str, OktaGroupRecord] = field(default_factory=dict)
    okta_members: dict[str, frozenset[str]] = field(default_factory=dict)  # group id -> user ids
    sync_state: SyncState = field(default_factory=SyncState)
    invited: frozenset[str] = frozenset()  # okta ids with an invitations row (any status)
    version: int = 0  # how many applies the integration has had (integrations.sync_version)
    # okta_id -> (in scope, tally) of each mirrored user at the last plan (sync/plan.py
    # ``UserTally``); ``tallies_hash`` the spec hash they were counted under when whole.
    tallies: dict[str, tuple[bool, str]] = field(default_factory=dict)
    tallies_hash: str | None = None


@dataclass(frozen=True)
class OrgTotals:
    """Sums over one integration's whole directory, read in SQL for a sync that reads only
    the users that changed: how many mirrored users have each (in scope, tally), how many
    members (and in-scope members) each mirrored group has, and how many employee rows (and
    active ones) there are."""

    tallies: dict[tuple[bool, str], int] = field(default_factory=dict)
    group_members: dict[str, int] = field(default_factory=dict)
    in_scope_members: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    active_rows: int = 0


@dataclass(frozen=True)
class SyncStats:
    """What one sync fetched and changed."""

    fetched: int = 0
    matched: int = 0
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    unchanged: int = 0
    skipped: int = 0  # Okta users left out: an id or status the directory cannot store
    api_requests: int = 0
    rate_limited: int = 0
    rate_limit_waits: int = 0  # pauses for a rate-limit window, with or without a 429
    rate_limit_wait_seconds: float = 0.0  # how long those pauses lasted in all


@dataclass(frozen=True)
class DataQuality:
    """What the in-scope active employees of one sync lack (SPEC §9), each a count:
    ``invalid_phones`` a mobile phone that is not a valid number, ``unknown_countries`` a
    countryCode that is no ISO 3166-1 alpha-2 code, ``incomplete_addresses`` no street, city,
    zip code or country (they cannot be shipped to)."""

    invalid_phones: int = 0
    unknown_countries: int = 0
    incomplete_addresses: int = 0

    def __add__(self, other: DataQuality) -> DataQuality:
        return DataQuality(
            self.invalid_phones + other.invalid_phones,
            self.unknown_countries + other.unknown_countries,
            self.incomplete_addresses + other.incomplete_addresses,
        )


@dataclass(frozen=True)
class PlanWarning:
    """Something a sync did not refuse but a human should hear: a warning line in the CLI,
    a Warning Event in the cluster."""

    reason: str  # CamelCase, the Event's reason
    message: str


@dataclass(frozen=True)
class SyncRunRecord:
    """A ``sync_runs`` row."""

    integration: str
    mode: SyncMode
    started_at: datetime
    finished_at: datetime
    outcome: SyncOutcome
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class DirectoryChanges:
    """One sync's writes; ``Directory.apply`` commits all of it or nothing."""

    integration: str
    synced_at: datetime
    employees_create: tuple[EmployeeRow, ...] = ()
    employees_update: tuple[EmployeeRow, ...] = ()  # full new values
    teams_upsert: tuple[Team, ...] = ()
    teams_delete: tuple[str, ...] = ()
    memberships_add: Sequence[tuple[str, str]] = ()  # (okta_id, group_id)
    memberships_remove: Sequence[tuple[str, str]] = ()
    okta_users_upsert: tuple[OktaUserRecord, ...] = ()
    okta_users_delete: tuple[str, ...] = ()
    okta_groups_upsert: tuple[OktaGroupRecord, ...] = ()
    okta_groups_delete: tuple[str, ...] = ()
    okta_members_add: Sequence[tuple[str, str]] = ()  # (group_id, user_id)
    okta_members_remove: Sequence[tuple[str, str]] = ()
    tallies_upsert: tuple[tuple[str, bool, str], ...] = ()  # (okta_id, in scope, tally)
    tallies_delete: tuple[str, ...] = ()
    # Every user of the org was counted (none left out): the tallies are whole once applied,
    # and ``sync_state.spec_hash`` is what they were counted under.
    tallies_whole: bool = False
    invitations_queue: tuple[InvitationRequest, ...] = ()
    sync_state: SyncState = field(default_factory=SyncState)
    # The DirectoryState.version these changes were computed from: applied only over that very
    # state, so two syncs that ran at once never both apply. None: apply over any state.
    base_version: int | None = None


@dataclass(frozen=True)
class DirectorySummary:
    """One integration's counts: employees, teams and invitations."""

    total: int
    active: int
    inactive: int
    teams: int
    invitations: InvitationCounts = field(default_factory=InvitationCounts)

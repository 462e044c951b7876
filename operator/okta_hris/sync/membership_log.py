"""Group memberships from Okta's System Log, for incremental syncs (issue 12).

Okta writes ``group.user_membership.add`` / ``.remove`` for every membership change, naming the
user and the group. An incremental sync folds the events since its watermark into the mirror's
members instead of listing again every group whose ``lastMembershipUpdated`` moved: a few log
pages instead of one listing per moved group.

The log is trusted only where it can be checked. A group whose ``lastMembershipUpdated`` has
not moved keeps the mirror's members, whatever the log says (a replica that trails cannot undo a
listing). A moved group is folded from the mirror's members: the last event of each (group,
user) pair by ``published`` wins, so events read twice (the watermark's margin) or out of order
on a page change nothing. It is listed again instead when the log cannot vouch for it: the group
is new to the mirror, its events cannot be read or are more than a cap, or its
``lastMembershipUpdated`` is later than the last event that explains it (the log is eventually
consistent and may trail Okta's writes; an import may not log at all). An event written after
the groups were listed is read again by the next sync: its window starts before this one ends.

Pure: no I/O; the engine reads the log and lists what ``settle_members`` says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from okta_hris.domain.changes import OktaGroupRecord
from okta_hris.okta import LogEvent

MEMBERSHIP_ADDED = "group.user_membership.add"
MEMBERSHIP_REMOVED = "group.user_membership.remove"
# Okta deletes a user in two steps; the memberships go with the second.
USER_DELETED = ("user.lifecycle.delete.initiated", "user.lifecycle.delete.completed")
# Renames, creations and deletions of groups: the groups listing, read whole by every sync,
# already shows them, so these are read as hints only (a group they name is never trusted
# more or less for them). Okta's catalog says ``group.profile.update``; SPEC §11 writes
# ``.updated``: both are asked for.
GROUP_CHANGED = (
    "group.profile.update",
    "group.profile.updated",
    "group.lifecycle.create",
    "group.lifecycle.delete",
)
LOG_EVENT_TYPES = (MEMBERSHIP_ADDED, MEMBERSHIP_REMOVED, *USER_DELETED, *GROUP_CHANGED)
# One query for all of them: Okta's log filter takes ``or``.
LOG_FILTER = " or ".join(f'eventType eq "{event_type}"' for event_type in LOG_EVENT_TYPES)

# Okta keeps the System Log for 90 days: a window that starts earlier has lost events.
LOG_RETENTION = timedelta(days=90)
# Past this many events in one window, and more events than members, a group had a bulk
# change (a group rule re-run, an import): its listing is exact and costs fewer pages (one per
# 1,000 members) than its events took. A large group that merely moved a lot (a 50,000-member
# group with 1,100 changes, 50 pages to list) is folded from the log like any other.
MAX_EVENTS_PER_GROUP = 1000
# Pairs held for all groups at once; past it the log is dropped (the moved groups are listed),
# so a flood of events cannot grow the sync's memory without bound.
MAX_PAIRS = 200_000
# Okta stamps an event's ``published`` and the group's ``lastMembershipUpdated`` separately;
# how far apart one change may put them.
CLOCK_TOLERANCE = timedelta(seconds=1)

_OKTA_ID = re.compile(r"[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class _Membership:
    """The last word of the log on one (group, user) pair."""

    published: datetime
    order: int  # arrival, for events published in the same millisecond
    added: bool


@dataclass
class MembershipLog:
    """What the System Log said between ``since`` and ``until``, folded as its pages arrive.

    ``unreadable`` says why the log is not to be trusted at all (the query failed); the
    deletions it holds are then empty too.
    """

    since: datetime
    until: datetime
    unreadable: str | None = None
    max_events_per_group: int = MAX_EVENTS_PER_GROUP
    max_pairs: int = MAX_PAIRS
    deleted_users: dict[str, datetime] = field(default_factory=dict)  # user id -> when
    overflowed: bool = False
    _pairs: dict[str, dict[str, _Membership]] = field(default_factory=dict)  # group -> user
    _events: dict[str, int] = field(default_factory=dict)  # group -> membership events
    _latest: dict[str, datetime] = field(default_factory=dict)  # group -> last event
    _doubtful: set[str] = field(default_factory=set)  # groups named by unreadable events
    _held: int = 0
    _read: int = 0

    @classmethod
    def failed(cls, since: datetime, until: datetime, reason: str) -> MembershipLog:
        return cls(since, until, unreadable=reason)

    @property
    def distrust(self) -> str | None:
        """Why no group's members may be taken from this log, or None."""
        if self.unreadable is not None:
            return self.unreadable
        if self.since < self.until - LOG_RETENTION:
            return "the watermark is older than Okta's 90-day System Log retention"
        if self.overflowed:
            return f"more than {self.max_pairs:,} membership changes"
        return None

    def record(self, events: Iterable[LogEvent]) -> None:
        """Fold one page of events (any order)."""
        for event in events:
            self._read += 1
            if event.event_type in USER_DELETED:
                for target in event.target:
                    if target.type == "User" and _OKTA_ID.fullmatch(target.id):
                        known = self.deleted_users.get(target.id)
                        if known is None or event.published > known:
                            self.deleted_users[target.id] = event.published
            elif event.event_type in (MEMBERSHIP_ADDED, MEMBERSHIP_REMOVED):
                self._membership(event)

    def _membership(self, event: LogEvent) -> None:
        if self.overflowed:
            return
        users = [t.id for t in event.target if t.type == "User"]
        groups = [t.id for t in event.target if t.type == "UserGroup"]
        if len(users) != 1 or len(groups) != 1 or not _OKTA_ID.fullmatch(users[0]):
            # Not the one user and one group Okta names: whichever group it is about cannot
            # be folded, so it is listed.
            self._doubtful.update(groups)
            return
        user_id, group_id = users[0], groups[0]
        count = self._events.get(group_id, 0) + 1
        self._events[group_id] = count
        latest = self._latest.get(group_id)
        if latest is None or event.published > latest:
            self._latest[group_id] = event.published
        if group_id in self._doubtful:  # listed whatever its events say
            return
        pairs = self._pairs.setdefault(group_id, {})
        change = _Membership(event.published, self._read, event.event_type == MEMBERSHIP_ADDED)
        known = pairs.get(user_id)
        if known is None:
            while self._held + 1 + len(self._events) + len(self._doubtful) > self.max_pairs:
                if not self._list_largest_bulk_group():
                    self.overflowed = True
                    self._pairs.clear()
                    return
            if group_id in self._doubtful:  # this very group made room
                return
            self._held += 1
        if known is None or (change.published, change.order) > (known.published, known.order):
            pairs[user_id] = change

    def _list_largest_bulk_group(self) -> bool:
        """Make room by giving up the folded pairs of the group past the events cap that holds
        the most (it is listed instead): a bulk change of a few groups must not make the
        whole log overflow. False when no such group holds any."""
        bulk = [
            g
            for g, count in self._events.items()
            if count > self.max_events_per_group and self._pairs.get(g)
        ]
        if not bulk:
            return False
        largest = max(bulk, key=lambda g: len(self._pairs[g]))
        self._held -= len(self._pairs.pop(largest))
        self._doubtful.add(largest)
        return True

    def explains(
        self, group: OktaGroupRecord, members: frozenset[str], size: int | None = None
    ) -> bool:
        """Whether the log accounts for the group's membership as Okta last changed it:
        an event about it (or the deletion of one of its ``members``) at least as late as its
        ``lastMembershipUpdated``, and not a bulk change (``MAX_EVENTS_PER_GROUP``).
        ``size``: how many members the group had, when ``members`` are only some of them."""
        events = self._events.get(group.id, 0)
        bulk = events > max(self.max_events_per_group, len(members) if size is None else size)
        if group.id in self._doubtful or bulk:
            return False
        if group.last_membership_updated is None:  # it had one: not an answer to check against
            return False
        moments = [self._latest[group.id]] if group.id in self._latest else []
        moments += [when for user, when in self.deleted_users.items() if user in members]
        return bool(moments) and max(moments) >= group.last_membership_updated - CLOCK_TOLERANCE

    def folded(self, group_id: str, members: frozenset[str]) -> frozenset[str]:
        """``members`` with the log's last word on each pair applied (deletions aside)."""
        changes = self._pairs.get(group_id)
        if not changes:
            return members
        added = {user for user, change in changes.items() if change.added}
        return members.difference(changes).union(added)

    @property
    def events_read(self) -> int:
        return self._read

    @property
    def named_users(self) -> frozenset[str]:
        """The users whose memberships ``folded`` changes (in any group)."""
        return frozenset(user for pairs in self._pairs.values() for user in pairs)


@dataclass(frozen=True)
class Settlement:
    """Each team group's members: taken from the mirror and the log (``members``) or to be
    listed from Okta (``relist``)."""

    members: dict[str, frozenset[str]]
    relist: tuple[str, ...]


def settle_members(
    groups: Mapping[str, OktaGroupRecord],
    mirror_groups: Mapping[str, OktaGroupRecord],
    mirror_members: Mapping[str, frozenset[str]],
    log: MembershipLog,
    sizes: Mapping[str, int] | None = None,
) -> Settlement:
    """Decide, for each group Okta listed now, where its members come from.

    ``sizes``: each group's member count in the mirror, when ``mirror_members`` holds only
    some of them (an incremental sync reads the memberships of the users the log names).

    With a log that cannot be trusted this is what incremental syncs did before the log: list
    every group that moved (membership or profile), keep the others' members. Deleted users
    are left to the caller (they leave every group alike).
    """
    members: dict[str, frozenset[str]] = {}
    relist: list[str] = []
    trusted = log.distrust is None
    for group_id, group in groups.items():
        known = mirror_groups.get(group_id)
        mirrored = mirror_members.get(group_id, frozenset())
        if known is None:
            relist.append(group_id)
        elif not trusted:
            if _moved(known, group):
                relist.append(group_id)
            else:
                members[group_id] = mirrored
        elif known.last_membership_updated == group.last_membership_updated:
            # Unchanged, or only renamed (``lastUpdated`` moved): the mirror's members stand.
            members[group_id] = mirrored
        elif log.explains(group, mirrored, None if sizes is None else sizes.get(group_id, 0)):
            members[group_id] = log.folded(group_id, mirrored)
        else:
            relist.append(group_id)
    return Settlement(members, tuple(relist))


def _moved(known: OktaGroupRecord, group: OktaGroupRecord) -> bool:
    return (
        known.last_membership_updated != group.last_membership_updated
        or known.last_updated != group.last_updated
    )

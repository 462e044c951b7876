"""Folding the System Log into group members, and when a group is listed instead (pure)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from okta_hris.domain.changes import OktaGroupRecord
from okta_hris.okta import LogEvent
from okta_hris.sync.membership_log import (
    LOG_EVENT_TYPES,
    LOG_FILTER,
    MEMBERSHIP_ADDED,
    MEMBERSHIP_REMOVED,
    MembershipLog,
    settle_members,
)
from tests.sync.helpers import T0

MS = timedelta(milliseconds=1)


def event(event_type: str, at: datetime, *targets: tuple[str, str]) -> LogEvent:
    return LogEvent.model_validate(
        {
            "uuid": f"{event_type}-{at.isoformat()}-{targets}",
            "published": at.isoformat(),
            "eventType": event_type,
            "target": [{"id": i, "type": t} for t, i in targets],
        }
    )


def added(user: str, group: str, at: datetime) -> LogEvent:
    return event(MEMBERSHIP_ADDED, at, ("User", user), ("UserGroup", group))


def removed(user: str, group: str, at: datetime) -> LogEvent:
    return event(MEMBERSHIP_REMOVED, at, ("User", user), ("UserGroup", group))


def deleted(user: str, at: datetime) -> LogEvent:
    return event("user.lifecycle.delete.initiated", at, ("User", user))


def group(gid: str, moved: datetime | None = T0, updated: datetime = T0) -> OktaGroupRecord:
    return OktaGroupRecord(
        id=gid, type="OKTA_GROUP", name=gid, last_updated=updated, last_membership_updated=moved
    )


def window(**limits: Any) -> MembershipLog:
    return MembershipLog(T0 - timedelta(hours=1), T0 + timedelta(hours=1), **limits)


def settle(
    now: dict[str, OktaGroupRecord],
    mirror: dict[str, frozenset[str]],
    log: MembershipLog,
    before: dict[str, OktaGroupRecord] | None = None,
) -> tuple[dict[str, frozenset[str]], set[str]]:
    known = before if before is not None else {gid: group(gid) for gid in mirror}
    settled = settle_members(now, known, mirror, log)
    assert set(settled.members) | set(settled.relist) == set(now)
    assert not set(settled.members) & set(settled.relist)
    return settled.members, set(settled.relist)


def test_one_query_asks_for_every_event_type() -> None:
    assert LOG_FILTER.count(" or ") == len(LOG_EVENT_TYPES) - 1
    for event_type in ("group.profile.update", "group.profile.updated", "group.lifecycle.delete"):
        assert f'eventType eq "{event_type}"' in LOG_FILTER


def test_the_last_event_of_each_pair_wins_in_any_order() -> None:
    t = T0 + timedelta(seconds=10)
    events = [
        added("u1", "g1", t),
        removed("u1", "g1", t + MS),  # added then removed: out
        removed("u2", "g1", t),
        added("u2", "g1", t + MS),  # removed then added: in
        removed("u3", "g1", t + 2 * MS),  # a member who leaves
        added("u9", "g1", t + 3 * MS),  # a newcomer
    ]
    mirror = {"g1": frozenset({"u2", "u3", "u4"})}
    expected = frozenset({"u2", "u4", "u9"})
    for page in (events, list(reversed(events)), events + events):  # reordered, read twice
        log = window()
        log.record(page)
        members, relist = settle({"g1": group("g1", t + 3 * MS)}, mirror, log)
        assert (members, relist) == ({"g1": expected}, set())


def test_a_group_whose_membership_did_not_move_keeps_the_mirror() -> None:
    log = window()
    log.record([removed("u1", "g1", T0 - timedelta(minutes=1))])  # from the margin, or a lag
    renamed = group("g1", updated=T0 + timedelta(minutes=5))
    members, relist = settle({"g1": renamed}, {"g1": frozenset({"u1"})}, log)
    assert (members, relist) == ({"g1": frozenset({"u1"})}, set())


def test_a_move_the_log_does_not_explain_is_listed() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window()
    log.record([added("u7", "g2", moved), added("u8", "g3", moved - timedelta(seconds=30))])
    now = {gid: group(gid, moved) for gid in ("g1", "g2", "g3")}
    mirror = {gid: frozenset({"u1"}) for gid in now}
    members, relist = settle(now, mirror, log)
    # g1: no event at all; g3: its last event is older than its lastMembershipUpdated (the log
    # trails: a later change is not in it yet).
    assert relist == {"g1", "g3"}
    assert members == {"g2": frozenset({"u1", "u7"})}


def test_okta_stamps_within_the_tolerance_still_explain() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window()
    log.record([added("u7", "g1", moved - timedelta(milliseconds=400))])
    members, relist = settle({"g1": group("g1", moved)}, {"g1": frozenset()}, log)
    assert (members, relist) == ({"g1": frozenset({"u7"})}, set())


def test_new_groups_are_listed() -> None:
    log = window()
    log.record([added("u1", "g9", T0)])
    members, relist = settle({"g9": group("g9")}, {}, log)
    assert (members, relist) == ({}, {"g9"})


def test_a_deleted_member_explains_the_move_of_the_groups_it_was_in() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window()
    log.record([deleted("u1", moved)])
    now = {"g1": group("g1", moved), "g2": group("g2", moved)}
    mirror = {"g1": frozenset({"u1", "u2"}), "g2": frozenset({"u2"})}
    members, relist = settle(now, mirror, log)
    assert relist == {"g2"}  # u1 was never in g2: something else moved it
    assert members == {"g1": frozenset({"u1", "u2"})}  # the caller removes the deleted
    assert set(log.deleted_users) == {"u1"}


def test_events_that_are_not_one_user_and_one_group_are_not_folded() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window()
    log.record(
        [
            event(MEMBERSHIP_ADDED, moved, ("User", "u1"), ("User", "u2"), ("UserGroup", "g1")),
            event(MEMBERSHIP_ADDED, moved, ("User", "u1/../x"), ("UserGroup", "g2")),
            event(MEMBERSHIP_ADDED, moved, ("UserGroup", "g3")),
            deleted("not an id!", moved),
        ]
    )
    now = {gid: group(gid, moved) for gid in ("g1", "g2", "g3")}
    members, relist = settle(now, {gid: frozenset() for gid in now}, log)
    assert (members, relist) == ({}, {"g1", "g2", "g3"})
    assert log.deleted_users == {}


def test_a_group_with_more_events_than_the_cap_is_listed() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window(max_events_per_group=3)
    log.record([added(f"u{n}", "g1", moved - n * MS) for n in range(4)])
    log.record([added("u1", "g2", moved)])
    now = {"g1": group("g1", moved), "g2": group("g2", moved)}
    members, relist = settle(now, {"g1": frozenset(), "g2": frozenset()}, log)
    assert (members, relist) == ({"g2": frozenset({"u1"})}, {"g1"})


def test_a_large_group_with_more_events_than_the_cap_but_fewer_than_members_is_folded() -> None:
    # Listing a group costs a page per 1,000 members: a big group that merely moved a lot is
    # folded from the events already read, not listed again.
    moved = T0 + timedelta(minutes=5)
    log = window(max_events_per_group=3)
    log.record([removed(f"u{n}", "g1", moved - n * MS) for n in range(4)])
    log.record([removed(f"u{n}", "g2", moved - n * MS) for n in range(5)])
    log.record([added("new", "g2", moved)])
    mirror = {
        "g1": frozenset(f"u{n}" for n in range(10)),
        "g2": frozenset(f"u{n}" for n in range(5)),
    }
    members, relist = settle({gid: group(gid, moved) for gid in mirror}, mirror, log)
    assert members == {"g1": frozenset(f"u{n}" for n in range(4, 10))}
    assert relist == {"g2"}  # six events for five members: a bulk change, listed


def test_the_sizes_given_stand_for_the_members_of_groups_read_in_part() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window(max_events_per_group=3)
    for gid in ("big", "small"):
        log.record([removed(f"u{n}", gid, moved - n * MS) for n in range(4)])
    part = {gid: frozenset({"u0"}) for gid in ("big", "small")}  # the logged users' pairs
    now = {gid: group(gid, moved) for gid in part}
    settled = settle_members(now, {gid: group(gid) for gid in part}, part, log, {"big": 50})
    assert settled.members == {"big": frozenset()}
    assert settled.relist == ("small",)  # no size known: none in the mirror


@pytest.mark.parametrize(
    "log",
    [
        pytest.param(MembershipLog.failed(T0, T0, "Forbidden: no okta.logs.read"), id="failed"),
        pytest.param(MembershipLog(T0 - timedelta(days=91), T0), id="past-retention"),
        pytest.param(window(max_pairs=2), id="overflowed"),
    ],
)
def test_a_log_that_cannot_be_trusted_lists_every_moved_group(log: MembershipLog) -> None:
    moved = T0 + timedelta(minutes=5)
    log.record([added(f"u{n}", "g1", moved) for n in range(3)])
    log.record([deleted("u5", moved)])
    now = {
        "g1": group("g1", moved),
        "g2": group("g2", updated=moved),  # renamed: listed, as before the log
        "g3": group("g3"),
    }
    members, relist = settle(now, {gid: frozenset({"u5"}) for gid in now}, log)
    assert log.distrust is not None
    assert (members, relist) == ({"g3": frozenset({"u5"})}, {"g1", "g2"})


def test_deletions_count_even_when_the_memberships_overflow() -> None:
    log = window(max_pairs=2)
    log.record([added(f"u{n}", "g1", T0) for n in range(5)] + [deleted("u9", T0)])
    assert log.overflowed and set(log.deleted_users) == {"u9"}


def test_random_histories_fold_to_what_a_listing_shows() -> None:
    """Okta's membership history, the mirror taken at some point of it and the log since a
    watermark before that point (the margin): folding gives exactly the members at the end."""
    rng = random.Random(12)
    for _ in range(200):
        users = [f"u{n}" for n in range(6)]
        state: set[str] = set(rng.sample(users, 3))
        history: list[tuple[LogEvent, frozenset[str]]] = []
        at = T0
        for _ in range(rng.randrange(1, 12)):
            at += timedelta(milliseconds=rng.randrange(1, 3))
            user = rng.choice(users)
            if user in state:
                state.discard(user)
                history.append((removed(user, "g1", at), frozenset(state)))
            else:
                state.add(user)
                history.append((added(user, "g1", at), frozenset(state)))
        listed_at = rng.randrange(len(history))  # the last sync listed after this event
        watermark = max(0, listed_at - rng.randrange(0, 3))  # its window starts earlier
        mirror = history[listed_at][1]
        log = window()
        page = [e for e, _ in history[watermark:]]
        log.record(rng.sample(page, len(page)) if rng.random() < 0.3 else page)
        before = {"g1": group("g1", history[listed_at][0].published)}
        moved = group("g1", at)
        members, relist = settle({"g1": moved}, {"g1": mirror}, log, before)
        if moved.last_membership_updated == before["g1"].last_membership_updated:
            assert members == {"g1": mirror}
        else:
            assert (members, relist) == ({"g1": frozenset(state)}, set())

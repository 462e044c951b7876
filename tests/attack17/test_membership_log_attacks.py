"""Red-team of the bulk-change rule (membership_log.py). Before it, a group past
``max_events_per_group`` dropped its pairs at once (it was to be listed anyway), so one bulk
change held at most the cap's pairs. Then every event's pair was held until the end, so a
single bulk change (an import, a rule re-run) larger than ``max_pairs`` overflowed the log:
the whole window was distrusted and *every* group that moved listed again, although only the
bulk group needed it. Now the pairs of the largest group past the cap make room."""

from __future__ import annotations

from datetime import timedelta

from okta_hris.sync.membership_log import settle_members
from tests.sync.test_membership_log import MS, T0, added, group, window


def test_one_bulk_group_does_not_make_the_log_overflow_for_every_other_group() -> None:
    moved = T0 + timedelta(minutes=5)
    log = window(max_events_per_group=3, max_pairs=12)
    # A bulk import: 20 users into "bulk" (5 members before: more events than members).
    log.record([added(f"b{n}", "bulk", moved - n * MS) for n in range(20)])
    # An ordinary change: one user into "small".
    log.record([added("new", "small", moved)])
    mirror = {
        "bulk": frozenset(f"m{n}" for n in range(5)),
        "small": frozenset({"u1"}),
    }
    now = {gid: group(gid, moved) for gid in mirror}
    settled = settle_members(now, {gid: group(gid) for gid in mirror}, mirror, log)
    assert log.distrust is None
    assert settled.relist == ("bulk",)
    assert settled.members == {"small": frozenset({"u1", "new"})}

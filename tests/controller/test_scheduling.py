"""scheduling: what to do next and when, as pure functions of the object and the clock."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from okta_hris.controller import conditions, scheduling
from okta_hris.controller import status as status_patches
from okta_hris.controller.options import ControllerConfig

from .status_samples import (
    CONFIG,
    NOW,
    ctx,
    invalid,
    stalled,
    synced,
    view,
)


class TestDecide:
    def test_new_object_syncs_in_full(self) -> None:
        action = scheduling.decide(view(), scheduling.Memory(), NOW)
        assert action == scheduling.Sync(scheduling.Trigger.CREATED, force_full=True)

    def test_new_generation_syncs_in_full(self) -> None:
        action = scheduling.decide(view(synced(), generation=2), scheduling.Memory(), NOW)
        assert action == scheduling.Sync(scheduling.Trigger.SPEC_CHANGED, force_full=True)

    def test_waits_for_the_next_sync(self) -> None:
        action = scheduling.decide(view(synced()), scheduling.Memory(), NOW)
        next_sync = NOW + timedelta(hours=1)
        assert action == scheduling.Wait(next_sync, next_sync=next_sync)

    def test_due_sync_is_incremental_unless_the_engine_decides_otherwise(self) -> None:
        later = NOW + timedelta(hours=1, seconds=1)
        assert scheduling.decide(view(synced()), scheduling.Memory(), later) == scheduling.Sync(
            scheduling.Trigger.SCHEDULED, force_full=False
        )

    def test_restart_spread_delays_overdue_syncs(self) -> None:
        later = NOW + timedelta(hours=2)
        memory = scheduling.Memory(not_before=later + timedelta(seconds=30))
        spread = later + timedelta(seconds=30)
        assert scheduling.decide(view(synced()), memory, later) == scheduling.Wait(
            spread, next_sync=spread
        )

    def test_resync_annotation_until_echoed(self) -> None:
        requested = view(synced(), annotations={"hris.dev/resync-requested-at": "42"})
        assert scheduling.decide(requested, scheduling.Memory(), NOW) == scheduling.Sync(
            scheduling.Trigger.RESYNC_REQUESTED, force_full=True
        )
        echoed = view(
            synced(lastHandledResyncAt="42"), annotations={"hris.dev/resync-requested-at": "42"}
        )
        assert isinstance(scheduling.decide(echoed, scheduling.Memory(), NOW), scheduling.Wait)

    def test_suspended_is_reported_once_and_then_waits(self) -> None:
        assert (
            scheduling.decide(view(synced(), suspend=True), scheduling.Memory(), NOW)
            == scheduling.Suspend()
        )
        reported = status_patches.suspended(ctx(synced(), 1, NOW)).as_json()
        status = status_patches.merge_patch(synced(), reported)
        annotations = {"hris.dev/resync-requested-at": "42"}
        action = scheduling.decide(
            view(status, annotations=annotations, suspend=True), scheduling.Memory(), NOW
        )
        assert action == scheduling.Wait(None)

    def test_a_spec_changed_while_suspended_is_reported_once_and_synced_on_resume(self) -> None:
        """Suspension observes no generation, so it must not be reported again and again."""
        changed = view(synced(), generation=2, suspend=True)
        assert scheduling.decide(changed, scheduling.Memory(), NOW) == scheduling.Suspend()
        reported = status_patches.suspended(ctx(synced(), 2, NOW)).as_json()
        status = status_patches.merge_patch(synced(), reported)
        assert status["observedGeneration"] == 1
        still = view(status, generation=3, suspend=True)
        assert scheduling.decide(still, scheduling.Memory(), NOW) == scheduling.Wait(None)
        resumed = view(status, generation=4)
        assert scheduling.decide(resumed, scheduling.Memory(), NOW) == scheduling.Sync(
            scheduling.Trigger.SPEC_CHANGED, force_full=True
        )

    def test_invalid_spec_is_reported_once(self) -> None:
        assert scheduling.decide(
            invalid(view(synced(), 2), "bad"), scheduling.Memory(), NOW
        ) == scheduling.ReportInvalidSpec("bad")
        status = status_patches.merge_patch(
            synced(), status_patches.invalid_spec(ctx(synced(), 2, NOW), "bad").as_json()
        )
        assert scheduling.decide(
            invalid(view(status, 2), "bad"), scheduling.Memory(), NOW
        ) == scheduling.Wait(None)
        # Valid again (an operator setting changed): it syncs at once.
        assert isinstance(
            scheduling.decide(view(status, 2), scheduling.Memory(), NOW), scheduling.Sync
        )

    def test_approval_of_the_held_count_syncs_once(self) -> None:
        held = synced(heldDeactivations=12)
        approving = {"hris.dev/approve-deactivations": "12"}
        action = scheduling.decide(view(held, annotations=approving), scheduling.Memory(), NOW)
        assert action == scheduling.Sync(
            scheduling.Trigger.DEACTIVATIONS_APPROVED, force_full=False, approval="12"
        )
        # Tried and failed (Okta down): not at once again, but by the next scheduled sync.
        tried = scheduling.Memory(approval_attempted="12")
        assert isinstance(
            scheduling.decide(view(held, annotations=approving), tried, NOW), scheduling.Wait
        )
        due = NOW + timedelta(hours=1)
        assert scheduling.decide(view(held, annotations=approving), tried, due) == scheduling.Sync(
            scheduling.Trigger.SCHEDULED, force_full=False, approval="12"
        )

    def test_an_approval_of_another_count_is_spent_releasing_nothing(self) -> None:
        held = synced(heldDeactivations=12)
        wrong = {"hris.dev/approve-deactivations": "11"}
        action = scheduling.decide(view(held, annotations=wrong), scheduling.Memory(), NOW)
        assert action == scheduling.IgnoreApproval("11", 12)
        unheld = scheduling.decide(view(synced(), annotations=wrong), scheduling.Memory(), NOW)
        assert unheld == scheduling.IgnoreApproval("11", None)

    def test_a_spent_approval_never_releases_a_later_hold(self) -> None:
        """The stale annotation of an earlier hold of the same size, after a restart too."""
        record = {
            "value": "12",
            "result": "Released",
            "deactivations": 12,
            "time": conditions.format_time(NOW),
        }
        held_again = synced(heldDeactivations=12, lastHandledApproval=record)
        approving = {"hris.dev/approve-deactivations": "12"}
        stale = view(held_again, annotations=approving)
        assert stale.pending_approval is None
        assert isinstance(scheduling.decide(stale, scheduling.Memory(), NOW), scheduling.Wait)
        due = NOW + timedelta(hours=1)
        assert scheduling.decide(stale, scheduling.Memory(), due) == scheduling.Sync(
            scheduling.Trigger.SCHEDULED, force_full=False, approval=None
        )
        # A note after the count makes a new approval of the same size.
        again = view(held_again, annotations={"hris.dev/approve-deactivations": "12/2"})
        assert scheduling.decide(again, scheduling.Memory(), NOW) == scheduling.Sync(
            scheduling.Trigger.DEACTIVATIONS_APPROVED, force_full=False, approval="12/2"
        )

    @pytest.mark.parametrize(
        ("value", "count"),
        [("12", 12), (" 12 ", 12), ("12/2", 12), ("12 CHG-1234", 12), ("12#3", 12)],
    )
    def test_approval_values(self, value: str, count: int) -> None:
        assert scheduling.approval_count(value) == count

    @pytest.mark.parametrize("value", ["twelve", "12x", "-12", "1.5", ""])
    def test_approval_values_that_approve_nothing(self, value: str) -> None:
        assert scheduling.approval_count(value) is None

    def test_resync_value_is_kept_exactly(self) -> None:
        requested = view(synced(), annotations={"hris.dev/resync-requested-at": " x"})
        assert requested.pending_resync == " x"
        echoed = view(
            synced(lastHandledResyncAt=" x"), annotations={"hris.dev/resync-requested-at": " x"}
        )
        assert isinstance(scheduling.decide(echoed, scheduling.Memory(), NOW), scheduling.Wait)

    def test_resync_of_an_invalid_spec_is_answered(self) -> None:
        status = status_patches.merge_patch(
            synced(), status_patches.invalid_spec(ctx(synced(), 2, NOW), "bad").as_json()
        )
        annotations = {"hris.dev/resync-requested-at": "r1"}
        action = scheduling.decide(
            invalid(view(status, 2, annotations), "bad"), scheduling.Memory(), NOW
        )
        assert action == scheduling.ReportInvalidSpec("bad", "r1")
        echoed = status_patches.merge_patch(
            status, status_patches.invalid_spec(ctx(status, 2, NOW), "bad", "r1").as_json()
        )
        assert echoed["lastHandledResyncAt"] == "r1"
        assert scheduling.decide(
            invalid(view(echoed, 2, annotations), "bad"), scheduling.Memory(), NOW
        ) == scheduling.Wait(None)

    def test_invite_all_backs_off_after_a_failure(self) -> None:
        annotations = {"hris.dev/invite-all-pending": "t1"}
        retry = NOW + timedelta(seconds=30)
        memory = scheduling.Memory(invite_all_not_before=retry)
        assert scheduling.decide(
            view(synced(), annotations=annotations), memory, NOW
        ) == scheduling.Wait(retry, next_sync=NOW + timedelta(hours=1))
        assert scheduling.decide(
            view(synced(), annotations=annotations), memory, retry
        ) == scheduling.InviteAllPending("t1")

    @pytest.mark.parametrize("reason", ["SecretNotFound", "Unauthorized", "Forbidden"])
    def test_secret_change_retries_what_a_secret_can_fix(self, reason: str) -> None:
        memory = scheduling.Memory(secret_changed=True)
        assert scheduling.decide(view(stalled(reason)), memory, NOW) == scheduling.Sync(
            scheduling.Trigger.SECRET_CHANGED, force_full=False
        )

    @pytest.mark.parametrize("reason", ["SecretNotFound", "Unauthorized", "Forbidden"])
    def test_a_stalled_secret_is_read_again_on_a_short_schedule(self, reason: str) -> None:
        """No watch on Secrets: read at once (never read, or the object changed), then again
        at ``secret_check_at``, while the next sync stays where it was."""
        status = stalled(reason)
        assert scheduling.decide(view(status), scheduling.Memory(), NOW) == (
            scheduling.CheckSecret()
        )
        check_at = NOW + CONFIG.secret_retry
        checked = scheduling.Memory(secret_check_at=check_at)
        assert scheduling.decide(view(status), checked, NOW) == scheduling.Wait(
            check_at, next_sync=NOW + timedelta(hours=1)
        )
        assert scheduling.decide(view(status), checked, check_at) == scheduling.CheckSecret()

    @pytest.mark.parametrize("status", [synced(), stalled("DeactivationThresholdExceeded")])
    def test_no_secret_is_read_again_where_it_cannot_help(self, status: dict[str, Any]) -> None:
        for memory in (scheduling.Memory(), scheduling.Memory(secret_changed=True)):
            assert isinstance(scheduling.decide(view(status), memory, NOW), scheduling.Wait)

    def test_invite_all_annotation_until_echoed(self) -> None:
        annotations = {"hris.dev/invite-all-pending": "t1"}
        action = scheduling.decide(
            view(synced(), annotations=annotations), scheduling.Memory(), NOW
        )
        assert action == scheduling.InviteAllPending("t1")
        done = synced(lastHandledInviteAllPending="t1")
        assert isinstance(
            scheduling.decide(view(done, annotations=annotations), scheduling.Memory(), NOW),
            scheduling.Wait,
        )


class TestClock:
    def test_interval_has_a_floor(self) -> None:
        floor = ControllerConfig(min_interval=timedelta(minutes=15))
        assert scheduling.effective_interval(timedelta(minutes=5), floor) == timedelta(minutes=15)
        assert scheduling.effective_interval(None, CONFIG) == timedelta(hours=1)

    def test_next_sync_is_timed_from_the_end_plus_bounded_jitter(self) -> None:
        rng = random.Random(1)
        interval = timedelta(hours=1)
        times = [scheduling.next_sync_after(NOW, interval, CONFIG, rng) for _ in range(200)]
        assert all(NOW + interval <= t <= NOW + interval + timedelta(minutes=5) for t in times)
        assert len(set(times)) > 100  # spread, not one instant

    def test_jitter_is_capped(self) -> None:
        rng = random.Random(2)
        day = timedelta(days=1)
        assert all(scheduling.jitter(day, CONFIG, rng) <= CONFIG.max_jitter for _ in range(100))

    def test_transient_failures_back_off_exponentially_up_to_a_cap(self) -> None:
        interval = timedelta(hours=1)
        no_jitter = _FixedRandom(0.0)
        delays = [
            scheduling.retry_after(NOW, n, interval, CONFIG, no_jitter) - NOW for n in range(1, 8)
        ]
        assert delays[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
        assert delays[-1] == CONFIG.retry_backoff_max
        short = timedelta(minutes=2)
        assert scheduling.retry_after(NOW, 7, short, CONFIG, no_jitter) - NOW == short

    def test_retries_after_a_shared_outage_are_spread(self) -> None:
        """Integrations failing together must not retry in lockstep, capped or not."""
        rng = random.Random(3)
        for failures, ceiling in ((1, timedelta(seconds=30)), (9, CONFIG.retry_backoff_max)):
            delays = [
                scheduling.retry_after(NOW, failures, timedelta(hours=1), CONFIG, rng) - NOW
                for _ in range(100)
            ]
            assert all(ceiling * (1 - scheduling.RETRY_JITTER) <= d <= ceiling for d in delays)
            assert len(set(delays)) > 90

    def test_permanent_failures_wait_long(self) -> None:
        assert scheduling.stalled_retry_after(NOW, timedelta(hours=1), CONFIG) == NOW + timedelta(
            hours=6
        )
        day = timedelta(days=1)
        assert scheduling.stalled_retry_after(NOW, day, CONFIG) == NOW + day


class _FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_an_unreadable_approval_record_never_releases_a_hold_again() -> None:
    record = {"value": "5", "result": "Expired", "time": conditions.format_time(NOW)}
    held_again = synced(heldDeactivations=5, lastHandledApproval=record)
    stale = view(held_again, annotations={"hris.dev/approve-deactivations": "5"})
    assert stale.pending_approval is None
    assert isinstance(scheduling.decide(stale, scheduling.Memory(), NOW), scheduling.Wait)

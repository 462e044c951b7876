"""The controller's pure parts: scheduling decisions, backoff, conditions, status, config."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from okta_hris.controller import conditions as c
from okta_hris.controller import scheduling as sch
from okta_hris.controller import status as s
from okta_hris.controller.kube import default_namespace
from okta_hris.controller.options import ControllerConfig
from okta_hris.controller.reconciler import secret_references
from okta_hris.controller.runtime import (
    IntegrationState,
    TokenSeen,
    run_in_own_loop,
    token_fingerprint,
)
from okta_hris.domain.changes import DirectorySummary, SyncStats
from okta_hris.domain.invitations import InvitationCounts
from okta_hris.errors import ConfigError, DeactivationThresholdExceeded
from okta_hris.resource.status import HandledApproval

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
CONFIG = ControllerConfig()


INVITING = {
    "enabled": True,
    "dashboardUrl": "https://dashboard.example.com",
    "from": "People Ops <people-ops@example.com>",
    "smtpSecretRef": {"name": "smtp"},
}


def view(
    status: dict[str, Any] | None = None,
    generation: int = 1,
    annotations: dict[str, str] | None = None,
    **sync: Any,
) -> sch.ObjectView:
    spec = {
        "okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}},
        "sync": sync,
        "invitations": INVITING,
    }
    meta = {"generation": generation, "annotations": annotations or {}}
    found = sch.ObjectView.from_object(spec, meta, status or {})
    assert found.spec_error is None, found.spec_error
    return found


def invalid(found: sch.ObjectView, error: str) -> sch.ObjectView:
    """The same object with a spec that does not validate."""
    return replace(found, spec=None, spec_error=error)


def ctx(status: dict[str, Any], generation: int | None, now: datetime) -> s.StatusContext:
    return s.StatusContext(s.read_status(status), generation, now)


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    """A condition of a JSON status patch, by type."""
    return next((item for item in conditions if item["type"] == type_), None)


def synced(**extra: Any) -> dict[str, Any]:
    """The status after a successful sync of generation 1, next sync in an hour."""
    return {
        "observedGeneration": 1,
        "lastSyncTime": c.format_time(NOW),
        "nextSyncTime": c.format_time(NOW + timedelta(hours=1)),
        **extra,
    }


def stalled(reason: str) -> dict[str, Any]:
    return synced(
        conditions=[
            {
                "type": "Stalled",
                "status": "True",
                "reason": reason,
                "message": "",
                "lastTransitionTime": c.format_time(NOW),
            }
        ]
    )


class TestDecide:
    def test_new_object_syncs_in_full(self) -> None:
        action = sch.decide(view(), sch.Memory(), NOW)
        assert action == sch.Sync(sch.Trigger.CREATED, force_full=True)

    def test_new_generation_syncs_in_full(self) -> None:
        action = sch.decide(view(synced(), generation=2), sch.Memory(), NOW)
        assert action == sch.Sync(sch.Trigger.SPEC_CHANGED, force_full=True)

    def test_waits_for_the_next_sync(self) -> None:
        action = sch.decide(view(synced()), sch.Memory(), NOW)
        assert action == sch.Wait(NOW + timedelta(hours=1))

    def test_due_sync_is_incremental_unless_the_engine_decides_otherwise(self) -> None:
        later = NOW + timedelta(hours=1, seconds=1)
        assert sch.decide(view(synced()), sch.Memory(), later) == sch.Sync(
            sch.Trigger.SCHEDULED, force_full=False
        )

    def test_restart_spread_delays_overdue_syncs(self) -> None:
        later = NOW + timedelta(hours=2)
        memory = sch.Memory(not_before=later + timedelta(seconds=30))
        assert sch.decide(view(synced()), memory, later) == sch.Wait(later + timedelta(seconds=30))

    def test_resync_annotation_until_echoed(self) -> None:
        requested = view(synced(), annotations={"hris.dev/resync-requested-at": "42"})
        assert sch.decide(requested, sch.Memory(), NOW) == sch.Sync(
            sch.Trigger.RESYNC_REQUESTED, force_full=True
        )
        echoed = view(
            synced(lastHandledResyncAt="42"), annotations={"hris.dev/resync-requested-at": "42"}
        )
        assert isinstance(sch.decide(echoed, sch.Memory(), NOW), sch.Wait)

    def test_suspended_is_reported_once_and_then_waits(self) -> None:
        assert sch.decide(view(synced(), suspend=True), sch.Memory(), NOW) == sch.Suspend()
        reported = s.suspended(ctx(synced(), 1, NOW)).as_json()
        status = s.merge_patch(synced(), reported)
        annotations = {"hris.dev/resync-requested-at": "42"}
        action = sch.decide(view(status, annotations=annotations, suspend=True), sch.Memory(), NOW)
        assert action == sch.Wait(None)

    def test_invalid_spec_is_reported_once(self) -> None:
        assert sch.decide(
            invalid(view(synced(), 2), "bad"), sch.Memory(), NOW
        ) == sch.ReportInvalidSpec("bad")
        status = s.merge_patch(synced(), s.invalid_spec(ctx(synced(), 2, NOW), "bad").as_json())
        assert sch.decide(invalid(view(status, 2), "bad"), sch.Memory(), NOW) == sch.Wait(None)
        # Valid again (an operator setting changed): it syncs at once.
        assert isinstance(sch.decide(view(status, 2), sch.Memory(), NOW), sch.Sync)

    def test_approval_of_the_held_count_syncs_once(self) -> None:
        held = synced(heldDeactivations=12)
        approving = {"hris.dev/approve-deactivations": "12"}
        action = sch.decide(view(held, annotations=approving), sch.Memory(), NOW)
        assert action == sch.Sync(
            sch.Trigger.DEACTIVATIONS_APPROVED, force_full=False, approval="12"
        )
        # Tried and failed (Okta down): not at once again, but by the next scheduled sync.
        tried = sch.Memory(approval_attempted="12")
        assert isinstance(sch.decide(view(held, annotations=approving), tried, NOW), sch.Wait)
        due = NOW + timedelta(hours=1)
        assert sch.decide(view(held, annotations=approving), tried, due) == sch.Sync(
            sch.Trigger.SCHEDULED, force_full=False, approval="12"
        )

    def test_an_approval_of_another_count_is_spent_releasing_nothing(self) -> None:
        held = synced(heldDeactivations=12)
        wrong = {"hris.dev/approve-deactivations": "11"}
        action = sch.decide(view(held, annotations=wrong), sch.Memory(), NOW)
        assert action == sch.IgnoreApproval("11", 12)
        unheld = sch.decide(view(synced(), annotations=wrong), sch.Memory(), NOW)
        assert unheld == sch.IgnoreApproval("11", None)

    def test_a_spent_approval_never_releases_a_later_hold(self) -> None:
        """The stale annotation of an earlier hold of the same size, after a restart too."""
        record = {
            "value": "12",
            "result": "Released",
            "deactivations": 12,
            "time": c.format_time(NOW),
        }
        held_again = synced(heldDeactivations=12, lastHandledApproval=record)
        approving = {"hris.dev/approve-deactivations": "12"}
        stale = view(held_again, annotations=approving)
        assert stale.pending_approval is None
        assert isinstance(sch.decide(stale, sch.Memory(), NOW), sch.Wait)
        due = NOW + timedelta(hours=1)
        assert sch.decide(stale, sch.Memory(), due) == sch.Sync(
            sch.Trigger.SCHEDULED, force_full=False, approval=None
        )
        # A note after the count makes a new approval of the same size.
        again = view(held_again, annotations={"hris.dev/approve-deactivations": "12/2"})
        assert sch.decide(again, sch.Memory(), NOW) == sch.Sync(
            sch.Trigger.DEACTIVATIONS_APPROVED, force_full=False, approval="12/2"
        )

    @pytest.mark.parametrize(
        ("value", "count"),
        [("12", 12), (" 12 ", 12), ("12/2", 12), ("12 CHG-1234", 12), ("12#3", 12)],
    )
    def test_approval_values(self, value: str, count: int) -> None:
        assert sch.approval_count(value) == count

    @pytest.mark.parametrize("value", ["twelve", "12x", "-12", "1.5", ""])
    def test_approval_values_that_approve_nothing(self, value: str) -> None:
        assert sch.approval_count(value) is None

    def test_resync_value_is_kept_exactly(self) -> None:
        requested = view(synced(), annotations={"hris.dev/resync-requested-at": " x"})
        assert requested.pending_resync == " x"
        echoed = view(
            synced(lastHandledResyncAt=" x"), annotations={"hris.dev/resync-requested-at": " x"}
        )
        assert isinstance(sch.decide(echoed, sch.Memory(), NOW), sch.Wait)

    def test_resync_of_an_invalid_spec_is_answered(self) -> None:
        status = s.merge_patch(synced(), s.invalid_spec(ctx(synced(), 2, NOW), "bad").as_json())
        annotations = {"hris.dev/resync-requested-at": "r1"}
        action = sch.decide(invalid(view(status, 2, annotations), "bad"), sch.Memory(), NOW)
        assert action == sch.ReportInvalidSpec("bad", "r1")
        echoed = s.merge_patch(status, s.invalid_spec(ctx(status, 2, NOW), "bad", "r1").as_json())
        assert echoed["lastHandledResyncAt"] == "r1"
        assert sch.decide(
            invalid(view(echoed, 2, annotations), "bad"), sch.Memory(), NOW
        ) == sch.Wait(None)

    def test_invite_all_backs_off_after_a_failure(self) -> None:
        annotations = {"hris.dev/invite-all-pending": "t1"}
        retry = NOW + timedelta(seconds=30)
        memory = sch.Memory(invite_all_not_before=retry)
        assert sch.decide(view(synced(), annotations=annotations), memory, NOW) == sch.Wait(retry)
        assert sch.decide(
            view(synced(), annotations=annotations), memory, retry
        ) == sch.InviteAllPending("t1")

    @pytest.mark.parametrize("reason", ["SecretNotFound", "Unauthorized", "Forbidden"])
    def test_secret_change_retries_what_a_secret_can_fix(self, reason: str) -> None:
        memory = sch.Memory(secret_changed=True)
        assert sch.decide(view(stalled(reason)), memory, NOW) == sch.Sync(
            sch.Trigger.SECRET_CHANGED, force_full=False
        )
        assert isinstance(sch.decide(view(stalled(reason)), sch.Memory(), NOW), sch.Wait)

    def test_secret_change_does_not_resync_a_healthy_integration(self) -> None:
        memory = sch.Memory(secret_changed=True)
        assert isinstance(sch.decide(view(synced()), memory, NOW), sch.Wait)

    def test_invite_all_annotation_until_echoed(self) -> None:
        annotations = {"hris.dev/invite-all-pending": "t1"}
        action = sch.decide(view(synced(), annotations=annotations), sch.Memory(), NOW)
        assert action == sch.InviteAllPending("t1")
        done = synced(lastHandledInviteAllPending="t1")
        assert isinstance(
            sch.decide(view(done, annotations=annotations), sch.Memory(), NOW), sch.Wait
        )


class TestClock:
    def test_interval_has_a_floor(self) -> None:
        floor = ControllerConfig(min_interval=timedelta(minutes=15))
        assert sch.effective_interval(timedelta(minutes=5), floor) == timedelta(minutes=15)
        assert sch.effective_interval(None, CONFIG) == timedelta(hours=1)

    def test_next_sync_is_timed_from_the_end_plus_bounded_jitter(self) -> None:
        rng = random.Random(1)
        interval = timedelta(hours=1)
        times = [sch.next_sync_after(NOW, interval, CONFIG, rng) for _ in range(200)]
        assert all(NOW + interval <= t <= NOW + interval + timedelta(minutes=5) for t in times)
        assert len(set(times)) > 100  # spread, not one instant

    def test_jitter_is_capped(self) -> None:
        rng = random.Random(2)
        day = timedelta(days=1)
        assert all(sch.jitter(day, CONFIG, rng) <= CONFIG.max_jitter for _ in range(100))

    def test_transient_failures_back_off_exponentially_up_to_a_cap(self) -> None:
        interval = timedelta(hours=1)
        no_jitter = _FixedRandom(0.0)
        delays = [sch.retry_after(NOW, n, interval, CONFIG, no_jitter) - NOW for n in range(1, 8)]
        assert delays[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
        assert delays[-1] == CONFIG.retry_backoff_max
        short = timedelta(minutes=2)
        assert sch.retry_after(NOW, 7, short, CONFIG, no_jitter) - NOW == short

    def test_retries_after_a_shared_outage_are_spread(self) -> None:
        """Integrations failing together must not retry in lockstep, capped or not."""
        rng = random.Random(3)
        for failures, ceiling in ((1, timedelta(seconds=30)), (9, CONFIG.retry_backoff_max)):
            delays = [
                sch.retry_after(NOW, failures, timedelta(hours=1), CONFIG, rng) - NOW
                for _ in range(100)
            ]
            assert all(ceiling * (1 - sch.RETRY_JITTER) <= d <= ceiling for d in delays)
            assert len(set(delays)) > 90

    def test_permanent_failures_wait_long(self) -> None:
        assert sch.stalled_retry_after(NOW, timedelta(hours=1), CONFIG) == NOW + timedelta(hours=6)
        day = timedelta(days=1)
        assert sch.stalled_retry_after(NOW, day, CONFIG) == NOW + day


class _FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


class TestConditions:
    def test_transition_time_moves_only_when_status_changes(self) -> None:
        first = c.set_condition([], "Ready", "False", "OktaUnavailable", "down", 1, NOW)
        later = NOW + timedelta(minutes=5)
        same = c.set_condition(first, "Ready", "False", "Unauthorized", "401", 2, later)
        assert same[0].last_transition_time == NOW
        assert same[0].reason == "Unauthorized" and same[0].observed_generation == 2
        flipped = c.set_condition(same, "Ready", "True", "SyncSucceeded", "ok", 2, later)
        assert flipped[0].last_transition_time == later

    def test_conditions_are_ordered(self) -> None:
        conds = c.set_condition([], "Stalled", "False", "Healthy", "", 1, NOW)
        conds = c.set_condition(conds, "Ready", "True", "SyncSucceeded", "", 1, NOW)
        conds = c.set_condition(conds, "Reconciling", "False", "Idle", "", 1, NOW)
        assert [x.type for x in conds] == ["Ready", "Reconciling", "Stalled"]


SUMMARY = DirectorySummary(
    total=10, active=8, inactive=2, teams=3, invitations=InvitationCounts(sent=1)
)


class TestStatus:
    def test_success(self) -> None:
        context = ctx({"heldDeactivations": 5}, 3, NOW)
        patch = s.succeeded(
            context,
            mode="Full",
            started=NOW - timedelta(seconds=3),
            finished=NOW,
            stats=SyncStats(fetched=10, matched=8, created=8, api_requests=4),
            summary=SUMMARY,
            next_sync=NOW + timedelta(hours=1),
            resync_value="42",
        ).as_json()
        assert patch["observedGeneration"] == 3
        assert patch["heldDeactivations"] is None  # a success releases a hold
        assert patch["lastHandledResyncAt"] == "42"
        assert patch["lastSyncDurationSeconds"] == 3.0
        assert patch["employees"] == {"total": 10, "active": 8, "inactive": 2}
        assert patch["invitations"] == {"sent": 1, "pending": 0, "failed": 0}
        ready = find(patch["conditions"], "Ready")
        assert ready is not None and ready["message"] == "8 employees, 3 teams"

    def test_permanent_failure_stalls_and_transient_does_not(self) -> None:
        context = ctx({}, 1, NOW)
        permanent = s.failed(
            context,
            reason="Unauthorized",
            message="401",
            permanent=True,
            finished=NOW,
            next_attempt=None,
            resync_value=None,
        ).as_json()
        stalled_cond = find(permanent["conditions"], "Stalled")
        assert stalled_cond is not None and stalled_cond["status"] == "True"
        assert permanent["nextSyncTime"] is None
        transient = s.failed(
            context,
            reason="OktaUnavailable",
            message="503",
            permanent=False,
            finished=NOW,
            next_attempt=NOW + timedelta(seconds=30),
            resync_value=None,
        ).as_json()
        healthy = find(transient["conditions"], "Stalled")
        assert healthy is not None and healthy["reason"] == "Healthy"
        ready = find(transient["conditions"], "Ready")
        assert ready is not None and (ready["status"], ready["reason"]) == (
            "False",
            "OktaUnavailable",
        )

    def test_hold_records_the_count_to_approve(self) -> None:
        hold = DeactivationThresholdExceeded(30, 10, 50)
        patch = s.held(
            ctx({}, 1, NOW),
            hold=hold,
            finished=NOW,
            next_sync=NOW + timedelta(hours=1),
            resync_value=None,
        ).as_json()
        assert patch["heldDeactivations"] == 30
        stalled_cond = find(patch["conditions"], "Stalled")
        assert stalled_cond is not None
        assert stalled_cond["reason"] == "DeactivationThresholdExceeded"
        assert '"30"' in stalled_cond["message"]

    def test_suspension_keeps_ready(self) -> None:
        ready = c.set_condition(
            [], "Ready", "True", "SyncSucceeded", "8 employees, 3 teams", 1, NOW
        )
        status = {"conditions": [x.model_dump(mode="json", by_alias=True) for x in ready]}
        patch = s.suspended(ctx(status, 2, NOW + timedelta(hours=1))).as_json()
        after = find(patch["conditions"], "Ready")
        assert after is not None
        assert (after["status"], after["reason"]) == ("True", "SyncSucceeded")
        assert after["lastTransitionTime"] == c.format_time(NOW)
        assert after["message"].endswith("(syncs suspended)")
        reconciling = find(patch["conditions"], "Reconciling")
        assert reconciling is not None and reconciling["reason"] == "Suspended"
        assert patch["nextSyncTime"] is None

    def test_suspension_restamps_ready_and_stalled_with_the_generation(self) -> None:
        """``kubectl wait --for=condition=Ready`` must see the suspended generation."""
        conds = c.set_condition([], "Ready", "False", "Unauthorized", "401", 1, NOW)
        conds = c.set_condition(conds, "Stalled", "True", "Unauthorized", "401", 1, NOW)
        later = NOW + timedelta(hours=1)
        status = {"conditions": [x.model_dump(mode="json", by_alias=True) for x in conds]}
        patch = s.suspended(ctx(status, 2, later)).as_json()
        for type_ in ("Ready", "Reconciling", "Stalled"):
            found = find(patch["conditions"], type_)
            assert found is not None and found["observedGeneration"] == 2
        ready = find(patch["conditions"], "Ready")
        stalled_cond = find(patch["conditions"], "Stalled")
        assert ready is not None and stalled_cond is not None
        assert (ready["status"], ready["reason"]) == ("False", "Unauthorized")
        assert (
            ready["lastTransitionTime"] == stalled_cond["lastTransitionTime"] == c.format_time(NOW)
        )
        assert (stalled_cond["status"], stalled_cond["message"]) == ("True", "401")

    def test_a_check_that_is_not_a_sync_leaves_the_sync_times(self) -> None:
        patch = s.failed(
            ctx(synced(), 1, NOW),
            reason="SecretNotFound",
            message="gone",
            permanent=True,
            finished=None,
            next_attempt=NOW + timedelta(hours=6),
            resync_value=None,
        ).as_json()
        assert "lastSyncTime" not in patch

    def test_a_new_generation_resolves_a_hold(self) -> None:
        held_status = synced(heldDeactivations=12)
        for patch in (
            s.failed(
                ctx(held_status, 2, NOW),
                reason="OktaUnavailable",
                message="503",
                permanent=False,
                finished=NOW,
                next_attempt=NOW,
                resync_value=None,
            ).as_json(),
            s.invalid_spec(ctx(held_status, 2, NOW), "bad").as_json(),
        ):
            assert "heldDeactivations" not in s.merge_patch(held_status, patch)
        same = s.failed(
            ctx(held_status, 1, NOW),
            reason="OktaUnavailable",
            message="503",
            permanent=False,
            finished=NOW,
            next_attempt=NOW,
            resync_value=None,
        ).as_json()
        assert s.merge_patch(held_status, same)["heldDeactivations"] == 12

    def test_compose_patches_is_applying_one_then_the_other(self) -> None:
        current = {"a": 1, "b": {"c": 1, "d": 2}, "e": 5}
        first = {"a": None, "b": {"c": 3}, "f": 1}
        then = {"b": {"d": None}, "f": None, "g": {"h": 1}}
        composed = s.compose_patches(first, then)
        assert s.merge_patch(current, composed) == s.merge_patch(
            s.merge_patch(current, first), then
        )

    def test_a_handled_approval_is_a_valid_status_record(self) -> None:
        patch = s.approval_handled("12/2", s.APPROVAL_HOLD_CHANGED, 12, NOW).as_json()
        record = HandledApproval.model_validate(patch["lastHandledApproval"])
        assert (record.value, record.deactivations, record.result) == ("12/2", 12, "HoldChanged")
        unheld = s.approval_handled("3", s.APPROVAL_NO_MATCHING_HOLD, None, NOW).as_json()
        assert HandledApproval.model_validate(unheld["lastHandledApproval"]).deactivations is None

    def test_merge_patch(self) -> None:
        merged = s.merge_patch({"a": 1, "b": {"c": 1, "d": 2}}, {"a": None, "b": {"c": 3}})
        assert merged == {"b": {"c": 3, "d": 2}}


class TestConfig:
    def test_defaults(self) -> None:
        assert ControllerConfig.from_env({}) == ControllerConfig()

    def test_durations_and_numbers(self) -> None:
        config = ControllerConfig.from_env(
            {"HRIS_RETRY_BACKOFF": "0.5", "HRIS_RETRY_BACKOFF_MAX": "2m", "HRIS_SYNC_JITTER": "0"}
        )
        assert config.retry_backoff == timedelta(seconds=0.5)
        assert config.retry_backoff_max == timedelta(minutes=2)
        assert config.jitter == 0.0

    @pytest.mark.parametrize(
        "env",
        [
            {"HRIS_RETRY_BACKOFF": "soon"},
            {"HRIS_SYNC_JITTER": "2"},
            {"HRIS_RETRY_BACKOFF": "10m", "HRIS_RETRY_BACKOFF_MAX": "1m"},
            {"HRIS_MIN_SYNC_INTERVAL": "0"},
        ],
    )
    def test_bad_values_name_the_variable(self, env: dict[str, str]) -> None:
        with pytest.raises(ConfigError, match="HRIS_"):
            ControllerConfig.from_env(env)


class TestSecretChanges:
    """Which Secret events retry an integration stalled on its token (401, 403, missing)."""

    def test_only_a_new_token_value_counts(self) -> None:
        state = IntegrationState("people/acme")
        state.token_seen = TokenSeen("okta", "token", token_fingerprint({"token": "old"}, "token"))
        state.secret_changed("okta", {"token": "old", "note": "a label or another key"})
        state.secret_changed("smtp", {"token": "new"})
        assert not state.memory.secret_changed and not state.wake.is_set()
        state.secret_changed("okta", {"token": "rotated"})
        assert state.memory.secret_changed and state.wake.is_set()

    @pytest.mark.parametrize(
        ("found", "same", "changed"),
        [
            (None, None, {"other": "x"}),  # created: a new problem (no key) to report
            ({"other": "x"}, {"other": "y"}, {"token": "t"}),
            ({"token": " "}, {"token": "", "other": "x"}, {"token": "t"}),
        ],
    )
    def test_a_missing_token_counts_when_the_secret_or_key_appears(
        self,
        found: dict[str, str] | None,
        same: dict[str, str] | None,
        changed: dict[str, str],
    ) -> None:
        state = IntegrationState("people/acme")
        state.token_seen = TokenSeen("okta", "token", token_fingerprint(found, "token"))
        if same is not None:
            state.secret_changed("okta", same)
            assert not state.memory.secret_changed
        state.secret_changed("okta", changed)
        assert state.memory.secret_changed

    def test_before_any_attempt_every_change_counts(self) -> None:
        state = IntegrationState("people/acme")
        state.secret_changed("okta", {})
        assert state.memory.secret_changed

    def test_the_fingerprint_is_not_the_value(self) -> None:
        fingerprint = token_fingerprint({"token": "s3cret-t0ken"}, "token")
        assert "s3cret" not in fingerprint
        assert token_fingerprint({"token": " s3cret-t0ken\n"}, "token") == fingerprint
        assert token_fingerprint({"token": "other"}, "token") != fingerprint


class TestDefaultNamespace:
    """``okta-hris resync`` without -n uses the namespace kubectl would."""

    @staticmethod
    def kubeconfig(path: Path, namespaces: dict[str, str | None], current: str) -> Path:
        contexts = []
        for name, namespace in namespaces.items():
            context: dict[str, str] = {"cluster": "c", "user": "u"}
            if namespace:
                context["namespace"] = namespace
            contexts.append({"name": name, "context": context})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": contexts,
            "current-context": current,
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def test_the_context_namespace(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        path = self.kubeconfig(tmp_path / "config", {"a": "people", "b": None}, current="a")
        monkeypatch.setenv("KUBECONFIG", str(path))
        assert default_namespace() == "people"
        assert default_namespace(context="b") == "default"
        other = self.kubeconfig(tmp_path / "other", {"x": "ops"}, current="x")
        assert default_namespace(str(other)) == "ops"

    def test_default_without_a_kubeconfig(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        assert default_namespace() == "default"


def test_secret_references_stay_in_the_namespace() -> None:
    spec = {
        "okta": {"tokenSecretRef": {"name": "okta", "namespace": "elsewhere"}},
        "invitations": {"smtpSecretRef": {"name": "smtp"}},
    }
    assert secret_references("people", spec) == [("people", "okta"), ("people", "smtp")]
    assert secret_references("people", {}) == []


def _crd_status_fields() -> set[str]:
    crd_file = Path(__file__).resolve().parents[2] / "crds" / "oktaintegrations.hris.dev.yaml"
    crd = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return set(schema["properties"]["status"]["properties"])


def test_every_status_field_the_operator_writes_is_in_the_crd() -> None:
    context = ctx({}, 1, NOW)
    written: set[str] = set()
    written |= set(s.syncing(context, "x").as_json())
    written |= set(
        s.succeeded(
            context,
            mode="Full",
            started=NOW,
            finished=NOW,
            stats=SyncStats(),
            summary=SUMMARY,
            next_sync=NOW,
            resync_value="1",
        ).as_json()
    )
    written |= set(
        s.held(
            context,
            hold=DeactivationThresholdExceeded(3, 1, 10),
            finished=NOW,
            next_sync=NOW,
            resync_value="1",
        ).as_json()
    )
    written |= set(s.invalid_spec(context, "x", "1").as_json()) | set(
        s.suspended(context).as_json()
    )
    written |= set(s.approval_handled("3", s.APPROVAL_RELEASED, 3, NOW).as_json())
    written |= set(s.invitations(SUMMARY, handled_value="t").as_json())
    assert written - _crd_status_fields() == set()


class TestRunInOwnLoop:
    async def test_runs_elsewhere_and_cancels_what_the_sync_left_running(self) -> None:
        outer = threading.get_ident()
        leftover: list[asyncio.Task[None]] = []

        async def sync() -> int:
            assert threading.get_ident() != outer
            leftover.append(asyncio.create_task(asyncio.sleep(3600)))
            return 42

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert await run_in_own_loop(sync, pool) == 42
        assert leftover[0].cancelled()

    async def test_cancelling_the_caller_cancels_the_sync(self) -> None:
        started, stopped = threading.Event(), threading.Event()

        async def sync() -> None:
            started.set()
            try:
                await asyncio.sleep(3600)
            finally:
                stopped.set()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = asyncio.create_task(run_in_own_loop(sync, pool))
            await asyncio.to_thread(started.wait, 10)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert stopped.is_set()  # it had stopped before the caller got control back

"""status: the patches each step writes, valid against the model the CRD is made from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from okta_hris.controller import conditions
from okta_hris.controller import status as status_patches
from okta_hris.domain.changes import SyncStats
from okta_hris.errors import DeactivationThresholdExceeded
from okta_hris.resource.status import HandledApproval
from okta_hris.services.integration_sync import Attempt

from .status_samples import (
    NOW,
    SUMMARY,
    ctx,
    find,
    synced,
)
from .status_schema import status_problems

ATTEMPT = Attempt(NOW - timedelta(seconds=4), NOW, "Full")
LAST_SYNC = {
    "fetched": 3,
    "matched": 2,
    "created": 2,
    "updated": 0,
    "deactivated": 0,
    "unchanged": 0,
    "apiRequests": 4,
}


def failure(
    status: dict[str, Any],
    generation: int = 1,
    *,
    reason: str = "OktaUnavailable",
    permanent: bool = False,
    attempt: Attempt | None = ATTEMPT,
    next_attempt: datetime | None = NOW,
) -> dict[str, Any]:
    """The JSON patch of a failed attempt on ``status``."""
    return status_patches.failed(
        ctx(status, generation, NOW),
        reason=reason,
        message=f"{reason} happened",
        permanent=permanent,
        attempt=attempt,
        next_attempt=next_attempt,
        resync_value=None,
    ).as_json()


def states(patch: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each condition of a JSON status patch as (status, reason)."""
    return {c["type"]: (c["status"], c["reason"]) for c in patch["conditions"]}


class TestStatus:
    def test_success(self) -> None:
        context = ctx({"heldDeactivations": 5}, 3, NOW)
        patch = status_patches.succeeded(
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

    def test_a_transient_failure_is_still_in_progress(self) -> None:
        """kstatus / Flux: a pending retry is Reconciling=True, ProgressingWithRetry."""
        retry = NOW + timedelta(seconds=30)
        patch = failure(synced(), next_attempt=retry)
        assert states(patch) == {
            "Ready": ("False", "OktaUnavailable"),
            "Reconciling": ("True", status_patches.PROGRESSING_WITH_RETRY),
            "Stalled": ("False", "Healthy"),
        }
        reconciling = find(patch["conditions"], "Reconciling")
        assert reconciling is not None
        assert reconciling["message"] == f"next attempt at {conditions.format_time(retry)}"
        assert patch["nextSyncTime"] == conditions.format_time(retry)

    def test_a_permanent_failure_stalls_and_reconciles_nothing(self) -> None:
        patch = failure(synced(), reason="Unauthorized", permanent=True, next_attempt=None)
        assert states(patch) == {
            "Ready": ("False", "Unauthorized"),
            "Reconciling": ("False", "Idle"),
            "Stalled": ("True", "Unauthorized"),
        }
        assert patch["nextSyncTime"] is None

    def test_a_retry_that_starts_keeps_reconciling_true_since_the_failure(self) -> None:
        failed = status_patches.merge_patch(
            synced(),
            failure(synced(), reason="DirectoryError"),
        )
        later = NOW + timedelta(minutes=1)
        retrying = status_patches.syncing(ctx(failed, 1, later), "sync started").as_json()
        before, after = (
            find(c, "Reconciling") for c in (failed["conditions"], retrying["conditions"])
        )
        assert before is not None and after is not None
        assert after["reason"] == "Syncing"
        assert after["lastTransitionTime"] == before["lastTransitionTime"]

    @pytest.mark.parametrize("permanent", [False, True])
    def test_last_sync_fields_describe_the_failed_attempt(self, permanent: bool) -> None:
        """Time, mode and duration of that attempt; no counts (it applied nothing); the last
        success is kept."""
        before = synced(
            lastSuccessfulSyncTime=conditions.format_time(NOW - timedelta(hours=1)),
            lastSyncMode="Full",
            lastSyncDurationSeconds=40.0,
            lastSync=LAST_SYNC,
        )
        attempt = Attempt(NOW, NOW + timedelta(seconds=2.5), "Incremental")
        after = status_patches.merge_patch(
            before,
            failure(before, permanent=permanent, attempt=attempt),
        )
        assert after["lastSyncTime"] == conditions.format_time(attempt.finished)
        assert after["lastSyncMode"] == "Incremental"
        assert after["lastSyncDurationSeconds"] == 2.5
        assert "lastSync" not in after
        assert after["lastSuccessfulSyncTime"] == before["lastSuccessfulSyncTime"]
        assert status_problems(after) == []

    def test_a_failure_before_the_mode_was_chosen_names_no_mode(self) -> None:
        before = synced(lastSyncMode="Full")
        after = status_patches.merge_patch(
            before,
            failure(before, reason="SecretNotFound", permanent=True, attempt=Attempt(NOW, NOW)),
        )
        assert "lastSyncMode" not in after
        assert after["lastSyncDurationSeconds"] == 0.0

    def test_hold_records_the_count_to_approve(self) -> None:
        hold = DeactivationThresholdExceeded(30, 10, 50)
        patch = status_patches.held(
            ctx(synced(lastSync=LAST_SYNC), 1, NOW),
            hold=hold,
            attempt=ATTEMPT,
            next_sync=NOW + timedelta(hours=1),
            resync_value=None,
        ).as_json()
        assert patch["heldDeactivations"] == 30
        stalled_cond = find(patch["conditions"], "Stalled")
        assert stalled_cond is not None
        assert stalled_cond["reason"] == "DeactivationThresholdExceeded"
        assert '"30"' in stalled_cond["message"]
        # The held run is the last attempt; nothing of it was applied.
        assert (patch["lastSyncMode"], patch["lastSync"]) == (ATTEMPT.mode, None)
        assert patch["lastSyncTime"] == conditions.format_time(ATTEMPT.finished)

    def test_suspension_keeps_ready(self) -> None:
        ready = conditions.set_condition(
            [], "Ready", "True", "SyncSucceeded", "8 employees, 3 teams", 1, NOW
        )
        status = {"conditions": [x.model_dump(mode="json", by_alias=True) for x in ready]}
        patch = status_patches.suspended(ctx(status, 2, NOW + timedelta(hours=1))).as_json()
        after = find(patch["conditions"], "Ready")
        assert after is not None
        assert (after["status"], after["reason"]) == ("True", "SyncSucceeded")
        assert after["lastTransitionTime"] == conditions.format_time(NOW)
        assert after["message"].endswith("(syncs suspended)")
        reconciling = find(patch["conditions"], "Reconciling")
        assert reconciling is not None and reconciling["reason"] == "Suspended"
        assert patch["nextSyncTime"] is None

    def test_suspension_observes_no_generation(self) -> None:
        """A spec suspension keeps from being applied is never observed: ``kubectl wait
        --for=condition=Ready`` must not succeed on it."""
        conds = conditions.set_condition([], "Ready", "True", "SyncSucceeded", "8", 1, NOW)
        conds = conditions.set_condition(conds, "Stalled", "False", "Healthy", "", 1, NOW)
        status = synced(conditions=[x.model_dump(mode="json", by_alias=True) for x in conds])
        patch = status_patches.suspended(ctx(status, 2, NOW + timedelta(hours=1))).as_json()
        assert "observedGeneration" not in patch
        after = status_patches.merge_patch(status, patch)
        assert after["observedGeneration"] == 1
        for type_ in ("Ready", "Reconciling", "Stalled"):
            found = find(after["conditions"], type_)
            assert found is not None and found["observedGeneration"] == 1, type_

    def test_suspension_before_the_first_sync_observes_nothing(self) -> None:
        patch = status_patches.suspended(ctx({}, 1, NOW)).as_json()
        assert "observedGeneration" not in patch
        assert all("observedGeneration" not in c for c in patch["conditions"])
        assert states(patch)["Ready"] == ("False", "Suspended")

    def test_a_check_that_is_not_a_sync_leaves_the_sync_times(self) -> None:
        patch = failure(synced(), reason="SecretNotFound", permanent=True, attempt=None)
        assert not {"lastSyncTime", "lastSyncMode", "lastSyncDurationSeconds", "lastSync"} & set(
            patch
        )

    def test_a_new_generation_resolves_a_hold(self) -> None:
        held_status = synced(heldDeactivations=12)
        for patch in (
            failure(held_status, 2),
            status_patches.invalid_spec(ctx(held_status, 2, NOW), "bad").as_json(),
        ):
            assert "heldDeactivations" not in status_patches.merge_patch(held_status, patch)
        same = failure(held_status, 1)
        assert status_patches.merge_patch(held_status, same)["heldDeactivations"] == 12

    def test_compose_patches_is_applying_one_then_the_other(self) -> None:
        current = {"a": 1, "b": {"c": 1, "d": 2}, "e": 5}
        first = {"a": None, "b": {"c": 3}, "f": 1}
        then = {"b": {"d": None}, "f": None, "g": {"h": 1}}
        composed = status_patches.compose_patches(first, then)
        assert status_patches.merge_patch(current, composed) == status_patches.merge_patch(
            status_patches.merge_patch(current, first), then
        )

    def test_a_handled_approval_is_a_valid_status_record(self) -> None:
        patch = status_patches.approval_handled(
            "12/2", status_patches.APPROVAL_HOLD_CHANGED, 12, NOW
        ).as_json()
        record = HandledApproval.model_validate(patch["lastHandledApproval"])
        assert (record.value, record.deactivations, record.result) == ("12/2", 12, "HoldChanged")
        unheld = status_patches.approval_handled(
            "3", status_patches.APPROVAL_NO_MATCHING_HOLD, None, NOW
        ).as_json()
        assert HandledApproval.model_validate(unheld["lastHandledApproval"]).deactivations is None

    def test_merge_patch(self) -> None:
        merged = status_patches.merge_patch(
            {"a": 1, "b": {"c": 1, "d": 2}}, {"a": None, "b": {"c": 3}}
        )
        assert merged == {"b": {"c": 3, "d": 2}}


def _crd_status_fields() -> set[str]:
    crd_file = Path(__file__).resolve().parents[2] / "crds" / "oktaintegrations.hris.dev.yaml"
    crd = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return set(schema["properties"]["status"]["properties"])


def test_every_status_field_the_operator_writes_is_in_the_crd() -> None:
    context = ctx({}, 1, NOW)
    written: set[str] = set()
    written |= set(status_patches.syncing(context, "x").as_json())
    written |= set(
        status_patches.succeeded(
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
        status_patches.held(
            context,
            hold=DeactivationThresholdExceeded(3, 1, 10),
            attempt=ATTEMPT,
            next_sync=NOW,
            resync_value="1",
        ).as_json()
    )
    written |= set(status_patches.invalid_spec(context, "x", "1").as_json()) | set(
        status_patches.suspended(context).as_json()
    )
    written |= set(
        status_patches.approval_handled("3", status_patches.APPROVAL_RELEASED, 3, NOW).as_json()
    )
    written |= set(status_patches.invitations(SUMMARY, handled_value="t").as_json())
    assert written - _crd_status_fields() == set()


def test_the_schema_check_catches_what_the_apiserver_would_refuse() -> None:
    assert status_problems({"lastSyncMode": "Sometimes"}) != []
    assert status_problems({"conditions": [{"type": "Ready", "status": "Maybe"}]}) != []
    assert status_problems({"lastSyncTime": "yesterday"}) != []
    assert status_problems({"employees": {"total": -1, "active": 0, "inactive": 0}}) != []


def test_every_patch_leaves_a_status_the_crd_and_the_model_accept() -> None:
    """Each step's patch, applied one after the other as the operator does, from nothing."""
    hold = DeactivationThresholdExceeded(3, 1, 10)
    long_message = "Okta said: " + "ü" * 40_000  # longer than a condition message may be
    current: dict[str, Any] = {}

    def step(make: Callable[[status_patches.StatusContext], status_patches.StatusPatch]) -> None:
        nonlocal current
        patch = make(ctx(current, 2, NOW)).as_json()
        current = status_patches.merge_patch(current, patch)
        assert status_problems(current) == [], patch

    step(lambda c: status_patches.syncing(c, "full sync started: first sync"))
    step(
        lambda c: status_patches.succeeded(
            c,
            mode="Full",
            started=NOW,
            finished=NOW,
            stats=SyncStats(fetched=3, matched=2, created=2, api_requests=4),
            summary=SUMMARY,
            next_sync=NOW,
            resync_value="2026-11-28T12:00:00.000001Z",
        )
    )
    step(
        lambda c: status_patches.held(
            c, hold=hold, attempt=ATTEMPT, next_sync=NOW, resync_value=None, note=" (note)"
        )
    )
    step(lambda c: status_patches.approval_handled("3/2", status_patches.APPROVAL_RELEASED, 3, NOW))
    step(
        lambda c: status_patches.failed(
            c,
            reason="OktaUnavailable",
            message=long_message,
            permanent=False,
            attempt=Attempt(NOW, NOW),
            next_attempt=NOW,
            resync_value=None,
        )
    )
    step(lambda c: status_patches.invalid_spec(c, long_message, "r2"))
    step(lambda c: status_patches.suspended(c))
    step(lambda _: status_patches.invitations(SUMMARY, handled_value="all"))
    ready = find(current["conditions"], "Ready")
    assert ready is not None and len(ready["message"]) == conditions.MAX_MESSAGE


def test_a_value_that_does_not_fit_the_crd_is_refused_before_it_is_written() -> None:
    with pytest.raises(pydantic.ValidationError):
        status_patches.StatusPatch(last_sync_mode="Sometimes")
    with pytest.raises(pydantic.ValidationError):
        status_patches.StatusPatch(held_deactivations=-1)


def test_status_that_does_not_validate_is_read_without_the_bad_fields() -> None:
    found = status_patches.read_status(
        {"observedGeneration": 3, "lastSyncMode": "Sometimes", "teams": 4, "future": {"x": 1}}
    )
    assert (found.observed_generation, found.last_sync_mode, found.teams) == (3, None, 4)


def test_a_handled_approval_the_model_cannot_read_still_counts_as_spent() -> None:
    """Written by a newer release (a result this one does not know) or by hand: the value
    must stay spent, or a stale approval annotation would release the next hold."""
    for record in (
        {"value": "5", "result": "Expired", "time": conditions.format_time(NOW)},
        {"value": "5", "result": "HoldChanged", "time": "2026-01-01 00:00:00"},
    ):
        found = status_patches.read_status({"heldDeactivations": 5, "lastHandledApproval": record})
        assert found.last_handled_approval is not None
        assert found.last_handled_approval.value == "5"
        assert found.held_deactivations == 5


def test_conditions_that_validate_are_kept_and_only_those() -> None:
    good = {
        "type": "example.com/Backup",
        "status": "True",
        "reason": "Done",
        "message": "",
        "lastTransitionTime": conditions.format_time(NOW),
    }
    bad = {"type": "Ready", "status": "Maybe", "reason": "?", "lastTransitionTime": "x"}
    found = status_patches.read_status({"conditions": [good, bad], "heldDeactivations": True})
    assert [c.type for c in found.conditions] == ["example.com/Backup"]
    assert found.held_deactivations is None  # true is not a count

"""conditions: metav1.Condition lists as Flux and ESO keep them."""

from __future__ import annotations

from datetime import timedelta

from okta_hris.controller import conditions

from .status_samples import (
    NOW,
)


class TestConditions:
    def test_transition_time_moves_only_when_status_changes(self) -> None:
        first = conditions.set_condition([], "Ready", "False", "OktaUnavailable", "down", 1, NOW)
        later = NOW + timedelta(minutes=5)
        same = conditions.set_condition(first, "Ready", "False", "Unauthorized", "401", 2, later)
        assert same[0].last_transition_time == NOW
        assert same[0].reason == "Unauthorized" and same[0].observed_generation == 2
        flipped = conditions.set_condition(same, "Ready", "True", "SyncSucceeded", "ok", 2, later)
        assert flipped[0].last_transition_time == later

    def test_conditions_are_ordered(self) -> None:
        conds = conditions.set_condition([], "Stalled", "False", "Healthy", "", 1, NOW)
        conds = conditions.set_condition(conds, "Ready", "True", "SyncSucceeded", "", 1, NOW)
        conds = conditions.set_condition(conds, "Reconciling", "False", "Idle", "", 1, NOW)
        assert [x.type for x in conds] == ["Ready", "Reconciling", "Stalled"]

"""OperatorMetrics: names, labels and gauges as the README documents them, read back from the
text ``/metrics`` serves."""

from __future__ import annotations

from datetime import timedelta

from okta_hris.controller import conditions
from okta_hris.controller.metrics import OperatorMetrics
from okta_hris.domain.changes import DirectorySummary
from okta_hris.resource.status import Condition, OktaIntegrationStatus
from okta_hris.services.integration_sync import Attempt
from tests.support.metrics_interface import OPERATOR_METRICS

from .operator_harness import integration_samples, metric_value
from .status_samples import NOW

KEY = "team-a/acme"
LABELS = {"namespace": "team-a", "name": "acme"}


def status(*conds: tuple[str, str, str], held: int | None = None) -> OktaIntegrationStatus:
    found: list[Condition] = []
    for type_, value, reason in conds:
        found = conditions.set_condition(found, type_, value, reason, "", 1, NOW)  # type: ignore[arg-type]
    return OktaIntegrationStatus(conditions=found, held_deactivations=held)


def value(metrics: OperatorMetrics, sample: str, **labels: str) -> float | None:
    return metric_value(metrics.render().decode(), sample, {**LABELS, **labels})


def test_every_per_integration_series_has_namespace_and_name_labels() -> None:
    metrics = OperatorMetrics()
    summary = DirectorySummary(total=5, active=4, inactive=1, teams=2)
    metrics.sync_succeeded(KEY, "Full", 1.5, 10, 1, summary, NOW)
    text = metrics.render().decode()

    assert 'integration="' not in text
    assert {sample.name for sample in integration_samples(text, KEY)} >= {
        "okta_hris_employees",
        "okta_hris_teams",
        "okta_hris_syncs_total",
        "okta_hris_sync_duration_seconds_count",
    }
    assert value(metrics, "okta_hris_employees", state="active") == 4
    assert value(metrics, "okta_hris_syncs_total", mode="Full", outcome="succeeded") == 1
    assert value(metrics, "okta_hris_okta_requests_total") == 10
    assert value(metrics, "okta_hris_last_success_timestamp_seconds") == NOW.timestamp()


def test_the_metrics_are_exactly_the_agreed_names_and_labels() -> None:
    metrics = OperatorMetrics()
    summary = DirectorySummary(total=1, active=1, inactive=0, teams=1)
    metrics.sync_succeeded(KEY, "Full", 1, 1, 0, summary, NOW)
    metrics.sync_failed(KEY, "failed", "OktaUnavailable", Attempt(NOW, NOW))
    metrics.status_written(KEY, OktaIntegrationStatus())
    metrics.sync_interval(KEY, 60)
    metrics.scheduled(KEY, NOW)
    metrics.hook_events(KEY, 2, NOW)
    metrics.hook_events_covered(KEY, 2)
    metrics.hook_rejected(KEY, "unauthorized")
    found: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        if not family.name.startswith("okta_hris_"):
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        samples = [s for s in family.samples if not s.name.endswith("_created")]
        found[name] = {label for s in samples for label in s.labels if label != "le"}
    assert found == OPERATOR_METRICS


def test_failed_and_held_syncs_have_a_mode_and_a_duration() -> None:
    metrics = OperatorMetrics()
    before_mode = Attempt(NOW, NOW + timedelta(seconds=0.2))
    metrics.sync_failed(KEY, "failed", "SecretNotFound", before_mode)
    metrics.sync_failed(
        KEY, "held", "DeactivationThresholdExceeded", Attempt(NOW, NOW + timedelta(3), "Full")
    )

    assert value(metrics, "okta_hris_syncs_total", mode="Unknown", reason="SecretNotFound") == 1
    text = metrics.render().decode()
    assert 'mode=""' not in text
    failed = {"mode": "Unknown", "outcome": "failed"}
    assert value(metrics, "okta_hris_sync_duration_seconds_count", **failed) == 1
    assert value(metrics, "okta_hris_sync_duration_seconds_sum", **failed) == 0.2
    held = {"mode": "Full", "outcome": "held"}
    assert value(metrics, "okta_hris_sync_duration_seconds_sum", **held) == 3 * 86400


def test_the_condition_gauge_follows_each_status_written() -> None:
    metrics = OperatorMetrics()

    metrics.status_written(KEY, OktaIntegrationStatus())  # nothing said yet: Unknown
    assert value(metrics, "okta_hris_condition", type="Ready", status="Unknown") == 1
    assert value(metrics, "okta_hris_condition", type="Ready", status="True") == 0

    metrics.status_written(
        KEY,
        status(("Ready", "False", "Unauthorized"), ("Stalled", "True", "Unauthorized")),
    )
    assert value(metrics, "okta_hris_condition", type="Ready", status="False") == 1
    assert value(metrics, "okta_hris_condition", type="Ready", status="Unknown") == 0
    assert value(metrics, "okta_hris_condition", type="Stalled", status="True") == 1
    assert value(metrics, "okta_hris_condition", type="Reconciling", status="Unknown") == 1

    metrics.status_written(KEY, status(("Ready", "True", "SyncSucceeded")))
    for type_, current in (("Ready", "True"), ("Stalled", "Unknown")):
        for each in ("True", "False", "Unknown"):
            expected = 1 if each == current else 0
            assert value(metrics, "okta_hris_condition", type=type_, status=each) == expected


def test_suspension_and_holds_are_read_from_status() -> None:
    metrics = OperatorMetrics()
    metrics.status_written(KEY, status(("Reconciling", "False", "Suspended")))
    assert value(metrics, "okta_hris_suspended") == 1
    assert value(metrics, "okta_hris_held_deactivations") == 0

    metrics.status_written(
        KEY,
        status(("Reconciling", "False", "Idle"), ("Stalled", "True", "Held"), held=7),
    )
    assert value(metrics, "okta_hris_suspended") == 0
    assert value(metrics, "okta_hris_held_deactivations") == 7


def test_forget_drops_every_gauge_of_the_integration_and_keeps_its_counters() -> None:
    metrics = OperatorMetrics()
    other = "team-b/acme"
    summary = DirectorySummary(total=1, active=1, inactive=0, teams=1)
    for key in (KEY, other):
        metrics.sync_succeeded(key, "Incremental", 0.1, 1, 0, summary, NOW)
        metrics.status_written(key, status(("Ready", "True", "SyncSucceeded")))
        metrics.sync_interval(key, 3600)
        metrics.scheduled(key, NOW)

    metrics.forget(KEY)

    names = {sample.name for sample in integration_samples(metrics.render().decode(), KEY)}
    assert {"okta_hris_syncs_total", "okta_hris_sync_duration_seconds_count"} <= names
    gauges = {
        "okta_hris_condition",
        "okta_hris_suspended",
        "okta_hris_held_deactivations",
        "okta_hris_sync_interval_seconds",
        "okta_hris_employees",
        "okta_hris_teams",
        "okta_hris_next_sync_timestamp_seconds",
        "okta_hris_last_success_timestamp_seconds",
    }
    assert not names & gauges
    assert (
        metric_value(
            metrics.render().decode(),
            "okta_hris_sync_interval_seconds",
            {"namespace": "team-b", "name": "acme"},
        )
        == 3600
    )


def test_restore_sets_the_gauges_status_carries() -> None:
    metrics = OperatorMetrics()
    found = status(("Ready", "False", "OktaUnavailable")).model_copy(
        update={"teams": 3, "last_successful_sync_time": NOW}
    )
    metrics.restore(KEY, found)
    assert value(metrics, "okta_hris_condition", type="Ready", status="False") == 1
    assert value(metrics, "okta_hris_teams") == 3
    assert value(metrics, "okta_hris_suspended") == 0


def test_process_and_python_runtime_metrics_are_on_the_private_registry() -> None:
    first, second = OperatorMetrics(), OperatorMetrics()  # two operators in one process
    text = second.render().decode()
    assert metric_value(text, "process_resident_memory_bytes", {}) is not None
    assert metric_value(text, "python_info", {}) == 1
    assert metric_value(text, "python_gc_collections_total", {"generation": "0"}) is not None
    assert first.registry is not second.registry

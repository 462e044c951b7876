"""The operator's metrics, names and label names: the interface the chart's alerts are written
against (issue 10). tests/controller checks the operator exports exactly these; tests/chart
checks the PrometheusRule uses nothing else."""

OPERATOR_METRICS: dict[str, set[str]] = {
    "okta_hris_syncs_total": {"namespace", "name", "mode", "outcome", "reason"},
    "okta_hris_sync_duration_seconds": {"namespace", "name", "mode", "outcome"},
    "okta_hris_condition": {"namespace", "name", "type", "status"},
    "okta_hris_suspended": {"namespace", "name"},
    "okta_hris_held_deactivations": {"namespace", "name"},
    "okta_hris_sync_interval_seconds": {"namespace", "name"},
    "okta_hris_employees": {"namespace", "name", "state"},
    "okta_hris_teams": {"namespace", "name"},
    "okta_hris_okta_requests_total": {"namespace", "name"},
    "okta_hris_okta_rate_limited_total": {"namespace", "name"},
    "okta_hris_next_sync_timestamp_seconds": {"namespace", "name"},
    "okta_hris_last_success_timestamp_seconds": {"namespace", "name"},
    "okta_hris_syncs_in_progress": set(),
    "okta_hris_hook_events_received_total": {"namespace", "name"},
    "okta_hris_hook_events_applied_total": {"namespace", "name"},
    "okta_hris_hook_events_rejected_total": {"namespace", "name", "reason"},
    "okta_hris_hook_last_event_timestamp_seconds": {"namespace", "name"},
}

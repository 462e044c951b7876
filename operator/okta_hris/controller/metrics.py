"""Prometheus metrics of the operator, served on their own port (``/metrics``).

Named and labelled as Flux and External Secrets Operator do theirs: every per-integration series
has the labels ``namespace`` and ``name``; ``okta_hris_condition{type,status}`` is 1 for the
current status of each of Ready, Reconciling and Stalled and 0 for the other two, so that
``okta_hris_condition{type="Ready",status="False"} == 1`` is an alert. The gauges are set from
what the operator writes to status, so they never disagree with ``kubectl get``.

A private ``CollectorRegistry`` per operator keeps the metrics of two operators in one process
(tests, embedding) apart; the process (``process_*``) and Python runtime (``python_*``)
collectors are registered on it too. Label values are Kubernetes names, modes, outcomes and
condition reasons: never a Secret value. The methods take the integration's key
(``namespace/name``; a namespace never contains "/").
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from okta_hris.controller import conditions
from okta_hris.domain.changes import DirectorySummary
from okta_hris.resource.status import Condition, OktaIntegrationStatus
from okta_hris.services.integration_sync import Attempt

DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# The mode label of a sync that ended before it chose Full or Incremental.
UNKNOWN_MODE = "Unknown"
CONDITION_STATUSES = ("True", "False", "Unknown")
EMPLOYEE_STATES = ("active", "inactive")
INTEGRATION_LABELS = ("namespace", "name")


def integration_labels(integration: str) -> tuple[str, str]:
    """(namespace, name) of ``namespace/name``."""
    namespace, _, name = integration.partition("/")
    return namespace, name


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        labels = INTEGRATION_LABELS
        self.syncs = Counter(
            "okta_hris_syncs_total",
            "Sync attempts by mode, outcome (succeeded, failed, held) and reason.",
            [*labels, "mode", "outcome", "reason"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "okta_hris_sync_duration_seconds",
            "Duration of sync attempts, by mode and outcome.",
            [*labels, "mode", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.condition = Gauge(
            "okta_hris_condition",
            "1 for the current status of each condition type, 0 for the other statuses.",
            [*labels, "type", "status"],
            registry=self.registry,
        )
        self.suspended = Gauge(
            "okta_hris_suspended",
            "1 while the operator keeps an integration suspended (spec.sync.suspend), else 0.",
            labels,
            registry=self.registry,
        )
        self.held = Gauge(
            "okta_hris_held_deactivations",
            "Deactivations a held sync waits to have approved (0 when nothing is held).",
            labels,
            registry=self.registry,
        )
        self.interval = Gauge(
            "okta_hris_sync_interval_seconds",
            "The effective interval between scheduled syncs.",
            labels,
            registry=self.registry,
        )
        self.employees = Gauge(
            "okta_hris_employees",
            "Directory rows of an integration by state (active, inactive).",
            [*labels, "state"],
            registry=self.registry,
        )
        self.teams = Gauge(
            "okta_hris_teams", "Teams of an integration.", labels, registry=self.registry
        )
        self.okta_requests = Counter(
            "okta_hris_okta_requests_total",
            "Requests made to Okta by completed syncs.",
            labels,
            registry=self.registry,
        )
        self.okta_rate_limited = Counter(
            "okta_hris_okta_rate_limited_total",
            "HTTP 429 answers Okta gave to completed syncs.",
            labels,
            registry=self.registry,
        )
        self.next_sync = Gauge(
            "okta_hris_next_sync_timestamp_seconds",
            "When the next sync of an integration is due (Unix time).",
            labels,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "okta_hris_last_success_timestamp_seconds",
            "When the last successful sync of an integration finished (Unix time).",
            labels,
            registry=self.registry,
        )
        self.hook_events_received = Counter(
            "okta_hris_hook_events_received_total",
            "Unique events accepted from Okta Event Hook deliveries.",
            labels,
            registry=self.registry,
        )
        self.hook_events_applied = Counter(
            "okta_hris_hook_events_applied_total",
            "Hook events covered by syncs that succeeded.",
            labels,
            registry=self.registry,
        )
        self.hook_events_rejected = Counter(
            "okta_hris_hook_events_rejected_total",
            "Hook deliveries refused (unauthorized, malformed, full: Okta retries) or events "
            "dropped (suspended), by reason.",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.hook_last_event = Gauge(
            "okta_hris_hook_last_event_timestamp_seconds",
            "When Okta published the newest hook event received (Unix time).",
            labels,
            registry=self.registry,
        )
        self.syncs_in_progress = Gauge(
            "okta_hris_syncs_in_progress", "Syncs running now.", registry=self.registry
        )

    # -- syncs ---------------------------------------------------------------------------------

    def sync_succeeded(
        self,
        integration: str,
        mode: str,
        duration_seconds: float,
        api_requests: int,
        rate_limited: int,
        summary: DirectorySummary,
        finished: datetime,
    ) -> None:
        key = integration_labels(integration)
        self.syncs.labels(*key, mode, "succeeded", conditions.SYNC_SUCCEEDED).inc()
        self.duration.labels(*key, mode, "succeeded").observe(duration_seconds)
        self.okta_requests.labels(*key).inc(api_requests)
        self.okta_rate_limited.labels(*key).inc(rate_limited)
        self.last_success.labels(*key).set(finished.timestamp())
        self.directory_counts(integration, summary)

    def sync_failed(self, integration: str, outcome: str, reason: str, attempt: Attempt) -> None:
        """A sync that failed or was held (``outcome``), in ``Unknown`` mode if it never chose."""
        key = integration_labels(integration)
        mode = attempt.mode or UNKNOWN_MODE
        self.syncs.labels(*key, mode, outcome, reason).inc()
        self.duration.labels(*key, mode, outcome).observe(attempt.duration_seconds)

    # -- event hooks -----------------------------------------------------------------------------

    def hook_events(self, integration: str, received: int, newest: datetime | None) -> None:
        key = integration_labels(integration)
        self.hook_events_received.labels(*key).inc(received)
        if newest is not None:
            self.hook_last_event.labels(*key).set(newest.timestamp())

    def hook_events_covered(self, integration: str, applied: int) -> None:
        self.hook_events_applied.labels(*integration_labels(integration)).inc(applied)

    def hook_rejected(self, integration: str, reason: str, count: int = 1) -> None:
        self.hook_events_rejected.labels(*integration_labels(integration), reason).inc(count)

    def directory_counts(self, integration: str, summary: DirectorySummary) -> None:
        key = integration_labels(integration)
        self.employees.labels(*key, "active").set(summary.active)
        self.employees.labels(*key, "inactive").set(summary.inactive)
        self.teams.labels(*key).set(summary.teams)

    # -- what status says ----------------------------------------------------------------------

    def status_written(self, integration: str, status: OktaIntegrationStatus) -> None:
        """The condition, suspend and hold gauges, as status now says (after every write)."""
        key = integration_labels(integration)
        self._conditions(key, status.conditions)
        reconciling = status.condition(conditions.RECONCILING)
        suspended = reconciling is not None and reconciling.reason == conditions.SUSPENDED
        self.suspended.labels(*key).set(1 if suspended else 0)
        self.held.labels(*key).set(status.held_deactivations or 0)

    def _conditions(self, key: tuple[str, str], found: Sequence[Condition]) -> None:
        """An absent condition counts as Unknown, as kstatus reads it."""
        for type_ in conditions.CONDITION_ORDER:
            condition = conditions.find(found, type_)
            current = condition.status if condition is not None else "Unknown"
            for status in CONDITION_STATUSES:
                self.condition.labels(*key, type_, status).set(1 if status == current else 0)

    def sync_interval(self, integration: str, seconds: float) -> None:
        self.interval.labels(*integration_labels(integration)).set(seconds)

    def restore(self, integration: str, status: OktaIntegrationStatus) -> None:
        """The gauges as the status says, when this replica takes an integration over."""
        key = integration_labels(integration)
        self.status_written(integration, status)
        if status.employees is not None:
            self.employees.labels(*key, "active").set(status.employees.active)
            self.employees.labels(*key, "inactive").set(status.employees.inactive)
        if status.teams is not None:
            self.teams.labels(*key).set(status.teams)
        if status.last_successful_sync_time is not None:
            self.last_success.labels(*key).set(status.last_successful_sync_time.timestamp())
        hooks = status.event_hooks
        if hooks is not None and hooks.last_event_time is not None:
            self.hook_last_event.labels(*key).set(hooks.last_event_time.timestamp())

    def scheduled(self, integration: str, when: datetime | None) -> None:
        key = integration_labels(integration)
        if when is None:
            self._remove(self.next_sync, *key)
        else:
            self.next_sync.labels(*key).set(when.timestamp())

    def forget(self, integration: str) -> None:
        """Drop every gauge series of an integration this replica no longer reports (deleted,
        or another replica is active now); counters and histograms keep their history."""
        key = integration_labels(integration)
        for gauge in (
            self.next_sync,
            self.last_success,
            self.teams,
            self.suspended,
            self.held,
            self.interval,
            self.hook_last_event,
        ):
            self._remove(gauge, *key)
        for state in EMPLOYEE_STATES:
            self._remove(self.employees, *key, state)
        for type_ in conditions.CONDITION_ORDER:
            for status in CONDITION_STATUSES:
                self._remove(self.condition, *key, type_, status)

    @staticmethod
    def _remove(gauge: Gauge, *labels: str) -> None:
        with contextlib.suppress(KeyError):  # prometheus_client < 0.21 raises for an absent one
            gauge.remove(*labels)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """``/metrics`` over HTTP, in the operator's event loop."""

    def __init__(self, metrics: OperatorMetrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    @property
    def port(self) -> int:
        """The port actually bound (useful when started on port 0)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the metrics server is not running")
        address = self._runner.addresses[0]
        return int(address[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.render())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response

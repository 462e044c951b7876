"""Prometheus metrics of the operator, served on their own port (``/metrics``).

A private ``CollectorRegistry`` per operator keeps the metrics of two operators in one process
(tests, embedding) apart. Label values are integration keys (``namespace/name``), modes,
outcomes and condition reasons: never a Secret value.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from okta_hris.domain.changes import DirectorySummary
from okta_hris.resource.status import OktaIntegrationStatus

DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.syncs = Counter(
            "okta_hris_syncs_total",
            "Sync attempts by outcome (succeeded, failed, held) and reason.",
            ["integration", "mode", "outcome", "reason"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "okta_hris_sync_duration_seconds",
            "Duration of completed syncs.",
            ["integration", "mode"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.employees = Gauge(
            "okta_hris_employees",
            "Directory rows of an integration by state (active, inactive).",
            ["integration", "state"],
            registry=self.registry,
        )
        self.teams = Gauge(
            "okta_hris_teams", "Teams of an integration.", ["integration"], registry=self.registry
        )
        self.okta_requests = Counter(
            "okta_hris_okta_requests_total",
            "Requests made to Okta by completed syncs.",
            ["integration"],
            registry=self.registry,
        )
        self.okta_rate_limited = Counter(
            "okta_hris_okta_rate_limited_total",
            "HTTP 429 answers Okta gave to completed syncs.",
            ["integration"],
            registry=self.registry,
        )
        self.next_sync = Gauge(
            "okta_hris_next_sync_timestamp_seconds",
            "When the next sync of an integration is due (Unix time).",
            ["integration"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "okta_hris_last_success_timestamp_seconds",
            "When the last successful sync of an integration finished (Unix time).",
            ["integration"],
            registry=self.registry,
        )
        self.syncs_in_progress = Gauge(
            "okta_hris_syncs_in_progress", "Syncs running now.", registry=self.registry
        )

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
        self.syncs.labels(integration, mode, "succeeded", "SyncSucceeded").inc()
        self.duration.labels(integration, mode).observe(duration_seconds)
        self.okta_requests.labels(integration).inc(api_requests)
        self.okta_rate_limited.labels(integration).inc(rate_limited)
        self.last_success.labels(integration).set(finished.timestamp())
        self.directory_counts(integration, summary)

    def sync_failed(self, integration: str, outcome: str, reason: str) -> None:
        self.syncs.labels(integration, "", outcome, reason).inc()

    def directory_counts(self, integration: str, summary: DirectorySummary) -> None:
        self.employees.labels(integration, "active").set(summary.active)
        self.employees.labels(integration, "inactive").set(summary.inactive)
        self.teams.labels(integration).set(summary.teams)

    def restore(self, integration: str, status: OktaIntegrationStatus) -> None:
        """The gauges as the status says, when this replica takes an integration over."""
        if status.employees is not None:
            self.employees.labels(integration, "active").set(status.employees.active)
            self.employees.labels(integration, "inactive").set(status.employees.inactive)
        if status.teams is not None:
            self.teams.labels(integration).set(status.teams)
        if status.last_successful_sync_time is not None:
            self.last_success.labels(integration).set(status.last_successful_sync_time.timestamp())

    def scheduled(self, integration: str, when: datetime | None) -> None:
        if when is None:
            self._remove(self.next_sync, integration)
        else:
            self.next_sync.labels(integration).set(when.timestamp())

    def forget(self, integration: str) -> None:
        """Drop the gauges of a deleted integration (counters keep their history)."""
        for gauge in (self.next_sync, self.last_success, self.teams):
            self._remove(gauge, integration)
        for state in ("active", "inactive"):
            self._remove(self.employees, integration, state)

    @staticmethod
    def _remove(gauge: Gauge, *labels: str) -> None:
        with contextlib.suppress(KeyError):
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

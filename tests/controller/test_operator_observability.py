"""What the operator tells the world besides status: JSON logs that name the integration on
every line, Events from its own component and pod, and metrics labelled by namespace and name.

The scenarios run ``okta-hris run`` as a process (its own logging set-up, its own environment)
or the operator in a thread, against the API server emulator, the Okta sandbox and SQLite;
the unit tests below them check the Event body, the Event recorder against a real API server
and the log formatters on real log records.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import kopf
import pytest

from okta_hris.controller import events, logs
from okta_hris.controller.kube import KubeApi, load_configuration
from okta_hris.controller.runtime import run_in_own_loop
from okta_hris.resource.spec import GROUP_VERSION, KIND
from okta_hris.sandbox import Fault, FaultKind, Sandbox

from .conftest import FAST_TIMING, Cluster, OperatorStarter
from .operator_harness import (
    TOKEN_SECRET,
    OperatorProcess,
    condition,
    create_integration,
    eventually,
    free_port,
    integration_labels,
    metric_value,
    metrics_text,
    wait_for_condition,
    write_kubeconfig,
)

POD_NAME = "okta-hris-operator-7d9f8-x2k4q"
# Retries of a sandbox fault read as the Okta client's warning: "GET ... failed (...); retry".
RETRY_WARNING = "; retry 1/"


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(users=30, groups=3, seed=5, token="okta-ssws-observability-t0ken")


@pytest.fixture
async def run_process(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``okta-hris run --log-format json`` as the chart runs it (POD_NAME set), fast timing."""
    started: list[OperatorProcess] = []

    async def start(namespace: str, okta_url: str) -> OperatorProcess:
        running = await OperatorProcess.start(
            kubeconfig=cluster.kubeconfig,
            namespace=namespace,
            database_url=f"sqlite:///{tmp_path / 'directory.db'}",
            environ={
                **FAST_TIMING,
                "HRIS_SECRET_RETRY": "0.5",
                "HRIS_OKTA_URL": okta_url,
                "POD_NAME": POD_NAME,
            },
            args=["--liveness-port=0", "--log-format=json"],
        )
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


async def scraped(url: str) -> str | None:
    """``/metrics``, or None while the process does not serve it yet."""
    try:
        return await metrics_text(url)
    except httpx.TransportError:
        return None


async def revoked_token_integration(cluster: Cluster) -> str:
    """A namespace with OktaIntegration acme, whose token Secret Okta answers with 401."""
    ns = await cluster.namespace()
    await create_integration(cluster.kube, ns, "revoked-token")
    return ns


def ours(event: dict[str, Any]) -> bool:
    return event.get("reportingComponent") == events.COMPONENT


async def test_a_failing_then_recovering_integration_in_logs_events_and_metrics(
    cluster: Cluster, run_process: Callable[..., Any], org: Sandbox
) -> None:
    ns = await revoked_token_integration(cluster)
    key = f"{ns}/acme"
    labels = integration_labels(key)
    operator = await run_process(ns, org.url)

    # A bad token: Stalled, a Warning Event from our component and pod, the gauges say so.
    await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "Unauthorized")

    async def warned() -> list[dict[str, Any]]:
        found = await cluster.kube.events(ns, "acme")
        return [e for e in found if e["reason"] == "Unauthorized"]

    (warning,) = await eventually(warned, what="the Unauthorized Warning")
    assert warning["type"] == "Warning"
    assert warning["reportingComponent"] == warning["source"]["component"] == events.COMPONENT
    assert warning["reportingInstance"] == warning["source"]["host"] == POD_NAME
    assert warning["action"] == events.SYNC
    found = await cluster.kube.get_integration(ns, "acme")
    involved = warning["involvedObject"]
    assert involved["uid"] == found["metadata"]["uid"]
    assert involved["apiVersion"] == GROUP_VERSION and involved["kind"] == KIND
    assert involved["namespace"] == ns and involved["resourceVersion"]
    text = await eventually(lambda: scraped(operator.metrics_url), what="/metrics")
    ready = {**labels, "type": "Ready"}
    assert metric_value(text, "okta_hris_condition", {**ready, "status": "False"}) == 1
    assert metric_value(text, "okta_hris_condition", {**ready, "status": "True"}) == 0
    failed = {**labels, "mode": "Full", "outcome": "failed"}
    assert metric_value(text, "okta_hris_syncs_total", {**failed, "reason": "Unauthorized"}) == 1
    assert metric_value(text, "okta_hris_sync_duration_seconds_count", failed) == 1
    assert metric_value(text, "okta_hris_sync_interval_seconds", labels) == 3600
    assert metric_value(text, "process_resident_memory_bytes", {}) is not None
    assert metric_value(text, "python_info", {}) == 1

    # The token is fixed while Okta has a hiccup: the client retries (and logs it), the sync
    # succeeds, and a Normal Event says what it recovered from.
    org.add_fault(Fault(kind=FaultKind.UNAVAILABLE, on_request=1, path_prefix="/api/v1/users"))
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")

    async def recovered() -> list[dict[str, Any]]:
        return [e for e in await cluster.kube.events(ns, "acme") if e["reason"] == "Recovered"]

    (recovery,) = await eventually(recovered, what="the Recovered Event")
    assert recovery["type"] == "Normal" and recovery["action"] == events.SYNC
    assert recovery["message"].startswith("recovered from Unauthorized: Full sync: ")
    assert recovery["reportingInstance"] == POD_NAME
    text = await metrics_text(operator.metrics_url)
    assert metric_value(text, "okta_hris_condition", {**ready, "status": "True"}) == 1
    assert metric_value(text, "okta_hris_condition", {**ready, "status": "False"}) == 0

    # Suspended: the gauge, and an Event with its own verb.
    await cluster.kube.patch_spec(ns, "acme", {"sync": {"suspend": True}})
    await wait_for_condition(cluster.kube, ns, "acme", "Reconciling", "False", "Suspended")

    async def suspended() -> str | None:
        text = await metrics_text(operator.metrics_url)
        return text if metric_value(text, "okta_hris_suspended", labels) == 1 else None

    text = await eventually(suspended, what="okta_hris_suspended 1")
    assert metric_value(text, "okta_hris_held_deactivations", labels) == 0
    reconciling = {**labels, "type": "Reconciling"}
    assert metric_value(text, "okta_hris_condition", {**reconciling, "status": "False"}) == 1
    every = await eventually(
        lambda: _with_reason(cluster, ns, "Suspended"), what="the Suspended Event"
    )
    assert every[-1]["action"] == events.SUSPEND

    assert await operator.stop() == 0
    # Every Event is ours (none of Kopf's "Action?"), every one the API server would accept.
    posted = await cluster.kube.events(ns)
    assert posted and all(ours(e) and e["action"] != "Action?" for e in posted), posted
    if cluster.apiserver is not None:
        assert cluster.apiserver.invalid_events == []
    _assert_json_lines_name_the_integration(operator.lines, ns, "acme")


async def _with_reason(cluster: Cluster, ns: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in await cluster.kube.events(ns, "acme") if e["reason"] == reason]


def _assert_json_lines_name_the_integration(lines: list[str], ns: str, name: str) -> None:
    """Every line is JSON; every line about the integration names it (Kopf's lines about it,
    ours, the sync thread's and the Okta client's retry warning); start-up lines name none."""
    records = [json.loads(line) for line in lines if line.strip()]
    key = f"{ns}/{name}"

    def about(record: dict[str, Any]) -> bool:
        obj = record.get("object") or {}
        return (
            key in record["message"]
            or obj.get("kind") == KIND
            or RETRY_WARNING in record["message"]
        )

    concerned = [r for r in records if about(r)]
    assert len(concerned) >= 5, records
    for record in concerned:
        assert (record.get("integration"), record.get("namespace"), record.get("name")) == (
            key,
            ns,
            name,
        ), record
    retries = [r for r in concerned if RETRY_WARNING in r["message"]]
    assert retries and retries[0]["severity"] == "warn"
    # The sync's own thread and loop: the engine's summary line of the applied sync.
    assert any(r["message"].startswith(f"Full sync of {key}: ") for r in concerned)
    # The operator's own line of it says where the time went (issue 12).
    timed = re.compile(
        r" succeeded: .*; load [\d.]+ s, fetch [\d.]+ s, plan [\d.]+ s, apply [\d.]+ s; "
    )
    assert any(timed.search(r["message"]) for r in concerned), concerned
    first = records.index(concerned[0])
    assert first > 0
    assert not any("integration" in r for r in records[:first])
    assert all(str(r["integration"]) == key for r in records if "integration" in r)


async def test_a_restarted_operator_announces_the_recovery(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    """The failure is read from status Ready: a new process remembers nothing else."""
    ns = await revoked_token_integration(cluster)
    first = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "Unauthorized")
    await eventually(lambda: _with_reason(cluster, ns, "Unauthorized"), what="the Warning")
    await first.stop()

    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    second = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    status = await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")
    assert condition(status, "Stalled")["status"] == "False"
    (recovery,) = await eventually(
        lambda: _with_reason(cluster, ns, "Recovered"), what="the Recovered Event"
    )
    assert recovery["type"] == "Normal" and ours(recovery)
    assert recovery["message"].startswith("recovered from Unauthorized: ")
    text = await metrics_text(second.metrics_url)
    labels = {**integration_labels(f"{ns}/acme"), "type": "Ready", "status": "True"}
    assert metric_value(text, "okta_hris_condition", labels) == 1


async def test_resuming_a_suspended_integration_is_not_a_recovery(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    """Created suspended, Ready says False/Suspended: resuming it announces Resumed only."""
    ns = await cluster.namespace()
    await create_integration(cluster.kube, ns, org.token, sync={"suspend": True})
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await wait_for_condition(cluster.kube, ns, "acme", "Ready", "False", "Suspended")
    await cluster.kube.patch_spec(ns, "acme", {"sync": {"suspend": False}})
    await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")
    await eventually(lambda: _with_reason(cluster, ns, "Resumed"), what="the Resumed Event")
    assert await _with_reason(cluster, ns, "Recovered") == []


# -- Events ------------------------------------------------------------------------------------

INTEGRATION_BODY = {
    "apiVersion": GROUP_VERSION,
    "kind": KIND,
    "metadata": {"namespace": "team-a", "name": "acme", "uid": "u-1", "resourceVersion": "42"},
    "spec": {"okta": {"subdomain": "acme"}},
}
SOURCE = events.EventSource(events.COMPONENT, "pod-1")
NOW = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def test_an_event_names_the_operator_its_action_and_the_object_version() -> None:
    obj = events.InvolvedObject.of(INTEGRATION_BODY)
    body = events.event_body(
        obj, SOURCE, type_="Warning", reason="Unauthorized", action="Sync", message="401", now=NOW
    )
    assert body["metadata"]["namespace"] == "team-a"
    assert body["metadata"]["name"].startswith("acme.")
    assert body["involvedObject"] == {
        "apiVersion": GROUP_VERSION,
        "kind": KIND,
        "namespace": "team-a",
        "name": "acme",
        "uid": "u-1",
        "resourceVersion": "42",
    }
    assert {k: body[k] for k in ("type", "reason", "action", "message")} == {
        "type": "Warning",
        "reason": "Unauthorized",
        "action": "Sync",
        "message": "401",
    }
    assert body["reportingComponent"] == body["source"]["component"] == "okta-hris-operator"
    assert body["reportingInstance"] == body["source"]["host"] == "pod-1"
    assert body["eventTime"] == "2025-03-04T05:06:07.890123Z"
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2025-03-04T05:06:07Z"


def test_a_long_message_is_cut_to_1024_bytes_without_splitting_a_character() -> None:
    assert events.truncate_message("short") == "short"
    exact = "x" * 1024
    assert events.truncate_message(exact) == exact
    cut = events.truncate_message("é" * 600)  # 1200 bytes
    assert len(cut.encode()) <= 1024 and cut.endswith("…")
    assert set(cut[:-1]) == {"é"}
    # A lone surrogate (an Okta error body may hold one) cannot be encoded: it is replaced.
    assert events.truncate_message("bad \ud800 value") == "bad ? value"


def test_the_reporting_instance_is_the_pod_else_the_host() -> None:
    assert events.EventSource.from_environ({"POD_NAME": "op-1"}).instance == "op-1"
    assert events.EventSource.from_environ({"POD_NAME": " "}).instance == socket.gethostname()
    assert len(events.EventSource.from_environ({"POD_NAME": "p" * 300}).instance) == 128


async def test_the_recorder_posts_in_the_background_and_drops_beyond_its_queue(
    cluster: Cluster,
) -> None:
    ns = await cluster.namespace()
    kube = KubeApi(load_configuration(str(cluster.kubeconfig)), SOURCE)
    obj = events.InvolvedObject.of({**INTEGRATION_BODY, "metadata": {"namespace": ns, "name": "x"}})
    recorder = events.EventRecorder(kube.create_event, SOURCE, capacity=3)
    for number in range(5):  # no await in between: nothing is posted yet
        recorder.normal(obj, "Numbered", "Sync", f"event {number}")
    await recorder.close()
    await kube.aclose()
    assert (recorder.posted, recorder.dropped) == (3, 2)
    posted = await cluster.kube.events(ns, "x")
    assert sorted(e["message"] for e in posted) == ["event 0", "event 1", "event 2"]
    recorder.normal(obj, "Late", "Sync", "after close")  # accepted and ignored, no error
    assert recorder.posted == 3


async def test_an_unreachable_api_server_is_logged_once_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}", "t")
    kube = KubeApi(load_configuration(str(kubeconfig)), SOURCE)
    obj = events.InvolvedObject.of(INTEGRATION_BODY)
    caplog.handler.addFilter(logs.IntegrationFilter())
    with caplog.at_level(logging.WARNING, logger=events.__name__):
        with logs.integration_logging("team-a", "acme"):  # recorded while reconciling acme...
            for number in range(4):
                kube.recorder.warning(obj, "OktaUnavailable", "Sync", f"attempt {number}")
                await asyncio.sleep(0)
        await kube.aclose()
    assert kube.recorder.posted == 0
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "Cannot post Events (Warning OktaUnavailable of team-a/acme"
    )
    # ...but posted by a worker for every integration: its line is about none in particular.
    assert logs.integration_of(record) is None


# -- logs --------------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[Callable[[kopf.LogFormat], io.StringIO]]:
    """A handler formatting as ``okta-hris run --log-format`` does, on a logger of our own."""
    handlers: list[logging.Handler] = []
    logger = logging.getLogger("okta_hris.test_observability")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def capture(log_format: kopf.LogFormat) -> io.StringIO:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logs.make_formatter(log_format))
        handler.addFilter(logs.IntegrationFilter())
        logger.addHandler(handler)
        handlers.append(handler)
        return stream

    yield capture
    for handler in handlers:
        logger.removeHandler(handler)


LOGGER = logging.getLogger("okta_hris.test_observability")


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_name_the_integration_they_are_about(
    captured: Callable[[kopf.LogFormat], io.StringIO],
) -> None:
    stream = captured(kopf.LogFormat.JSON)
    LOGGER.info("starting")
    with logs.integration_logging("team-a", "acme"):
        LOGGER.warning("GET /api/v1/users failed (503); retry %d/%d", 1, 6)
    kopf_ref = {"apiVersion": GROUP_VERSION, "kind": KIND, "namespace": "team-b", "name": "b"}
    LOGGER.info("Handler 'reconcile' succeeded", extra={"k8s_ref": kopf_ref})
    secret_ref = {"apiVersion": "v1", "kind": "Secret", "namespace": "team-b", "name": "s"}
    LOGGER.info("Secret seen", extra={"k8s_ref": secret_ref})

    start, retry, kopf_line, secret_line = json_lines(stream)
    assert not {"integration", "namespace", "name"} & set(start)
    assert retry["message"] == "GET /api/v1/users failed (503); retry 1/6"
    assert (retry["integration"], retry["namespace"], retry["name"]) == (
        "team-a/acme",
        "team-a",
        "acme",
    )
    assert retry["severity"] == "warn" and "timestamp" in retry
    assert not any(k.startswith("_") for k in retry)
    assert kopf_line["integration"] == "team-b/b" and kopf_line["object"] == kopf_ref
    assert "integration" not in secret_line and secret_line["object"] == secret_ref


def test_text_lines_name_the_integration_once(
    captured: Callable[[kopf.LogFormat], io.StringIO],
) -> None:
    stream = captured(kopf.LogFormat.PLAIN)
    with logs.integration_logging("team-a", "acme"):
        LOGGER.warning("retry %d", 1)
        LOGGER.info("Syncing %s (created)", "team-a/acme")
    LOGGER.info("100% started")
    assert stream.getvalue().splitlines() == [
        "[team-a/acme] retry 1",
        "Syncing team-a/acme (created)",
        "100% started",
    ]


async def test_a_sync_in_its_own_thread_and_loop_logs_with_the_integration(
    captured: Callable[[kopf.LogFormat], io.StringIO],
) -> None:
    stream = captured(kopf.LogFormat.JSON)

    async def sync() -> str:
        await asyncio.sleep(0)
        LOGGER.info("in the sync's loop")
        return await asyncio.get_running_loop().create_task(inner())

    async def inner() -> str:
        LOGGER.info("in a task the sync started")
        return "done"

    logs.bind_integration("team-a", "acme")
    with concurrent.futures.ThreadPoolExecutor(1) as threads:
        assert await run_in_own_loop(sync, threads) == "done"
    assert [line.get("integration") for line in json_lines(stream)] == ["team-a/acme"] * 2


def test_a_failing_exec_credential_plugin_is_logged_without_its_output(tmp_path: Path) -> None:
    """The Kubernetes client logs what the plugin printed, which may be a credential."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "sh",
                                "args": ["-c", "echo token=SECRET-EXEC-TOKEN >&2; exit 1"],
                                "interactiveMode": "Never",
                            }
                        },
                    }
                ],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        ),
        encoding="utf-8",
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ExecPluginFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        load_configuration(str(kubeconfig))
    finally:
        root.removeHandler(handler)
    assert "exec credential plugin failed" in stream.getvalue()
    assert "SECRET-EXEC-TOKEN" not in stream.getvalue()

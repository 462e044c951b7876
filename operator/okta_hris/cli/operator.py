"""``okta-hris run`` (the operator) and ``okta-hris resync`` (ask it for a full sync now)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

import click
from rich.markup import escape as markup_escape

from okta_hris.cli.common import database_option, fail, stdout, user_errors
from okta_hris.controller.conditions import READY
from okta_hris.controller.kube import (
    KubeApi,
    ObjectNotFound,
    default_namespace,
    load_configuration,
)
from okta_hris.controller.options import LaunchOptions
from okta_hris.controller.status import read_status
from okta_hris.errors import ConfigError
from okta_hris.resource.spec import RESYNC_ANNOTATION

EXIT_NOT_READY = 1
POLL_INTERVAL_S = 1.0


def _port(value: int | None) -> int | None:
    return value if value else None


@click.command("run")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Watch OktaIntegrations in this namespace (repeatable).",
)
@click.option("-A", "--all-namespaces", "clusterwide", is_flag=True, help="Watch every namespace.")
@click.option(
    "--peering",
    "peering_name",
    envvar="HRIS_PEERING",
    metavar="NAME",
    help="Kopf peering object shared by the replicas; only the highest priority one is active. "
    "Needs a PostgreSQL directory (refused on SQLite).",
)
@click.option(
    "--standalone",
    is_flag=True,
    help="No peering: the only replica (the default on an SQLite directory).",
)
@click.option(
    "--priority",
    type=int,
    envvar="HRIS_PEERING_PRIORITY",
    help="Peering priority (default: random, so that replicas never tie).",
)
@click.option(
    "--selector",
    "shard_selector",
    envvar="HRIS_SHARD_SELECTOR",
    metavar="SELECTOR",
    help="Serve only the OktaIntegrations whose labels match this Kubernetes label selector, "
    "e.g. 'hris.dev/shard=a' or '!hris.dev/shard' (one shard of several deployments; "
    "default: all).",
)
@click.option(
    "--liveness-port",
    type=int,
    default=8080,
    show_default=True,
    envvar="HRIS_LIVENESS_PORT",
    help="Serve the liveness probe on http://0.0.0.0:PORT/healthz (0: off).",
)
@click.option(
    "--metrics-port",
    type=int,
    default=9090,
    show_default=True,
    envvar="HRIS_METRICS_PORT",
    help="Serve Prometheus metrics on http://0.0.0.0:PORT/metrics (0: off).",
)
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="Default: in-cluster, then $KUBECONFIG."
)
@click.option("--context", "kube_context", help="kubeconfig context (default: the current one).")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.option("--debug", is_flag=True, help="Log everything (never Secret values).")
@click.option(
    "--log-format",
    type=click.Choice(["plain", "full", "json"]),
    default="full",
    show_default=True,
)
@database_option
@user_errors
def run_command(
    namespaces: tuple[str, ...],
    clusterwide: bool,
    peering_name: str | None,
    standalone: bool,
    priority: int | None,
    shard_selector: str | None,
    liveness_port: int,
    metrics_port: int,
    kubeconfig: str | None,
    kube_context: str | None,
    verbose: bool,
    debug: bool,
    log_format: str,
    database: str | None,
) -> None:
    """Run the operator: sync every OktaIntegration on its schedule, on demand and on change.

    Settings come from the environment (HRIS_DATABASE_URL, HRIS_ALLOWED_DOMAINS,
    HRIS_MAX_CONCURRENT_SYNCS, ...; see docs/OPERATOR.md), read once at start-up and checked
    before the operator starts: a wrong one is one line and exit 1. On an SQLite directory the
    operator is the only replica: --peering is refused, and without it it runs --standalone.
    """
    import kopf

    from okta_hris.controller.logs import configure as configure_logging
    from okta_hris.controller.main import run_operator
    from okta_hris.controller.runtime import OperatorSetup
    from okta_hris.controller.sqlite_safety import is_sqlite

    if bool(namespaces) == clusterwide:
        raise click.UsageError("give either -n NAMESPACE (repeatable) or -A, not both or neither")
    if standalone and peering_name:
        raise click.UsageError("--standalone and --peering exclude each other")
    if liveness_port and liveness_port == metrics_port:
        raise click.UsageError("--liveness-port and --metrics-port must differ")
    # First: what the settings check logs (the Kubernetes client's, alembic's) is formatted too.
    configure_logging(debug=debug, verbose=verbose, log_format=kopf.LogFormat[log_format.upper()])
    # --database is HRIS_DATABASE_URL for this run (SPEC §7: every command that touches the
    # directory takes it), --selector is HRIS_SHARD_SELECTOR.
    overrides = {
        name: value
        for name, value in (
            ("HRIS_DATABASE_URL", database),
            ("HRIS_SHARD_SELECTOR", shard_selector),
        )
        if value
    }
    launch = LaunchOptions(
        metrics_port=_port(metrics_port),
        liveness_port=_port(liveness_port),
        kubeconfig=kubeconfig,
        kube_context=kube_context,
        environ={**os.environ, **overrides} if overrides else None,
    )
    setup = OperatorSetup.read(launch, peered=bool(peering_name))
    # Kopf's peering auto-detection could join several replicas: never on SQLite.
    standalone = standalone or (not peering_name and is_sqlite(setup.settings.database_url))
    run_operator(
        namespaces=namespaces,
        clusterwide=clusterwide,
        peering_name=peering_name,
        standalone=standalone,
        priority=priority,
        liveness_port=_port(liveness_port),
        launch=launch,
    )


@click.command("resync")
@click.argument("name")
@click.option(
    "-n",
    "--namespace",
    metavar="NS",
    help="Default: the namespace of the kubeconfig context (as kubectl), else default.",
)
@click.option("--wait", is_flag=True, help="Wait until the operator has finished the sync.")
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds to wait with --wait.",
)
@click.option(
    "--value",
    metavar="TEXT",
    help="The annotation's value, echoed exactly (default: the current time, RFC 3339 with "
    "microseconds).",
)
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="Default: $KUBECONFIG, then in-cluster."
)
@click.option("--context", "kube_context", help="kubeconfig context (default: the current one).")
@user_errors
def resync_command(
    name: str,
    namespace: str | None,
    wait: bool,
    timeout: float,
    value: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Ask the operator for a full sync of OktaIntegration NAME now.

    Sets the annotation hris.dev/resync-requested-at; the operator echoes the value in
    status.lastHandledResyncAt when the sync has finished.
    """
    if value is not None and not value.strip():
        raise click.BadParameter("must not be blank", param_hint="--value")
    value = value if value is not None else new_resync_value()
    if namespace is None:
        namespace = default_namespace(kubeconfig, kube_context)
    status = asyncio.run(
        _resync(namespace, name, value, timeout if wait else None, kubeconfig, kube_context)
    )
    key = f"{namespace}/{name}"
    if not wait:
        stdout.print(
            f"requested a full sync of {key} ({RESYNC_ANNOTATION}={value})", highlight=False
        )
        return
    if status is None:
        fail(f"timed out after {timeout:g}s waiting for the sync of {key}")
        return
    typed = read_status(status)
    ready = typed.condition(READY)
    line = (
        f"{key}: Ready={ready.status if ready else 'Unknown'} {ready.reason if ready else ''}: "
        f"{ready.message if ready else ''}"
    )
    if ready is not None and ready.status == "True":
        mode = typed.last_sync_mode or ""
        duration = typed.last_sync_duration_seconds
        took = f", {duration:g}s" if duration is not None else ""
        stdout.print(f"{markup_escape(line)} ({mode} sync{took})", highlight=False)
    else:
        fail(markup_escape(line), EXIT_NOT_READY)


def new_resync_value() -> str:
    """A new annotation value: two requests, even in the same second, never share one."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _resync(
    namespace: str,
    name: str,
    value: str,
    wait_seconds: float | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> dict[str, Any] | None:
    """Set the annotation, then wait up to ``wait_seconds`` for the status to echo it.

    Returns that status; None when not waiting or when the time ran out.
    """
    configuration = load_configuration(kubeconfig, kube_context, prefer_kubeconfig=True)
    async with KubeApi(configuration) as api:
        try:
            found = await api.get_integration(namespace, name)
        except ObjectNotFound:
            raise ConfigError(
                f'OktaIntegration "{name}" not found in namespace "{namespace}"'
            ) from None
        if (found.get("spec") or {}).get("sync", {}).get("suspend") is True:
            raise ConfigError(
                f"{namespace}/{name} is suspended (spec.sync.suspend: true): "
                "the operator would not sync it"
            )
        await api.annotate_integration(namespace, name, {RESYNC_ANNOTATION: value})
        if wait_seconds is None:
            return None
        try:
            async with asyncio.timeout(wait_seconds):
                while True:
                    found = await api.get_integration(namespace, name)
                    status: dict[str, Any] = found.get("status") or {}
                    if status.get("lastHandledResyncAt") == value:
                        return status
                    await asyncio.sleep(POLL_INTERVAL_S)
        except TimeoutError:
            return None

"""Every Kopf handler of the operator. Each is a few lines that delegate.

- start-up / clean-up: build and close the ``OperatorRuntime`` (settings, directory, metrics).
- login: hand Kopf the same Kubernetes credentials the operator's own client uses.
- a daemon per OktaIntegration: ``IntegrationReconciler.run`` decides and runs its syncs.
- an event handler: poke that daemon when the object changes.
- on delete: stop the syncs and mark the directory rows removed (they are kept).

Secrets are neither watched nor listed: the operator gets an integration's Secrets by name
when it needs them (RBAC ``get`` only), so Kopf never sees a Secret.

Run with ``okta-hris run`` or ``kopf run -m okta_hris.controller.handlers``.
"""

from __future__ import annotations

import os
from typing import Any

import kopf

from okta_hris.controller import logs
from okta_hris.controller.events import EventSource
from okta_hris.controller.kube import connection_info
from okta_hris.controller.options import LaunchOptions
from okta_hris.controller.reconciler import (
    IntegrationReconciler,
    integration_key,
    remove_integration,
)
from okta_hris.controller.runtime import OperatorRuntime
from okta_hris.errors import HrisError
from okta_hris.resource.spec import API_GROUP, API_VERSION, PLURAL

FINALIZER = f"{API_GROUP}/finalizer"
WATCH_SERVER_TIMEOUT_S = 600.0
# When the object is deleted or this replica stops or pauses, a sync in progress may finish
# for this long before it is cancelled (a cancelled sync changes nothing in the directory).
SYNC_GRACE_S = 30.0
SYNC_CANCEL_TIMEOUT_S = 10.0


def _runtime(memo: kopf.Memo) -> OperatorRuntime:
    runtime = memo.get("runtime")
    if not isinstance(runtime, OperatorRuntime):
        raise kopf.PermanentError("the operator's start-up handler has not run")
    return runtime


def configure_kopf(settings: kopf.OperatorSettings, source: EventSource | None = None) -> None:
    """Kopf's own state under our API group; least-privilege scanning; quiet peering.

    Every Event is posted by ``controller.events``, with an action: Kopf posts none (it would
    say "Action?"); its handlers' failures are in the log. Should it post one anyway, it is in
    our name.
    """
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration"
    )
    # The CRD is installed before the operator and namespaces are given by name: no need to
    # list CRDs or namespaces cluster-wide (and no RBAC for it).
    settings.scanning.disabled = True
    settings.peering.stealth = True
    if settings.watching.server_timeout is None:
        settings.watching.server_timeout = WATCH_SERVER_TIMEOUT_S
    settings.posting.enabled = False
    source = source or EventSource.from_environ(os.environ)
    settings.posting.reporting_component = source.component
    settings.posting.reporting_instance = source.instance


@kopf.on.startup()
async def start_operator(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    launch = memo.get("launch")
    environ = launch.environ if isinstance(launch, LaunchOptions) else None
    configure_kopf(settings, EventSource.from_environ(os.environ if environ is None else environ))
    try:
        memo["runtime"] = await OperatorRuntime.start(
            launch if isinstance(launch, LaunchOptions) else LaunchOptions(),
            peered=not settings.peering.standalone,
        )
    except HrisError as exc:
        # A wrong setting stays wrong: stop the operator (a pod crash-loops, visibly) instead
        # of Kopf retrying the start-up for ever.
        raise kopf.PermanentError(str(exc)) from None


@kopf.on.cleanup()
async def stop_operator(memo: kopf.Memo, **_: Any) -> None:
    runtime = memo.get("runtime")
    if isinstance(runtime, OperatorRuntime):
        await runtime.close()


@kopf.on.login()
async def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    return connection_info(_runtime(memo).kube_configuration)


@kopf.on.probe(id="syncsInProgress")
async def syncs_in_progress(memo: kopf.Memo, **_: Any) -> int:
    return _runtime(memo).syncs_in_progress


@kopf.on.event(API_GROUP, API_VERSION, PLURAL)
async def integration_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    state = _runtime(memo).integrations.get(integration_key(namespace or "", name))
    if state is not None:
        state.poke()


@kopf.daemon(
    API_GROUP,
    API_VERSION,
    PLURAL,
    id="reconcile",
    cancellation_backoff=SYNC_GRACE_S,
    cancellation_timeout=SYNC_CANCEL_TIMEOUT_S,
)
async def reconcile(
    body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    await IntegrationReconciler(_runtime(memo), body).run(stopped)


@kopf.on.delete(API_GROUP, API_VERSION, PLURAL)
async def integration_deleted(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    with logs.integration_logging(namespace or "", name):
        await remove_integration(_runtime(memo), namespace or "", name)

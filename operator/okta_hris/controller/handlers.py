"""Every Kopf handler of the operator. Each is a few lines that delegate.

- start-up / clean-up: build and close the ``OperatorRuntime`` (settings, directory, metrics).
- login: hand Kopf the same Kubernetes credentials the operator's own client uses.
- a daemon per OktaIntegration of this deployment's shard: ``IntegrationReconciler.run``
  decides and runs its syncs.
- an event handler: poke that daemon when the object changes; let the integration go when it
  leaves the shard (its labels no longer match ``--selector``).
- on delete: stop the syncs and mark the directory rows removed (they are kept).

Secrets are neither watched nor listed: the operator gets an integration's Secrets by name
when it needs them (RBAC ``get`` only), so Kopf never sees a Secret.

Run with ``okta-hris run`` or ``kopf run -m okta_hris.controller.handlers``.
"""

from __future__ import annotations

import logging
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
from okta_hris.controller.sharding import ShardSelector
from okta_hris.errors import HrisError
from okta_hris.resource.spec import API_GROUP, API_VERSION, PLURAL

logger = logging.getLogger(__name__)

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


def watch_shard(settings: kopf.OperatorSettings, shard: ShardSelector) -> None:
    """List and watch only the OktaIntegrations of this deployment's shard.

    The API server filters (``labelSelector``): the others never reach Kopf, so this process
    keeps no memory of them, never adds or removes their finalizer, and pays nothing for them.
    When an integration's labels stop matching, the watch says DELETED (``integration_changed``
    lets it go); when they start matching, ADDED.
    """
    if shard:
        settings.watching.label_selectors[API_GROUP, PLURAL] = str(shard)
    logger.info("Serving the OktaIntegrations matching: %s", str(shard) or "all (no --selector)")


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
        watch_shard(settings, memo["runtime"].config.shard)
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
async def integration_changed(
    type: str | None,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    runtime = _runtime(memo)
    key = integration_key(namespace or "", name)
    state = runtime.integrations.get(key)
    if state is None:
        return
    if type == "DELETED" and not body.metadata.deletion_timestamp:
        # Gone without passing through our finalizer: it left this shard (a selected watch
        # says DELETED when the labels stop matching; the other shard takes it over), or its
        # finalizer was removed by hand. Stop its syncs here; its directory rows are not ours
        # to mark removed. A sync in progress finishes, its lease keeps the new owner waiting.
        shard = str(runtime.config.shard) or "all"
        logger.info("%s left this operator's shard (%s): its syncs stop here", key, shard)
        state.removed = True
        runtime.forget(key)
    state.poke()


def in_shard(labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> bool:
    """The daemon's own check of the selector: Kopf stops it gracefully (a sync in progress
    finishes) the moment the labels stop matching, even from an API server that ignored
    ``labelSelector``. Deletion handling stays unfiltered, so the finalizer is never removed
    from an integration another shard owns."""
    runtime = memo.get("runtime")
    return not isinstance(runtime, OperatorRuntime) or runtime.config.shard.matches(labels)


@kopf.daemon(
    API_GROUP,
    API_VERSION,
    PLURAL,
    id="reconcile",
    when=in_shard,
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

"""Every Kopf handler of the operator. Each is a few lines that delegate.

- start-up / clean-up: build and close the ``OperatorRuntime`` (settings, directory, metrics).
- login: hand Kopf the same Kubernetes credentials the operator's own client uses.
- a daemon per OktaIntegration: ``IntegrationReconciler.run`` decides and runs its syncs.
- event handlers: poke that daemon when the object or one of its Secrets changes.
- an index: which integrations use which Secret (so a Secret change reaches them).
- on delete: stop the syncs and mark the directory rows removed (they are kept).

Secrets are only watched (``on.event``, ``index``), never patched: Kopf keeps no state on them.

Run with ``okta-hris run`` or ``kopf run -m okta_hris.controller.handlers``.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from okta_hris.controller.kube import connection_info, decode_secret_data
from okta_hris.controller.options import LaunchOptions
from okta_hris.controller.reconciler import (
    IntegrationReconciler,
    integration_key,
    remove_integration,
    secret_references,
)
from okta_hris.controller.runtime import OperatorRuntime
from okta_hris.resource.spec import API_GROUP, API_VERSION, PLURAL

FINALIZER = f"{API_GROUP}/finalizer"
WATCH_SERVER_TIMEOUT_S = 600.0
# When the object is deleted or this replica stops or pauses, a sync in progress may finish
# for this long before it is cancelled (a cancelled sync changes nothing in the directory).
SYNC_GRACE_S = 30.0
SYNC_CANCEL_TIMEOUT_S = 10.0
# (namespace, Secret name) -> names of the OktaIntegrations using that Secret.
SECRET_USERS_INDEX = "secret_users"


def _runtime(memo: kopf.Memo) -> OperatorRuntime:
    runtime = memo.get("runtime")
    if not isinstance(runtime, OperatorRuntime):
        raise kopf.PermanentError("the operator's start-up handler has not run")
    return runtime


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Kopf's own state under our API group; least-privilege scanning; quiet peering."""
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
    settings.posting.level = logging.INFO


@kopf.on.startup()
async def start_operator(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    configure_kopf(settings)
    launch = memo.get("launch")
    memo["runtime"] = await OperatorRuntime.start(
        launch if isinstance(launch, LaunchOptions) else LaunchOptions()
    )


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


@kopf.index(API_GROUP, API_VERSION, PLURAL, id=SECRET_USERS_INDEX)
async def integration_secrets(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], str]:
    return {secret: name for secret in secret_references(namespace or "", spec)}


@kopf.on.event("v1", "secrets")
async def secret_changed(
    type: str | None,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    # Only a created or modified Secret can fix anything: type None is Kopf replaying what it
    # listed (at start, and after every re-list of the watch), DELETED breaks rather than fixes.
    if type not in ("ADDED", "MODIFIED") or not namespace:
        return
    # Kopf passes each index as a keyword argument named by its id.
    index: kopf.Index[tuple[str, str], str] = kwargs[SECRET_USERS_INDEX]
    users = [integration_key(namespace, user) for user in index.get((namespace, name), [])]
    if users:
        data = decode_secret_data(body.get("data"))
        _runtime(memo).secret_changed(users, name, data)


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
    await remove_integration(_runtime(memo), namespace or "", name)

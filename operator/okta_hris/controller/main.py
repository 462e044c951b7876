"""Starting the operator: ``okta-hris run``, or ``kopf run -m okta_hris.controller.main``.

Importing this module registers the handlers with Kopf's default registry.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import kopf
from kopf._core.engines.activities import ActivityError

from okta_hris.controller import handlers as handlers
from okta_hris.controller.options import LaunchOptions
from okta_hris.errors import ConfigError

# Kopf peering: the replica with the highest priority is the active one; equal priorities
# would freeze all of them, so each replica draws its own unless told otherwise.
MAX_RANDOM_PRIORITY = 32767


def liveness_endpoint(port: int | None) -> str | None:
    return f"http://0.0.0.0:{port}/healthz" if port else None


def random_priority() -> int:
    return random.SystemRandom().randint(1, MAX_RANDOM_PRIORITY)


def run_operator(
    *,
    namespaces: Sequence[str],
    clusterwide: bool,
    peering_name: str | None,
    standalone: bool,
    priority: int | None,
    liveness_port: int | None,
    launch: LaunchOptions,
) -> None:
    """Run until SIGINT/SIGTERM (blocking, in the main thread's event loop)."""
    if priority is None and not standalone:
        priority = random_priority()
    try:
        kopf.run(
            namespaces=list(namespaces),
            clusterwide=clusterwide,
            peering_name=peering_name,
            standalone=True if standalone else None,
            priority=priority,
            liveness_endpoint=liveness_endpoint(liveness_port),
            memo=kopf.Memo(launch=launch),
        )
    except ActivityError as exc:
        # The start-up handler refused (a setting, the directory) and Kopf logged why; say it
        # once more as the command's one-line error instead of Kopf's traceback.
        raise ConfigError(f"the operator stopped: {exc.__cause__ or exc}") from None

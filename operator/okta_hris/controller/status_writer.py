"""Writing one OktaIntegration's status: merge patches, and retries the API server refused.

The writer keeps the status as the API server last returned it, with the patches it has not
accepted yet merged in, so that decisions are always made on what the operator has said. A
refused patch stays unsent (composed with later ones) and is retried with backoff; the
reconciler does nothing else until it is on the server: what the operator did (the echo of a
resync, the end of a sync) must be written before it acts on it again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from okta_hris.controller import scheduling
from okta_hris.controller.conditions import format_time
from okta_hris.controller.kube import KubeApi, KubernetesApiError, ObjectNotFound
from okta_hris.controller.options import ControllerConfig
from okta_hris.controller.status import StatusPatch, compose_patches, merge_patch, read_status
from okta_hris.resource.status import OktaIntegrationStatus

logger = logging.getLogger(__name__)

# A status patch answered with these will never be accepted as it is: retrying cannot help.
REJECTED_FOR_GOOD = frozenset({400, 422})


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StatusWriter:
    """The status subresource of one OktaIntegration, as this operator last wrote it."""

    def __init__(
        self,
        kube: KubeApi,
        namespace: str,
        name: str,
        config: ControllerConfig,
        rng: random.Random,
        watched: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self.kube = kube
        self.watched = watched  # the status as the watch last saw it (Kopf's live body)
        self.namespace = namespace
        self.name = name
        self.key = f"{namespace}/{name}"
        self.config = config
        self.rng = rng
        self._current: dict[str, Any] = {}  # the server's copy, with the unsent patch merged in
        self._model: OktaIntegrationStatus | None = None
        self.unsent: dict[str, Any] | None = None  # one merge patch the server has not taken
        self.failures = 0  # consecutive refused writes, for the backoff
        self.retry_at: datetime | None = None

    @property
    def current(self) -> dict[str, Any]:
        """The status as the server has it, with what is still unsent merged in."""
        return self._current

    @current.setter
    def current(self, status: dict[str, Any]) -> None:
        self._current = status
        self._model = None

    @property
    def model(self) -> OktaIntegrationStatus:
        """The current status, validated (once per change)."""
        if self._model is None:
            self._model = read_status(self._current)
        return self._model

    async def load(self) -> None:
        """Start from the status on the server: another replica may have written it last."""
        try:
            found = await self.kube.get_integration(self.namespace, self.name)
            self.current = dict(found.get("status") or {})
        except KubernetesApiError as exc:
            logger.warning("Cannot read %s, using the watched copy: %s", self.key, exc)
            self.current = dict(self.watched())

    async def write(self, patch: StatusPatch) -> None:
        """Merge-patch the status now, or keep the patch for ``flush`` to retry."""
        body = patch.as_json()
        self.current = merge_patch(self.current, body)
        self.unsent = compose_patches(self.unsent or {}, body)
        await self.flush()

    async def flush(self) -> bool:
        """Send the unsent patch; True once the API server has it (or never will)."""
        patch = self.unsent
        if patch is None:
            return True
        try:
            written = await self.kube.patch_integration_status(self.namespace, self.name, patch)
        except ObjectNotFound:
            logger.info("%s is gone; its status was not written", self.key)
            self.unsent = None
            return True
        except KubernetesApiError as exc:
            if exc.status in REJECTED_FOR_GOOD:
                logger.error("The API server rejected the status of %s: %s", self.key, exc)
                self.unsent = None
                await self.load()
                return True
            self.failures += 1
            self.retry_at = scheduling.retry_after(
                _utcnow(), self.failures, self.config.retry_backoff_max, self.config, self.rng
            )
            logger.warning(
                "Cannot write the status of %s: %s; retrying at %s",
                self.key,
                exc,
                format_time(self.retry_at),
            )
            return False
        self.unsent = None
        self.failures = 0
        self.retry_at = None
        # The server's copy is the truth: another writer may have changed other fields.
        found = written.get("status")
        if isinstance(found, Mapping):
            self.current = dict(found)
        return True

"""What ``@kopf.on.startup`` builds once and every handler shares (through Kopf's memo).

One ``OperatorRuntime`` per operator: the settings read once from the environment, the
directory, the Kubernetes client, the metrics, the semaphore that caps concurrent syncs, and
one ``IntegrationState`` per OktaIntegration with the lock that keeps its syncs apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes.client import Configuration

from okta_hris.config import Settings
from okta_hris.controller.config import ControllerConfig, LaunchOptions
from okta_hris.controller.kube import KubeApi, load_configuration
from okta_hris.controller.metrics import MetricsServer, OperatorMetrics
from okta_hris.controller.scheduling import Memory
from okta_hris.directory.store import Directory

logger = logging.getLogger(__name__)


@dataclass
class IntegrationState:
    """The operator's in-memory view of one OktaIntegration (``namespace/name``)."""

    key: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    status: dict[str, Any] | None = None  # as last written or read; None until loaded
    memory: Memory = field(default_factory=Memory)
    transient_failures: int = 0  # consecutive, for the backoff
    last_problem: tuple[str, str] | None = None  # (reason, message) of the last failure event
    removed: bool = False

    def poke(self) -> None:
        """Make the integration's daemon look at it again now."""
        self.wake.set()

    def secret_changed(self) -> None:
        self.memory = replace(self.memory, secret_changed=True)
        self.poke()


@dataclass
class OperatorRuntime:
    settings: Settings
    config: ControllerConfig
    directory: Directory
    kube_configuration: Configuration
    kube: KubeApi
    metrics: OperatorMetrics
    metrics_server: MetricsServer | None
    semaphore: asyncio.Semaphore
    sync_threads: concurrent.futures.ThreadPoolExecutor
    rng: random.Random = field(default_factory=random.Random)
    integrations: dict[str, IntegrationState] = field(default_factory=dict)

    @classmethod
    async def start(cls, launch: LaunchOptions) -> OperatorRuntime:
        settings = Settings.from_env(launch.environ)
        config = ControllerConfig.from_env(launch.environ)
        if settings.okta_url:
            logger.warning(
                "HRIS_OKTA_URL is set: every integration's Okta requests go to %s instead of "
                "https://<subdomain>.<domain>. Use this for development and tests only.",
                settings.okta_url,
            )
        kube_configuration = load_configuration(launch.kubeconfig, launch.kube_context)
        directory = await asyncio.to_thread(Directory.open, settings.database_url)
        metrics = OperatorMetrics()
        server: MetricsServer | None = None
        kube = KubeApi(kube_configuration)
        try:
            if launch.metrics_port is not None:
                server = MetricsServer(metrics, launch.metrics_host, launch.metrics_port)
                await server.start()
                logger.info("Serving metrics on port %d at /metrics", server.port)
        except BaseException:
            await kube.aclose()
            directory.close()
            raise
        logger.info(
            "Directory %r; at most %d concurrent syncs", directory, settings.max_concurrent_syncs
        )
        return cls(
            settings=settings,
            config=config,
            directory=directory,
            kube_configuration=kube_configuration,
            kube=kube,
            metrics=metrics,
            metrics_server=server,
            semaphore=asyncio.Semaphore(settings.max_concurrent_syncs),
            # Each sync runs in its own thread and event loop (see reconciler.run_in_own_loop).
            sync_threads=concurrent.futures.ThreadPoolExecutor(
                max_workers=settings.max_concurrent_syncs, thread_name_prefix="sync"
            ),
        )

    async def close(self) -> None:
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        await self.kube.aclose()
        # Syncs still running were cancelled with their daemons; let them unwind.
        await asyncio.to_thread(self.sync_threads.shutdown, wait=True, cancel_futures=True)
        await asyncio.to_thread(self.directory.close)

    def integration(self, key: str) -> IntegrationState:
        state = self.integrations.get(key)
        if state is None:
            state = self.integrations[key] = IntegrationState(key)
        return state

    def forget(self, key: str) -> None:
        self.integrations.pop(key, None)
        self.metrics.forget(key)

    def secret_changed(self, keys: list[str]) -> None:
        for key in keys:
            state = self.integrations.get(key)
            if state is not None:
                state.secret_changed()

    @property
    def syncs_in_progress(self) -> int:
        return sum(1 for state in self.integrations.values() if state.lock.locked())

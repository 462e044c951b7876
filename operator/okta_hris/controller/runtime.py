"""What ``@kopf.on.startup`` builds once and every handler shares (through Kopf's memo).

One ``OperatorRuntime`` per operator: the settings read once from the environment, the
directory, the Kubernetes client, the metrics, the semaphore that caps concurrent syncs, and
one ``IntegrationState`` per OktaIntegration with the lock that keeps its syncs apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import random
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from kubernetes.client import Configuration

from okta_hris.controller.kube import KubeApi, load_configuration
from okta_hris.controller.metrics import MetricsServer, OperatorMetrics
from okta_hris.controller.options import ControllerConfig, LaunchOptions
from okta_hris.controller.scheduling import Memory
from okta_hris.controller.status_writer import StatusWriter
from okta_hris.directory import Directory
from okta_hris.services import IntegrationSync
from okta_hris.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Token values are remembered only as a keyed hash, with a key that never leaves the process:
# enough to tell whether a Secret event changed the token, useless to anyone reading memory.
_FINGERPRINT_KEY = secrets.token_bytes(32)


NO_SECRET = "no Secret"
NO_KEY = "no such key"
EMPTY_TOKEN = "empty"


def token_fingerprint(data: Mapping[str, str] | None, key: str) -> str:
    """What the token Secret holds, as a keyed hash of the value (or why there is none).

    Never the value itself: the hash only tells whether a Secret event changed the token.
    """
    if data is None:
        return NO_SECRET
    value = data.get(key)
    if value is None:
        return NO_KEY
    if not value.strip():
        return EMPTY_TOKEN
    digest = hashlib.blake2b(value.strip().encode(), key=_FINGERPRINT_KEY, digest_size=16)
    return digest.hexdigest()


@dataclass(frozen=True)
class TokenSeen:
    """The token Secret as the last attempt to read it found it."""

    secret: str
    key: str
    fingerprint: str  # token_fingerprint() of what was found


async def run_in_own_loop(
    make: Callable[[], Coroutine[Any, Any, T]], executor: concurrent.futures.Executor
) -> T:
    """Run ``make()`` in a fresh event loop in a worker thread, and wait for it here.

    A sync plans in pure Python, which for a large org takes long enough to stall Kopf's
    watches and liveness probe if it ran in their loop. Its own loop also ends with the sync:
    whatever the sync left running is cancelled then. Cancelling the caller cancels the sync.
    """
    handle: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = (
        concurrent.futures.Future()
    )

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        handle.set_result((asyncio.get_running_loop(), task))
        return await make()

    done = asyncio.get_running_loop().run_in_executor(executor, asyncio.run, main())
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        if handle.done():
            loop, task = handle.result()
            loop.call_soon_threadsafe(task.cancel)
        # Return only once the sync has stopped: it may be committing, and the caller's lock
        # must keep a deletion from marking the rows removed before that commit.
        with contextlib.suppress(BaseException):
            await done
        raise


@dataclass
class IntegrationState:
    """The operator's in-memory view of one OktaIntegration (``namespace/name``)."""

    key: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # The status as last read from or written to the API server, and what is still unsent.
    status: StatusWriter | None = None
    memory: Memory = field(default_factory=Memory)
    transient_failures: int = 0  # consecutive, for the backoff
    last_problem: tuple[str, str] | None = None  # (reason, message) of the last failure event
    # The warnings of the last successful sync (an unknown employment attribute): a Warning
    # Event is sent when one first appears, not on every hourly sync.
    sync_warnings: tuple[str, ...] = ()
    token_seen: TokenSeen | None = None
    invite_all_failures: int = 0  # consecutive failures to queue invite-all-pending
    invite_all_problem: str | None = None  # the message of the last InvitationsNotQueued event
    removed: bool = False

    def poke(self) -> None:
        """Make the integration's daemon look at it again now."""
        self.wake.set()

    def secret_changed(self, name: str, data: Mapping[str, str]) -> None:
        """A Secret the integration uses was created or changed.

        Only a change of the token (created, its key added, a new value) can fix a failure the
        token Secret caused: an edit of a label or of another key retries nothing.
        """
        seen = self.token_seen
        if seen is not None and (
            name != seen.secret or token_fingerprint(data, seen.key) == seen.fingerprint
        ):
            return
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
    syncs: IntegrationSync
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
        # Each sync runs in its own thread and event loop (see run_in_own_loop).
        sync_threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.max_concurrent_syncs, thread_name_prefix="sync"
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
            sync_threads=sync_threads,
            syncs=IntegrationSync(
                directory,
                settings,
                runner=lambda make: run_in_own_loop(make, sync_threads),
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

    def secret_changed(self, keys: list[str], name: str, data: Mapping[str, str]) -> None:
        for key in keys:
            state = self.integrations.get(key)
            if state is not None:
                state.secret_changed(name, data)

    @property
    def syncs_in_progress(self) -> int:
        return sum(1 for state in self.integrations.values() if state.lock.locked())

"""What ``@kopf.on.startup`` builds once and every handler shares (through Kopf's memo).

One ``OperatorRuntime`` per operator: the settings read once from the environment, the
directory, the Kubernetes client, the metrics, the semaphore that caps concurrent syncs, and
one ``IntegrationState`` per OktaIntegration with the lock that keeps its syncs apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import hashlib
import logging
import os
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from kubernetes.client import Configuration

from okta_hris.controller.events import EventSource
from okta_hris.controller.kube import KubeApi, KubernetesApiError, load_configuration
from okta_hris.controller.metrics import MetricsServer, OperatorMetrics
from okta_hris.controller.options import ControllerConfig, LaunchOptions
from okta_hris.controller.scheduling import Memory
from okta_hris.controller.sqlite_safety import check_directory
from okta_hris.controller.status_writer import StatusWriter
from okta_hris.directory import Directory
from okta_hris.domain.events import EventBatch, HookEvent
from okta_hris.domain.okta import bare_api_token
from okta_hris.errors import HrisError
from okta_hris.eventhooks import HOOK_PATH, EventHookReceiver, PendingEvents
from okta_hris.resource.spec import EventHookSettings
from okta_hris.resource.status import EventHooksStatus
from okta_hris.services import IntegrationSync
from okta_hris.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Token values are remembered only as a keyed hash, with a key that never leaves the process:
# enough to tell whether a re-read Secret holds another token, useless to anyone reading memory.
_FINGERPRINT_KEY = secrets.token_bytes(32)


NO_SECRET = "no Secret"
NO_KEY = "no such key"
EMPTY_TOKEN = "empty"


def token_fingerprint(data: Mapping[str, str] | None, key: str) -> str:
    """What the token Secret holds, as a keyed hash of the token (or why there is none).

    Never the value itself: the hash only tells whether the token changed between two reads.
    The token is what Okta gets (``bare_api_token``): pasted again with its ``SSWS`` prefix or
    a newline, it is the same token.
    """
    if data is None:
        return NO_SECRET
    value = data.get(key)
    if value is None:
        return NO_KEY
    token = bare_api_token(value)
    if not token:
        return EMPTY_TOKEN
    digest = hashlib.blake2b(token.encode(), key=_FINGERPRINT_KEY, digest_size=16)
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

    # In a copy of this context: the sync's log lines name its integration (controller.logs).
    context = contextvars.copy_context()
    done = asyncio.get_running_loop().run_in_executor(executor, context.run, asyncio.run, main())
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


# The metric reason of hook events dropped because the integration is suspended.
DROPPED_SUSPENDED = "suspended"


# After the API server failed to give a hook Secret, how soon it is asked again.
SECRET_API_RETRY_SECONDS = 5.0


@dataclass
class HookState:
    """Okta Event Hooks of one integration: the Authorization value expected, the events
    received and not yet synced, and what status has been told of them.

    The reconciler configures it at each step from the spec (``configure``); the receiver asks
    it for the Authorization value and offers it deliveries. Events are debounced in
    ``pending``, then wait in ``ready`` (one batch at most: while it waits, ``pending`` fills
    up to its capacity and the receiver answers 503, back-pressure) until a sync takes them.
    """

    pending: PendingEvents = field(default_factory=PendingEvents)
    # Reads the Authorization value from the Secret; None: hooks are off (or the spec invalid).
    reader: Callable[[], Awaitable[str]] | None = None
    settings: EventHookSettings | None = None  # what the reader was made from
    debounce: float = 2.0
    suspended: bool = False
    ready: EventBatch | None = None
    ready_changed: asyncio.Event = field(default_factory=asyncio.Event)
    newest_event: datetime | None = None  # the newest ``published`` received (status, metric)
    reported_received: int = 0  # pending.received when status was last written
    _authorization: str | None = None
    _read_at: float | None = None  # time.monotonic() of that read
    _problem: str | None = None  # why the last read found no value (logged once)
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def enabled(self) -> bool:
        return self.reader is not None

    def configure(
        self,
        settings: EventHookSettings | None,
        reader: Callable[[], Awaitable[str]] | None,
        debounce: float,
        suspended: bool,
    ) -> None:
        """What the spec says now; another spec (a new Secret name, hooks turned off) forgets
        the value read for the old one."""
        if settings != self.settings:
            self._authorization = self._read_at = self._problem = None
        self.settings, self.reader = settings, reader
        self.debounce, self.suspended = debounce, suspended

    async def authorization(self, key: str, ttl: float) -> str | None:
        """The expected Authorization value, read from the Secret again once ``ttl`` seconds
        old (Secrets are not watched: a rotated value is picked up within ``ttl``)."""
        async with self._reading:
            reader = self.reader
            if reader is None:
                return None
            fresh = self._read_at is not None and time.monotonic() - self._read_at < ttl
            if not fresh:
                try:
                    self._authorization, self._problem = await reader(), None
                except KubernetesApiError as exc:  # keep what was read, try again soon
                    if str(exc) != self._problem:
                        self._problem = str(exc)
                        logger.warning("Cannot read the event hook Secret of %s: %s", key, exc)
                    # Not on every delivery (anyone may send them): again in a few seconds.
                    self._read_at = time.monotonic() - max(0.0, ttl - SECRET_API_RETRY_SECONDS)
                    return self._authorization
                except HrisError as exc:
                    self._authorization = None
                    if str(exc) != self._problem:
                        self._problem = str(exc)
                        logger.warning("Event hooks of %s answer 404: %s", key, exc)
                self._read_at = time.monotonic()
            return self._authorization

    def offer(self, events: Sequence[HookEvent]) -> tuple[bool, int]:
        """Queue a delivery's events: (accepted, how many of them are new). While suspended
        they are de-duplicated and dropped (nothing is queued for ever)."""
        before = self.pending.received
        if not self.pending.offer(events):
            return False, 0
        fresh = self.pending.received - before
        for event in events:
            if event.published is not None and (
                self.newest_event is None or event.published > self.newest_event
            ):
                self.newest_event = event.published
        if self.suspended:
            self.pending.take()
        return True, fresh

    def take(self) -> EventBatch | None:
        """Every event received and not synced yet: what the sync starting now covers."""
        batches = [b for b in (self.ready, self.pending.take()) if b is not None]
        self.ready = None
        self.ready_changed.set()
        if not batches:
            return None
        return batches[0] if len(batches) == 1 else batches[0].merge(batches[1])

    def give_back(self, batch: EventBatch) -> None:
        """A sync that covered these events failed: the next sync covers them."""
        self.ready = batch if self.ready is None else self.ready.merge(batch)
        self.ready_changed.set()

    async def debounced(self) -> EventBatch:
        """The next debounced batch, once no batch is waiting (``ready`` is empty)."""
        while self.ready is not None:
            self.ready_changed.clear()
            await self.ready_changed.wait()
        batch = await self.pending.next_batch(self.debounce)
        self.ready = batch if self.ready is None else self.ready.merge(batch)
        return self.ready

    def status_after_sync(
        self, current: EventHooksStatus | None, applied: int
    ) -> EventHooksStatus | None:
        """``status.eventHooks`` after a sync that covered ``applied`` events: the counts add
        up across restarts (status holds the totals, this process what it added)."""
        received = self.pending.received - self.reported_received
        if current is None and not (self.enabled or received or applied):
            return None
        base = current or EventHooksStatus(received=0, applied=0)
        times = [t for t in (base.last_event_time, self.newest_event) if t is not None]
        self.reported_received = self.pending.received
        return EventHooksStatus(
            received=base.received + received,
            applied=base.applied + applied,
            last_event_time=max(times) if times else None,
        )


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
    hooks: HookState = field(default_factory=HookState)

    def poke(self) -> None:
        """The object changed: make its daemon look at it again now, and, if it is stalled on
        its token Secret, read that again (someone may have fixed both together)."""
        self.memory = replace(self.memory, secret_check_at=None)
        self.wake.set()


class IntegrationHooks:
    """The receiver's view of the operator's integrations (``eventhooks.HookTarget``)."""

    def __init__(
        self,
        integrations: Mapping[str, IntegrationState],
        metrics: OperatorMetrics,
        config: ControllerConfig,
    ) -> None:
        self._integrations = integrations
        self._metrics = metrics
        self._ttl = config.secret_retry.total_seconds()

    async def authorization(self, integration: str) -> str | None:
        state = self._integrations.get(integration)
        if state is None or state.removed:
            return None  # not served by this replica (deleted, or another replica is active)
        return await state.hooks.authorization(integration, self._ttl)

    def offer(self, integration: str, events: Sequence[HookEvent]) -> bool:
        state = self._integrations.get(integration)
        if state is None or state.removed:
            return True  # deleted since it was authorized: nothing left to sync
        accepted, fresh = state.hooks.offer(events)
        if not accepted:
            self._metrics.hook_rejected(integration, "full", len(events))
            return False
        self._metrics.hook_events(integration, fresh, state.hooks.newest_event)
        if state.hooks.suspended and fresh:
            self._metrics.hook_rejected(integration, DROPPED_SUSPENDED, fresh)
        return True


@dataclass(frozen=True)
class OperatorSetup:
    """Every setting of the operator, read and checked before anything starts.

    ``okta-hris run`` reads it before Kopf starts, so that a wrong setting is one line and
    exit 1 (a pod crash-loops, visibly) instead of a start-up handler retried for ever; the
    start-up handler reads it again for ``kopf run``.
    """

    settings: Settings
    config: ControllerConfig
    kube_configuration: Configuration

    @classmethod
    def read(cls, launch: LaunchOptions, *, peered: bool) -> OperatorSetup:
        """Raises ``ConfigError`` (``DirectoryError`` for a database URL that does not parse)."""
        settings = Settings.from_env(launch.environ)
        config = ControllerConfig.from_env(launch.environ)
        config.check_ports(launch)
        check_directory(
            settings.database_url, peered=peered, require_persistent=config.require_persistent_db
        )
        kube_configuration = load_configuration(launch.kubeconfig, launch.kube_context)
        return cls(settings, config, kube_configuration)


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
    hooks_receiver: EventHookReceiver | None = None
    rng: random.Random = field(default_factory=random.Random)
    integrations: dict[str, IntegrationState] = field(default_factory=dict)

    @classmethod
    async def start(cls, launch: LaunchOptions, *, peered: bool) -> OperatorRuntime:
        """``peered``: Kopf may run this replica as one of several (it is not standalone)."""
        setup = OperatorSetup.read(launch, peered=peered)
        settings, config = setup.settings, setup.config
        if settings.okta_url:
            logger.warning(
                "HRIS_OKTA_URL is set: every integration's Okta requests go to %s instead of "
                "https://<subdomain>.<domain>. Use this for development and tests only.",
                settings.okta_url,
            )
        kube_configuration = setup.kube_configuration
        directory = await asyncio.to_thread(Directory.open, settings.database_url)
        metrics = OperatorMetrics()
        server: MetricsServer | None = None
        environ = os.environ if launch.environ is None else launch.environ
        kube = KubeApi(kube_configuration, event_source=EventSource.from_environ(environ))
        integrations: dict[str, IntegrationState] = {}
        receiver = EventHookReceiver(
            IntegrationHooks(integrations, metrics, config),
            *config.hooks_address,
            on_refused=metrics.hook_rejected,
        )
        try:
            if launch.metrics_port is not None:
                server = MetricsServer(metrics, launch.metrics_host, launch.metrics_port)
                await server.start()
                logger.info("Serving metrics on port %d at /metrics", server.port)
            await receiver.start()
            logger.info("Receiving Okta event hooks on port %d at %s", receiver.port, HOOK_PATH)
        except BaseException:
            if server is not None:
                await server.stop()
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
            hooks_receiver=receiver,
            integrations=integrations,
            syncs=IntegrationSync(
                directory,
                settings,
                runner=lambda make: run_in_own_loop(make, sync_threads),
            ),
        )

    async def close(self) -> None:
        if self.hooks_receiver is not None:
            await self.hooks_receiver.stop()
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

    @property
    def syncs_in_progress(self) -> int:
        return sum(1 for state in self.integrations.values() if state.lock.locked())

"""Delivering System Log events to event hooks, as Okta does, and the one-time verification.

Every event the System Log records is queued, at once and without I/O, for each ACTIVE,
VERIFIED hook subscribed to its type. A background task per hook gathers the events written
within ``batch_window`` into deliveries of at most ``max_events``; each delivery is its own
task (so a slow or delayed one holds up nothing), POSTs Okta's body with the hook's headers,
waits ``timeout`` for an answer and retries once after a timeout, a 5xx or a failed
connection. Delivery is at least once: a receiver that answered too late gets it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from okta_hris.sandbox.clock import Clock, format_time
from okta_hris.sandbox.eventhooks import EventHook, EventHookRegistry
from okta_hris.sandbox.faults import _uniform
from okta_hris.sandbox.hookconfig import HookDeliveryConfig, HookFault, HookFaultKind
from okta_hris.sandbox.systemlog import StoredEvent

CHALLENGE_HEADER = "X-Okta-Verification-Challenge"
_MAX_ANSWER_BYTES = 64 * 1024
_USER_AGENT = "Okta Event Hooks (okta-hris sandbox)"


@dataclass(frozen=True)
class HookDelivery:
    """One POST the sandbox made to a hook, or a delivery a fault dropped before sending.

    ``number`` counts the hook's deliveries from 1 (the fault plan decides by it); ``attempt``
    is 1, or 2 for the retry; a duplicated delivery appears twice with the same ``event_id``.
    ``status`` is the HTTP status, or None when there was no answer (then ``error`` says why:
    ``timeout`` or ``connection failed``)."""

    hook_id: str
    number: int
    event_id: str
    uuids: tuple[str, ...]
    attempt: int
    status: int | None
    error: str | None = None
    dropped: bool = False
    faults: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class HookFaultPlan:
    """Which deliveries of a hook the installed faults hit. Faults may be replaced from
    another thread (a test) while deliveries run, hence the lock."""

    def __init__(self, faults: Sequence[HookFault], seed: int) -> None:
        self._lock = threading.Lock()
        self._faults = tuple(faults)
        self._seed = seed

    @property
    def faults(self) -> tuple[HookFault, ...]:
        with self._lock:
            return self._faults

    def replace(self, faults: Sequence[HookFault], seed: int | None) -> None:
        with self._lock:
            self._faults = tuple(faults)
            if seed is not None:
                self._seed = seed

    def decide(self, number: int) -> tuple[dict[HookFaultKind, HookFault], random.Random]:
        """The faults that hit a hook's ``number``-th delivery (the first of each kind wins),
        and the generator that shuffles its events."""
        with self._lock:
            faults, seed = self._faults, self._seed
        fired: dict[HookFaultKind, HookFault] = {}
        for position, fault in enumerate(faults):
            if _uniform(seed, position, number) < fault.probability:
                fired.setdefault(fault.kind, fault)
        return fired, random.Random(f"{seed}/{number}")


@dataclass
class _HookQueue:
    events: list[StoredEvent] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    deliveries: int = 0  # deliveries formed so far; numbers them for the fault plan
    task: asyncio.Task[None] | None = None


class HookDispatcher:
    """Queues events for hooks and delivers them from the sandbox's event loop."""

    def __init__(
        self,
        hooks: EventHookRegistry,
        config: HookDeliveryConfig,
        faults: HookFaultPlan,
        clock: Clock,
        *,
        keep: int,
    ) -> None:
        self.config = config
        self.faults = faults
        self.deliveries: list[HookDelivery] = []
        self._hooks = hooks
        self._clock = clock
        self._keep = keep
        self._queues: dict[str, _HookQueue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._base = ""

    async def start(self, base_url: str) -> None:
        self._base = base_url
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": _USER_AGENT}, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def stop(self) -> None:
        session, self._session = self._session, None
        tasks = [*self._tasks, *(q.task for q in self._queues.values() if q.task is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._queues.clear()
        if session is not None:
            await session.close()

    # -- queueing (called by the System Log for every event it records) ------------------------

    def publish(self, event: StoredEvent) -> None:
        if self._session is None:
            return
        for hook in self._hooks.subscribed(str(event.data.get("eventType"))):
            queue = self._queues.get(hook.id)
            if queue is None:
                queue = self._queues[hook.id] = _HookQueue()
                queue.task = asyncio.get_running_loop().create_task(self._gather(hook.id, queue))
            queue.events.append(event)
            queue.ready.set()

    def forget(self, hook_id: str) -> None:
        """A deleted hook's queued events are never sent."""
        queue = self._queues.pop(hook_id, None)
        if queue is not None and queue.task is not None:
            queue.task.cancel()

    async def _gather(self, hook_id: str, queue: _HookQueue) -> None:
        while True:
            await queue.ready.wait()
            # Events written meanwhile join this delivery; sleep(0) still gathers the events
            # one API call writes (a create with its activation, say).
            await asyncio.sleep(self.config.batch_window)
            queue.ready.clear()
            events, queue.events = queue.events, []
            size = self.config.max_events
            for start in range(0, len(events), size):
                queue.deliveries += 1
                self._spawn(self._deliver(hook_id, queue.deliveries, events[start : start + size]))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivering ---------------------------------------------------------------------------

    async def _deliver(self, hook_id: str, number: int, events: list[StoredEvent]) -> None:
        fired, shuffler = self.faults.decide(number)
        reorder, delay = fired.get(HookFaultKind.REORDER), fired.get(HookFaultKind.DELAY)
        if reorder is not None:
            shuffler.shuffle(events)
        event_id = secrets.token_urlsafe(16)  # a duplicate and a retry repeat it

        def record(attempt: int, status: int | None, error: str | None) -> None:
            self._record(
                HookDelivery(
                    hook_id=hook_id,
                    number=number,
                    event_id=event_id,
                    uuids=tuple(str(event.data["uuid"]) for event in events),
                    attempt=attempt,
                    status=status,
                    error=error,
                    dropped=HookFaultKind.DROP in fired,
                    faults=tuple(kind.value for kind in fired),
                )
            )

        if HookFaultKind.DROP in fired:
            record(1, None, None)
            return
        held = (reorder.delay if reorder else 0.0) + (delay.delay if delay else 0.0)
        if held > 0:
            await asyncio.sleep(held)
        for _copy in range(2 if HookFaultKind.DUPLICATE in fired else 1):
            hook = self._hooks.get(hook_id)
            if hook is None:
                return
            body = self._body(hook, event_id, events)
            for attempt in (1, 2):
                status, error = await self._post(hook, body)
                record(attempt, status, error)
                if status is not None and status < 500:
                    break
                if attempt == 1:
                    await asyncio.sleep(self.config.retry_delay)

    def _body(self, hook: EventHook, event_id: str, events: list[StoredEvent]) -> bytes:
        envelope = {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": f"{self._base}/api/v1/eventHooks/{hook.id}",
            "eventId": event_id,
            "data": {"events": [event.data for event in events]},
            "eventTime": format_time(self._clock.peek()),
            "contentType": "application/json",
        }
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

    async def _post(self, hook: EventHook, body: bytes) -> tuple[int | None, str | None]:
        session = self._session
        if session is None:
            return None, "stopped"
        headers = {**hook.channel.request_headers(), "Content-Type": "application/json"}
        try:
            async with session.post(
                hook.channel.uri,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                allow_redirects=False,
            ) as response:
                return response.status, None
        except TimeoutError:
            return None, "timeout"
        except (aiohttp.ClientError, OSError):
            return None, "connection failed"

    def _record(self, delivery: HookDelivery) -> None:
        deliveries, keep = self.deliveries, self._keep
        if keep == 0:
            return
        if len(deliveries) >= keep:
            # Callers hold on to this very list, so it is trimmed in place.
            del deliveries[: len(deliveries) - keep + 1]
        deliveries.append(delivery)

    # -- verification ---------------------------------------------------------------------------

    async def verify(self, hook: EventHook) -> str | None:
        """Okta's one-time GET with a challenge the endpoint must echo as
        ``{"verification": "..."}``, retried once; None when it did, else why not."""
        challenge = secrets.token_urlsafe(24)
        headers = {**hook.channel.request_headers(), CHALLENGE_HEADER: challenge}
        problem = "the sandbox is stopping"
        for attempt in (1, 2):
            session = self._session
            if session is None:
                break
            try:
                async with session.get(
                    hook.channel.uri,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                    allow_redirects=False,
                ) as response:
                    answer = await _read_bounded(response)
                    if response.status == 200 and _echoes(answer, challenge):
                        return None
                    problem = f"the endpoint answered {response.status} without the challenge"
            except TimeoutError:
                problem = f"no answer within {self.config.timeout:g} seconds"
            except (aiohttp.ClientError, OSError):
                problem = "could not connect to the endpoint"
            if attempt == 1:
                await asyncio.sleep(self.config.retry_delay)
        return problem


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body, cut off past what a verification answer could need."""
    answer = b""
    async for chunk in response.content.iter_chunked(8192):
        answer += chunk
        if len(answer) > _MAX_ANSWER_BYTES:
            break
    return answer


def _echoes(answer: bytes, challenge: str) -> bool:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        parsed = json.loads(answer)
        return isinstance(parsed, dict) and parsed.get("verification") == challenge
    return False

"""Kubernetes Events about OktaIntegrations, posted by the operator itself.

Kopf's own Events name ``kopf`` as their source, ``dev`` as the instance and ``Action?`` as the
action. Ours say who posted them (``reportingComponent`` and ``source.component``
``okta-hris-operator``; ``reportingInstance`` and ``source.host`` the pod, from ``POD_NAME``
as the chart sets it through the downward API, else the host name) and what the operator was
doing (``action``: Sync, Suspend, Resume, ...), and point at the exact version of the object
(``involvedObject`` with uid and resourceVersion), as client-go's recorder does.

Posting never holds up or fails a reconciliation: ``EventRecorder.record`` only queues, a
background task posts one Event at a time, once (no retries), and a full queue drops the newest.
A failure is logged once per run of failures, not per Event.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

COMPONENT = "okta-hris-operator"
NORMAL = "Normal"
WARNING = "Warning"
# What the operator did or tried (Event.action): a verb, as the events.k8s.io API asks.
SYNC = "Sync"
SUSPEND = "Suspend"
RESUME = "Resume"
APPROVE = "Approve"
INVITE = "Invite"
VALIDATE = "Validate"

# The API server's limits: the message ("note") in bytes, the instance in characters.
MAX_MESSAGE_BYTES = 1024
MAX_INSTANCE = 128
MAX_NAME = 253
ELLIPSIS = "…"
QUEUE_SIZE = 256  # Events waiting to be posted; beyond that the newest are dropped
CLOSE_GRACE_S = 5.0  # on shutdown, how long queued Events may still take to post

PostEvent = Callable[[str, dict[str, Any]], Awaitable[object]]


@dataclass(frozen=True)
class EventSource:
    """Who posts the Events: this operator, and which of its pods."""

    component: str
    instance: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EventSource:
        instance = environ.get("POD_NAME", "").strip() or socket.gethostname()
        return cls(COMPONENT, instance[:MAX_INSTANCE])


@dataclass(frozen=True)
class InvolvedObject:
    """The object an Event is about, as its version was when the Event was recorded."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> InvolvedObject:
        meta = body.get("metadata") or {}
        return cls(
            api_version=str(body.get("apiVersion", "")),
            kind=str(body.get("kind", "")),
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
        )

    def as_json(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "resourceVersion": self.resource_version,
        }


def truncate_message(message: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """At most ``limit`` bytes of UTF-8 (the API server counts bytes), never half a character,
    ending with an ellipsis when something was cut."""
    # A lone surrogate (from an Okta error body, say) cannot be encoded: it becomes "?".
    message = message.encode(errors="replace").decode()
    if len(message.encode()) <= limit:
        return message
    room = limit - len(ELLIPSIS.encode())
    kept = message.encode()[:room].decode(errors="ignore")
    return kept + ELLIPSIS


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_name(obj: InvolvedObject) -> str:
    """``<object>.<nanoseconds in hex>``, as client-go names Events (unique per object)."""
    suffix = f".{time.time_ns():x}"
    return obj.name[: MAX_NAME - len(suffix)] + suffix


def event_body(
    obj: InvolvedObject,
    source: EventSource,
    *,
    type_: str,
    reason: str,
    action: str,
    message: str,
    now: datetime,
) -> dict[str, Any]:
    """A core/v1 Event, as ``kubectl describe`` and ``kubectl events`` show them."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(obj), "namespace": obj.namespace},
        "involvedObject": obj.as_json(),
        "type": type_,
        "reason": reason,
        "action": action,
        "message": truncate_message(message),
        "reportingComponent": source.component,
        "reportingInstance": source.instance,
        "source": {"component": source.component, "host": source.instance},
        "eventTime": _micro_time(now),
        "firstTimestamp": _time(now),
        "lastTimestamp": _time(now),
        "count": 1,
    }


class EventRecorder:
    """Posts Events in the background, in the order recorded."""

    def __init__(self, post: PostEvent, source: EventSource, capacity: int = QUEUE_SIZE) -> None:
        """``post(namespace, body)`` creates the Event (``KubeApi.create_event``)."""
        self.source = source
        self._post = post
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(capacity)
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False  # the last post failed: the next failure is not logged again
        self._dropping = False  # the queue was full: the next drop is not logged again
        self.posted = 0
        self.dropped = 0

    def normal(self, obj: InvolvedObject, reason: str, action: str, message: str) -> None:
        self.record(obj, NORMAL, reason, action, message)

    def warning(self, obj: InvolvedObject, reason: str, action: str, message: str) -> None:
        self.record(obj, WARNING, reason, action, message)

    def record(
        self, obj: InvolvedObject, type_: str, reason: str, action: str, message: str
    ) -> None:
        """Queue an Event (in the operator's event loop); never waits, never raises."""
        if self._closed:
            logger.debug("Not posting %s Event %s: the operator is stopping", type_, reason)
            return
        body = event_body(
            obj,
            self.source,
            type_=type_,
            reason=reason,
            action=action,
            message=message,
            now=datetime.now(UTC),
        )
        try:
            self._queue.put_nowait(body)
        except asyncio.QueueFull:
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                logger.warning(
                    "Dropping Events: %d are waiting to be posted already", self._queue.qsize()
                )
            return
        self._dropping = False
        if self._worker is None or self._worker.done():
            # A context of its own: the worker posts the Events of every integration, so its
            # lines must not name the one whose Event happened to start it (controller.logs).
            self._worker = asyncio.get_running_loop().create_task(
                self._drain(), name="post Kubernetes Events", context=contextvars.Context()
            )

    async def _drain(self) -> None:
        """Post what is queued, then end (``record`` starts another task when needed)."""
        while not self._queue.empty():
            body = self._queue.get_nowait()
            try:
                await self._post(body["metadata"]["namespace"], body)
            except Exception as exc:
                if not self._failing:
                    self._failing = True
                    involved = body["involvedObject"]
                    logger.warning(
                        "Cannot post Events (%s %s of %s/%s: %s); further failures are not "
                        "logged until one is posted",
                        body["type"],
                        body["reason"],
                        involved["namespace"],
                        involved["name"],
                        exc,
                    )
            else:
                self.posted += 1
                self._failing = False
            finally:
                self._queue.task_done()

    async def close(self, grace_seconds: float = CLOSE_GRACE_S) -> None:
        """Post what is queued (for ``grace_seconds`` at most), then accept nothing more."""
        self._closed = True
        worker = self._worker
        if worker is None or worker.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(worker), grace_seconds)
        except TimeoutError:
            logger.warning(
                "Not posting %d queued Events: the operator is stopping", self._queue.qsize()
            )
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

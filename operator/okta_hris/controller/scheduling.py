"""When to sync an integration, and why: pure functions of the object and the clock.

Everything the decision needs is on the object (generation, annotations, status), so it
survives operator restarts and hand-overs between replicas: ``nextSyncTime`` is written to
status after every attempt, and a restarted operator waits for it instead of syncing
everything at once.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from okta_hris.controller import conditions as c
from okta_hris.controller import status as s
from okta_hris.controller.config import ControllerConfig
from okta_hris.spec import (
    APPROVE_DEACTIVATIONS_ANNOTATION,
    RESYNC_ANNOTATION,
    parse_duration,
)

INVITE_ALL_ANNOTATION = "hris.dev/invite-all-pending"
DEFAULT_INTERVAL = timedelta(hours=1)

# Permanent failures a changed Secret may fix (a rotated token, a created Secret).
SECRET_FIXABLE_REASONS = frozenset({c.SECRET_NOT_FOUND, c.UNAUTHORIZED, c.FORBIDDEN})


class Trigger(enum.StrEnum):
    CREATED = "first sync"
    SPEC_CHANGED = "spec changed"
    RESYNC_REQUESTED = "resync requested"
    DEACTIVATIONS_APPROVED = "deactivations approved"
    SECRET_CHANGED = "Secret changed"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class ObjectView:
    """The parts of an OktaIntegration the scheduler looks at."""

    generation: int | None
    suspended: bool
    invitations_enabled: bool
    interval: timedelta | None  # None when spec.sync.interval does not parse
    resync_requested: str | None
    approval: str | None
    invite_all: str | None
    status: Mapping[str, Any]

    @classmethod
    def from_object(
        cls,
        spec: Mapping[str, Any],
        meta: Mapping[str, Any],
        status: Mapping[str, Any],
    ) -> ObjectView:
        sync = spec.get("sync") or {}
        invitations = spec.get("invitations") or {}
        annotations = meta.get("annotations") or {}
        generation = meta.get("generation")
        return cls(
            generation=generation if isinstance(generation, int) else None,
            suspended=sync.get("suspend") is True,
            invitations_enabled=invitations.get("enabled") is True,
            interval=_interval(sync.get("interval", "1h")),
            resync_requested=_annotation(annotations, RESYNC_ANNOTATION),
            approval=_annotation(annotations, APPROVE_DEACTIVATIONS_ANNOTATION),
            invite_all=_annotation(annotations, INVITE_ALL_ANNOTATION),
            status=status,
        )

    @property
    def held_deactivations(self) -> int | None:
        value = self.status.get("heldDeactivations")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def approved_deactivations(self) -> int | None:
        """The approved count, passed to the engine only while a hold is in place."""
        if self.held_deactivations is None or self.approval is None:
            return None
        try:
            return int(self.approval)
        except ValueError:
            return None


def _annotation(annotations: Mapping[str, Any], key: str) -> str | None:
    value = annotations.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _interval(text: object) -> timedelta | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_duration(text)
    except ValueError:
        return None


# -- the clock ------------------------------------------------------------------------------


def effective_interval(interval: timedelta | None, config: ControllerConfig) -> timedelta:
    return max(interval or DEFAULT_INTERVAL, config.min_interval)


def jitter(interval: timedelta, config: ControllerConfig, rng: random.Random) -> timedelta:
    """A random extra delay, so integrations created together do not hit Okta together."""
    ceiling = min(interval * config.jitter, config.max_jitter)
    return ceiling * rng.random()


def next_sync_after(
    finished: datetime, interval: timedelta, config: ControllerConfig, rng: random.Random
) -> datetime:
    """The interval is timed from the end of the previous sync, plus jitter."""
    return finished + interval + jitter(interval, config, rng)


def retry_after(
    finished: datetime, failures: int, interval: timedelta, config: ControllerConfig
) -> datetime:
    """Exponential backoff for transient failures, never later than the next regular sync."""
    exponent = max(failures - 1, 0)
    delay = config.retry_backoff * (1 << min(exponent, 30))
    return finished + min(delay, config.retry_backoff_max, interval)


def stalled_retry_after(
    finished: datetime, interval: timedelta, config: ControllerConfig
) -> datetime:
    """Permanent failures wait for a change, or this long: no retry storm against Okta."""
    return finished + max(interval, config.stalled_retry)


# -- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sync:
    trigger: Trigger
    force_full: bool


@dataclass(frozen=True)
class ReportInvalidSpec:
    message: str


@dataclass(frozen=True)
class Suspend:
    pass


@dataclass(frozen=True)
class InviteAllPending:
    token: str


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: until the object or a Secret changes


Action = Sync | ReportInvalidSpec | Suspend | InviteAllPending | Wait


@dataclass(frozen=True)
class Memory:
    """What the operator remembers about an integration between decisions (not persisted)."""

    secret_changed: bool = False
    approval_attempted: int | None = None  # the hold size an approval was already tried for
    not_before: datetime | None = None  # restart spread: scheduled syncs wait until then


def decide(view: ObjectView, spec_error: str | None, memory: Memory, now: datetime) -> Action:
    """What to do next. Requests (spec change, resync, approval) go before the schedule."""
    status = view.status
    if view.suspended:
        return Wait(None) if s.is_suspended(status, view.generation) else Suspend()
    if spec_error is not None:
        reported = (
            status.get("observedGeneration") == view.generation
            and s.stalled_reason(status) == c.INVALID_SPEC
        )
        return Wait(None) if reported else ReportInvalidSpec(spec_error)
    if status.get("observedGeneration") != view.generation:
        first = status.get("observedGeneration") is None
        return Sync(Trigger.CREATED if first else Trigger.SPEC_CHANGED, force_full=True)
    if view.resync_requested is not None and view.resync_requested != status.get(
        "lastHandledResyncAt"
    ):
        return Sync(Trigger.RESYNC_REQUESTED, force_full=True)
    held = view.held_deactivations
    if (
        held is not None
        and view.approved_deactivations == held
        and memory.approval_attempted != held
    ):
        return Sync(Trigger.DEACTIVATIONS_APPROVED, force_full=False)
    if (
        view.invite_all is not None
        and view.invitations_enabled
        and view.invite_all != status.get("lastHandledInviteAllPending")
    ):
        return InviteAllPending(view.invite_all)
    if memory.secret_changed and s.stalled_reason(status) in SECRET_FIXABLE_REASONS:
        return Sync(Trigger.SECRET_CHANGED, force_full=False)
    # No planned time (the status was lost, or the spec was invalid and is valid now): sync.
    due = c.parse_time(status.get("nextSyncTime")) or now
    if memory.not_before is not None and due < memory.not_before:
        due = memory.not_before
    if due <= now:
        return Sync(Trigger.SCHEDULED, force_full=False)
    return Wait(due)


def restart_spread(now: datetime, config: ControllerConfig, rng: random.Random) -> datetime:
    """When an integration found overdue at start-up may sync at the earliest."""
    return now + config.restart_spread * rng.random()

"""When to sync an integration, and why: pure functions of the object and the clock.

Everything the decision needs is on the object (generation, annotations, status), so it
survives operator restarts and hand-overs between replicas: ``nextSyncTime`` is written to
status after every attempt, and a restarted operator waits for it instead of syncing
everything at once.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from okta_hris.controller import conditions
from okta_hris.controller import status as status_patches
from okta_hris.controller.options import ControllerConfig
from okta_hris.domain.okta import DEFAULT_OKTA_DOMAINS
from okta_hris.errors import InvalidSpec
from okta_hris.resource.spec import (
    APPROVE_DEACTIVATIONS_ANNOTATION,
    RESYNC_ANNOTATION,
    OktaIntegrationSpec,
    load_spec,
    parse_duration,
)
from okta_hris.resource.status import OktaIntegrationStatus

INVITE_ALL_ANNOTATION = "hris.dev/invite-all-pending"
DEFAULT_INTERVAL = timedelta(hours=1)

# Permanent failures a changed Secret may fix (a rotated token, a created Secret).
SECRET_FIXABLE_REASONS = frozenset(
    {
        conditions.SECRET_NOT_FOUND,
        conditions.INVALID_SECRET,
        conditions.UNAUTHORIZED,
        conditions.FORBIDDEN,
    }
)
# Transient-failure retries are drawn from the last part of their backoff, so integrations
# that failed together (a shared Okta or database outage) do not retry in lockstep.
RETRY_JITTER = 0.2
# An approval is the held count, optionally followed by a note ("31", "31/CHG-1234"): each
# annotation value is used once, and the note makes a second approval of the same count new.
_APPROVAL = re.compile(r"(\d+)(?:[\s/#:@,;-].*)?", re.DOTALL)
# A count of more digits than this can match no hold (no org has 10**12 users).
_APPROVAL_DIGITS = 12
_APPROVAL_PREFIX = 256


class Trigger(enum.StrEnum):
    CREATED = "first sync"
    SPEC_CHANGED = "spec changed"
    RESYNC_REQUESTED = "resync requested"
    DEACTIVATIONS_APPROVED = "deactivations approved"
    SECRET_CHANGED = "Secret changed"
    SCHEDULED = "scheduled"
    EVENTS = "Okta event hooks"


@dataclass(frozen=True)
class ObjectView:
    """An OktaIntegration as the scheduler sees it: the spec validated once, the status read
    into its model, the annotations that request something."""

    generation: int | None
    spec: OktaIntegrationSpec | None  # None when the spec does not validate
    spec_error: str | None  # why not, in one line
    suspended: bool
    invitations_enabled: bool
    interval: timedelta | None  # None when spec.sync.interval does not parse
    resync_requested: str | None
    approval: str | None
    invite_all: str | None
    status: OktaIntegrationStatus

    @classmethod
    def from_object(
        cls,
        spec: Mapping[str, Any],
        meta: Mapping[str, Any],
        status: Mapping[str, Any] | OktaIntegrationStatus,
        allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS,
    ) -> ObjectView:
        annotations = meta.get("annotations") or {}
        generation = meta.get("generation")
        parsed: OktaIntegrationSpec | None = None
        error: str | None = None
        try:
            parsed = load_spec(spec, allowed_domains)
        except InvalidSpec as exc:
            error = str(exc)
        if parsed is not None:
            suspended = parsed.sync.suspend
            invitations_enabled = parsed.invitations.enabled
            interval: timedelta | None = parsed.sync.interval_timedelta
        else:
            # An invalid spec still says whether it is suspended (then it is not reported).
            sync = spec.get("sync") or {}
            invitations = spec.get("invitations") or {}
            suspended = isinstance(sync, Mapping) and sync.get("suspend") is True
            invitations_enabled = (
                isinstance(invitations, Mapping) and invitations.get("enabled") is True
            )
            interval = _interval(sync.get("interval", "1h") if isinstance(sync, Mapping) else None)
        return cls(
            generation=generation if isinstance(generation, int) else None,
            spec=parsed,
            spec_error=error,
            suspended=suspended,
            invitations_enabled=invitations_enabled,
            interval=interval,
            resync_requested=_annotation(annotations, RESYNC_ANNOTATION),
            approval=_annotation(annotations, APPROVE_DEACTIVATIONS_ANNOTATION),
            invite_all=_annotation(annotations, INVITE_ALL_ANNOTATION),
            status=status
            if isinstance(status, OktaIntegrationStatus)
            else status_patches.read_status(status),
        )

    @property
    def held_deactivations(self) -> int | None:
        return self.status.held_deactivations

    @property
    def pending_resync(self) -> str | None:
        """The resync value not echoed yet."""
        requested = self.resync_requested
        return requested if requested != self.status.last_handled_resync_at else None

    @property
    def pending_approval(self) -> str | None:
        """The approval value not handled yet (every value is handled once, then spent)."""
        handled, approval = self.status.last_handled_approval, self.approval
        if approval is None:
            return None
        spent = handled is not None and handled.value == status_patches.recorded_approval(approval)
        return None if spent else approval


def approval_count(value: str) -> int | None:
    """The count an approval value approves, or None when it does not start with one.

    Only the value's start is read: a huge annotation (a megabyte of digits) approves
    nothing, rather than raising in every pass of the loop (Python reads no more than
    4,300 digits) or costing a regex over all of it.
    """
    found = _APPROVAL.fullmatch(value[:_APPROVAL_PREFIX].strip())
    if found is None or len(found.group(1)) > _APPROVAL_DIGITS:
        return None
    return int(found.group(1))


def _annotation(annotations: Mapping[str, Any], key: str) -> str | None:
    """The value exactly as written (echoed as such); blank means not set."""
    value = annotations.get(key)
    return value if isinstance(value, str) and value.strip() else None


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
    finished: datetime,
    failures: int,
    interval: timedelta,
    config: ControllerConfig,
    rng: random.Random,
) -> datetime:
    """Exponential backoff with jitter for transient failures, never later than the interval.

    The delay doubles from ``retry_backoff`` up to ``retry_backoff_max``; up to RETRY_JITTER
    of it is taken off at random.
    """
    exponent = max(failures - 1, 0)
    delay = config.retry_backoff * (1 << min(exponent, 30))
    ceiling = min(delay, config.retry_backoff_max, interval)
    return finished + ceiling * (1 - RETRY_JITTER * rng.random())


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
    approval: str | None = None  # the approval value this sync may use (the engine gets its count)


@dataclass(frozen=True)
class ReportInvalidSpec:
    message: str
    resync_value: str | None = None  # a resync request is answered (echoed) even so


@dataclass(frozen=True)
class IgnoreApproval:
    """An approval that answers no hold in place: spent, so it can never release a later one."""

    value: str
    held: int | None


@dataclass(frozen=True)
class Suspend:
    pass


@dataclass(frozen=True)
class InviteAllPending:
    value: str  # the annotation's value, echoed in status.lastHandledInviteAllPending


@dataclass(frozen=True)
class CheckSecret:
    """Read the token Secret of an integration stalled on it again: has the token changed?"""


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: until the object changes
    next_sync: datetime | None = None  # when the next sync is due (until may come sooner)


Action = Sync | ReportInvalidSpec | Suspend | InviteAllPending | IgnoreApproval | CheckSecret | Wait


@dataclass(frozen=True)
class Memory:
    """What the operator remembers about an integration between decisions (not persisted).

    Nothing here may be needed for correctness after a restart: what must survive one is in
    status (``lastHandledResyncAt``, ``lastHandledApproval``, ``nextSyncTime``, ...).
    """

    # The token Secret of an integration stalled on it holds another token than the failed
    # attempt read (found by a CheckSecret): a sync tries it.
    secret_changed: bool = False
    # When that Secret is read again; None: now (the integration changed, or never read).
    secret_check_at: datetime | None = None
    # The approval value a sync already used and failed with (Okta down, say): it stays
    # pending, and the next scheduled sync uses it, instead of retrying at once.
    approval_attempted: str | None = None
    not_before: datetime | None = None  # restart spread: scheduled syncs wait until then
    invite_all_not_before: datetime | None = None  # backoff after queueing invitations failed


def decide(
    view: ObjectView, memory: Memory, now: datetime, *, events_ready: bool = False
) -> Action:
    """What to do next. Requests (spec change, resync, approval) go before the schedule.

    ``events_ready``: Okta event hook events are debounced and wait for a sync. A sync that
    is due anyway covers them; otherwise they get a targeted sync of their own, but only while
    the integration is healthy (Ready): a failing or held integration waits for its retry or
    its fix, so that events never bypass a backoff or a hold, and they are covered then.
    """
    status = view.status
    if view.suspended:
        return Wait(None) if status_patches.is_suspended(status) else Suspend()
    resync = view.pending_resync
    if view.spec_error is not None:
        reported = (
            status.observed_generation == view.generation
            and status_patches.stalled_reason(status) == conditions.INVALID_SPEC
        )
        if reported and resync is None:
            return Wait(None)
        return ReportInvalidSpec(view.spec_error, resync)
    if status.observed_generation != view.generation:
        first = status.observed_generation is None
        return Sync(Trigger.CREATED if first else Trigger.SPEC_CHANGED, force_full=True)
    if resync is not None:
        return Sync(Trigger.RESYNC_REQUESTED, force_full=True)
    approval = view.pending_approval
    if approval is not None:
        held = view.held_deactivations
        if held is None or approval_count(approval) != held:
            return IgnoreApproval(approval, held)
        if memory.approval_attempted != approval:
            return Sync(Trigger.DEACTIVATIONS_APPROVED, force_full=False, approval=approval)
    invite_all = (
        view.invite_all
        if view.invite_all is not None
        and view.invitations_enabled
        and view.invite_all != status.last_handled_invite_all_pending
        else None
    )
    invite_at = memory.invite_all_not_before
    if invite_all is not None and (invite_at is None or invite_at <= now):
        return InviteAllPending(invite_all)
    stalled_on_secret = status_patches.stalled_reason(status) in SECRET_FIXABLE_REASONS
    if memory.secret_changed and stalled_on_secret:
        return Sync(Trigger.SECRET_CHANGED, force_full=False, approval=approval)
    # No planned time (the status was lost, or the spec was invalid and is valid now): sync.
    due = status.next_sync_time or now
    if memory.not_before is not None and due < memory.not_before:
        due = memory.not_before
    if due <= now:
        return Sync(Trigger.SCHEDULED, force_full=False, approval=approval)
    if events_ready and _ready(status):
        return Sync(Trigger.EVENTS, force_full=False)
    wake = due
    if stalled_on_secret:
        # No watch on Secrets (RBAC: get only): the Secret is read again on a short schedule.
        check_at = memory.secret_check_at
        if check_at is None or check_at <= now:
            return CheckSecret()
        wake = min(wake, check_at)
    if invite_all is not None and invite_at is not None:
        wake = min(wake, invite_at)
    return Wait(wake, next_sync=due)


def _ready(status: OktaIntegrationStatus) -> bool:
    ready = status.condition(conditions.READY)
    return ready is not None and ready.status == "True"


def restart_spread(now: datetime, config: ControllerConfig, rng: random.Random) -> datetime:
    """When an integration found overdue at start-up may sync at the earliest."""
    return now + config.restart_spread * rng.random()

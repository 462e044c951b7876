"""What ``status`` says after each step of a reconciliation (SPEC §5), as pure functions.

Each function takes the current status (a validated ``OktaIntegrationStatus``) and returns a
``StatusPatch``: an ``OktaIntegrationStatus`` holding just the fields to merge-patch, so every
value is checked against the model the CRD is generated from before it is written. Conditions
are always written as a whole list; a field set to ``None`` is deleted (merge-patch's null).
Nothing here ever sees a Secret value.

Condition semantics (kstatus / Flux):

- ``Ready``: the last sync's outcome. True/SyncSucceeded after a sync that applied; False with
  the failure's reason otherwise. Left as it was while a sync runs and while suspended.
- ``Reconciling``: True/Syncing while a sync runs; True/ProgressingWithRetry while a retry of
  a transient failure is pending (the message says when); False/Idle between syncs and while
  stalled; False/Suspended while ``spec.sync.suspend`` is true.
- ``Stalled``: True when a human must act (invalid spec, missing Secret, 401/403, safety hold);
  False/Healthy otherwise.

``observedGeneration`` (the status's and each condition's) is the generation last synced or
reported invalid: a spec that suspension keeps from being applied is never observed. The
``lastSync*`` fields all describe one and the same attempt, the last one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from okta_hris.controller import conditions
from okta_hris.controller.conditions import ConditionStatus, format_time
from okta_hris.domain.changes import DataQuality, DirectorySummary, SyncMode, SyncStats
from okta_hris.errors import DeactivationThresholdExceeded
from okta_hris.resource.status import (
    Condition,
    DataQualityStatus,
    EmployeesStatus,
    HandledApproval,
    InvitationsStatus,
    LastSyncStatus,
    OktaIntegrationStatus,
)
from okta_hris.services.integration_sync import Attempt

logger = logging.getLogger(__name__)

SUSPENDED_NOTE = " (syncs suspended)"
# Reconciling=True while a transient failure waits for its retry (Flux's reason, kstatus reads
# it as still in progress rather than healthy).
PROGRESSING_WITH_RETRY = "ProgressingWithRetry"
# status.lastHandledApproval.result: what became of an approval (each value is used once).
APPROVAL_RELEASED = "Released"
APPROVAL_HOLD_CHANGED = "HoldChanged"
APPROVAL_NO_MATCHING_HOLD = "NoMatchingHold"

EMPTY = OktaIntegrationStatus()


class StatusPatch:
    """A merge patch of status, built from (and so valid against) ``OktaIntegrationStatus``.

    The fields given, and only those, are written; ``None`` deletes a field.
    """

    def __init__(self, **fields: Any) -> None:
        self._fields = fields
        self.model = OktaIntegrationStatus(**fields)  # raises if a value does not fit the CRD

    def __or__(self, other: StatusPatch) -> StatusPatch:
        """Both patches' fields, ``other``'s winning where both set one."""
        return StatusPatch(**{**self._fields, **other._fields})

    @property
    def fields(self) -> set[str]:
        """The camelCase names of the fields this patch writes."""
        return set(self.as_json())

    def as_json(self) -> dict[str, Any]:
        """The patch as sent to the API server: camelCase keys, RFC 3339 times, nulls kept."""
        return self.model.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def __repr__(self) -> str:
        return f"StatusPatch({self.as_json()!r})"


def read_status(raw: Mapping[str, Any] | None) -> OktaIntegrationStatus:
    """Status as found on the server, validated; what does not validate is left out.

    Another version of the operator, or a person with ``kubectl edit``, may have written
    anything: the operator keeps working and rewrites what it owns at its next step. Two
    things are salvaged rather than dropped, because forgetting them would be unsafe or rude:
    the conditions that do validate (others' conditions are kept), and the value of the last
    handled approval (an approval is used once: a record the model cannot read, say a result
    written by a newer release, must still mark its value as spent).
    """
    data = dict(raw or {})
    salvaged: dict[str, Any] = {}
    conds = data.get("conditions")
    if isinstance(conds, list):
        valid = [c for c in conds if _validates(Condition, c)]
        if len(valid) != len(conds):
            logger.warning(
                "Ignoring %d status conditions that do not validate", len(conds) - len(valid)
            )
            data["conditions"] = valid
    approval = data.get("lastHandledApproval")
    if approval is not None and not _validates(HandledApproval, approval):
        data.pop("lastHandledApproval")
        value = approval.get("value") if isinstance(approval, Mapping) else None
        if isinstance(value, str):
            # Read-only: never written back (patches are built afresh), only compared.
            unread: dict[str, Any] = {"value": value, "result": approval.get("result")}
            salvaged["last_handled_approval"] = HandledApproval.model_construct(**unread)
    for _ in range(len(data) + 1):
        try:
            found = OktaIntegrationStatus.model_validate(data)
            break
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]} & set(data)
            if not bad:
                found = EMPTY
                break
            logger.warning(
                "Ignoring status fields that do not validate: %s", ", ".join(sorted(bad))
            )
            for key in bad:
                data.pop(key, None)
    else:
        found = EMPTY
    return found.model_copy(update=salvaged) if salvaged else found


def _validates(model: type[Condition] | type[HandledApproval], value: Any) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class StatusContext:
    """The status as it is now, the generation being acted on, and the time."""

    current: OktaIntegrationStatus
    generation: int | None
    now: datetime

    @property
    def conditions(self) -> list[Condition]:
        return list(self.current.conditions)

    def set(
        self,
        conds: list[Condition],
        type_: str,
        status: ConditionStatus,
        reason: str,
        message: str,
    ) -> list[Condition]:
        return conditions.set_condition(
            conds, type_, status, reason, message, self.generation, self.now
        )


def employees_message(summary: DirectorySummary) -> str:
    return f"{summary.active} employees, {summary.teams} teams"


def _idle_message(next_sync: datetime | None, retry: bool = False) -> str:
    if next_sync is None:
        return "waiting for a change"
    return f"{'next attempt' if retry else 'next sync'} at {format_time(next_sync)}"


def syncing(ctx: StatusContext, message: str) -> StatusPatch:
    conds = ctx.conditions
    if conditions.find(conds, conditions.READY) is None:
        conds = ctx.set(
            conds, conditions.READY, "Unknown", conditions.SYNCING, "first sync in progress"
        )
    conds = ctx.set(conds, conditions.RECONCILING, "True", conditions.SYNCING, message)
    if conditions.find(conds, conditions.STALLED) is None:
        conds = ctx.set(conds, conditions.STALLED, "False", conditions.HEALTHY, "")
    return StatusPatch(conditions=conds)


def _counts(summary: DirectorySummary) -> dict[str, Any]:
    return {
        "employees": EmployeesStatus(
            total=summary.total, active=summary.active, inactive=summary.inactive
        ),
        "teams": summary.teams,
        "invitations": _invitations(summary),
    }


def _invitations(summary: DirectorySummary) -> InvitationsStatus:
    counts = summary.invitations
    return InvitationsStatus(sent=counts.sent, pending=counts.pending, failed=counts.failed)


def last_sync(stats: SyncStats) -> LastSyncStatus:
    return LastSyncStatus(
        fetched=stats.fetched,
        matched=stats.matched,
        created=stats.created,
        updated=stats.updated,
        deactivated=stats.deactivated,
        unchanged=stats.unchanged,
        skipped=stats.skipped,
        api_requests=stats.api_requests,
    )


def succeeded(
    ctx: StatusContext,
    *,
    mode: SyncMode,
    started: datetime,
    finished: datetime,
    stats: SyncStats,
    summary: DirectorySummary,
    next_sync: datetime,
    resync_value: str | None,
    data_quality: DataQuality | None = None,
) -> StatusPatch:
    conds = ctx.set(
        ctx.conditions,
        conditions.READY,
        "True",
        conditions.SYNC_SUCCEEDED,
        employees_message(summary),
    )
    conds = ctx.set(
        conds, conditions.RECONCILING, "False", conditions.IDLE, _idle_message(next_sync)
    )
    conds = ctx.set(conds, conditions.STALLED, "False", conditions.HEALTHY, "")
    fields: dict[str, Any] = {
        "observed_generation": ctx.generation,
        "conditions": conds,
        "last_sync_time": finished,
        "last_successful_sync_time": finished,
        "next_sync_time": next_sync,
        "last_sync_mode": mode,
        "last_sync_duration_seconds": round((finished - started).total_seconds(), 3),
        "last_sync": last_sync(stats),
        "held_deactivations": None,
        **_counts(summary),
    }
    if data_quality is not None:
        fields["data_quality"] = DataQualityStatus(
            invalid_phones=data_quality.invalid_phones,
            unknown_countries=data_quality.unknown_countries,
            incomplete_addresses=data_quality.incomplete_addresses,
        )
    if resync_value is not None:
        fields["last_handled_resync_at"] = resync_value
    return StatusPatch(**fields)


def _resolved_hold(ctx: StatusContext) -> dict[str, Any]:
    """A new generation resolves a hold: what is held was planned for the old spec."""
    changed = ctx.current.observed_generation != ctx.generation
    held = ctx.current.held_deactivations is not None
    return {"held_deactivations": None} if changed and held else {}


def unapplied(attempt: Attempt) -> dict[str, Any]:
    """The ``lastSync*`` fields of an attempt that applied nothing: its time, mode (deleted
    when it failed before choosing one) and duration; no counts, since it changed nothing."""
    return {
        "last_sync_time": attempt.finished,
        "last_sync_mode": attempt.mode,
        "last_sync_duration_seconds": round(attempt.duration_seconds, 3),
        "last_sync": None,
    }


def failed(
    ctx: StatusContext,
    *,
    reason: str,
    message: str,
    permanent: bool,
    attempt: Attempt | None,
    next_attempt: datetime | None,
    resync_value: str | None,
) -> StatusPatch:
    """The attempt failed; ``attempt`` is None when no sync ran (a check of the Secret), and
    the ``lastSync*`` fields, which describe syncs, are left as they are.

    A transient failure is still in progress (Reconciling=True/ProgressingWithRetry until the
    retry); a permanent one is Stalled, and nothing happens until something changes.
    """
    conds = ctx.set(ctx.conditions, conditions.READY, "False", reason, message)
    retry = _idle_message(next_attempt, retry=True)
    if permanent:
        conds = ctx.set(conds, conditions.RECONCILING, "False", conditions.IDLE, retry)
        conds = ctx.set(conds, conditions.STALLED, "True", reason, message)
    else:
        conds = ctx.set(conds, conditions.RECONCILING, "True", PROGRESSING_WITH_RETRY, retry)
        conds = ctx.set(conds, conditions.STALLED, "False", conditions.HEALTHY, "")
    fields: dict[str, Any] = {
        "observed_generation": ctx.generation,
        "conditions": conds,
        "next_sync_time": next_attempt,
        **_resolved_hold(ctx),
    }
    if attempt is not None:
        fields.update(unapplied(attempt))
    if resync_value is not None:
        fields["last_handled_resync_at"] = resync_value
    return StatusPatch(**fields)


def held(
    ctx: StatusContext,
    *,
    hold: DeactivationThresholdExceeded,
    attempt: Attempt,
    next_sync: datetime,
    resync_value: str | None,
    note: str = "",
) -> StatusPatch:
    patch = failed(
        ctx,
        reason=conditions.DEACTIVATION_THRESHOLD_EXCEEDED,
        message=f"{hold}{note}",
        permanent=True,
        attempt=attempt,
        next_attempt=next_sync,
        resync_value=resync_value,
    )
    return patch | StatusPatch(held_deactivations=hold.would_deactivate)


def invalid_spec(ctx: StatusContext, message: str, resync_value: str | None = None) -> StatusPatch:
    """Nothing can sync; a resync request is still answered (Flux echoes failures too)."""
    conds = ctx.set(ctx.conditions, conditions.READY, "False", conditions.INVALID_SPEC, message)
    conds = ctx.set(conds, conditions.RECONCILING, "False", conditions.IDLE, "fix the spec")
    conds = ctx.set(conds, conditions.STALLED, "True", conditions.INVALID_SPEC, message)
    fields: dict[str, Any] = {
        "observed_generation": ctx.generation,
        "conditions": conds,
        "next_sync_time": None,
        **_resolved_hold(ctx),
    }
    if resync_value is not None:
        fields["last_handled_resync_at"] = resync_value
    return StatusPatch(**fields)


def suspended(ctx: StatusContext) -> StatusPatch:
    """Ready keeps its status and reason (the directory is as the last sync left it).

    Nothing of the suspended spec is applied, so nothing says it was observed: the status's
    observedGeneration and the conditions' stay at the generation last synced (or reported
    invalid), and ``kubectl wait --for=condition=Ready``, which compares a condition's
    observedGeneration with the object's generation, does not succeed on a spec that was never
    applied. Resuming is a spec change: its sync observes the new generation.
    """
    kept = StatusContext(ctx.current, ctx.current.observed_generation, ctx.now)
    conds = kept.conditions
    ready = conditions.find(conds, conditions.READY)
    if ready is None or ready.reason == conditions.SYNCING:
        conds = kept.set(
            conds,
            conditions.READY,
            "False",
            conditions.SUSPENDED,
            "not synced yet: syncs are suspended",
        )
    else:
        message = ready.message
        if not message.endswith(SUSPENDED_NOTE):
            message += SUSPENDED_NOTE
        conds = kept.set(conds, conditions.READY, ready.status, ready.reason, message)
    conds = kept.set(
        conds,
        conditions.RECONCILING,
        "False",
        conditions.SUSPENDED,
        "spec.sync.suspend is true: no scheduled or requested syncs",
    )
    if conditions.find(conds, conditions.STALLED) is None:
        conds = kept.set(conds, conditions.STALLED, "False", conditions.HEALTHY, "")
    return StatusPatch(conditions=conds, next_sync_time=None)


# A longer approval value is recorded by its digest: the status must stay small (every patch
# carries it, and an object in etcd is limited to about 1.5 MB).
MAX_RECORDED_APPROVAL = 253


def recorded_approval(value: str) -> str:
    """What ``lastHandledApproval.value`` holds for an approval annotation ``value``."""
    if len(value) <= MAX_RECORDED_APPROVAL:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


def approval_handled(
    value: str, result: str, deactivations: int | None, now: datetime
) -> StatusPatch:
    """Record an approval value as spent, with the hold it answered."""
    record: dict[str, Any] = {"value": recorded_approval(value), "result": result, "time": now}
    if deactivations is not None:
        record["deactivations"] = deactivations
    return StatusPatch(last_handled_approval=HandledApproval(**record))


def invitations(summary: DirectorySummary, handled_value: str | None = None) -> StatusPatch:
    fields: dict[str, Any] = {"invitations": _invitations(summary)}
    if handled_value is not None:
        fields["last_handled_invite_all_pending"] = handled_value
    return StatusPatch(**fields)


def is_suspended(current: OktaIntegrationStatus) -> bool:
    """The status already says "suspended" (whatever the generation: none is observed then)."""
    reconciling = current.condition(conditions.RECONCILING)
    return reconciling is not None and reconciling.reason == conditions.SUSPENDED


def stalled_reason(current: OktaIntegrationStatus) -> str | None:
    stalled = current.condition(conditions.STALLED)
    if stalled is None or stalled.status != "True":
        return None
    return stalled.reason


def compose_patches(first: Mapping[str, Any], then: Mapping[str, Any]) -> dict[str, Any]:
    """One merge patch that does what ``first`` then ``then`` do (deletions kept as None)."""
    composed = dict(first)
    for key, value in then.items():
        earlier = composed.get(key)
        if isinstance(value, Mapping) and isinstance(earlier, Mapping):
            composed[key] = compose_patches(earlier, value)
        else:
            composed[key] = value
    return composed


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge-patch: what the API server does with the patches above."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_patch(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = merge_patch({}, value)
        else:
            merged[key] = value
    return merged

"""What ``status`` says after each step of a reconciliation (SPEC §5), as pure functions.

Each function takes the current status and returns the fields to merge-patch. Conditions are
always returned as a whole list; fields that must disappear are set to ``None`` (merge-patch
deletes them). Nothing here ever sees a Secret value.

Condition semantics (kstatus / Flux):

- ``Ready``: the last sync's outcome. True/SyncSucceeded after a sync that applied; False with
  the failure's reason otherwise. Left as it was while a sync runs and while suspended.
- ``Reconciling``: True/Syncing while a sync runs; False/Idle between syncs (the message says
  when the next one is due); False/Suspended while ``spec.sync.suspend`` is true.
- ``Stalled``: True when a human must act (invalid spec, missing Secret, 401/403, safety hold);
  False/Healthy otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from okta_hris.controller import conditions as c
from okta_hris.directory.store import DirectorySummary
from okta_hris.errors import DeactivationThresholdExceeded
from okta_hris.sync.model import SyncMode, SyncStats

SUSPENDED_NOTE = " (syncs suspended)"
# status.lastHandledApproval.result: what became of an approval (each value is used once).
APPROVAL_RELEASED = "Released"
APPROVAL_HOLD_CHANGED = "HoldChanged"
APPROVAL_NO_MATCHING_HOLD = "NoMatchingHold"


@dataclass(frozen=True)
class StatusContext:
    """The status as it is now, the generation being acted on, and the time."""

    current: Mapping[str, Any]
    generation: int | None
    now: datetime

    @property
    def conditions(self) -> list[dict[str, Any]]:
        found = self.current.get("conditions") or []
        return [dict(item) for item in found if isinstance(item, Mapping)]


def employees_message(summary: DirectorySummary) -> str:
    return f"{summary.active} employees, {summary.teams} teams"


def _idle_message(next_sync: datetime | None, retry: bool = False) -> str:
    if next_sync is None:
        return "waiting for a change"
    return f"{'next attempt' if retry else 'next sync'} at {c.format_time(next_sync)}"


def syncing(ctx: StatusContext, message: str) -> dict[str, Any]:
    conds = ctx.conditions
    if c.find(conds, c.READY) is None:
        conds = c.set_condition(
            conds, c.READY, "Unknown", c.SYNCING, "first sync in progress", ctx.generation, ctx.now
        )
    conds = c.set_condition(
        conds, c.RECONCILING, "True", c.SYNCING, message, ctx.generation, ctx.now
    )
    if c.find(conds, c.STALLED) is None:
        conds = c.set_condition(conds, c.STALLED, "False", c.HEALTHY, "", ctx.generation, ctx.now)
    return {"conditions": conds}


def succeeded(
    ctx: StatusContext,
    *,
    mode: SyncMode,
    started: datetime,
    finished: datetime,
    stats: SyncStats,
    summary: DirectorySummary,
    next_sync: datetime,
    resync_token: str | None,
) -> dict[str, Any]:
    conds = c.set_condition(
        ctx.conditions,
        c.READY,
        "True",
        c.SYNC_SUCCEEDED,
        employees_message(summary),
        ctx.generation,
        ctx.now,
    )
    conds = c.set_condition(
        conds, c.RECONCILING, "False", c.IDLE, _idle_message(next_sync), ctx.generation, ctx.now
    )
    conds = c.set_condition(conds, c.STALLED, "False", c.HEALTHY, "", ctx.generation, ctx.now)
    patch: dict[str, Any] = {
        "observedGeneration": ctx.generation,
        "conditions": conds,
        "lastSyncTime": c.format_time(finished),
        "lastSuccessfulSyncTime": c.format_time(finished),
        "nextSyncTime": c.format_time(next_sync),
        "lastSyncMode": mode,
        "lastSyncDurationSeconds": round((finished - started).total_seconds(), 3),
        "lastSync": stats.as_status(),
        "heldDeactivations": None,
        **summary.as_status(),
    }
    if resync_token is not None:
        patch["lastHandledResyncAt"] = resync_token
    return patch


def _resolved_hold(ctx: StatusContext) -> dict[str, Any]:
    """A new generation resolves a hold: what is held was planned for the old spec."""
    changed = ctx.current.get("observedGeneration") != ctx.generation
    return {"heldDeactivations": None} if changed and "heldDeactivations" in ctx.current else {}


def failed(
    ctx: StatusContext,
    *,
    reason: str,
    message: str,
    permanent: bool,
    finished: datetime | None,
    next_attempt: datetime | None,
    resync_token: str | None,
) -> dict[str, Any]:
    """The attempt failed; ``finished`` is None when no sync ran (a check of the Secret)."""
    conds = c.set_condition(
        ctx.conditions, c.READY, "False", reason, message, ctx.generation, ctx.now
    )
    conds = c.set_condition(
        conds,
        c.RECONCILING,
        "False",
        c.IDLE,
        _idle_message(next_attempt, retry=True),
        ctx.generation,
        ctx.now,
    )
    if permanent:
        conds = c.set_condition(conds, c.STALLED, "True", reason, message, ctx.generation, ctx.now)
    else:
        conds = c.set_condition(conds, c.STALLED, "False", c.HEALTHY, "", ctx.generation, ctx.now)
    patch: dict[str, Any] = {
        "observedGeneration": ctx.generation,
        "conditions": conds,
        "nextSyncTime": None if next_attempt is None else c.format_time(next_attempt),
        **_resolved_hold(ctx),
    }
    if finished is not None:
        patch["lastSyncTime"] = c.format_time(finished)
    if resync_token is not None:
        patch["lastHandledResyncAt"] = resync_token
    return patch


def held(
    ctx: StatusContext,
    *,
    hold: DeactivationThresholdExceeded,
    finished: datetime,
    next_sync: datetime,
    resync_token: str | None,
    note: str = "",
) -> dict[str, Any]:
    patch = failed(
        ctx,
        reason=c.DEACTIVATION_THRESHOLD_EXCEEDED,
        message=f"{hold}{note}",
        permanent=True,
        finished=finished,
        next_attempt=next_sync,
        resync_token=resync_token,
    )
    patch["heldDeactivations"] = hold.would_deactivate
    return patch


def invalid_spec(
    ctx: StatusContext, message: str, resync_token: str | None = None
) -> dict[str, Any]:
    """Nothing can sync; a resync request is still answered (Flux echoes failures too)."""
    conds = c.set_condition(
        ctx.conditions, c.READY, "False", c.INVALID_SPEC, message, ctx.generation, ctx.now
    )
    conds = c.set_condition(
        conds, c.RECONCILING, "False", c.IDLE, "fix the spec", ctx.generation, ctx.now
    )
    conds = c.set_condition(
        conds, c.STALLED, "True", c.INVALID_SPEC, message, ctx.generation, ctx.now
    )
    patch: dict[str, Any] = {
        "observedGeneration": ctx.generation,
        "conditions": conds,
        "nextSyncTime": None,
        **_resolved_hold(ctx),
    }
    if resync_token is not None:
        patch["lastHandledResyncAt"] = resync_token
    return patch


def suspended(ctx: StatusContext) -> dict[str, Any]:
    """Ready keeps its status and reason (the directory is as the last sync left it).

    Ready and Stalled are stamped with the suspended generation (their transition times stay):
    they describe it, and ``kubectl wait --for=condition=Ready`` ignores a condition whose
    observedGeneration is older than the object's.
    """
    conds = ctx.conditions
    ready = c.find(conds, c.READY)
    if ready is None or ready.get("reason") == c.SYNCING:
        conds = c.set_condition(
            conds,
            c.READY,
            "False",
            c.SUSPENDED,
            "not synced yet: syncs are suspended",
            ctx.generation,
            ctx.now,
        )
    else:
        message = str(ready.get("message") or "")
        if not message.endswith(SUSPENDED_NOTE):
            message += SUSPENDED_NOTE
        conds = _restamped(conds, c.READY, message, ctx)
    conds = c.set_condition(
        conds,
        c.RECONCILING,
        "False",
        c.SUSPENDED,
        "spec.sync.suspend is true: no scheduled or requested syncs",
        ctx.generation,
        ctx.now,
    )
    stalled = c.find(conds, c.STALLED)
    if stalled is None:
        conds = c.set_condition(conds, c.STALLED, "False", c.HEALTHY, "", ctx.generation, ctx.now)
    else:
        conds = _restamped(conds, c.STALLED, str(stalled.get("message") or ""), ctx)
    return {"observedGeneration": ctx.generation, "conditions": conds, "nextSyncTime": None}


def _restamped(
    conds: list[dict[str, Any]], type_: str, message: str, ctx: StatusContext
) -> list[dict[str, Any]]:
    """The condition as it is, with a new message and generation (same status: same time)."""
    found = c.find(conds, type_)
    assert found is not None
    status = found.get("status")
    return c.set_condition(
        conds,
        type_,
        status if status in ("True", "False") else "Unknown",
        str(found.get("reason") or c.SYNCING),
        message,
        ctx.generation,
        ctx.now,
    )


def approval_handled(
    value: str, result: str, deactivations: int | None, now: datetime
) -> dict[str, Any]:
    """Record an approval value as spent, with the hold it answered."""
    record: dict[str, Any] = {"value": value, "result": result, "time": c.format_time(now)}
    if deactivations is not None:
        record["deactivations"] = deactivations
    return {"lastHandledApproval": record}


def invitations(summary: DirectorySummary, handled_token: str | None = None) -> dict[str, Any]:
    patch: dict[str, Any] = {"invitations": summary.as_status()["invitations"]}
    if handled_token is not None:
        patch["lastHandledInviteAllPending"] = handled_token
    return patch


def is_suspended(current: Mapping[str, Any], generation: int | None) -> bool:
    """The status already says "suspended" for this generation."""
    reconciling = c.find(StatusContext(current, generation, datetime.min).conditions, c.RECONCILING)
    return (
        reconciling is not None
        and reconciling.get("reason") == c.SUSPENDED
        and current.get("observedGeneration") == generation
    )


def stalled_reason(current: Mapping[str, Any]) -> str | None:
    stalled = c.find(StatusContext(current, None, datetime.min).conditions, c.STALLED)
    if stalled is None or stalled.get("status") != "True":
        return None
    reason = stalled.get("reason")
    return str(reason) if reason else None


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

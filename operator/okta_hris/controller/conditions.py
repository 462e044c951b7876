"""metav1.Condition handling, as Flux and External Secrets Operator do it.

A condition list is keyed by ``type``. ``lastTransitionTime`` changes only when a condition's
``status`` changes; a new reason or message alone keeps it. Merge-patch replaces lists whole,
so callers always write the complete list these functions return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

ConditionStatus = Literal["True", "False", "Unknown"]

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
CONDITION_ORDER = (READY, RECONCILING, STALLED)

# Reasons (CamelCase, SPEC §5). The failure reasons are the ``reason`` of okta_hris.errors.
SYNC_SUCCEEDED = "SyncSucceeded"
SYNCING = "Syncing"
IDLE = "Idle"
HEALTHY = "Healthy"
SUSPENDED = "Suspended"
INVALID_SPEC = "InvalidSpec"
SECRET_NOT_FOUND = "SecretNotFound"
UNAUTHORIZED = "Unauthorized"
FORBIDDEN = "Forbidden"
OKTA_UNAVAILABLE = "OktaUnavailable"
DEACTIVATION_THRESHOLD_EXCEEDED = "DeactivationThresholdExceeded"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find(conditions: Iterable[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    for condition in conditions:
        if condition.get("type") == type_:
            return condition
    return None


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The list with ``type_`` set; its transition time moves only if ``status`` changed."""
    previous = find(conditions, type_)
    transition = (
        str(previous["lastTransitionTime"])
        if previous is not None
        and previous.get("status") == status
        and previous.get("lastTransitionTime")
        else format_time(now)
    )
    updated: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if generation is not None:
        updated["observedGeneration"] = generation
    others = [dict(c) for c in conditions if c.get("type") != type_]
    return _ordered([*others, updated])


def _ordered(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ready, Reconciling, Stalled first (as kubectl shows them), then any others."""

    def rank(condition: Mapping[str, Any]) -> int:
        type_ = condition.get("type")
        return CONDITION_ORDER.index(type_) if type_ in CONDITION_ORDER else len(CONDITION_ORDER)

    return sorted(conditions, key=rank)

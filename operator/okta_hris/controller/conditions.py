"""metav1.Condition handling, as Flux and External Secrets Operator do it.

A condition list is keyed by ``type``. ``lastTransitionTime`` changes only when a condition's
``status`` changes; a new reason or message alone keeps it. Merge-patch replaces lists whole,
so callers always write the complete list these functions return.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from okta_hris import errors
from okta_hris.resource.status import Condition

ConditionStatus = Literal["True", "False", "Unknown"]

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
CONDITION_ORDER = (READY, RECONCILING, STALLED)
MAX_MESSAGE = 32768  # metav1.Condition's limit

# Reasons (CamelCase, SPEC §5) of states that are not errors.
SYNC_SUCCEEDED = "SyncSucceeded"
SYNCING = "Syncing"
IDLE = "Idle"
HEALTHY = "Healthy"
SUSPENDED = "Suspended"
# The failure reasons are those of the error classes: one home, okta_hris.errors.
INVALID_SPEC = errors.InvalidSpec.reason
SECRET_NOT_FOUND = errors.SecretNotFound.reason
INVALID_SECRET = errors.InvalidSecret.reason
UNAUTHORIZED = errors.OktaUnauthorized.reason
FORBIDDEN = errors.OktaForbidden.reason
OKTA_UNAVAILABLE = errors.OktaUnavailable.reason
DEACTIVATION_THRESHOLD_EXCEEDED = errors.DeactivationThresholdExceeded.reason


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    return next((condition for condition in conditions if condition.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """The list with ``type_`` set; its transition time moves only if ``status`` changed."""
    previous = find(conditions, type_)
    transition = (
        previous.last_transition_time
        if previous is not None and previous.status == status
        else now.replace(microsecond=0)
    )
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    fields: dict[str, object] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "last_transition_time": transition,
    }
    if generation is not None:
        fields["observed_generation"] = generation
    updated = Condition.model_validate(fields)
    others = [c for c in conditions if c.type != type_]
    return _ordered([*others, updated])


def _ordered(conditions: list[Condition]) -> list[Condition]:
    """Ready, Reconciling, Stalled first (as kubectl shows them), then any others."""

    def rank(condition: Condition) -> int:
        type_ = condition.type
        return CONDITION_ORDER.index(type_) if type_ in CONDITION_ORDER else len(CONDITION_ORDER)

    return sorted(conditions, key=rank)

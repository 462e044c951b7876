"""The OktaIntegration's status (SPEC §5): what the operator writes, as pydantic models.

The CRD's status schema is generated from ``OktaIntegrationStatus``; the operator builds its
status patches from these models (``okta_hris.controller.status``) and reads status back into
them, so what it writes cannot drift from what the CRD accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from okta_hris.resource.spec import APPROVE_DEACTIVATIONS_ANNOTATION, RESYNC_ANNOTATION

# metav1.Condition's own validation of type and reason.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


def _kubernetes_time(value: datetime) -> str:
    # metav1.Time is RFC 3339 in UTC with whole seconds; the apiserver drops fractions anyway.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


KubernetesTime = Annotated[
    AwareDatetime, PlainSerializer(_kubernetes_time, return_type=str, when_used="json")
]
# Strict: JSON has no other way to spell a count, and true is not 1.
Count = Annotated[int, Field(ge=0, strict=True)]


class _StatusModel(BaseModel):
    # Lax and tolerant: status is read back from the apiserver as JSON (times as strings), and
    # an operator must keep working when an older or newer version wrote fields it does not know.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class Condition(_StatusModel):
    """A metav1.Condition: one aspect of the integration's state."""

    # message may be empty but metav1.Condition requires the key, as does the CRD.
    model_config = ConfigDict(
        json_schema_extra={
            "required": ["type", "status", "lastTransitionTime", "reason", "message"]
        }
    )

    type: str = Field(
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
        description="Ready, Reconciling or Stalled.",
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was set from."
    )
    last_transition_time: KubernetesTime = Field(
        description="When status last changed from one value to another."
    )
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON_PATTERN,
        description="CamelCase reason, e.g. SyncSucceeded, InvalidSpec, Unauthorized.",
    )
    message: str = Field(
        default="", max_length=32768, description="Human-readable details of the transition."
    )


class LastSyncStatus(_StatusModel):
    """What the last sync did."""

    fetched: Count = Field(description="Okta users read.")
    matched: Count = Field(description="Users in scope.")
    created: Count = Field(description="Directory rows created.")
    updated: Count = Field(description="Directory rows changed.")
    deactivated: Count = Field(description="Directory rows set inactive.")
    unchanged: Count = Field(description="Directory rows left as they were.")
    skipped: Count = Field(
        default=0,
        description="Okta users left out: an id or status the directory cannot store.",
    )
    api_requests: Count = Field(description="Okta API requests made.")


class EmployeesStatus(_StatusModel):
    """The integration's rows in the employee directory."""

    total: Count = Field(description="All rows, active or not.")
    active: Count = Field(description="Rows of active employees.")
    inactive: Count = Field(description="Rows of deactivated employees.")


class DataQualityStatus(_StatusModel):
    """What the last successful sync's active employees lack (SPEC §9)."""

    invalid_phones: Count = Field(description="Mobile phones that are not a valid number.")
    unknown_countries: Count = Field(
        description="countryCode values that are no ISO 3166-1 alpha-2 code."
    )
    incomplete_addresses: Count = Field(
        description="Employees without a street, city, zip code or country: not shippable to."
    )


class InvitationsStatus(_StatusModel):
    """Dashboard invitations of this integration."""

    sent: Count = Field(description="Invitations delivered.")
    pending: Count = Field(description="Invitations waiting for delivery.")
    failed: Count = Field(description="Invitations given up on.")


class EventHooksStatus(_StatusModel):
    """Okta Event Hook deliveries to this integration (SPEC §11)."""

    received: Count = Field(description="Unique events accepted from Okta's deliveries.")
    applied: Count = Field(description="Events covered by syncs that succeeded.")
    last_event_time: KubernetesTime | None = Field(
        default=None, description="When Okta published the newest event received."
    )


class HandledApproval(_StatusModel):
    """The last approval annotation the operator acted on; each value is used once."""

    value: str = Field(description=f"The {APPROVE_DEACTIVATIONS_ANNOTATION} value.")
    deactivations: Count | None = Field(
        default=None, description="The size of the hold it answered (absent when none was held)."
    )
    result: Literal["Released", "HoldChanged", "NoMatchingHold"] = Field(
        description="Released: the held sync applied. HoldChanged: the sync would now "
        "deactivate another number, and is held again. NoMatchingHold: no hold of that size."
    )
    time: KubernetesTime = Field(description="When it was handled.")


class OktaIntegrationStatus(_StatusModel):
    """The observed state of the integration, written by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec last acted on."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Reconciling and Stalled, as metav1.Conditions.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    last_sync_time: KubernetesTime | None = Field(
        default=None, description="When the last sync attempt ended."
    )
    last_successful_sync_time: KubernetesTime | None = Field(
        default=None, description="When the last successful sync ended."
    )
    next_sync_time: KubernetesTime | None = Field(
        default=None, description="When the next scheduled sync is due."
    )
    last_sync_mode: Literal["Full", "Incremental", "Event"] | None = Field(
        default=None,
        description="Full, Incremental, or Event (a targeted sync from Okta Event Hooks).",
    )
    last_sync_duration_seconds: float | None = Field(
        default=None, ge=0, description="How long the last sync took."
    )
    last_handled_resync_at: str | None = Field(
        default=None,
        description=f"The {RESYNC_ANNOTATION} value whose sync has finished.",
    )
    last_sync: LastSyncStatus | None = Field(default=None, description="What the last sync did.")
    employees: EmployeesStatus | None = Field(
        default=None, description="The integration's employees in the directory."
    )
    teams: Count | None = Field(
        default=None, description="Teams in the directory: groups with an in-scope member."
    )
    data_quality: DataQualityStatus | None = Field(
        default=None, description="What the active employees' records lack, as of the last sync."
    )
    invitations: InvitationsStatus | None = Field(
        default=None, description="Dashboard invitations."
    )
    event_hooks: EventHooksStatus | None = Field(
        default=None, description="Event hook deliveries (spec.sync.eventHooks)."
    )
    held_deactivations: int | None = Field(
        default=None,
        ge=0,
        strict=True,
        description=f"Deactivations the safety hold is holding; {APPROVE_DEACTIVATIONS_ANNOTATION} "
        "with this count releases it.",
    )
    last_handled_invite_all_pending: str | None = Field(
        default=None,
        description="The hris.dev/invite-all-pending value whose invitations have been queued.",
    )
    last_handled_approval: HandledApproval | None = Field(
        default=None,
        description=f"The last {APPROVE_DEACTIVATIONS_ANNOTATION} value handled, and the hold "
        "it answered: an approval is never used twice.",
    )

    def condition(self, type_: str) -> Condition | None:
        """The condition of that type, if set."""
        return next((c for c in self.conditions if c.type == type_), None)

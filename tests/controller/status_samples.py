"""Objects and statuses the scheduler and status unit tests start from."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from okta_hris.controller import conditions, scheduling
from okta_hris.controller import status as status_patches
from okta_hris.controller.options import ControllerConfig
from okta_hris.domain.changes import DirectorySummary
from okta_hris.domain.invitations import InvitationCounts

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
CONFIG = ControllerConfig()


INVITING = {
    "enabled": True,
    "dashboardUrl": "https://dashboard.example.com",
    "from": "People Ops <people-ops@example.com>",
    "smtpSecretRef": {"name": "smtp"},
}


def view(
    status: dict[str, Any] | None = None,
    generation: int = 1,
    annotations: dict[str, str] | None = None,
    **sync: Any,
) -> scheduling.ObjectView:
    spec = {
        "okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}},
        "sync": sync,
        "invitations": INVITING,
    }
    meta = {"generation": generation, "annotations": annotations or {}}
    found = scheduling.ObjectView.from_object(spec, meta, status or {})
    assert found.spec_error is None, found.spec_error
    return found


def invalid(found: scheduling.ObjectView, error: str) -> scheduling.ObjectView:
    """The same object with a spec that does not validate."""
    return replace(found, spec=None, spec_error=error)


def ctx(
    status: dict[str, Any], generation: int | None, now: datetime
) -> status_patches.StatusContext:
    return status_patches.StatusContext(status_patches.read_status(status), generation, now)


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    """A condition of a JSON status patch, by type."""
    return next((item for item in conditions if item["type"] == type_), None)


def synced(**extra: Any) -> dict[str, Any]:
    """The status after a successful sync of generation 1, next sync in an hour."""
    return {
        "observedGeneration": 1,
        "lastSyncTime": conditions.format_time(NOW),
        "nextSyncTime": conditions.format_time(NOW + timedelta(hours=1)),
        **extra,
    }


def stalled(reason: str) -> dict[str, Any]:
    return synced(
        conditions=[
            {
                "type": "Stalled",
                "status": "True",
                "reason": reason,
                "message": "",
                "lastTransitionTime": conditions.format_time(NOW),
            }
        ]
    )


SUMMARY = DirectorySummary(
    total=10, active=8, inactive=2, teams=3, invitations=InvitationCounts(sent=1)
)

"""The invitation outbox's rows (SPEC §6 ``invitations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

InvitationStatus = Literal["pending", "sent", "failed"]
INVITATION_STATUSES: tuple[InvitationStatus, ...] = ("pending", "sent", "failed")


@dataclass(frozen=True)
class InvitationRequest:
    """An ``invitations`` row to insert as ``pending`` (ignored when one exists)."""

    okta_id: str
    email: str


@dataclass(frozen=True)
class InvitationCounts:
    """One integration's invitations by status."""

    sent: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class InvitationRecord:
    """One ``invitations`` row, with the employee's display name when the employee exists."""

    integration: str
    okta_id: str
    email: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    message_id: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    display_name: str | None


@dataclass(frozen=True)
class ClaimedInvitation:
    """A pending invitation this sender holds until ``lease_until``."""

    okta_id: str
    email: str  # the employee's current work e-mail, which the invitation goes to
    display_name: str
    attempts: int  # failed attempts so far
    lease_until: datetime

"""Dashboard invitations: outbox planning, rendering and SMTP delivery (SPEC §2, §3).

The engine calls :func:`plan_invitations` while it plans a sync; the directory writes the
result as pending rows in the sync's transaction; after the commit, :func:`deliver_pending`
sends them. See docs/INVITATIONS.md for the delivery guarantee.
"""

from okta_hris.invitations.delivery import DeliveryReport, deliver_pending
from okta_hris.invitations.message import (
    InvalidRecipient,
    InvitationComposer,
    invitation_message_id,
    render_invitation,
)
from okta_hris.invitations.outbox import (
    InvitationCounts,
    InvitationRecord,
    invitation_counts,
    list_invitations,
    queue_all_pending,
    requeue_failed,
)
from okta_hris.invitations.planning import plan_invitations
from okta_hris.invitations.smtp import SmtpSettings

__all__ = [
    "DeliveryReport",
    "InvalidRecipient",
    "InvitationComposer",
    "InvitationCounts",
    "InvitationRecord",
    "SmtpSettings",
    "deliver_pending",
    "invitation_counts",
    "invitation_message_id",
    "list_invitations",
    "plan_invitations",
    "queue_all_pending",
    "render_invitation",
    "requeue_failed",
]

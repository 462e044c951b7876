"""Dashboard invitations: planning, rendering and SMTP delivery (SPEC §2, §3).

The engine calls :func:`plan_invitations` while it plans a sync; the directory writes the
result as pending rows of its ``Outbox`` in the sync's transaction; after the commit,
:func:`deliver_pending` sends them. See docs/INVITATIONS.md for the delivery guarantee.
"""

from okta_hris.invitations.delivery import DeliveryReport, deliver_pending
from okta_hris.invitations.message import (
    InvalidRecipient,
    InvitationComposer,
    invitation_message_id,
    render_invitation,
)
from okta_hris.invitations.planning import plan_invitations
from okta_hris.invitations.smtp import SmtpSettings

__all__ = [
    "DeliveryReport",
    "InvalidRecipient",
    "InvitationComposer",
    "SmtpSettings",
    "deliver_pending",
    "invitation_message_id",
    "plan_invitations",
    "render_invitation",
]

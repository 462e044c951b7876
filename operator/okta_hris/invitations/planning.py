"""Which employees a sync queues an invitation for (pure; the engine calls it while planning).

The queued requests become ``pending`` rows of the ``invitations`` table, written by
``Directory.apply`` in the same transaction as the employees (the outbox). Whether an
invitation was ever queued is decided here and by the table's primary key, never by whether a
mail went out, so a resync, a restart or a deactivation and return never queue a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from okta_hris.domain.changes import DirectoryState
from okta_hris.domain.employees import EmployeeRow
from okta_hris.domain.invitations import InvitationRequest
from okta_hris.resource.spec import InvitationSettings


def plan_invitations(
    settings: InvitationSettings,
    state: DirectoryState,
    rows: Iterable[EmployeeRow],
    invitations_enabled_at: datetime | None,
) -> list[InvitationRequest]:
    """The invitations to queue for ``rows``, the employees a sync creates or updates.

    An employee is invited when they are active, have a work e-mail, have never had an
    invitations row (any status: a failed invitation is not retried by a later sync), and were
    first synced at or after ``invitations_enabled_at``. The cut-off is what keeps turning
    invitations on for a populated directory from mailing the whole company, while someone
    first synced as STAGED after that moment is still invited once they become active.
    ``invitations_enabled_at`` is None while invitations are off: nothing is queued.
    """
    if not settings.enabled or invitations_enabled_at is None:
        return []
    queued: dict[str, InvitationRequest] = {}
    for row in rows:
        if row.okta_id in state.invited or row.okta_id in queued:
            continue
        email = (row.work_email or "").strip()
        if not row.active or not email or row.first_synced_at < invitations_enabled_at:
            continue
        queued[row.okta_id] = InvitationRequest(okta_id=row.okta_id, email=email)
    return list(queued.values())

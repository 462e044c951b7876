"""The ``invitations`` table as an outbox: queue, claim, record the outcome, count.

Rows are inserted ``pending`` in the sync's own transaction (``Directory.apply``) or by
:meth:`Outbox.queue_all_pending`. A sender *claims* a batch by setting ``claimed_until`` (a lease)
in one statement, so two senders (two operator replicas, the operator and ``okta-hris
invitations send``) never hold the same row at once:

- PostgreSQL: ``UPDATE ... WHERE okta_id IN (SELECT ... FOR UPDATE SKIP LOCKED)``; a
  concurrent claimer skips the locked rows instead of waiting for them, and re-checks the
  lease on rows committed meanwhile.
- SQLite: the same statement without the locking clause; an UPDATE takes SQLite's write lock
  before it reads, so the check of ``claimed_until`` and the claim are one atomic step.

A lease that expires makes the row claimable again. A claim also records its claimant
(``claimed_by``, ``leases.Claimant``): a sender takes over at once the rows of a claimant of its
own machine whose process has ended (killed, crashed), so a rerun right after a kill retries
them instead of waiting out their lease. Every method here is synchronous; the delivery loop
runs them with ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, exists, func, literal, or_, select, update

from okta_hris.directory import schema
from okta_hris.directory.leases import Claimant
from okta_hris.directory.statements import Store, dialect_insert
from okta_hris.domain.invitations import (
    ClaimedInvitation,
    InvitationCounts,
    InvitationRecord,
    InvitationStatus,
)

_inv = schema.invitations
_emp = schema.employees
_LAST_ERROR_MAX = 1000


def _truncate(error: str) -> str:
    return error if len(error) <= _LAST_ERROR_MAX else error[: _LAST_ERROR_MAX - 1] + "…"


def _claimable(table: FromClause, now: datetime, abandoned: Sequence[str]) -> ColumnElement[bool]:
    """Unclaimed, its lease expired, or claimed by a process that has ended."""
    free = or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
    return or_(free, table.c.claimed_by.in_(abandoned)) if abandoned else free


class Outbox(Store):
    """One directory's ``invitations`` rows: queue, claim, record the outcome, count."""

    def claim_batch(
        self,
        integration: str,
        *,
        now: datetime,
        lease_until: datetime,
        limit: int,
        claimant: Claimant | None = None,
    ) -> list[ClaimedInvitation]:
        """Lease up to ``limit`` due invitations of active employees that have a work e-mail,
        for ``claimant``: unclaimed rows, rows whose lease expired, and rows of a claimant
        whose process has ended (``Claimant.gone``).

        Invitations of employees who are inactive now stay pending, unclaimed: they are delivered
        if the employee returns, and never to someone who has left.
        """
        abandoned = self._abandoned(integration, now)
        candidate = _inv.alias("candidate")
        employee_can_receive = exists().where(
            _emp.c.integration == candidate.c.integration,
            _emp.c.okta_id == candidate.c.okta_id,
            _emp.c.active.is_(True),
            _emp.c.work_email.is_not(None),
            _emp.c.work_email != "",
        )
        due = (
            select(candidate.c.okta_id)
            .where(
                candidate.c.integration == integration,
                candidate.c.status == "pending",
                or_(candidate.c.next_attempt_at.is_(None), candidate.c.next_attempt_at <= now),
                _claimable(candidate, now, abandoned),
                employee_can_receive,
            )
            .order_by(candidate.c.created_at, candidate.c.okta_id)
            .limit(limit)
            # Rendered only on PostgreSQL; SQLite has no row locks and needs none (module doc).
            .with_for_update(skip_locked=True, of=candidate)
            # Evaluated exactly once: PostgreSQL may rescan an IN (...) subquery, and each scan
            # with SKIP LOCKED would lock the *next* rows, claiming more than ``limit``.
            .cte("due")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        claim = (
            update(_inv)
            .where(
                _inv.c.integration == integration,
                _inv.c.okta_id.in_(select(due.c.okta_id)),
                _inv.c.status == "pending",
                _claimable(_inv, now, abandoned),
            )
            .values(
                claimed_until=lease_until,
                claimed_by=claimant.encode() if claimant is not None else None,
            )
            .returning(_inv.c.okta_id, _inv.c.attempts)
        )
        with self._writing("cannot write the invitations") as conn:
            attempts = {row.okta_id: row.attempts for row in conn.execute(claim)}
            if not attempts:
                return []
            recipients = conn.execute(
                select(_emp.c.okta_id, _emp.c.work_email, _emp.c.display_name).where(
                    _emp.c.integration == integration, _emp.c.okta_id.in_(sorted(attempts))
                )
            ).all()
        claimed = [
            ClaimedInvitation(
                okta_id=row.okta_id,
                email=row.work_email,
                display_name=row.display_name,
                attempts=attempts[row.okta_id],
                lease_until=lease_until,
            )
            for row in recipients
        ]
        return sorted(claimed, key=lambda c: c.okta_id)

    def _abandoned(self, integration: str, now: datetime) -> list[str]:
        """The ``claimed_by`` of live leases whose claimant's process has ended."""
        with self._reading("cannot read the invitations") as conn:
            holders = conn.scalars(
                select(_inv.c.claimed_by)
                .distinct()
                .where(
                    _inv.c.integration == integration,
                    _inv.c.status == "pending",
                    _inv.c.claimed_until >= now,
                    _inv.c.claimed_by.is_not(None),
                )
            ).all()
        return [
            holder
            for holder in holders
            if (claimant := Claimant.decode(holder)) is not None and claimant.gone()
        ]

    def _update_pending(self, integration: str, okta_id: str, **values: Any) -> None:
        # Guarded by status: a row another sender has meanwhile recorded is left as it is.
        with self._writing("cannot write the invitations") as conn:
            conn.execute(
                update(_inv)
                .where(
                    _inv.c.integration == integration,
                    _inv.c.okta_id == okta_id,
                    _inv.c.status == "pending",
                )
                .values(**values)
            )

    def mark_sent(
        self, integration: str, okta_id: str, *, email: str, message_id: str, now: datetime
    ) -> None:
        self._update_pending(
            integration,
            okta_id,
            status="sent",
            email=email,
            message_id=message_id,
            sent_at=now,
            attempts=_inv.c.attempts + 1,
            last_error=None,
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
        )

    def mark_deferred(
        self, integration: str, okta_id: str, *, error: str, next_attempt_at: datetime
    ) -> None:
        self._update_pending(
            integration,
            okta_id,
            attempts=_inv.c.attempts + 1,
            last_error=_truncate(error),
            next_attempt_at=next_attempt_at,
            claimed_until=None,
            claimed_by=None,
        )

    def mark_failed(self, integration: str, okta_id: str, *, error: str) -> None:
        self._update_pending(
            integration,
            okta_id,
            status="failed",
            attempts=_inv.c.attempts + 1,
            last_error=_truncate(error),
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
        )

    def release(self, integration: str, okta_ids: Sequence[str], *, lease_until: datetime) -> None:
        """Give back leases this sender did not use (only its own: ``claimed_until`` matches)."""
        if not okta_ids:
            return
        with self._writing("cannot write the invitations") as conn:
            conn.execute(
                update(_inv)
                .where(
                    _inv.c.integration == integration,
                    _inv.c.okta_id.in_(list(okta_ids)),
                    _inv.c.status == "pending",
                    _inv.c.claimed_until == lease_until,
                )
                .values(claimed_until=None, claimed_by=None)
            )

    def queue_all_pending(self, integration: str, *, now: datetime | None = None) -> int:
        """Queue an invitation for every active employee with a work e-mail who has none yet.

        Employees who already have one (sent, pending or failed) are left alone, so running this
        twice, or next to a sync that queues the same people, queues nobody twice.
        """
        queued_at = now or datetime.now(UTC)
        uninvited = (
            select(
                _emp.c.integration,
                _emp.c.okta_id,
                _emp.c.work_email,
                literal("pending", _inv.c.status.type),
                literal(0, _inv.c.attempts.type),
                literal(queued_at, _inv.c.created_at.type),
            )
            .where(
                _emp.c.integration == integration,
                _emp.c.active.is_(True),
                _emp.c.work_email.is_not(None),
                _emp.c.work_email != "",
                ~exists().where(
                    _inv.c.integration == _emp.c.integration, _inv.c.okta_id == _emp.c.okta_id
                ),
            )
            .order_by(_emp.c.okta_id)
        )
        with self._writing(f"cannot queue the invitations of {integration}") as conn:
            statement = (
                dialect_insert(conn, _inv)
                .from_select(
                    ["integration", "okta_id", "email", "status", "attempts", "created_at"],
                    uninvited,
                )
                .on_conflict_do_nothing(index_elements=["integration", "okta_id"])
                # Counted from RETURNING: SQLAlchemy does not keep an INSERT's rowcount.
                .returning(_inv.c.okta_id)
            )
            return len(conn.execute(statement).all())

    def requeue_failed(self, integration: str) -> int:
        """Make failed invitations pending again (after fixing the relay or the address)."""
        with self._writing("cannot write the invitations") as conn:
            result = conn.execute(
                update(_inv)
                .where(_inv.c.integration == integration, _inv.c.status == "failed")
                .values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=None,
                    claimed_until=None,
                    claimed_by=None,
                )
            )
            return max(result.rowcount, 0)

    def waiting(self, integration: str) -> tuple[datetime | None, str | None]:
        """Why pending invitations wait: the earliest retry scheduled, and the error of the
        last attempt that failed (None, None when nothing waits for a retry)."""
        retrying = (_inv.c.integration == integration) & (_inv.c.status == "pending")
        with self._reading("cannot read the invitations") as conn:
            next_attempt = conn.scalar(
                select(func.min(_inv.c.next_attempt_at)).where(
                    retrying, _inv.c.next_attempt_at.is_not(None)
                )
            )
            last_error = conn.scalar(
                select(_inv.c.last_error)
                .where(retrying, _inv.c.last_error.is_not(None))
                .order_by(_inv.c.next_attempt_at.desc(), _inv.c.okta_id)
                .limit(1)
            )
        return next_attempt, last_error

    def counts(self, integration: str) -> InvitationCounts:
        with self._reading("cannot read the invitations") as conn:
            rows = conn.execute(
                select(_inv.c.status, func.count())
                .where(_inv.c.integration == integration)
                .group_by(_inv.c.status)
            ).all()
        counts = {status: count for status, count in rows}
        return InvitationCounts(
            sent=counts.get("sent", 0),
            pending=counts.get("pending", 0),
            failed=counts.get("failed", 0),
        )

    def records(
        self, *, integration: str | None = None, status: InvitationStatus | None = None
    ) -> list[InvitationRecord]:
        query = (
            select(_inv, _emp.c.display_name)
            .select_from(
                _inv.outerjoin(
                    _emp,
                    and_(
                        _emp.c.integration == _inv.c.integration, _emp.c.okta_id == _inv.c.okta_id
                    ),
                )
            )
            .order_by(_inv.c.integration, _inv.c.created_at, _inv.c.okta_id)
        )
        if integration is not None:
            query = query.where(_inv.c.integration == integration)
        if status is not None:
            query = query.where(_inv.c.status == status)
        with self._reading("cannot read the invitations") as conn:
            rows = conn.execute(query).all()
        return [
            InvitationRecord(
                integration=row.integration,
                okta_id=row.okta_id,
                email=row.email,
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
                sent_at=row.sent_at,
                message_id=row.message_id,
                created_at=row.created_at,
                next_attempt_at=row.next_attempt_at,
                display_name=row.display_name,
            )
            for row in rows
        ]

"""The invitations table as an outbox: queueing, counting, listing, requeueing."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, SyncState
from okta_hris.domain.invitations import InvitationCounts, InvitationRequest
from okta_hris.invitations import (
    deliver_pending,
)

from .support import (
    INTEGRATION,
    T0,
    Clock,
    Mailbox,
    employee,
    seed,
    settings,
    smtp_relay,
    smtp_settings,
)


def test_queue_all_pending_queues_each_active_employee_with_an_email_once(
    directory: Directory,
) -> None:
    seed(
        directory,
        [
            employee("00u1"),
            employee("00u2", active=False),
            employee("00u3", email=""),
            employee("00u4"),
        ],
        invite=False,
    )
    seed(directory, [employee("00u5")])  # already invited by a sync
    seed(directory, [employee("00u6", integration="other/x")], integration="other/x", invite=False)

    assert directory.outbox.queue_all_pending(INTEGRATION, now=T0) == 2
    assert directory.outbox.queue_all_pending(INTEGRATION, now=T0) == 0
    queued = directory.outbox.records(integration=INTEGRATION, status="pending")
    assert [(r.okta_id, r.email, r.attempts) for r in queued] == [
        ("00u1", "00u1@acme.example", 0),
        ("00u4", "00u4@acme.example", 0),
        ("00u5", "00u5@acme.example", 0),
    ]
    assert queued[0].display_name == "Ada Lovelace"
    assert directory.outbox.counts("other/x") == InvitationCounts()


async def test_the_same_person_queued_by_concurrent_writers_gets_one_mail(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    """Two syncs and an --all-pending at once: one row, one mail."""
    seed(directory, [employee("00u1")], invite=False)

    def sync_queueing() -> None:
        directory.apply(
            DirectoryChanges(
                integration=INTEGRATION,
                synced_at=T0 + timedelta(minutes=1),
                employees_update=[employee("00u1")],
                invitations_queue=[InvitationRequest("00u1", "00u1@acme.example")],
                sync_state=SyncState(invitations_enabled_at=T0),
            )
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        syncs = [pool.submit(sync_queueing) for _ in range(2)]
        requests = [pool.submit(directory.outbox.queue_all_pending, INTEGRATION) for _ in range(2)]
        for sync in syncs:
            sync.result()
        queued_by_requests = sum(request.result() for request in requests)

    assert queued_by_requests <= 1
    assert directory.outbox.counts(INTEGRATION) == InvitationCounts(pending=1)
    async with smtp_relay(mailbox) as port:
        reports = await asyncio.gather(
            *(
                deliver_pending(
                    directory.outbox,
                    INTEGRATION,
                    settings(),
                    smtp_settings(port),
                    now=clock,
                )
                for _ in range(2)
            )
        )
    assert sum(r.sent for r in reports) == 1
    assert mailbox.recipients() == ["00u1@acme.example"]


async def test_requeue_failed_makes_failed_invitations_pending_again(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    mailbox.refuse["00u1@acme.example"] = "550 5.1.1 no such user"
    async with smtp_relay(mailbox) as port:
        smtp = smtp_settings(port)
        await deliver_pending(directory.outbox, INTEGRATION, settings(), smtp, now=clock)
        assert directory.outbox.counts(INTEGRATION) == InvitationCounts(sent=1, failed=1)
        del mailbox.refuse["00u1@acme.example"]  # the mailbox was created meanwhile
        assert directory.outbox.requeue_failed(INTEGRATION) == 1
        report = await deliver_pending(directory.outbox, INTEGRATION, settings(), smtp, now=clock)

    assert report.sent == 1
    assert directory.outbox.counts(INTEGRATION) == InvitationCounts(sent=2)
    assert mailbox.recipients() == ["00u1@acme.example", "00u2@acme.example"]


def test_a_claim_takes_at_most_its_limit(directory: Directory) -> None:
    """On PostgreSQL an ``IN (subquery LIMIT n FOR UPDATE SKIP LOCKED)`` may be scanned more
    than once, each scan locking the next n rows: the batch must still be n."""
    seed(directory, [employee(f"00u{i:03d}") for i in range(60)])
    lease = T0 + timedelta(minutes=15)
    first = directory.outbox.claim_batch(INTEGRATION, now=T0, lease_until=lease, limit=50)
    second = directory.outbox.claim_batch(INTEGRATION, now=T0, lease_until=lease, limit=50)
    assert len(first) == 50
    assert len(second) == 10
    assert {c.okta_id for c in first}.isdisjoint(c.okta_id for c in second)
    assert directory.outbox.claim_batch(INTEGRATION, now=T0, lease_until=lease, limit=50) == []

"""Delivering queued invitations over SMTP, after the sync has committed.

How "exactly once" is approached, and where it stops (also in docs/INVITATIONS.md):

- *Queued once.* An invitation is an ``invitations`` row keyed by (integration, employee),
  inserted in the same transaction as the employee. Nothing ever inserts a second row for the
  same employee, whatever happens to the first one.
- *Sent by one sender at a time.* A sender leases only the row it is about to send
  (``Outbox.claim_batch``, ``batch_size`` 1 by default), just before sending it, and checks
  that enough of the lease is left to finish it, so a second sender cannot pick up a row the
  first is still working on, and a sender that dies holds at most that one row.
- *Recorded right after the relay accepts it.* The row is marked ``sent`` with its Message-ID
  in its own small transaction as soon as the relay answers 250 to the message's data, before
  anything else (no log line, no count, no next claim comes first).
- *A dead sender's claim is retried at once.* The lease names its claimant process
  (``leases.Claimant``); the next sender on the same machine sees that the process has ended
  and takes the row over without waiting for the lease. One on another machine waits out the
  lease (``lease``, 5 minutes by default).

What remains is at-least-once in one narrow window, between the relay's 250 after the data
and the commit of ``sent``: the process dies there (or the directory cannot be written), or
the relay accepted the message but its 250 never arrived (a timeout or a dropped connection
after the final dot). The row is still pending, and the next run sends the message again —
with the *same* Message-ID, derived from (integration, employee). Mail systems that
de-duplicate by Message-ID (Gmail and others, for messages in one mailbox) then show one
message; others may show two. SMTP has no way to ask a relay whether it already took a
message, so no sender can close this window; a plain at-most-once design (mark, then send)
would trade it for losing invitations on a crash, which the product forbids.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from okta_hris.directory.leases import Claimant
from okta_hris.directory.outbox import Outbox
from okta_hris.domain.invitations import ClaimedInvitation
from okta_hris.domain.text import one_line
from okta_hris.errors import DirectoryError
from okta_hris.invitations.message import InvalidRecipient, InvitationComposer, parse_address
from okta_hris.invitations.smtp import SmtpSettings
from okta_hris.resource.spec import InvitationSettings

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5
# How much of a relay's reply last_error, logs and status keep.
MAX_RELAY_TEXT = 300
# 1, 4, 16, 64 minutes: five attempts span about an hour and a half of relay trouble before an
# invitation is given up (and shows as failed in status.invitations).
DEFAULT_BACKOFF_BASE_S = 60.0
BACKOFF_FACTOR = 4
DEFAULT_BACKOFF_MAX_S = 6 * 3600.0
# One row claimed at a time, just before it is sent: a sender killed mid-run leaves at most
# that one claimed (and a rerun takes it over at once, see the module docstring).
DEFAULT_BATCH_SIZE = 1
# A claim covers one message (connect, TLS, login, MAIL, RCPT, DATA), so it can be short; it
# matters only when the sender's machine is gone and nobody can tell that it stopped.
DEFAULT_LEASE_S = 300.0
# A relay that cannot be used defers this many due invitations (the one being sent included).
RELAY_DOWN_DEFERS = 50
# A message may need a connect, EHLO, STARTTLS, AUTH, MAIL, RCPT and DATA, each with its own
# timeout; a sender starts a message only with this many timeouts of its lease left.
_LEASE_MARGIN_TIMEOUTS = 4


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0  # a transient error; retried at or after next_attempt_at
    next_attempt_at: datetime | None = None  # the earliest retry this run scheduled
    last_error: str | None = None  # the last error seen (no credentials)
    # Pending in the outbox after the run (this run's deferrals, invitations not due yet, and
    # those a run that stopped early never reached); None when they could not be counted. An
    # observation of the outbox rather than something the run did: not compared.
    pending: int | None = field(default=None, compare=False)


def describe_delivery(report: DeliveryReport, *, reason: bool = True) -> str:
    """One line for a person: the counts, what is still pending and (``reason``) why.

    ``okta-hris sync`` and ``okta-hris invitations send`` both print it.
    """
    text = f"{report.sent} sent, {report.failed} failed, {report.deferred} to retry"
    waiting = []
    if report.pending:
        waiting.append(f"{report.pending} pending")
    if report.next_attempt_at is not None:
        waiting.append(f"next attempt after {report.next_attempt_at:%Y-%m-%d %H:%M:%SZ}")
    if waiting:
        text += "; " + ", ".join(waiting)
    if reason and report.last_error and (report.failed or report.deferred or report.pending):
        text += f"; last error: {report.last_error}"
    return text


class _RelayUnavailable(Exception):
    """The relay cannot take any message now (connection, TLS, login or sender refused)."""


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    # How many invitations each distinct error deferred or failed: logged once per run, since
    # a relay that is down defers a whole batch with one and the same error.
    deferred_by: Counter[str] = field(default_factory=Counter)
    failed_by: Counter[str] = field(default_factory=Counter)

    def report(self, pending: int | None = None) -> DeliveryReport:
        return DeliveryReport(
            self.sent, self.failed, self.deferred, self.next_attempt_at, self.last_error, pending
        )

    def log(self, integration: str) -> None:
        for what, errors in (("deferred", self.deferred_by), ("failed", self.failed_by)):
            for error, count in errors.items():
                logger.warning(
                    "%d invitation%s of %s %s: %s",
                    count,
                    "" if count == 1 else "s",
                    integration,
                    what,
                    error,
                )


def _describe(exc: BaseException, smtp: SmtpSettings) -> str:
    """A relay error as one bounded line for last_error, logs and status, without the
    password: the relay's text is hostile (several lines, terminal escapes, any length)."""
    if isinstance(exc, SMTPResponseException):
        text = f"{exc.code} {exc.message}".strip()
    else:
        text = str(exc).strip()
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    # Redacted before it is cut: a cut could leave a password's first part unrecognised.
    return one_line(smtp.redact(text), MAX_RELAY_TEXT)


class _DeliveryRun:
    def __init__(
        self,
        outbox: Outbox,
        integration: str,
        composer: InvitationComposer,
        smtp: SmtpSettings,
        *,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
        batch_size: int,
        lease: float,
        now: Callable[[], datetime],
    ) -> None:
        self.outbox = outbox
        self.integration = integration
        self.composer = composer
        self.smtp = smtp
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease)
        self.margin = timedelta(seconds=_LEASE_MARGIN_TIMEOUTS * smtp.timeout)
        self.now = now
        self.client: aiosmtplib.SMTP | None = None
        self.tally = _Tally()
        self.claimant = Claimant.current()

    async def run(self) -> DeliveryReport:
        while True:
            lease_until = self.now() + self.lease
            batch = await asyncio.to_thread(
                self.outbox.claim_batch,
                self.integration,
                now=self.now(),
                lease_until=lease_until,
                limit=self.batch_size,
                claimant=self.claimant,
            )
            if not batch:
                return self.tally.report()
            for index, invitation in enumerate(batch):
                if self.now() + self.margin >= invitation.lease_until:
                    # Too little lease left to finish a message: hand the rest back and take a
                    # fresh lease, rather than risk another sender taking them mid-send.
                    rest = [i.okta_id for i in batch[index:]]
                    await asyncio.to_thread(
                        self.outbox.release, self.integration, rest, lease_until=lease_until
                    )
                    break
                try:
                    await self._deliver(invitation)
                except _RelayUnavailable as exc:
                    await self._relay_unavailable(batch[index:], str(exc))
                    return self.tally.report()

    async def _relay_unavailable(self, claimed: list[ClaimedInvitation], error: str) -> None:
        """Defer what this sender holds and, with the same error, more due invitations, up to
        ``RELAY_DOWN_DEFERS`` in all: they would fail the same way, and their backoff then
        counts this run (claimed first, so no other sender is mid-send on them)."""
        more: list[ClaimedInvitation] = []
        if len(claimed) < RELAY_DOWN_DEFERS:
            more = await asyncio.to_thread(
                self.outbox.claim_batch,
                self.integration,
                now=self.now(),
                lease_until=self.now() + self.lease,
                limit=RELAY_DOWN_DEFERS - len(claimed),
                claimant=self.claimant,
            )
        for invitation in [*claimed, *more]:
            await self._defer(invitation, error)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (SMTPException, OSError):
            client.close()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        self.client = None
        client = self.smtp.client()
        relay = self.smtp.describe()
        try:
            await client.connect()
        except SMTPAuthenticationError as exc:
            client.close()
            raise _RelayUnavailable(
                f"the SMTP relay {relay} refused the login: {_describe(exc, self.smtp)}"
            ) from None
        except (SMTPException, OSError) as exc:
            client.close()
            raise _RelayUnavailable(
                f"cannot use the SMTP relay {relay}: {_describe(exc, self.smtp)}"
            ) from None
        self.client = client
        return client

    async def _deliver(self, invitation: ClaimedInvitation) -> None:
        try:
            recipient = parse_address(invitation.email).addr_spec
            message = self.composer.render(
                okta_id=invitation.okta_id,
                display_name=invitation.display_name,
                email=invitation.email,
                date=self.now(),
            )
        except (InvalidRecipient, ValueError) as exc:
            await self._fail(invitation, f"invalid recipient address: {exc}")
            return
        client = await self._connected()
        try:
            await client.send_message(
                message, sender=self.composer.sender.addr_spec, recipients=[recipient]
            )
        except SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused is not None else 0
            error = f"recipient refused: {_describe(refused or exc, self.smtp)}"
            await self._permanent_or_transient(invitation, code, error)
        except SMTPSenderRefused as exc:
            # About the From address, not this employee: every message would be refused.
            raise _RelayUnavailable(
                f"the SMTP relay {self.smtp.describe()} refused the sender "
                f"{self.composer.sender.addr_spec}: {_describe(exc, self.smtp)}"
            ) from None
        except SMTPNotSupported as exc:
            # E.g. a non-ASCII local part and a relay without SMTPUTF8: no retry will help.
            await self._fail(invitation, _describe(exc, self.smtp))
        except SMTPResponseException as exc:
            await self._permanent_or_transient(invitation, exc.code, _describe(exc, self.smtp))
        except (SMTPException, OSError) as exc:
            # Timeouts and dropped connections, possibly after the relay took the message: a
            # retry resends it with the same Message-ID (module docstring).
            await self.close()
            await self._defer(invitation, _describe(exc, self.smtp))
        except ValueError as exc:  # aiosmtplib refuses addresses unsafe on a command line
            await self._fail(invitation, f"invalid recipient address: {exc}")
        else:
            await self._sent(invitation, message)

    async def _sent(self, invitation: ClaimedInvitation, message: EmailMessage) -> None:
        message_id = str(message["Message-ID"])
        await asyncio.to_thread(
            self.outbox.mark_sent,
            self.integration,
            invitation.okta_id,
            email=invitation.email,
            message_id=message_id,
            now=self.now(),
        )
        self.tally.sent += 1
        logger.info(
            "invitation of %s employee %s sent as %s",
            self.integration,
            invitation.okta_id,
            message_id,
        )

    async def _permanent_or_transient(
        self, invitation: ClaimedInvitation, code: int, error: str
    ) -> None:
        if 500 <= code <= 599:
            await self._fail(invitation, error)
        else:
            await self._defer(invitation, error)

    async def _defer(self, invitation: ClaimedInvitation, error: str) -> None:
        self.tally.last_error = error
        attempts = invitation.attempts + 1
        if attempts >= self.max_attempts:
            await self._fail(invitation, f"{error} (gave up after {attempts} attempts)")
            return
        delay = min(self.backoff_base * BACKOFF_FACTOR ** (attempts - 1), self.backoff_max)
        retry_at = self.now() + timedelta(seconds=delay)
        await asyncio.to_thread(
            self.outbox.mark_deferred,
            self.integration,
            invitation.okta_id,
            error=error,
            next_attempt_at=retry_at,
        )
        self.tally.deferred += 1
        if self.tally.next_attempt_at is None or retry_at < self.tally.next_attempt_at:
            self.tally.next_attempt_at = retry_at
        self.tally.deferred_by[error] += 1
        logger.debug(
            "invitation of %s employee %s deferred (attempt %d of %d): %s",
            self.integration,
            invitation.okta_id,
            attempts,
            self.max_attempts,
            error,
        )

    async def _fail(self, invitation: ClaimedInvitation, error: str) -> None:
        self.tally.last_error = error
        await asyncio.to_thread(
            self.outbox.mark_failed, self.integration, invitation.okta_id, error=error
        )
        self.tally.failed += 1
        self.tally.failed_by[error] += 1
        logger.debug(
            "invitation of %s employee %s failed: %s", self.integration, invitation.okta_id, error
        )


async def deliver_pending(
    outbox: Outbox,
    integration: str,
    settings: InvitationSettings,
    smtp: SmtpSettings,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = DEFAULT_BACKOFF_BASE_S,
    backoff_max: float = DEFAULT_BACKOFF_MAX_S,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lease: float = DEFAULT_LEASE_S,
    now: Callable[[], datetime] = _utcnow,
) -> DeliveryReport:
    """Send every due pending invitation of ``integration`` over one SMTP connection.

    A 4xx reply, a failed connection or a timeout defers the invitation: attempt *n* is
    retried ``backoff_base * 4**(n-1)`` seconds later (at most ``backoff_max``), and the
    ``max_attempts``-th failure marks it ``failed``. A 5xx reply for the recipient fails that
    invitation at once; the others are still sent. Raises ConfigError before touching any row
    when ``from`` or ``dashboardUrl`` is unusable. Database calls run in worker threads, so
    this can run in the operator's event loop.

    The e-mail names the company of ``settings.company_name`` only (SPEC §9), never the
    resource's name.
    """
    if max_attempts < 1 or batch_size < 1 or backoff_base < 0 or backoff_max < 0:
        raise ValueError("max_attempts and batch_size must be positive, backoffs not negative")
    if lease <= _LEASE_MARGIN_TIMEOUTS * smtp.timeout:
        raise ValueError(
            f"lease ({lease}s) must be longer than {_LEASE_MARGIN_TIMEOUTS} SMTP timeouts "
            f"({_LEASE_MARGIN_TIMEOUTS * smtp.timeout}s)"
        )
    composer = InvitationComposer.from_settings(settings, integration=integration)
    run = _DeliveryRun(
        outbox,
        integration,
        composer,
        smtp,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        batch_size=batch_size,
        lease=lease,
        now=now,
    )
    try:
        report = await run.run()
    finally:
        await run.close()
        run.tally.log(integration)
    try:
        pending = (await asyncio.to_thread(outbox.counts, integration)).pending
        next_attempt, last_error = (
            await asyncio.to_thread(outbox.waiting, integration) if pending else (None, None)
        )
    except DirectoryError as exc:  # what was sent is recorded; only the count is missing
        logger.warning("Cannot count the pending invitations of %s: %s", integration, exc)
        return report
    # Invitations waiting out an earlier failure's backoff were not tried now: say why they wait.
    return replace(
        report,
        pending=pending,
        next_attempt_at=report.next_attempt_at or next_attempt,
        last_error=report.last_error or last_error,
    )

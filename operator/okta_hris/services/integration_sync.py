"""One sync of one integration, as the operator and ``okta-hris sync`` both run it.

``IntegrationSync.run`` is the whole of it: read the credentials, run the sync (plan, hold or
apply), deliver the invitations it queued, and return an ``Outcome``. Where the credentials
come from (a Kubernetes Secret, a manifest file, ``--token-file``) and where the CPU-heavy
sync runs (the caller's event loop, or a thread of its own) are the caller's to say; nothing
here knows about Kopf or Click.

One sync per integration at a time, across processes: ``run`` takes the integration's sync
lease (``directory/leases.py``) before it reads anything, renews it every quarter of
``Settings.sync_lease_seconds`` while the sync runs, and releases it once the sync has
committed or failed (also when cancelled), before the invitations go out. A second sync
of the same integration fails at once with ``SyncInProgress`` (transient: the operator retries
it later, the CLI says who holds the lease) and leaves no ``sync_runs`` row: it never started.
A lease its holder could not release (SIGKILL) is taken over once it has expired.

A sync that applied nothing (failed or held) says when it ran and in which mode (``Attempt``),
as the engine recorded it in ``sync_runs``: status then describes that attempt, not an older one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from okta_hris.directory import Directory
from okta_hris.directory.leases import SyncLease
from okta_hris.domain.changes import DirectorySummary, SyncMode, SyncOutcome
from okta_hris.domain.events import EventBatch
from okta_hris.errors import DeactivationThresholdExceeded, HrisError, SyncInProgress
from okta_hris.invitations import DeliveryReport, SmtpSettings, deliver_pending
from okta_hris.okta import OktaCredential
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.settings import Settings
from okta_hris.sync.engine import (
    ClientFactory,
    PlannedSync,
    SyncProgress,
    SyncReport,
    SyncRequest,
    plan_sync,
    run_sync,
)

logger = logging.getLogger(__name__)

# The reason of a failure the error hierarchy does not name (a bug, an unexpected library error).
UNEXPECTED_ERROR = "SyncError"


class Credentials(Protocol):
    """Where an integration's Secret values come from. Both raise ``SecretNotFound`` (or
    another ``HrisError``) with a message that names the Secret and key, never a value."""

    async def okta_credential(self, spec: OktaIntegrationSpec) -> OktaCredential:
        """The SSWS API token of ``spec.okta.tokenSecretRef``, or the service app of
        ``spec.okta.oauth`` with its private key."""
        ...

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> SmtpSettings: ...


SyncRunner = Callable[[Callable[[], Coroutine[Any, Any, SyncReport]]], Awaitable[SyncReport]]


async def _in_this_loop(make: Callable[[], Coroutine[Any, Any, SyncReport]]) -> SyncReport:
    return await make()


@dataclass(frozen=True)
class InvitationDelivery:
    """What became of the invitations after a sync: a delivery run, or why none ran."""

    report: DeliveryReport | None = None
    problem: str | None = None  # no SMTP Secret, an unusable sender, ...: nothing was sent


@dataclass(frozen=True)
class Attempt:
    """A sync that applied nothing (it failed, or was held): when it ran, and in which mode.

    ``mode`` is None when the sync failed before choosing one (the token Secret could not be
    read, another sync held the lease, the directory could not be read).
    """

    started: datetime
    finished: datetime
    mode: SyncMode | None = None

    @property
    def duration_seconds(self) -> float:
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True)
class Succeeded:
    report: SyncReport
    summary: DirectorySummary  # after the invitations were delivered
    delivery: InvitationDelivery | None = None  # None: invitations are off, or not asked for


@dataclass(frozen=True)
class Held:
    hold: DeactivationThresholdExceeded
    attempt: Attempt


@dataclass(frozen=True)
class Failed:
    error: BaseException
    reason: str  # the condition reason: the error class's, or SyncError for a bug
    message: str
    permanent: bool  # retrying without a change to the spec or a Secret cannot help
    attempt: Attempt | None = None  # None: no sync ran (a check found the problem)

    @classmethod
    def of(cls, error: BaseException, attempt: Attempt | None = None) -> Failed:
        if isinstance(error, HrisError):
            return cls(error, error.reason, str(error), error.permanent, attempt)
        return cls(
            error, UNEXPECTED_ERROR, f"unexpected error: {type(error).__name__}", False, attempt
        )


Outcome = Succeeded | Held | Failed


class IntegrationSync:
    """Runs the syncs of integrations against one directory."""

    def __init__(
        self,
        directory: Directory,
        settings: Settings,
        *,
        runner: SyncRunner = _in_this_loop,
        client_factory: ClientFactory | None = None,
        owner: str | None = None,
    ) -> None:
        """``owner`` names who runs the syncs in the message a concurrent sync gets
        ("okta-hris sync"); the process id and host are added."""
        self.directory = directory
        self.settings = settings
        self.runner = runner
        self.client_factory = client_factory
        where = f"pid {os.getpid()} on {socket.gethostname()}"
        self.owner = f"{owner} ({where})" if owner else where

    async def run(
        self,
        integration: str,
        spec: OktaIntegrationSpec,
        credentials: Credentials,
        *,
        force_full: bool = False,
        approved_deactivations: int | None = None,
        deliver_invitations: bool = True,
        progress: SyncProgress | None = None,
        applied: Callable[[SyncReport], None] | None = None,
        events: EventBatch | None = None,
    ) -> Outcome:
        """Read the token, sync, deliver the invitations the sync queued; never raises for a
        failed sync (only for cancellation). A delivery problem never fails the sync.

        ``applied`` is told about the sync as soon as it has committed, before the invitations
        go out (the CLI prints its summary then: delivery may take a while). ``events`` makes
        it a targeted sync of what they name (mode Event), unless a Full sync is due.
        """
        started = _now()
        try:
            request = await self._request(
                integration, spec, credentials, force_full, approved_deactivations, events
            )
            lease = await self._take_lease(integration)
        except Exception as exc:
            return Failed.of(exc, Attempt(started, _now()))
        try:
            report = await self._holding(
                lease,
                self.runner(
                    lambda: run_sync(
                        request,
                        self.directory,
                        self.settings,
                        progress=progress,
                        client_factory=self.client_factory,
                    )
                ),
            )
        except DeactivationThresholdExceeded as hold:
            return Held(hold, await self._unapplied(integration, started, "held"))
        except Exception as exc:
            return Failed.of(exc, await self._unapplied(integration, started, "failed"))
        finally:
            await self._release_lease(lease)
        if applied is not None:
            applied(report)
        delivery: InvitationDelivery | None = None
        summary = report.summary
        if deliver_invitations and spec.invitations.enabled:
            delivery = await self.deliver_invitations(integration, spec, credentials)
            try:
                summary = await asyncio.to_thread(self.directory.summary, integration)
            except HrisError as exc:  # the sync is applied; its own summary says enough
                logger.warning("Cannot count the directory of %s: %s", integration, exc)
        return Succeeded(report, summary, delivery)

    async def plan(
        self,
        integration: str,
        spec: OktaIntegrationSpec,
        credentials: Credentials,
        *,
        force_full: bool = False,
        progress: SyncProgress | None = None,
    ) -> PlannedSync:
        """What a sync would do, writing nothing. Raises the errors of ``okta_hris.errors``."""
        request = await self._request(integration, spec, credentials, force_full, None)
        return await plan_sync(
            request,
            self.directory,
            self.settings,
            progress=progress,
            client_factory=self.client_factory,
        )

    async def deliver_invitations(
        self,
        integration: str,
        spec: OktaIntegrationSpec,
        credentials: Credentials,
    ) -> InvitationDelivery:
        """Send the pending invitations; a problem is returned, never raised: the outbox is
        committed, and what is not sent now is sent by a later run."""
        try:
            smtp = await credentials.smtp_settings(spec)
            report = await deliver_pending(
                self.directory.outbox,
                integration,
                spec.invitations,
                smtp,
            )
        except HrisError as exc:
            logger.warning("Invitations of %s not sent: %s", integration, exc)
            return InvitationDelivery(problem=str(exc))
        except Exception as exc:  # a bug: the queued invitations wait for the next run
            logger.exception("Delivering the invitations of %s failed unexpectedly", integration)
            return InvitationDelivery(problem=f"unexpected error: {type(exc).__name__}")
        return InvitationDelivery(report=report)

    async def invite_all_pending(
        self,
        integration: str,
        spec: OktaIntegrationSpec,
        credentials: Credentials,
    ) -> tuple[int, InvitationDelivery]:
        """Queue an invitation for every active employee who never had one, then deliver.

        Raises ``DirectoryError`` when the queueing fails (nothing was queued then).
        """
        queued = await asyncio.to_thread(self.directory.outbox.queue_all_pending, integration)
        delivery = await self.deliver_invitations(integration, spec, credentials)
        return queued, delivery

    async def _unapplied(
        self, integration: str, started: datetime, outcome: SyncOutcome
    ) -> Attempt:
        """The failed or held attempt as the engine recorded it in ``sync_runs``: its mode and
        times. Without its row (it failed before choosing a mode, or the directory failed too),
        what is known here: when it started and ended, and no mode.

        Its row is the newest one, if it started since and has that outcome: the lease, still
        held, kept other syncs of the integration out (a sync that took an expired lease over
        ran on its own: its row is not taken for this one's).
        """
        finished = _now()
        try:
            runs = await asyncio.to_thread(self.directory.runs, integration, 1)
        except HrisError:
            runs = []
        run = runs[0] if runs else None
        if run is None or run.started_at < started or run.outcome != outcome:
            return Attempt(started, finished)
        return Attempt(run.started_at, run.finished_at, run.mode)

    # -- the sync lease ---------------------------------------------------------------------------

    @property
    def _lease_duration(self) -> timedelta:
        return timedelta(seconds=self.settings.sync_lease_seconds)

    async def _take_lease(self, integration: str) -> SyncLease:
        """The lease, or nothing held: cancelled (Ctrl-C, SIGTERM) while its thread commits
        it, the lease is given back as soon as it is taken, not left to expire."""
        acquiring = asyncio.ensure_future(
            asyncio.to_thread(
                self.directory.leases.acquire,
                integration,
                holder=secrets.token_hex(16),
                owner=self.owner,
                now=_now(),
                duration=self._lease_duration,
            )
        )
        try:
            return await asyncio.shield(acquiring)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._release_lease(await acquiring)
            raise

    async def _holding(self, lease: SyncLease, sync: Awaitable[SyncReport]) -> SyncReport:
        """Await the sync while renewing its lease; a lease another sync took over (this one
        stalled past its expiry) stops the sync with SyncInProgress."""
        task = asyncio.ensure_future(sync)
        lost = False

        async def renew() -> None:
            nonlocal lease, lost
            while True:
                await asyncio.sleep(self._lease_duration.total_seconds() / 4)
                try:
                    renewed = await asyncio.to_thread(
                        self.directory.leases.renew,
                        lease,
                        now=_now(),
                        duration=self._lease_duration,
                    )
                except HrisError as exc:  # a database blip: try again at the next renewal
                    logger.warning("Cannot renew the sync lease of %s: %s", lease.integration, exc)
                    continue
                if renewed is None:
                    lost = True
                    task.cancel()
                    return
                lease = renewed

        renewer = asyncio.create_task(renew())
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lost and (current is None or not current.cancelling()):
                raise SyncInProgress(
                    f"the sync of {lease.integration} was stopped: it ran past its lease "
                    f"(HRIS_SYNC_LEASE_SECONDS={self.settings.sync_lease_seconds}) and another "
                    "sync took it over"
                ) from None
            raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _release_lease(self, lease: SyncLease) -> None:
        try:
            await asyncio.to_thread(self.directory.leases.release, lease)
        except HrisError as exc:  # the lease expires by itself; the sync's outcome stands
            logger.warning("Cannot release the sync lease of %s: %s", lease.integration, exc)

    async def _request(
        self,
        integration: str,
        spec: OktaIntegrationSpec,
        credentials: Credentials,
        force_full: bool,
        approved_deactivations: int | None,
        events: EventBatch | None = None,
    ) -> SyncRequest:
        return SyncRequest(
            integration=integration,
            spec=spec,
            token=await credentials.okta_credential(spec),
            okta_url=self.settings.okta_url,
            force_full=force_full,
            approved_deactivations=approved_deactivations,
            events=events,
        )


def _now() -> datetime:
    return datetime.now(UTC)

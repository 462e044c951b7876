"""Telling the world what a reconciliation did: the status patch, the Event, the metric and
the log line of each step, in one place per kind of step.

``Reporter.sync_finished`` turns a sync's ``Outcome`` into all four; the other methods do the
same for the steps that are not syncs (suspension, an invalid spec, a spent approval, invitations
queued on request). The schedule of the next attempt is decided here too, since status carries it.

Every status write also sets the gauges that mirror status (conditions, suspension, the hold),
so metrics never disagree with ``kubectl get``. Events go through ``events.EventRecorder``:
one Warning per new problem, and a Normal ``Recovered`` when a sync succeeds after one (the
problem is read from status ``Ready``, so a restarted operator says it too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import kopf

from okta_hris.controller import conditions, events, scheduling
from okta_hris.controller import status as status_patches
from okta_hris.controller.runtime import IntegrationState, OperatorRuntime
from okta_hris.controller.status import StatusContext, StatusPatch
from okta_hris.controller.status_writer import StatusWriter
from okta_hris.domain.changes import DirectorySummary, PlanWarning
from okta_hris.domain.events import EventBatch
from okta_hris.errors import DeactivationThresholdExceeded, HrisError
from okta_hris.resource.spec import APPROVE_DEACTIVATIONS_ANNOTATION
from okta_hris.services import Failed, Held, InvitationDelivery, Outcome, Succeeded
from okta_hris.services.integration_sync import Attempt
from okta_hris.sync.timing import describe_time

logger = logging.getLogger(__name__)

# The Warning event of an approval that answers no hold.
APPROVAL_IGNORED = "ApprovalIgnored"
# The Normal event of a sync that succeeded after a failure (its message names the failure).
RECOVERED = "Recovered"
RESUMED = "Resumed"
INVITATIONS_QUEUED = "InvitationsQueued"
INVITATIONS_NOT_QUEUED = "InvitationsNotQueued"
INVITATIONS_SENT = "InvitationsSent"
INVITATIONS_NOT_SENT = "InvitationsNotSent"


# lastSyncMode of a targeted sync from Okta event hooks.
EVENT_MODE = "Event"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Reporter:
    """Status, Events, metrics and logs of one OktaIntegration."""

    def __init__(
        self,
        runtime: OperatorRuntime,
        body: kopf.Body,
        state: IntegrationState,
        writer: StatusWriter,
    ) -> None:
        self.runtime = runtime
        self.body = body
        self.state = state
        self.writer = writer
        self.key = state.key
        self.recorder = runtime.kube.recorder
        # The failure the running sync may recover from (status Ready before it started).
        self._recovering_from: str | None = None
        # This replica reports the integration from now on, its interval included, even while
        # it only waits for the next sync (a replica that took over may write nothing for long).
        view = scheduling.ObjectView.from_object(
            body.spec, body.metadata, writer.model, runtime.settings.allowed_domains
        )
        self._observe_interval(view)

    def context(self, view: scheduling.ObjectView) -> StatusContext:
        return StatusContext(self.writer.model, view.generation, utcnow())

    # -- syncs ---------------------------------------------------------------------------------

    def resuming(self) -> None:
        """A sync of an integration whose status still says suspended: it was resumed."""
        if status_patches.is_suspended(self.writer.model):
            self._normal(RESUMED, events.RESUME, "syncs resumed (spec.sync.suspend)")

    async def sync_started(self, view: scheduling.ObjectView, action: scheduling.Sync) -> None:
        kind = "full sync" if action.force_full else "sync"
        self._recovering_from = self._failing_reason()
        await self._write(
            status_patches.syncing(self.context(view), f"{kind} started: {action.trigger}"), view
        )
        logger.info("Syncing %s (%s)", self.key, action.trigger)

    async def sync_finished(
        self,
        view: scheduling.ObjectView,
        action: scheduling.Sync,
        outcome: Outcome,
        covered: EventBatch | None = None,
    ) -> None:
        """``covered``: the hook events the sync covered (applied if it succeeded)."""
        interval = self._interval(view)
        resync_value = view.resync_requested if action.force_full else None
        if isinstance(outcome, Succeeded):
            applied = covered.events if covered is not None else 0
            spent = self._spent_approval(view, action, status_patches.APPROVAL_RELEASED)
            await self._succeeded(view, interval, outcome, resync_value, spent, applied)
        elif isinstance(outcome, Held):
            spent = self._spent_approval(view, action, status_patches.APPROVAL_HOLD_CHANGED)
            await self._held(view, interval, outcome.hold, outcome.attempt, resync_value, spent)
        else:
            await self.failed(view, outcome, resync_value)

    async def _succeeded(
        self,
        view: scheduling.ObjectView,
        interval: timedelta,
        outcome: Succeeded,
        resync_value: str | None,
        spent_approval: StatusPatch | None,
        applied_events: int = 0,
    ) -> None:
        report, summary = outcome.report, outcome.summary
        if outcome.delivery is not None:
            self._delivered(outcome.delivery)
        config, rng = self.runtime.config, self.runtime.rng
        next_sync = scheduling.next_sync_after(report.finished_at, interval, config, rng)
        planned = self.writer.model.next_sync_time
        if report.mode == EVENT_MODE and planned is not None:
            # A targeted sync leaves the schedule alone: the periodic sync is the safety net
            # that heals what a hook missed, and events must not keep putting it off.
            next_sync = planned
        self.state.transient_failures = 0
        self.state.last_problem = None
        patch = status_patches.succeeded(
            self.context(view),
            mode=report.mode,
            started=report.started_at,
            finished=report.finished_at,
            stats=report.stats,
            summary=summary,
            data_quality=report.plan.data_quality,
            next_sync=next_sync,
            resync_value=resync_value,
        )
        self._sync_warnings(report.plan.warnings)
        if spent_approval is not None:
            patch |= spent_approval
        await self._write(self._with_hook_counts(patch, applied_events), view)
        if applied_events:
            self.runtime.metrics.hook_events_covered(self.key, applied_events)
        self.runtime.metrics.sync_succeeded(
            self.key,
            report.mode,
            report.duration_seconds,
            report.stats.api_requests,
            report.stats.rate_limited,
            summary,
            report.finished_at,
        )
        stats = report.stats
        logger.info(
            "%s sync of %s succeeded: %d created, %d updated, %d deactivated; %s; next at %s",
            report.mode,
            self.key,
            stats.created,
            stats.updated,
            stats.deactivated,
            describe_time(report.timings, stats),
            conditions.format_time(next_sync),
        )
        message = (
            f"{report.mode} sync: {stats.created} created, {stats.updated} updated, "
            f"{stats.deactivated} deactivated, {stats.reactivated} reactivated; "
            f"{status_patches.employees_message(summary)}"
        )
        recovered_from, self._recovering_from = self._recovering_from, None
        if recovered_from is not None:
            logger.info("%s recovered from %s", self.key, recovered_from)
            self._normal(RECOVERED, events.SYNC, f"recovered from {recovered_from}: {message}")
        elif report.changed:
            self._normal(conditions.SYNC_SUCCEEDED, events.SYNC, message)

    async def failed(
        self,
        view: scheduling.ObjectView,
        failure: Failed,
        resync_value: str | None,
        *,
        synced: bool = True,
    ) -> None:
        """A sync failed, or (``synced=False``) a check found what would make it fail."""
        if not isinstance(failure.error, HrisError):
            logger.error("Sync of %s failed unexpectedly", self.key, exc_info=failure.error)
        interval = self._interval(view)
        finished = utcnow()
        config, rng = self.runtime.config, self.runtime.rng
        if failure.permanent:
            self.state.transient_failures = 0
            next_attempt = scheduling.stalled_retry_after(finished, interval, config)
        else:
            self.state.transient_failures += 1
            next_attempt = scheduling.retry_after(
                finished, self.state.transient_failures, interval, config, rng
            )
        patch = status_patches.failed(
            self.context(view),
            reason=failure.reason,
            message=failure.message,
            permanent=failure.permanent,
            attempt=failure.attempt,
            next_attempt=next_attempt,
            resync_value=resync_value,
        )
        await self._write(self._with_hook_counts(patch, 0) if synced else patch, view)
        if failure.attempt is not None:
            self.runtime.metrics.sync_failed(self.key, "failed", failure.reason, failure.attempt)
        logger.warning(
            "%s of %s failed (%s): %s; next attempt at %s",
            "Sync" if synced else "The token check",
            self.key,
            failure.reason,
            failure.message,
            conditions.format_time(next_attempt),
        )
        self._warn_once(failure.reason, failure.message, events.SYNC if synced else events.VALIDATE)

    async def _held(
        self,
        view: scheduling.ObjectView,
        interval: timedelta,
        hold: DeactivationThresholdExceeded,
        attempt: Attempt,
        resync_value: str | None,
        spent_approval: StatusPatch | None,
    ) -> None:
        finished = utcnow()
        config, rng = self.runtime.config, self.runtime.rng
        next_sync = scheduling.next_sync_after(finished, interval, config, rng)
        self.state.transient_failures = 0
        note = self._spent_approval_note(hold.would_deactivate, spent_approval)
        patch = status_patches.held(
            self.context(view),
            hold=hold,
            attempt=attempt,
            next_sync=next_sync,
            resync_value=resync_value,
            note=note,
        )
        if spent_approval is not None:
            patch |= spent_approval
        await self._write(self._with_hook_counts(patch, 0), view)
        self.runtime.metrics.sync_failed(self.key, "held", hold.reason, attempt)
        logger.warning("Sync of %s held: %s%s", self.key, hold, note)
        self._warn_once(hold.reason, f"{hold}{note}", events.SYNC)

    # -- approvals -----------------------------------------------------------------------------

    def _spent_approval(
        self, view: scheduling.ObjectView, action: scheduling.Sync, result: str
    ) -> StatusPatch | None:
        """The status record of the approval a sync used, now that the sync has decided."""
        if action.approval is None:
            return None
        return status_patches.approval_handled(
            action.approval, result, view.held_deactivations, utcnow()
        )

    def _spent_approval_note(self, count: int, spent_approval: StatusPatch | None) -> str:
        """When the approval annotation already holds a spent value of this very count,
        writing the count again changes nothing: say how to approve once more."""
        annotations = self.body.metadata.annotations
        current = annotations.get(APPROVE_DEACTIVATIONS_ANNOTATION)
        if not isinstance(current, str) or scheduling.approval_count(current) != count:
            return ""
        record = (
            spent_approval.model.last_handled_approval
            if spent_approval is not None
            else self.writer.model.last_handled_approval
        )
        if record is None or record.value != status_patches.recorded_approval(current):
            return ""
        return (
            f' ("{current.strip()}" was used for an earlier hold: approve this one with a note '
            f'after the count, e.g. "{count}/2")'
        )

    async def approval_ignored(self, action: scheduling.IgnoreApproval) -> None:
        """An approval that answers no hold is spent: it must not release a later one."""
        value, held = action.value, action.held
        await self._write(
            status_patches.approval_handled(
                value, status_patches.APPROVAL_NO_MATCHING_HOLD, held, utcnow()
            )
        )
        why = (
            "no sync is held"
            if held is None
            else f'the held sync would deactivate {held}: approve with "{held}"'
        )
        shown = value if len(value) <= 60 else f"{value[:60]}… ({len(value):,} characters)"
        message = f'approval "{shown}" released nothing: {why}'
        logger.warning("%s: %s", self.key, message)
        self._warning(APPROVAL_IGNORED, events.APPROVE, message)

    # -- steps that are not syncs --------------------------------------------------------------

    async def suspended(self, view: scheduling.ObjectView) -> None:
        await self._write(status_patches.suspended(self.context(view)), view)
        self.runtime.metrics.scheduled(self.key, None)
        logger.info("Syncs of %s are suspended", self.key)
        self._normal(
            conditions.SUSPENDED, events.SUSPEND, "syncs suspended (spec.sync.suspend: true)"
        )

    async def invalid_spec(
        self, view: scheduling.ObjectView, action: scheduling.ReportInvalidSpec
    ) -> None:
        message = action.message
        await self._write(
            status_patches.invalid_spec(self.context(view), message, action.resync_value), view
        )
        self.runtime.metrics.scheduled(self.key, None)
        logger.warning("%s has an invalid spec: %s", self.key, message)
        self._warn_once(conditions.INVALID_SPEC, message, events.VALIDATE)

    async def invitations_queued(
        self, queued: int, delivery: InvitationDelivery, value: str
    ) -> None:
        self._normal(
            INVITATIONS_QUEUED,
            events.INVITE,
            f"{queued} employees without an invitation queued for one",
        )
        self._delivered(delivery)
        summary: DirectorySummary = await asyncio.to_thread(
            self.runtime.directory.summary, self.key
        )
        await self._write(status_patches.invitations(summary, handled_value=value))

    def invitations_not_queued(self, problem: str, retry: datetime) -> None:
        """One Warning event per problem, not one per attempt."""
        logger.warning(
            "Cannot queue invitations of %s: %s; next attempt at %s",
            self.key,
            problem,
            conditions.format_time(retry),
        )
        if self.state.invite_all_problem != problem:
            self.state.invite_all_problem = problem
            self._warning(INVITATIONS_NOT_QUEUED, events.INVITE, problem)

    def _delivered(self, delivery: InvitationDelivery) -> None:
        if delivery.problem is not None:
            self._warning(INVITATIONS_NOT_SENT, events.INVITE, delivery.problem)
            return
        report = delivery.report
        if report is None:
            return
        if report.sent:
            self._normal(INVITATIONS_SENT, events.INVITE, f"{report.sent} sent")
        if report.failed or report.deferred:
            self._warning(
                INVITATIONS_NOT_SENT,
                events.INVITE,
                f"{report.failed} failed, {report.deferred} to retry: "
                f"{report.last_error or 'see the operator log'}",
            )

    # -- plumbing ------------------------------------------------------------------------------

    def _interval(self, view: scheduling.ObjectView) -> timedelta:
        return scheduling.effective_interval(view.interval, self.runtime.config)

    def _observe_interval(self, view: scheduling.ObjectView) -> None:
        self.runtime.metrics.sync_interval(self.key, self._interval(view).total_seconds())

    async def _write(self, patch: StatusPatch, view: scheduling.ObjectView | None = None) -> None:
        """Write status, and set the gauges that mirror it (and the interval of ``view``)."""
        await self.writer.write(patch)
        self.runtime.metrics.status_written(self.key, self.writer.model)
        if view is not None:
            self._observe_interval(view)

    def _with_hook_counts(self, patch: StatusPatch, applied: int) -> StatusPatch:
        """``status.eventHooks`` travels with the sync's own patch, not once per delivery."""
        counts = self.state.hooks.status_after_sync(self.writer.model.event_hooks, applied)
        return patch if counts is None else patch | StatusPatch(event_hooks=counts)

    def _failing_reason(self) -> str | None:
        """Why the integration is not Ready, as status says (None: it is, never synced, or was
        only suspended: resuming is not recovering)."""
        ready = self.writer.model.condition(conditions.READY)
        if ready is None or ready.status != "False" or ready.reason == conditions.SUSPENDED:
            return None
        return ready.reason

    def _normal(self, reason: str, action: str, message: str) -> None:
        self.recorder.normal(events.InvolvedObject.of(self.body), reason, action, message)

    def _warning(self, reason: str, action: str, message: str) -> None:
        self.recorder.warning(events.InvolvedObject.of(self.body), reason, action, message)

    def _sync_warnings(self, warnings: Sequence[PlanWarning]) -> None:
        """A Warning Event for each warning the last sync did not have."""
        seen = self.state.sync_warnings
        for warning in warnings:
            if warning.message not in seen:
                self._warning(warning.reason, events.SYNC, warning.message)
        self.state.sync_warnings = tuple(w.message for w in warnings)

    def _warn_once(self, reason: str, message: str, action: str) -> None:
        """A Warning event per new problem, not one per retry of the same problem."""
        if self.state.last_problem != (reason, message):
            self.state.last_problem = (reason, message)
            self._warning(reason, action, message)

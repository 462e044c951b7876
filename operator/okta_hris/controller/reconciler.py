"""Reconciling one OktaIntegration: decide, sync, write status, post events.

One ``IntegrationReconciler`` runs per OktaIntegration, in a Kopf daemon, for as long as the
object exists and this operator is the active one. Its loop asks ``scheduling.decide`` what
to do (a spec change, a resync request, an approval, a Secret change, the schedule) and
sleeps until then or until the object or one of its Secrets changes (the event handlers poke
it). The per-integration lock keeps two syncs of one integration apart; the operator-wide
semaphore caps how many integrations sync at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import kopf

from okta_hris.controller import conditions as c
from okta_hris.controller import scheduling
from okta_hris.controller import status as s
from okta_hris.controller.kube import KubernetesApiError, ObjectNotFound
from okta_hris.controller.runtime import (
    IntegrationState,
    OperatorRuntime,
    TokenSeen,
    token_fingerprint,
)
from okta_hris.errors import DeactivationThresholdExceeded, HrisError, InvalidSpec, SecretNotFound
from okta_hris.invitations import SmtpSettings, deliver_pending, queue_all_pending
from okta_hris.spec import APPROVE_DEACTIVATIONS_ANNOTATION, OktaIntegrationSpec, load_spec
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A reason for failures the error hierarchy does not name (a bug, an unexpected library error).
UNEXPECTED_ERROR = "SyncError"
# After an unexpected error in the loop itself, wait this long before looking again.
LOOP_ERROR_PAUSE_S = 10.0
# A status patch answered with these will never be accepted as it is: retrying cannot help.
REJECTED_FOR_GOOD = frozenset({400, 422})
# The Warning event of an approval that answers no hold.
APPROVAL_IGNORED = "ApprovalIgnored"


def utcnow() -> datetime:
    return datetime.now(UTC)


def integration_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


async def run_in_own_loop(
    make: Callable[[], Coroutine[Any, Any, T]], executor: concurrent.futures.Executor
) -> T:
    """Run ``make()`` in a fresh event loop in a worker thread, and wait for it here.

    A sync plans in pure Python, which for a large org takes long enough to stall Kopf's
    watches and liveness probe if it ran in their loop. Its own loop also ends with the sync:
    whatever the sync left running is cancelled then. Cancelling the caller cancels the sync.
    """
    handle: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = (
        concurrent.futures.Future()
    )

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        handle.set_result((asyncio.get_running_loop(), task))
        return await make()

    done = asyncio.get_running_loop().run_in_executor(executor, asyncio.run, main())
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        if handle.done():
            loop, task = handle.result()
            loop.call_soon_threadsafe(task.cancel)
        # Return only once the sync has stopped: it may be committing, and the caller's lock
        # must keep a deletion from marking the rows removed before that commit.
        with contextlib.suppress(BaseException):
            await done
        raise


def secret_references(namespace: str, spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (namespace, name) of every Secret a spec uses: the token and the SMTP settings.

    Secrets are always in the integration's own namespace; a spec cannot point elsewhere.
    """
    names: list[str] = []
    token_ref = (spec.get("okta") or {}).get("tokenSecretRef") or {}
    smtp_ref = (spec.get("invitations") or {}).get("smtpSecretRef") or {}
    for ref in (token_ref, smtp_ref):
        name = ref.get("name") if isinstance(ref, Mapping) else None
        if isinstance(name, str) and name:
            names.append(name)
    return [(namespace, name) for name in dict.fromkeys(names)]


class IntegrationReconciler:
    def __init__(self, runtime: OperatorRuntime, body: kopf.Body) -> None:
        self.runtime = runtime
        self.body = body  # Kopf's live view: always the latest version of the object
        self.namespace = str(body.metadata.namespace)
        self.name = str(body.metadata.name)
        self.key = integration_key(self.namespace, self.name)
        self.state: IntegrationState = runtime.integration(self.key)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, stopped: kopf.DaemonStopped) -> None:
        try:
            await self._load_status()
            self.runtime.metrics.restore(self.key, self._status)
            await self._resume()
            while not stopped and not self.state.removed:
                self.state.wake.clear()
                try:
                    if await self._status_unsent(stopped):
                        continue
                    await self._step(stopped)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("Reconciling %s failed unexpectedly", self.key)
                    await self._sleep(LOOP_ERROR_PAUSE_S, stopped)
        finally:
            # Stopped for a deletion, a pause (another replica is active now) or the operator's
            # exit: this replica no longer knows the integration's state, so it stops saying it.
            self.runtime.metrics.forget(self.key)

    async def _status_unsent(self, stopped: kopf.DaemonStopped) -> bool:
        """Retry a status write the API server refused; True while it is still not written.

        Nothing else happens meanwhile: what the operator did must be on the server (an echo
        of a resync, the end of a sync) before it acts on it again.
        """
        if self.state.unsent_status is None:
            return False
        retry_at = self.state.status_retry_at
        if retry_at is not None and retry_at > utcnow():
            await self._sleep((retry_at - utcnow()).total_seconds(), stopped)
            return True
        return not await self._flush_status()

    async def _resume(self) -> None:
        """Catch up with what happened while no operator (or another replica) was running.

        Syncs that fell due meanwhile are spread over a short window instead of all starting
        at once. An integration stalled on its Secret tries once more: the Secret may have been
        fixed meanwhile. A healthy one checks that its token Secret is still readable, so that a
        deleted Secret shows in status now rather than at the next sync.
        """
        config, rng = self.runtime.config, self.runtime.rng
        stalled_on_secret = s.stalled_reason(self._status) in scheduling.SECRET_FIXABLE_REASONS
        self.state.memory = replace(
            self.state.memory,
            not_before=scheduling.restart_spread(utcnow(), config, rng),
            secret_changed=stalled_on_secret,
        )
        view = scheduling.ObjectView.from_object(self.body.spec, self.body.metadata, self._status)
        ready = c.find(s.StatusContext(self._status, None, utcnow()).conditions, c.READY) or {}
        next_action = scheduling.decide(view, None, self.state.memory, utcnow())
        if ready.get("status") != "True" or not isinstance(next_action, scheduling.Wait):
            return  # a sync comes first anyway (or it is suspended, or not healthy)
        try:
            spec = load_spec(dict(self.body.spec), self.runtime.settings.allowed_domains)
            await self._read_token(spec)
        except InvalidSpec:
            return  # reported by the first step
        except SecretNotFound as exc:
            interval = scheduling.effective_interval(spec.sync.interval_timedelta, config)
            async with self.state.lock:
                await self._failed(view, interval, exc.reason, str(exc), True, None, synced=False)
        except KubernetesApiError as exc:
            logger.warning("Cannot check the token Secret of %s: %s", self.key, exc)

    async def _step(self, stopped: kopf.DaemonStopped) -> None:
        view = scheduling.ObjectView.from_object(self.body.spec, self.body.metadata, self._status)
        spec: OktaIntegrationSpec | None = None
        spec_error: str | None = None
        try:
            spec = load_spec(dict(self.body.spec), self.runtime.settings.allowed_domains)
        except InvalidSpec as exc:
            spec_error = str(exc)
        memory = self.state.memory
        self.state.memory = replace(memory, secret_changed=False)
        action = scheduling.decide(view, spec_error, memory, utcnow())

        if isinstance(action, scheduling.Wait):
            self.runtime.metrics.scheduled(self.key, action.until)
            delay = None if action.until is None else (action.until - utcnow()).total_seconds()
            await self._sleep(delay, stopped)
            return
        async with self.state.lock:
            if stopped or self.state.removed:
                return
            if isinstance(action, scheduling.Suspend):
                await self._suspend(view)
            elif isinstance(action, scheduling.ReportInvalidSpec):
                await self._report_invalid_spec(view, action)
            elif isinstance(action, scheduling.IgnoreApproval):
                await self._ignore_approval(action)
            elif isinstance(action, scheduling.InviteAllPending):
                assert spec is not None
                await self._invite_all_pending(spec, action.token)
            else:
                assert spec is not None
                await self._sync(view, spec, action)

    async def _sleep(self, seconds: float | None, stopped: kopf.DaemonStopped) -> None:
        """Until the time comes, the object or a Secret changes, or the daemon must stop."""
        if seconds is not None and seconds <= 0:
            return
        woken = asyncio.ensure_future(self.state.wake.wait())
        stopping = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait({woken, stopping}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            for waiter in (woken, stopping):
                waiter.cancel()
            await asyncio.gather(woken, stopping, return_exceptions=True)

    # -- actions -------------------------------------------------------------------------------

    async def _sync(
        self, view: scheduling.ObjectView, spec: OktaIntegrationSpec, action: scheduling.Sync
    ) -> None:
        config, settings = self.runtime.config, self.runtime.settings
        interval = scheduling.effective_interval(spec.sync.interval_timedelta, config)
        resync_token = view.resync_requested if action.force_full else None
        if s.is_suspended(self._status, self._status.get("observedGeneration")):
            kopf.info(self.body, reason="Resumed", message="syncs resumed (spec.sync.suspend)")
        approved: int | None = None
        if action.approval is not None:
            # Used by this sync only; if it fails, the next scheduled sync may use it again.
            approved = scheduling.approval_count(action.approval)
            self.state.memory = replace(self.state.memory, approval_attempted=action.approval)
        async with self.runtime.semaphore:
            kind = "full sync" if action.force_full else "sync"
            await self._write(s.syncing(self._context(view), f"{kind} started: {action.trigger}"))
            logger.info("Syncing %s (%s)", self.key, action.trigger)
            self.runtime.metrics.syncs_in_progress.inc()
            try:
                request = SyncRequest(
                    integration=self.key,
                    spec=spec,
                    token=await self._read_token(spec),
                    okta_url=settings.okta_url,
                    force_full=action.force_full,
                    approved_deactivations=approved,
                )
                directory = self.runtime.directory
                report = await run_in_own_loop(
                    lambda: run_sync(request, directory, settings), self.runtime.sync_threads
                )
            except DeactivationThresholdExceeded as hold:
                spent = self._spend_approval(view, action, s.APPROVAL_HOLD_CHANGED)
                await self._held(view, interval, hold, resync_token, spent)
            except HrisError as exc:
                await self._failed(
                    view, interval, exc.reason, str(exc), exc.permanent, resync_token
                )
            except Exception as exc:
                logger.exception("Sync of %s failed unexpectedly", self.key)
                message = f"unexpected error: {type(exc).__name__}"
                await self._failed(view, interval, UNEXPECTED_ERROR, message, False, resync_token)
            else:
                spent = self._spend_approval(view, action, s.APPROVAL_RELEASED)
                await self._succeeded(view, spec, interval, report, resync_token, spent)
            finally:
                self.runtime.metrics.syncs_in_progress.dec()

    def _spend_approval(
        self, view: scheduling.ObjectView, action: scheduling.Sync, result: str
    ) -> dict[str, Any]:
        """The status record of the approval a sync used, now that the sync has decided."""
        if action.approval is None:
            return {}
        return s.approval_handled(action.approval, result, view.held_deactivations, utcnow())

    async def _succeeded(
        self,
        view: scheduling.ObjectView,
        spec: OktaIntegrationSpec,
        interval: timedelta,
        report: SyncReport,
        resync_token: str | None,
        spent_approval: dict[str, Any],
    ) -> None:
        summary = report.summary
        if summary is None:  # only a dry run has none; the operator never asks for one
            summary = await asyncio.to_thread(self.runtime.directory.summary, self.key)
        if spec.invitations.enabled:
            await self._deliver_invitations(spec)
            summary = await asyncio.to_thread(self.runtime.directory.summary, self.key)
        config, rng = self.runtime.config, self.runtime.rng
        next_sync = scheduling.next_sync_after(report.finished_at, interval, config, rng)
        self.state.transient_failures = 0
        self.state.last_problem = None
        await self._write(
            s.succeeded(
                self._context(view),
                mode=report.mode,
                started=report.started_at,
                finished=report.finished_at,
                stats=report.stats,
                summary=summary,
                next_sync=next_sync,
                resync_token=resync_token,
            )
            | spent_approval
        )
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
            "%s sync of %s succeeded: %d created, %d updated, %d deactivated; next at %s",
            report.mode,
            self.key,
            stats.created,
            stats.updated,
            stats.deactivated,
            c.format_time(next_sync),
        )
        if report.changed:
            kopf.info(
                self.body,
                reason=c.SYNC_SUCCEEDED,
                message=(
                    f"{report.mode} sync: {stats.created} created, {stats.updated} updated, "
                    f"{stats.deactivated} deactivated, {stats.reactivated} reactivated; "
                    f"{s.employees_message(summary)}"
                ),
            )

    async def _failed(
        self,
        view: scheduling.ObjectView,
        interval: timedelta,
        reason: str,
        message: str,
        permanent: bool,
        resync_token: str | None,
        *,
        synced: bool = True,
    ) -> None:
        """A sync failed, or (``synced=False``) a check found what would make it fail."""
        finished = utcnow()
        config, rng = self.runtime.config, self.runtime.rng
        if permanent:
            self.state.transient_failures = 0
            next_attempt = scheduling.stalled_retry_after(finished, interval, config)
        else:
            self.state.transient_failures += 1
            next_attempt = scheduling.retry_after(
                finished, self.state.transient_failures, interval, config, rng
            )
        await self._write(
            s.failed(
                self._context(view),
                reason=reason,
                message=message,
                permanent=permanent,
                finished=finished if synced else None,
                next_attempt=next_attempt,
                resync_token=resync_token,
            )
        )
        if synced:
            self.runtime.metrics.sync_failed(self.key, "failed", reason)
        logger.warning(
            "%s of %s failed (%s): %s; next attempt at %s",
            "Sync" if synced else "The token check",
            self.key,
            reason,
            message,
            c.format_time(next_attempt),
        )
        self._warn_once(reason, message)

    async def _held(
        self,
        view: scheduling.ObjectView,
        interval: timedelta,
        hold: DeactivationThresholdExceeded,
        resync_token: str | None,
        spent_approval: dict[str, Any],
    ) -> None:
        finished = utcnow()
        config, rng = self.runtime.config, self.runtime.rng
        next_sync = scheduling.next_sync_after(finished, interval, config, rng)
        self.state.transient_failures = 0
        note = self._spent_approval_note(hold.would_deactivate, spent_approval)
        await self._write(
            s.held(
                self._context(view),
                hold=hold,
                finished=finished,
                next_sync=next_sync,
                resync_token=resync_token,
                note=note,
            )
            | spent_approval
        )
        self.runtime.metrics.sync_failed(self.key, "held", hold.reason)
        logger.warning("Sync of %s held: %s%s", self.key, hold, note)
        self._warn_once(hold.reason, f"{hold}{note}")

    def _spent_approval_note(self, count: int, spent_approval: dict[str, Any]) -> str:
        """When the approval annotation already holds a spent value of this very count,
        writing the count again changes nothing: say how to approve once more."""
        annotations = self.body.metadata.annotations
        current = annotations.get(APPROVE_DEACTIVATIONS_ANNOTATION)
        if not isinstance(current, str) or scheduling.approval_count(current) != count:
            return ""
        record = spent_approval.get("lastHandledApproval") or self._status.get(
            "lastHandledApproval"
        )
        if not isinstance(record, Mapping) or record.get("value") != current:
            return ""
        return (
            f' ("{current.strip()}" was used for an earlier hold: approve this one with a note '
            f'after the count, e.g. "{count}/2")'
        )

    async def _suspend(self, view: scheduling.ObjectView) -> None:
        await self._write(s.suspended(self._context(view)))
        self.runtime.metrics.scheduled(self.key, None)
        logger.info("Syncs of %s are suspended", self.key)
        kopf.info(
            self.body,
            reason=c.SUSPENDED,
            message="syncs suspended (spec.sync.suspend: true)",
        )

    async def _report_invalid_spec(
        self, view: scheduling.ObjectView, action: scheduling.ReportInvalidSpec
    ) -> None:
        message = action.message
        await self._write(s.invalid_spec(self._context(view), message, action.resync_token))
        self.runtime.metrics.scheduled(self.key, None)
        logger.warning("%s has an invalid spec: %s", self.key, message)
        self._warn_once(c.INVALID_SPEC, message)

    async def _ignore_approval(self, action: scheduling.IgnoreApproval) -> None:
        """Spend an approval that answers no hold: it must not release a later one."""
        value, held = action.value, action.held
        await self._write(s.approval_handled(value, s.APPROVAL_NO_MATCHING_HOLD, held, utcnow()))
        why = (
            "no sync is held"
            if held is None
            else f'the held sync would deactivate {held}: approve with "{held}"'
        )
        message = f'approval "{value}" released nothing: {why}'
        logger.warning("%s: %s", self.key, message)
        kopf.warn(self.body, reason=APPROVAL_IGNORED, message=message)

    async def _invite_all_pending(self, spec: OktaIntegrationSpec, token: str) -> None:
        directory = self.runtime.directory
        try:
            queued = await asyncio.to_thread(queue_all_pending, directory.engine, self.key)
        except Exception as exc:
            self._invite_all_failed(spec, exc)
            return
        self.state.invite_all_failures = 0
        self.state.invite_all_problem = None
        self.state.memory = replace(self.state.memory, invite_all_not_before=None)
        kopf.info(
            self.body,
            reason="InvitationsQueued",
            message=f"{queued} employees without an invitation queued for one",
        )
        await self._deliver_invitations(spec)
        summary = await asyncio.to_thread(directory.summary, self.key)
        await self._write(s.invitations(summary, handled_token=token))

    def _invite_all_failed(self, spec: OktaIntegrationSpec, exc: Exception) -> None:
        """Try again later, with backoff; one Warning event per problem, not per attempt."""
        if isinstance(exc, HrisError):
            problem = str(exc)
        else:
            logger.exception("Queueing invitations of %s failed unexpectedly", self.key)
            problem = f"unexpected error: {type(exc).__name__}"
        config, rng = self.runtime.config, self.runtime.rng
        self.state.invite_all_failures += 1
        interval = scheduling.effective_interval(spec.sync.interval_timedelta, config)
        retry = scheduling.retry_after(
            utcnow(), self.state.invite_all_failures, interval, config, rng
        )
        self.state.memory = replace(self.state.memory, invite_all_not_before=retry)
        logger.warning(
            "Cannot queue invitations of %s: %s; next attempt at %s",
            self.key,
            problem,
            c.format_time(retry),
        )
        if self.state.invite_all_problem != problem:
            self.state.invite_all_problem = problem
            kopf.warn(self.body, reason="InvitationsNotQueued", message=problem)

    async def _deliver_invitations(self, spec: OktaIntegrationSpec) -> None:
        """Send queued invitations; a problem here never fails the sync that queued them."""
        ref = spec.invitations.smtp_secret_ref
        if ref is None:
            return
        try:
            _, data = await self.runtime.kube.read_secret(self.namespace, ref.name)
            smtp = SmtpSettings.from_secret_data(data)
            delivery = await deliver_pending(
                self.runtime.directory.engine,
                self.key,
                spec.invitations,
                smtp,
                company=self.name,
            )
        except (HrisError, KubernetesApiError) as exc:
            logger.warning("Invitations of %s not sent: %s", self.key, exc)
            kopf.warn(self.body, reason="InvitationsNotSent", message=str(exc))
            return
        if delivery.sent:
            kopf.info(self.body, reason="InvitationsSent", message=f"{delivery.sent} sent")
        if delivery.failed or delivery.deferred:
            kopf.warn(
                self.body,
                reason="InvitationsNotSent",
                message=(
                    f"{delivery.failed} failed, {delivery.deferred} to retry: "
                    f"{delivery.last_error or 'see the operator log'}"
                ),
            )

    # -- plumbing ------------------------------------------------------------------------------

    async def _read_token(self, spec: OktaIntegrationSpec) -> str:
        """The token, read now; what was found is remembered as a fingerprint (see runtime)."""
        ref = spec.okta.token_secret_ref
        self.state.token_seen = None  # unknown, if the API server cannot say
        try:
            _, data = await self.runtime.kube.read_secret(self.namespace, ref.name)
        except SecretNotFound:
            self._token_seen(ref.name, ref.key, None)
            raise
        self._token_seen(ref.name, ref.key, data)
        token = (data.get(ref.key) or "").strip()
        if not token:
            problem = "is empty" if ref.key in data else "does not exist"
            raise SecretNotFound(
                f'key "{ref.key}" of Secret "{ref.name}" in namespace "{self.namespace}" {problem}'
            )
        return token

    def _token_seen(self, secret: str, key: str, data: Mapping[str, str] | None) -> None:
        """Remember what the token Secret holds now: a change of it before this read is moot."""
        self.state.token_seen = TokenSeen(secret, key, token_fingerprint(data, key))
        self.state.memory = replace(self.state.memory, secret_changed=False)

    @property
    def _status(self) -> dict[str, Any]:
        return self.state.status if self.state.status is not None else {}

    def _context(self, view: scheduling.ObjectView) -> s.StatusContext:
        return s.StatusContext(self._status, view.generation, utcnow())

    async def _load_status(self) -> None:
        """Start from the status on the server: another replica may have written it last."""
        try:
            found = await self.runtime.kube.get_integration(self.namespace, self.name)
            self.state.status = dict(found.get("status") or {})
        except KubernetesApiError as exc:
            logger.warning("Cannot read %s, using the watched copy: %s", self.key, exc)
            self.state.status = dict(self.body.status)

    async def _write(self, patch: Mapping[str, Any]) -> None:
        """Merge-patch the status. If the API server refuses, the patch stays unsent (merged
        with later ones) and the loop retries it with backoff before doing anything else."""
        self.state.status = s.merge_patch(self._status, patch)
        self.state.unsent_status = s.compose_patches(self.state.unsent_status or {}, patch)
        await self._flush_status()

    async def _flush_status(self) -> bool:
        """Send the unsent status patch; True once the API server has it (or never will)."""
        patch = self.state.unsent_status
        if patch is None:
            return True
        try:
            written = await self.runtime.kube.patch_integration_status(
                self.namespace, self.name, patch
            )
        except ObjectNotFound:
            logger.info("%s is gone; its status was not written", self.key)
            self.state.unsent_status = None
            return True
        except KubernetesApiError as exc:
            if exc.status in REJECTED_FOR_GOOD:
                logger.error("The API server rejected the status of %s: %s", self.key, exc)
                self.state.unsent_status = None
                await self._load_status()
                return True
            self.state.status_write_failures += 1
            config, rng = self.runtime.config, self.runtime.rng
            retry = scheduling.retry_after(
                utcnow(), self.state.status_write_failures, config.retry_backoff_max, config, rng
            )
            self.state.status_retry_at = retry
            logger.warning(
                "Cannot write the status of %s: %s; retrying at %s",
                self.key,
                exc,
                c.format_time(retry),
            )
            return False
        self.state.unsent_status = None
        self.state.status_write_failures = 0
        self.state.status_retry_at = None
        # The server's copy is the truth: another writer may have changed other fields.
        found = written.get("status")
        if isinstance(found, Mapping):
            self.state.status = dict(found)
        return True

    def _warn_once(self, reason: str, message: str) -> None:
        """A Warning event per new problem, not one per retry of the same problem."""
        if self.state.last_problem != (reason, message):
            self.state.last_problem = (reason, message)
            kopf.warn(self.body, reason=reason, message=message)


async def remove_integration(runtime: OperatorRuntime, namespace: str, name: str) -> None:
    """The OktaIntegration is being deleted: stop its syncs and mark its rows removed."""
    key = integration_key(namespace, name)
    state = runtime.integration(key)
    state.removed = True
    state.poke()
    async with state.lock:  # waits for a sync in progress to finish
        await asyncio.to_thread(runtime.directory.mark_integration_removed, key, utcnow())
    runtime.forget(key)
    logger.info("%s deleted: its syncs stopped; its directory rows are kept", key)

"""Reconciling one OktaIntegration: decide, run, report.

One ``IntegrationReconciler`` runs per OktaIntegration, in a Kopf daemon, for as long as the
object exists and this operator is the active one. Its loop asks ``scheduling.decide`` what
to do (a spec change, a resync request, an approval, a changed token, the schedule) and
sleeps until then or until the object changes (the event handler pokes it). Secrets are not
watched: an integration stalled on its token Secret reads it again on a short schedule. A
sync is ``IntegrationSync.run`` (``okta_hris.services``), the same as ``okta-hris sync``;
``Reporter`` turns its outcome into status, Events, metrics and logs, and
``StatusWriter`` gets the status onto the server. The per-integration lock keeps two syncs of
one integration apart; the operator-wide semaphore caps how many integrations sync at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import kopf

from okta_hris.controller import conditions, scheduling
from okta_hris.controller.credentials import ClusterCredentials
from okta_hris.controller.kube import KubernetesApiError
from okta_hris.controller.logs import bind_integration
from okta_hris.controller.reporting import Reporter, utcnow
from okta_hris.controller.runtime import DROPPED_SUSPENDED, IntegrationState, OperatorRuntime
from okta_hris.controller.status_writer import StatusWriter
from okta_hris.errors import HrisError, SecretNotFound
from okta_hris.services import Failed, Succeeded

logger = logging.getLogger(__name__)

# After an unexpected error in the loop itself, wait this long before looking again.
LOOP_ERROR_PAUSE_S = 10.0


def integration_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


class IntegrationReconciler:
    def __init__(self, runtime: OperatorRuntime, body: kopf.Body) -> None:
        self.runtime = runtime
        self.body = body  # Kopf's live view: always the latest version of the object
        self.namespace = str(body.metadata.namespace)
        self.name = str(body.metadata.name)
        self.key = integration_key(self.namespace, self.name)
        self.state: IntegrationState = runtime.integration(self.key)
        if self.state.status is None:  # kept across daemon restarts, with what is unsent
            self.state.status = StatusWriter(
                runtime.kube, self.namespace, self.name, runtime.config, runtime.rng
            )
        self.status: StatusWriter = self.state.status
        self.status.watched = lambda: body.status
        self.reporter = Reporter(runtime, body, self.state, self.status)
        self.credentials = ClusterCredentials(runtime.kube, self.namespace, self.state)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, stopped: kopf.DaemonStopped) -> None:
        bind_integration(self.namespace, self.name)  # every line of this daemon names it
        events = asyncio.create_task(self._collect_events())
        try:
            await self.status.load()
            self.runtime.metrics.restore(self.key, self.status.model)
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
            events.cancel()
            # Stopped for a deletion, a pause (another replica is active now) or the operator's
            # exit: this replica no longer knows the integration's state, so it stops saying it.
            self.runtime.metrics.forget(self.key)

    async def _collect_events(self) -> None:
        """Wake the loop each time hook events have been debounced into a batch."""
        while True:
            await self.state.hooks.debounced()
            self.state.wake.set()

    async def _step(self, stopped: kopf.DaemonStopped) -> None:
        """Decide, then run what was decided (or sleep until something changes)."""
        view = self._view()
        self._configure_hooks(view)
        action = scheduling.decide(
            view, self.state.memory, utcnow(), events_ready=self.state.hooks.ready is not None
        )
        if isinstance(action, scheduling.Wait):
            self.runtime.metrics.scheduled(self.key, action.next_sync)
            delay = None if action.until is None else (action.until - utcnow()).total_seconds()
            await self._sleep(delay, stopped)
            return
        async with self.state.lock:
            if stopped or self.state.removed:
                return
            if isinstance(action, scheduling.Sync):
                # Every sync reads the token afresh: a change seen before is moot.
                self.state.memory = replace(self.state.memory, secret_changed=False)
                await self._sync(view, action)
            elif isinstance(action, scheduling.CheckSecret):
                await self._check_secret(view)
            elif isinstance(action, scheduling.Suspend):
                self._drop_events()
                await self.reporter.suspended(view)
            elif isinstance(action, scheduling.ReportInvalidSpec):
                await self.reporter.invalid_spec(view, action)
            elif isinstance(action, scheduling.IgnoreApproval):
                await self.reporter.approval_ignored(action)
            else:
                await self._invite_all_pending(view, action)

    async def _sync(self, view: scheduling.ObjectView, action: scheduling.Sync) -> None:
        """Every sync, the hourly one included: report the start, sync, report the outcome."""
        assert view.spec is not None  # decide() syncs only a valid spec
        approved = self._use_approval(action)
        self.reporter.resuming()
        async with self.runtime.semaphore:
            # Every sync covers the hook events received so far: an Event sync targets just
            # them, any other reads everything they name anyway.
            covered = self.state.hooks.take()
            await self.reporter.sync_started(view, action)
            self.runtime.metrics.syncs_in_progress.inc()
            try:
                outcome = await self.runtime.syncs.run(
                    self.key,
                    view.spec,
                    self.credentials,
                    force_full=action.force_full,
                    approved_deactivations=approved,
                    events=covered if action.trigger is scheduling.Trigger.EVENTS else None,
                )
            except BaseException:
                if covered is not None:
                    self.state.hooks.give_back(covered)
                raise
            finally:
                self.runtime.metrics.syncs_in_progress.dec()
            if covered is not None and not isinstance(outcome, Succeeded):
                self.state.hooks.give_back(covered)
            await self.reporter.sync_finished(view, action, outcome, covered)

    def _configure_hooks(self, view: scheduling.ObjectView) -> None:
        """Event hooks as the spec says now: on with a valid spec that enables them."""
        spec = view.spec
        hooks = spec.sync.event_hooks if spec is not None else None
        if hooks is None or not hooks.enabled:
            self.state.hooks.configure(None, None, 0.0, view.suspended)
            return
        credentials = self.credentials

        async def read() -> str:
            return await credentials.hook_authorization(hooks)

        self.state.hooks.configure(hooks, read, hooks.debounce_seconds, view.suspended)

    def _drop_events(self) -> None:
        """Suspended: the events waiting are dropped (counted), never queued for ever; the
        first sync after resuming reads everything they named anyway."""
        dropped = self.state.hooks.take()
        if dropped is not None:
            self.runtime.metrics.hook_rejected(self.key, DROPPED_SUSPENDED, dropped.events)

    def _use_approval(self, action: scheduling.Sync) -> int | None:
        """The count a sync may deactivate by approval. Used by this sync only; if it fails,
        the next scheduled sync may use it again (``Memory.approval_attempted``)."""
        if action.approval is None:
            return None
        self.state.memory = replace(self.state.memory, approval_attempted=action.approval)
        return scheduling.approval_count(action.approval)

    async def _invite_all_pending(
        self, view: scheduling.ObjectView, action: scheduling.InviteAllPending
    ) -> None:
        assert view.spec is not None
        try:
            queued, delivery = await self.runtime.syncs.invite_all_pending(
                self.key, view.spec, self.credentials
            )
        except Exception as exc:
            self._invite_all_failed(view, exc)
            return
        self.state.invite_all_failures = 0
        self.state.invite_all_problem = None
        self.state.memory = replace(self.state.memory, invite_all_not_before=None)
        await self.reporter.invitations_queued(queued, delivery, action.value)

    def _invite_all_failed(self, view: scheduling.ObjectView, exc: Exception) -> None:
        """Try again later, with backoff."""
        if isinstance(exc, HrisError):
            problem = str(exc)
        else:
            logger.exception("Queueing invitations of %s failed unexpectedly", self.key)
            problem = f"unexpected error: {type(exc).__name__}"
        config, rng = self.runtime.config, self.runtime.rng
        self.state.invite_all_failures += 1
        interval = scheduling.effective_interval(view.interval, config)
        retry = scheduling.retry_after(
            utcnow(), self.state.invite_all_failures, interval, config, rng
        )
        self.state.memory = replace(self.state.memory, invite_all_not_before=retry)
        self.reporter.invitations_not_queued(problem, retry)

    async def _check_secret(self, view: scheduling.ObjectView) -> None:
        """Stalled on its token Secret: read it again. Another token retries the sync at once;
        the same one retries nothing (no retry storm against Okta for an unchanged bad token)."""
        assert view.spec is not None
        try:
            changed = await self.credentials.token_changed(view.spec)
        except KubernetesApiError as exc:
            logger.warning("Cannot read the token Secret of %s again: %s", self.key, exc)
            changed = False
        memory = self.state.memory
        self.state.memory = replace(
            memory,
            secret_changed=memory.secret_changed or changed,
            secret_check_at=utcnow() + self.runtime.config.secret_retry,
        )
        if changed:
            logger.info("The token Secret of %s changed: syncing again", self.key)

    async def _status_unsent(self, stopped: kopf.DaemonStopped) -> bool:
        """Retry a status write the API server refused; True while it is still not written.

        Nothing else happens meanwhile: what the operator did must be on the server (an echo
        of a resync, the end of a sync) before it acts on it again.
        """
        if self.status.unsent is None:
            return False
        retry_at = self.status.retry_at
        if retry_at is not None and retry_at > utcnow():
            await self._sleep((retry_at - utcnow()).total_seconds(), stopped)
            return True
        return not await self.status.flush()

    async def _resume(self) -> None:
        """Catch up with what happened while no operator (or another replica) was running.

        Syncs that fell due meanwhile are spread over a short window instead of all starting
        at once. An integration stalled on its Secret tries once more, as a token this process
        never read counts as changed (``token_changed``): it may have been fixed meanwhile. A
        healthy one checks that its token Secret is still readable, so that a deleted Secret
        shows in status now rather than at the next sync.
        """
        config, rng = self.runtime.config, self.runtime.rng
        self.state.memory = replace(
            self.state.memory, not_before=scheduling.restart_spread(utcnow(), config, rng)
        )
        view = self._view()
        ready = view.status.condition(conditions.READY)
        next_action = scheduling.decide(view, self.state.memory, utcnow())
        if ready is None or ready.status != "True" or not isinstance(next_action, scheduling.Wait):
            return  # a sync comes first anyway (or it is suspended, or not healthy)
        if view.spec is None:
            return  # reported by the first step
        try:
            await self.credentials.okta_credential(view.spec)
        except SecretNotFound as exc:
            async with self.state.lock:
                await self.reporter.failed(view, Failed.of(exc), None, synced=False)
        except KubernetesApiError as exc:
            logger.warning("Cannot check the token Secret of %s: %s", self.key, exc)

    def _view(self) -> scheduling.ObjectView:
        return scheduling.ObjectView.from_object(
            self.body.spec,
            self.body.metadata,
            self.status.model,
            self.runtime.settings.allowed_domains,
        )

    async def _sleep(self, seconds: float | None, stopped: kopf.DaemonStopped) -> None:
        """Until the time comes, the object changes, or the daemon must stop."""
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

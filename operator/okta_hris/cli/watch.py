"""``okta-hris sync -f FILE --watch``: event-driven syncs of one manifest, in the foreground.

The receiver listens on ``HRIS_HOOKS_ADDRESS`` (default ``0.0.0.0:8081``) at
``/hooks/okta/<namespace>/<name>``, as the operator does. After one normal sync, each batch of
events (after ``spec.sync.eventHooks.debounce``) runs a targeted sync, and every
``spec.sync.interval`` the periodic sync runs as the safety net for deliveries Okta never made;
one sync at a time, one line each. Ctrl-C or SIGTERM stops it; a sync in progress is cancelled
and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence

from rich.markup import escape as markup_escape

from okta_hris.cli.common import resolve_database_url, stdout
from okta_hris.cli.sync import SyncJob, terminate_as_interrupt
from okta_hris.cli.tables import clean
from okta_hris.directory.store import Directory
from okta_hris.domain.events import EventBatch, HookEvent
from okta_hris.errors import ConfigError, SecretNotFound
from okta_hris.eventhooks import (
    DEFAULT_HOOKS_ADDRESS,
    HOOK_PATH,
    EventHookReceiver,
    PendingEvents,
    parse_hooks_address,
)
from okta_hris.okta.eventhooks import authorization_value
from okta_hris.services import Failed, Held, Outcome, Succeeded
from okta_hris.settings import Settings


class WatchedIntegration:
    """The file's one integration as the receiver's ``HookTarget``."""

    def __init__(self, integration: str, authorization: str, pending: PendingEvents) -> None:
        self.integration = integration
        self._authorization = authorization
        self.pending = pending

    async def authorization(self, integration: str) -> str | None:
        return self._authorization if integration == self.integration else None

    def offer(self, integration: str, events: Sequence[HookEvent]) -> bool:
        return self.pending.offer(events)


def hook_authorization(job: SyncJob, command: str) -> str:
    """The Authorization value Okta's deliveries carry, from the file's Secret; ``command``
    (``--watch``, ``hooks register``) is named when event hooks are not set up."""
    hooks = job.manifest.spec.sync.event_hooks
    ref = hooks.auth_secret_ref
    if not hooks.enabled or ref is None:
        raise ConfigError(
            f"{command} needs spec.sync.eventHooks.enabled: true and its authSecretRef "
            "(the Authorization value Okta sends with each delivery)"
        )
    where = f"key {ref.key!r} of Secret {ref.name!r} in {job.manifests.source}"
    try:
        raw = job.manifests.secret_value(ref.name, ref.key)
    except SecretNotFound as exc:
        raise SecretNotFound(f"{exc}; Okta's deliveries are checked against it") from None
    return authorization_value(raw, where)


def hooks_address() -> tuple[str, int]:
    return parse_hooks_address(os.environ.get("HRIS_HOOKS_ADDRESS") or DEFAULT_HOOKS_ADDRESS)


def describe(outcome: Outcome, events: EventBatch | None) -> str:
    """One line for a sync of the watch loop."""
    covering = f" ({events.events} events)" if events else ""
    if isinstance(outcome, Succeeded):
        report, stats = outcome.report, outcome.report.stats
        line = (
            f"{report.mode} sync of {report.integration}{covering}: {stats.created} created, "
            f"{stats.updated} updated, {stats.deactivated} deactivated, "
            f"{stats.api_requests} Okta requests, {report.duration_seconds:.2f}s"
        )
        if outcome.delivery is not None and outcome.delivery.problem is not None:
            line += f"; invitations not sent: {outcome.delivery.problem}"
        return line
    if isinstance(outcome, Held):
        hold = outcome.hold
        return (
            f"sync held{covering}, nothing applied: it would deactivate "
            f"{hold.would_deactivate} of {hold.directory_size} active employees, more than "
            f"safety.maxDeactivations allows ({hold.limit}); approve with okta-hris sync -f "
            f"FILE --approve-deactivations {hold.would_deactivate}"
        )
    return f"sync failed{covering}: {outcome.reason}: {outcome.message}"


async def watch(
    job: SyncJob,
    directory: Directory,
    settings: Settings,
    *,
    address: tuple[str, int],
    say: Callable[[str], None],
    force_full: bool = False,
    approved_deactivations: int | None = None,
    deliver_invitations: bool = True,
) -> None:
    """Serve the hook receiver and run the syncs until cancelled. Raises the first sync's
    error when it is permanent (a bad token, a missing Secret): nothing would ever work."""
    manifest = job.manifest
    integration, spec = manifest.integration_key, manifest.spec
    service = job.service(directory, settings)
    pending = PendingEvents()
    target = WatchedIntegration(integration, hook_authorization(job, "--watch"), pending)
    receiver = EventHookReceiver(target, *address)
    loop = asyncio.get_running_loop()
    interval = spec.sync.interval_timedelta.total_seconds()
    debounce = spec.sync.event_hooks.debounce_seconds

    async def sync(
        events: EventBatch | None = None,
        *,
        covered: EventBatch | None = None,
        force_full: bool = False,
        approved_deactivations: int | None = None,
    ) -> Outcome:
        """A targeted sync of ``events``, or a normal one (which covers ``covered``)."""
        outcome = await service.run(
            integration,
            spec,
            job,
            force_full=force_full,
            approved_deactivations=approved_deactivations,
            deliver_invitations=deliver_invitations,
            events=events,
        )
        say(describe(outcome, events or covered))
        return outcome

    # Listening before the first sync: what changes while it runs is queued, not refused.
    await receiver.start()
    try:
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        path = HOOK_PATH.format(
            namespace=manifest.metadata.namespace or "default", name=manifest.metadata.name
        )
        say(f"listening for Okta event hooks at http://{host}:{receiver.port}{path}")
        outcome = await sync(force_full=force_full, approved_deactivations=approved_deactivations)
        if isinstance(outcome, Failed) and outcome.permanent:
            raise outcome.error
        next_periodic = loop.time() + interval
        # The events of a sync that failed or was held: the next sync covers them too.
        unsynced = EventBatch()
        while True:
            batch = asyncio.ensure_future(pending.next_batch(debounce))
            done, _ = await asyncio.wait({batch}, timeout=max(0.0, next_periodic - loop.time()))
            if batch in done:
                events = unsynced.merge(batch.result())
                outcome = await sync(events)
            else:
                batch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await batch
                # The periodic sync reads every change since its watermark: it covers what
                # waits.
                events = unsynced.merge(pending.take() or EventBatch())
                outcome = await sync(covered=events if events.events else None)
                next_periodic = loop.time() + interval
            unsynced = events if isinstance(outcome, Failed | Held) else EventBatch()
    finally:
        await receiver.stop()


def watch_file(
    job: SyncJob,
    settings: Settings,
    database: str | None,
    output: str,
    force_full: bool,
    approved_deactivations: int | None,
    deliver_invitations: bool,
) -> None:
    """``sync --watch``: checked before anything runs, stopped by Ctrl-C or SIGTERM."""
    if output == "json":
        raise ConfigError("--watch prints one line per sync; it has no -o json")
    address = hooks_address()
    hook_authorization(job, "--watch")

    def say(line: str) -> None:  # Okta's values are quoted in lines: printed, never styled
        stdout.print(markup_escape(clean(line)), highlight=False)

    with (
        terminate_as_interrupt(),
        Directory.open(resolve_database_url(database, settings)) as directory,
    ):
        try:
            asyncio.run(
                watch(
                    job,
                    directory,
                    settings,
                    address=address,
                    say=say,
                    force_full=force_full,
                    approved_deactivations=approved_deactivations,
                    deliver_invitations=deliver_invitations,
                )
            )
        except KeyboardInterrupt:
            say("stopped watching (a sync in progress, if any, was cancelled and changed nothing)")

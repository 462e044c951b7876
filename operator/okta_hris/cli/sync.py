"""``okta-hris sync`` and ``okta-hris plan``: one sync of a manifest file, without Kubernetes.

Both print for people by default (a summary table, the planned names) and, with ``-o json``,
one JSON document on stdout for scripts (``sync_document``, ``plan_document``; the shape is in
README.md). Errors are one line on stderr either way, with the same exit codes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import click
from rich.markup import escape as markup_escape
from rich.table import Table
from rich.text import Text

from okta_hris.cli.common import (
    EXIT_CHANGES,
    configure_logging,
    database_option,
    fail,
    load_settings,
    note_empty_directory,
    resolve_database_url,
    run_coroutine,
    stderr,
    stdout,
    user_errors,
    verbose_option,
)
from okta_hris.cli.manifests import (
    SECRET_FILE_LIMIT_BYTES,
    Manifests,
    load_manifest_file,
    load_manifest_stdin,
    read_text_file,
)
from okta_hris.cli.progress import listing_progress
from okta_hris.cli.tables import clean, dump_json, json_value, timestamp
from okta_hris.directory.database import describe_url, parse_url
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DataQuality, PlanWarning
from okta_hris.domain.okta import bare_api_token
from okta_hris.errors import ConfigError, SecretNotFound
from okta_hris.invitations import DeliveryReport, SmtpSettings
from okta_hris.invitations.delivery import describe_delivery
from okta_hris.okta import ApiToken, OAuthServiceApp, OktaCredential
from okta_hris.resource.spec import OktaIntegration, OktaIntegrationSpec
from okta_hris.services import Failed, Held, IntegrationSync, InvitationDelivery, Succeeded
from okta_hris.settings import Settings, check_okta_url_override
from okta_hris.sync.engine import PlannedSync, SyncReport, stats_json
from okta_hris.sync.plan import EmployeeChange, FilterReport, SyncPlan
from okta_hris.sync.timing import describe_time


@dataclass
class SyncJob:
    """Everything one sync of a file needs; the credential is kept out of reprs.

    It is the sync's ``Credentials`` too: the API token (from the file's Secret,
    ``--token-file`` or ``OKTA_API_TOKEN``) or the OAuth service app (its private key from the
    file's Secret) is read when the file is, and the SMTP Secret comes from the file.
    """

    manifests: Manifests
    credential: OktaCredential = field(repr=False)
    okta_url: str | None

    @property
    def manifest(self) -> OktaIntegration:
        return self.manifests.integration

    async def okta_credential(self, spec: OktaIntegrationSpec) -> OktaCredential:
        return self.credential

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> SmtpSettings:
        return smtp_settings(self)

    def service(self, directory: Directory, settings: Settings) -> IntegrationSync:
        return IntegrationSync(
            directory, replace(settings, okta_url=self.okta_url), owner="okta-hris sync"
        )


def load_job(
    path: str,
    name: str | None,
    token_file: str | None,
    okta_url: str | None,
    settings: Settings,
) -> SyncJob:
    if path == "-":  # as kubectl apply -f -
        manifests = load_manifest_stdin(name, allowed_domains=settings.allowed_domains)
    else:
        manifests = load_manifest_file(path, name, allowed_domains=settings.allowed_domains)
    return job_from_manifests(manifests, token_file, okta_url, settings)


def job_from_manifests(
    manifests: Manifests, token_file: str | None, okta_url: str | None, settings: Settings
) -> SyncJob:
    url = okta_url or settings.okta_url
    return SyncJob(
        manifests=manifests,
        credential=_okta_credential(manifests, token_file),
        okta_url=check_okta_url_override(url) if url else None,
    )


def _okta_credential(manifests: Manifests, token_file: str | None) -> OktaCredential:
    okta = manifests.integration.spec.okta
    if okta.oauth is not None:
        # An SSWS token given as well would be one credential too many: say so rather than
        # pick one, so that nobody believes a sync ran with the scoped service app when it
        # did not (or the other way round).
        env_token = os.environ.get("OKTA_API_TOKEN")
        given = "--token-file" if token_file else "OKTA_API_TOKEN" if env_token else None
        if given:
            raise ConfigError(
                f"{given} gives an SSWS API token, but spec.okta uses oauth (a service app): "
                f"drop {given}, or use spec.okta.tokenSecretRef instead"
            )
        key_ref = okta.oauth.private_key_secret_ref
        try:
            pem = manifests.secret_value(key_ref.name, key_ref.key)
        except SecretNotFound as exc:
            raise SecretNotFound(f"{exc}; add the service app's private key") from None
        where = f"key {key_ref.key!r} of Secret {key_ref.name!r} in {manifests.source}"
        return OAuthServiceApp.from_settings(okta.oauth, pem, where)
    ref = okta.token_secret_ref
    assert ref is not None  # the spec sets exactly one of the two
    if token_file:
        text = read_text_file(token_file, limit=SECRET_FILE_LIMIT_BYTES, what="--token-file")
        token = bare_api_token(text)
    elif os.environ.get("OKTA_API_TOKEN"):
        token = bare_api_token(os.environ["OKTA_API_TOKEN"])
    else:
        try:
            token = bare_api_token(manifests.secret_value(ref.name, ref.key))
        except SecretNotFound as exc:
            raise SecretNotFound(
                f"{exc}; add it, or pass --token-file or set OKTA_API_TOKEN"
            ) from None
    if not token:
        raise SecretNotFound(f"the Okta API token (Secret {ref.name!r}, key {ref.key!r}) is empty")
    return ApiToken(token)


def run_job(
    job: SyncJob,
    directory: Directory,
    settings: Settings,
    *,
    force_full: bool = False,
    approved: int | None = None,
    deliver_invitations: bool = False,
    show_progress: bool = True,
    applied: Callable[[SyncReport], None] | None = None,
) -> Succeeded:
    """One sync of the file's integration; a held or failed sync raises its error.

    ``applied`` gets the report once the sync has committed, before invitations are sent.
    """
    manifest = job.manifest
    with listing_progress(show_progress and stderr.is_terminal) as progress:
        outcome = run_coroutine(
            job.service(directory, settings).run(
                manifest.integration_key,
                manifest.spec,
                job,
                force_full=force_full,
                approved_deactivations=approved,
                deliver_invitations=deliver_invitations,
                progress=progress,
                applied=applied,
            )
        )
    if isinstance(outcome, Held):
        raise outcome.hold
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome


def plan_job(
    job: SyncJob,
    directory: Directory,
    settings: Settings,
    *,
    force_full: bool = False,
    show_progress: bool = True,
) -> PlannedSync:
    """What a sync of the file would do, writing nothing."""
    manifest = job.manifest
    with listing_progress(show_progress and stderr.is_terminal) as progress:
        return run_coroutine(
            job.service(directory, settings).plan(
                manifest.integration_key,
                manifest.spec,
                job,
                force_full=force_full,
                progress=progress,
            )
        )


def print_report(
    report: SyncReport,
    *,
    title: str | None = None,
    directory: str | None = None,
    verbose: bool = False,
) -> None:
    """The summary of an applied sync; ``directory`` says where it was written (no password).

    ``verbose`` (``-v``) adds where the time went: each phase's seconds and the rate-limit waits.
    """
    stats = report.stats
    table = Table(
        title=title or f"{report.mode} sync of {report.integration}",
        title_justify="left",
        show_header=False,
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("Okta users fetched", stats.fetched),
        ("in scope", stats.matched),
        ("created", stats.created),
        ("updated", stats.updated),
        ("  of which reactivated", stats.reactivated),
        ("deactivated", stats.deactivated),
        ("unchanged", stats.unchanged),
        *([("left out (id or status not storable)", stats.skipped)] if stats.skipped else []),
        ("Okta API requests", stats.api_requests),
        ("rate limited (429)", stats.rate_limited),
        # Waits for a window to reset: the client's own, before a 429, are most of them.
        ("waited for the rate limit", stats.rate_limit_waits),
        *(
            [("  seconds waited", round(stats.rate_limit_wait_seconds))]
            if stats.rate_limit_waits
            else []
        ),
        ("employees (total)", report.summary.total),
        ("  active", report.summary.active),
        ("  inactive", report.summary.inactive),
        ("teams", report.summary.teams),
    ]
    if report.invitations_queued:
        rows.append(("invitations queued", report.invitations_queued))
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    table.caption = f"{report.duration_seconds:.2f}s"
    stdout.print(table)
    print_data_quality(report.plan.data_quality)
    if verbose:
        stdout.print(f"time: {describe_time(report.timings, stats)}", highlight=False)
    if directory is not None:  # a line of its own: a long path must not wrap inside the table
        stdout.print(Text(f"written to the directory {directory}"))  # a path may hold "[/"


def _shown(value: object, limit: int = 60) -> str:
    """A column's value in a plan line: one line, never long, ``(none)`` for null."""
    if value is None or value == ():
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        value = timestamp(value)
    text = clean(str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _change_line(change: EmployeeChange, values: bool) -> str:
    """``Jane Doe (00u1)``, or with ``values`` ``Jane Doe: city Berlin → Hamburg; title
    (none) → Engineer (00u1)``, as rich markup: Okta's values cleaned (no line breaks, no escape
    sequences: a value must not print a line of its own or move the cursor) and escaped
    (``[bold]`` is shown as written, never styled)."""
    line = clean(change.display_name) or "(no name)"
    if values and change.changes:
        line += ": " + "; ".join(
            f"{c.name} {_shown(c.old)} → {_shown(c.new)}" for c in change.changes
        )
    return markup_escape(f"{line} ({clean(change.okta_id)})")


def _names(changes: Sequence[EmployeeChange], limit: int, *, values: bool = False) -> list[str]:
    """One line per change, in name order, at most ``limit`` of them."""
    shown = [_change_line(c, values) for c in changes[:limit]]
    if len(changes) > limit:
        shown.append(f"... and {len(changes) - limit} more")
    return shown


def print_warnings(warnings: Sequence[PlanWarning]) -> None:
    for warning in warnings:
        stderr.print(f"warning: {markup_escape(clean(warning.message))}", highlight=False)


def print_filters(report: FilterReport) -> None:
    """Which groups the team entries mean and how many users each filter keeps: what a GitOps
    reviewer needs to see what a filter change does."""
    if report.scope_all:
        return
    stdout.print(
        f"  filters: {report.matched:,} of {report.users:,} Okta users in scope", highlight=False
    )
    members = dict(report.group_members)
    for entry in report.team_entries:
        groups = ", ".join(
            f"{name} ({group_id}, {members.get(group_id, 0):,} members)"
            for name, group_id in zip(entry.names, entry.group_ids, strict=True)
        )
        stdout.print(
            markup_escape(clean(f"    teams {entry.side} {entry.entry}: {groups}")),
            highlight=False,
        )
    for name, written, kept in report.kept:
        stdout.print(
            markup_escape(f"    {name} {clean(written)}: keeps {kept:,} of {report.users:,}"),
            highlight=False,
        )


def print_data_quality(quality: DataQuality) -> None:
    """The data-quality lines of a summary: what the active employees' records lack."""
    stdout.print(
        f"data quality: {quality.invalid_phones:,} invalid phones, "
        f"{quality.unknown_countries:,} unknown countries, "
        f"{quality.incomplete_addresses:,} incomplete addresses (active employees)",
        highlight=False,
    )


def print_plan(report: PlannedSync, limit: int) -> None:
    plan = report.plan
    stdout.print(
        f"[bold]{report.integration}[/]: {report.mode.lower()} sync would create "
        f"{len(plan.created)}, update {len(plan.updated)}, deactivate {len(plan.deactivated)} "
        f"({plan.unchanged} unchanged, {report.stats.api_requests} Okta requests)",
        highlight=False,
    )
    print_filters(plan.filters)
    reactivated = {c.okta_id for c in plan.reactivated}
    for label, style, changes in (
        ("create", "green", plan.created),
        ("reactivate", "green", plan.reactivated),
        ("update", "yellow", [c for c in plan.updated if c.okta_id not in reactivated]),
        ("deactivate", "red", plan.deactivated),
    ):
        for line in _names(changes, limit, values=label == "update"):
            stdout.print(f"  [{style}]{label:>10}[/] {line}", highlight=False)
    writes = plan.changes
    if writes.teams_upsert or writes.teams_delete:
        stdout.print(
            f"  teams: {len(writes.teams_upsert)} created or changed, "
            f"{len(writes.teams_delete)} removed ({plan.teams} after the sync)",
            highlight=False,
        )
    print_data_quality(plan.data_quality)
    if report.held:
        stdout.print(
            f"[bold red]held:[/] a sync would deactivate {len(plan.deactivated)} employees, "
            f"more than safety.maxDeactivations allows ({report.deactivation_limit}); "
            f"it would apply nothing until approved with --approve-deactivations "
            f"{len(plan.deactivated)}",
            highlight=False,
        )


def smtp_settings(job: SyncJob) -> SmtpSettings:
    """The SMTP Secret of FILE, checked before a sync so a missing one stops it early."""
    settings = job.manifest.spec.invitations
    assert settings.smtp_secret_ref is not None
    secret = job.manifests.secret(settings.smtp_secret_ref.name)
    if secret is None:
        raise SecretNotFound(
            f"invitations are enabled but {job.manifests.source} has no Secret "
            f"{settings.smtp_secret_ref.name!r} with the SMTP settings "
            "(or pass --no-invitations)"
        )
    return SmtpSettings.from_secret_data(secret.data)


def print_delivery(delivery: InvitationDelivery | None) -> None:
    """The invitations a sync sent; a problem that kept them from being sent fails the run."""
    if delivery is None:
        return
    if delivery.problem is not None:
        fail(
            "the sync was applied, but its invitations were not sent: "
            + markup_escape(clean(delivery.problem))
        )
    report = delivery.report
    assert report is not None
    # The relay's answer is quoted in it: printed as text, never as markup.
    stdout.print(f"invitations: {markup_escape(clean(describe_delivery(report)))}", highlight=False)


# -- -o json -------------------------------------------------------------------------------------


def _changes(plan: SyncPlan) -> dict[str, Any]:
    def rows(changes: Sequence[EmployeeChange], *, fields: bool = False) -> list[dict[str, Any]]:
        return [
            {"oktaId": c.okta_id, "displayName": c.display_name}
            | (
                {
                    "fields": list(c.fields),
                    "values": {
                        f.name: {"old": json_value(f.old), "new": json_value(f.new)}
                        for f in c.changes
                    },
                }
                if fields
                else {}
            )
            for c in changes
        ]

    return {
        "created": rows(plan.created),
        "updated": rows(plan.updated, fields=True),  # reactivations included, as in counts
        "reactivated": rows(plan.reactivated),
        "deactivated": rows(plan.deactivated),
        "teams": {
            "upserted": len(plan.changes.teams_upsert),
            "removed": len(plan.changes.teams_delete),
        },
    }


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _delivery(report: DeliveryReport) -> dict[str, Any]:
    return {
        "sent": report.sent,
        "failed": report.failed,
        "toRetry": report.deferred,
        "pending": report.pending,
        "nextAttemptAt": _timestamp(report.next_attempt_at),
        "lastError": report.last_error,
    }


def _filters(report: FilterReport) -> dict[str, Any]:
    members = dict(report.group_members)
    return {
        "scope": "All" if report.scope_all else "Filtered",
        "users": report.users,
        "matched": report.matched,
        "teams": [
            {
                "side": e.side,
                "entry": e.entry,
                "groups": [
                    {"id": g, "name": n, "members": members.get(g, 0)}
                    for n, g in zip(e.names, e.group_ids, strict=True)
                ],
            }
            for e in report.team_entries
        ],
        "kept": {name: kept for name, _, kept in report.kept},
    }


def _data_quality(quality: DataQuality) -> dict[str, int]:
    return {
        "invalidPhones": quality.invalid_phones,
        "unknownCountries": quality.unknown_countries,
        "incompleteAddresses": quality.incomplete_addresses,
    }


def plan_document(planned: PlannedSync, directory: str) -> dict[str, Any]:
    """``okta-hris plan -o json``: what a sync would change, every name included."""
    return {
        "integration": planned.integration,
        "mode": planned.mode,
        "applied": False,
        "directory": directory,
        "counts": stats_json(planned.stats),
        "changes": _changes(planned.plan),
        "held": planned.held,
        "deactivationLimit": planned.deactivation_limit,
        "invitations": {"queued": planned.invitations_queued},
        "filters": _filters(planned.plan.filters),
        "dataQuality": _data_quality(planned.plan.data_quality),
        "teamsAfter": planned.plan.teams,
        "warnings": [w.message for w in planned.plan.warnings],
    }


def sync_document(outcome: Succeeded, directory: str) -> dict[str, Any]:
    """``okta-hris sync -o json``: what an applied sync changed, and its invitations."""
    report, summary = outcome.report, outcome.summary
    invitations: dict[str, Any] = {"queued": report.invitations_queued}
    if outcome.delivery is not None:
        if outcome.delivery.report is not None:
            invitations |= _delivery(outcome.delivery.report)
        invitations["problem"] = outcome.delivery.problem
    return {
        "integration": report.integration,
        "mode": report.mode,
        "applied": True,
        "directory": directory,
        "counts": stats_json(report.stats),
        "changes": _changes(report.plan),
        "held": False,
        "deactivationLimit": report.deactivation_limit,
        "invitations": invitations,
        "employees": {
            "total": summary.total,
            "active": summary.active,
            "inactive": summary.inactive,
        },
        "teams": summary.teams,
        "dataQuality": _data_quality(report.plan.data_quality),
        "warnings": [w.message for w in report.plan.warnings],
        "startedAt": _timestamp(report.started_at),
        "finishedAt": _timestamp(report.finished_at),
        "durationSeconds": round(report.duration_seconds, 3),
    }


def print_document(document: dict[str, Any]) -> None:
    click.echo(dump_json(document))  # Okta's values exact, escaped where a terminal would act


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``, a CI job cancelled) stops a sync as Ctrl-C does: the
    transaction is rolled back and the integration's sync lease released, not left to lapse."""

    def interrupt(signum: int, frame: Any) -> None:
        # Inside asyncio.run, SIGINT's handler is the runner's: it cancels the main task, which
        # unwinds (lease released) before KeyboardInterrupt is raised. Raising here instead
        # could interrupt that unwinding halfway. Outside, it is Python's: KeyboardInterrupt.
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_file_option = click.option(
    "-f",
    "--file",
    "file",
    required=True,
    metavar="FILE",
    help="YAML with the OktaIntegration and the Secrets it references ('-' reads stdin).",
)
_name_option = click.option(
    "--name", metavar="[NS/]NAME", help="Which OktaIntegration of FILE, when it holds several."
)
_token_option = click.option(
    "--token-file", metavar="PATH", help="Read the Okta API token from PATH (overrides the Secret)."
)
_okta_url_option = click.option(
    "--okta-url",
    metavar="URL",
    help="Okta base URL instead of https://<subdomain>.<domain> (plain http only on loopback).",
)
_output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON document on stdout, for scripts (errors stay one line on stderr).",
)


@click.command("sync")
@_file_option
@_name_option
@_token_option
@_okta_url_option
@click.option("--full", is_flag=True, help="Force a full sync.")
@click.option(
    "--approve-deactivations",
    type=click.IntRange(min=0),
    metavar="COUNT",
    help="Release a safety hold of exactly COUNT deactivations.",
)
@click.option("--no-invitations", is_flag=True, help="Queue invitations but do not send them now.")
@click.option(
    "--watch",
    is_flag=True,
    help="Then receive Okta event hooks on HRIS_HOOKS_ADDRESS and sync each change, and on "
    "spec.sync.interval, until interrupted (needs spec.sync.eventHooks).",
)
@_output_option
@database_option
@verbose_option
@user_errors
def sync_command(
    file: str,
    name: str | None,
    token_file: str | None,
    okta_url: str | None,
    full: bool,
    approve_deactivations: int | None,
    no_invitations: bool,
    watch: bool,
    output: str,
    database: str | None,
    verbose: bool,
) -> None:
    """Sync the OktaIntegration in FILE once, without Kubernetes."""
    configure_logging(verbose)
    settings = load_settings()
    job = load_job(file, name, token_file, okta_url, settings)
    invite = job.manifest.spec.invitations.enabled and not no_invitations
    if invite:
        smtp_settings(job)  # a missing SMTP Secret stops the sync before it starts
    if watch:
        from okta_hris.cli.watch import watch_file  # which imports this module

        watch_file(job, settings, database, output, full, approve_deactivations, invite)
        return
    with (
        terminate_as_interrupt(),
        Directory.open(resolve_database_url(database, settings)) as directory,
    ):
        where = describe_url(directory.engine.url)
        as_json = output == "json"
        outcome = run_job(
            job,
            directory,
            settings,
            force_full=full,
            approved=approve_deactivations,
            deliver_invitations=invite,
            applied=None
            if as_json
            else lambda report: print_report(report, directory=where, verbose=verbose),
        )
    print_warnings(outcome.report.plan.warnings)
    if as_json:
        print_document(sync_document(outcome, where))
        problem = outcome.delivery.problem if outcome.delivery is not None else None
        if problem is not None:
            fail(
                "the sync was applied, but its invitations were not sent: "
                + markup_escape(clean(problem))
            )
        return
    print_delivery(outcome.delivery)


@click.command("plan")
@_file_option
@_name_option
@_token_option
@_okta_url_option
@click.option("--full", is_flag=True, help="Plan a full sync.")
@click.option("--exit-code", is_flag=True, help="Exit 2 when the sync would change the directory.")
@click.option(
    "--limit", default=50, show_default=True, help="Names shown per kind of change (text output)."
)
@_output_option
@database_option
@verbose_option
@user_errors
def plan_command(
    file: str,
    name: str | None,
    token_file: str | None,
    okta_url: str | None,
    full: bool,
    exit_code: bool,
    limit: int,
    output: str,
    database: str | None,
    verbose: bool,
) -> None:
    """Show what a sync of FILE would change, writing nothing."""
    configure_logging(verbose)
    settings = load_settings()
    job = load_job(file, name, token_file, okta_url, settings)
    url = resolve_database_url(database, settings)
    # Read-only: a plan creates no schema, switches no journal mode and migrates nothing.
    found = Directory.open_existing(url, read_only=True)
    with found or Directory.open("sqlite://") as directory:
        planned = plan_job(job, directory, settings, force_full=full)
    if found is None:
        note_empty_directory(url)
    print_warnings(planned.plan.warnings)
    if output == "json":
        print_document(plan_document(planned, describe_url(parse_url(url))))
    else:
        print_plan(planned, limit)
    if exit_code and planned.plan.changed:
        raise SystemExit(EXIT_CHANGES)

"""``okta-hris invitations``: list the invitation outbox and send what is pending."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from okta_hris.cli.common import (
    EXIT_ERROR,
    database_option,
    fail,
    load_settings,
    render_value,
    resolve_database_url,
    stdout,
    user_errors,
)
from okta_hris.cli.manifests import Manifests, load_manifest_file
from okta_hris.directory.store import Directory
from okta_hris.domain.invitations import INVITATION_STATUSES, InvitationStatus
from okta_hris.errors import ConfigError, SecretNotFound
from okta_hris.invitations import DeliveryReport, SmtpSettings, deliver_pending

TABLE_COLUMNS = (
    "integration",
    "display_name",
    "email",
    "status",
    "attempts",
    "sent_at",
    "last_error",
)
_LAST_ERROR_WIDTH = 60


@click.group("invitations")
def invitations_group() -> None:
    """List and send dashboard invitations."""


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _cell(column: str, value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    text = render_value(value)
    if column == "last_error" and len(text) > _LAST_ERROR_WIDTH:
        return text[: _LAST_ERROR_WIDTH - 1] + "…"
    return text


@invitations_group.command("list")
@click.option("--integration", metavar="NS/NAME", help="Only this integration's invitations.")
@click.option("--status", type=click.Choice(INVITATION_STATUSES), help="Only this status.")
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@database_option
@user_errors
def list_command(
    integration: str | None,
    status: InvitationStatus | None,
    output: str,
    database: str | None,
) -> None:
    """List invitations: who was invited, when, and what failed."""
    url = resolve_database_url(database, load_settings())
    with Directory.open(url) as directory:
        records = directory.outbox.records(integration=integration, status=status)
    if output == "json":
        rows = [{k: _json_value(v) for k, v in asdict(r).items()} for r in records]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(records)} invitations", title_justify="left")
    for column in TABLE_COLUMNS:
        table.add_column(column)
    for record in records:
        table.add_row(*(_cell(c, getattr(record, c)) for c in TABLE_COLUMNS))
    stdout.print(table)


def _smtp_settings(manifests: Manifests) -> SmtpSettings:
    integration = manifests.integration
    invitations = integration.spec.invitations
    what = f"OktaIntegration {integration.metadata.name!r}"
    if not invitations.enabled:
        raise ConfigError(
            f"{manifests.source}: {what} has spec.invitations.enabled "
            "false; enable it to send invitations"
        )
    assert invitations.smtp_secret_ref is not None  # the spec requires it when enabled
    secret_name = invitations.smtp_secret_ref.name
    secret = manifests.secret(secret_name)
    if secret is None:
        raise SecretNotFound(
            f"{manifests.source} has no Secret {secret_name!r} with the SMTP settings of {what}"
        )
    return SmtpSettings.from_secret_data(secret.data)


@invitations_group.command("send")
@click.option(
    "-f",
    "--file",
    "file",
    required=True,
    metavar="FILE",
    help="YAML with the OktaIntegration and its SMTP Secret.",
)
@click.option(
    "--name", metavar="[NS/]NAME", help="Which OktaIntegration of FILE, when it holds several."
)
@click.option(
    "--all-pending",
    is_flag=True,
    help="First queue an invitation for every active employee who never had one.",
)
@click.option("--retry-failed", is_flag=True, help="First make failed invitations pending again.")
@click.option(
    "--company", metavar="NAME", help="Company name in the e-mail. Default: metadata.name."
)
@database_option
@user_errors
def send_command(
    file: str,
    name: str | None,
    all_pending: bool,
    retry_failed: bool,
    company: str | None,
    database: str | None,
) -> None:
    """Send the pending invitations of the OktaIntegration in FILE."""
    settings = load_settings()
    manifests = load_manifest_file(file, name, allowed_domains=settings.allowed_domains)
    smtp = _smtp_settings(manifests)
    integration = manifests.integration
    key = integration.integration_key
    with Directory.open(resolve_database_url(database, settings)) as directory:
        if all_pending:
            queued = directory.outbox.queue_all_pending(key)
            stdout.print(f"{key}: queued {queued} invitations", highlight=False)
        if retry_failed:
            requeued = directory.outbox.requeue_failed(key)
            stdout.print(f"{key}: {requeued} failed invitations pending again", highlight=False)
        report = asyncio.run(
            deliver_pending(
                directory.outbox,
                key,
                integration.spec.invitations,
                smtp,
                company=company or integration.metadata.name,
            )
        )
    _print_report(key, report)


def _print_report(key: str, report: DeliveryReport) -> None:
    retry = ""
    if report.next_attempt_at is not None:
        retry = f" (next retry after {report.next_attempt_at:%Y-%m-%d %H:%M:%SZ})"
    stdout.print(
        f"{key}: {report.sent} sent, {report.failed} failed, {report.deferred} to retry{retry}",
        highlight=False,
    )
    if report.failed or report.deferred:
        fail(
            f"{report.failed + report.deferred} invitations were not delivered; "
            f"last error: {report.last_error}",
            EXIT_ERROR,
        )

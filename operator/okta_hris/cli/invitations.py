"""``okta-hris invitations``: list the invitation outbox and send what is pending."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import click
from pydantic import ValidationError
from rich.markup import escape as markup_escape
from rich.text import Text

from okta_hris.cli.common import (
    EXIT_ERROR,
    configure_logging,
    database_option,
    fail,
    load_settings,
    open_existing_directory,
    stderr,
    stdout,
    user_errors,
)
from okta_hris.cli.directory import check_integration, counted
from okta_hris.cli.manifests import Manifests, load_manifest_file
from okta_hris.cli.tables import Column, cell, clean, dump_json, print_table
from okta_hris.domain.invitations import INVITATION_STATUSES, InvitationStatus
from okta_hris.errors import ConfigError, SecretNotFound
from okta_hris.invitations import DeliveryReport, SmtpSettings, deliver_pending
from okta_hris.invitations.delivery import describe_delivery
from okta_hris.resource.spec import InvitationSettings
from okta_hris.resource.validation import describe_value

# The table's columns in display order; by priority the first to go when the terminal is narrow.
TABLE_COLUMNS = (
    Column("integration", 1),  # shown only when the directory has several
    Column("display_name", 0, wrap=True),
    Column("email", 0),
    Column("status", 0),
    Column("attempts", 4, justify="right"),
    Column("sent_at", 3),
    Column("last_error", 2, wrap=True),
)
_LAST_ERROR_WIDTH = 60


@click.group("invitations")
def invitations_group() -> None:
    """List and send dashboard invitations."""


def _cell(column: str, value: Any) -> str:
    text = cell(value)
    if column == "last_error" and len(text) > _LAST_ERROR_WIDTH:
        return text[: _LAST_ERROR_WIDTH - 1] + "…"
    return text


def _disabled(text: str) -> str:
    return f"invitations are disabled for {text} (spec.invitations.enabled is false)"


@invitations_group.command("list")
@click.option("--integration", metavar="NS/NAME", help="Only this integration's invitations.")
@click.option("--status", type=click.Choice(INVITATION_STATUSES), help="Only this status.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json"]),
    default="table",
    show_default=True,
    help="table: the columns that fit the terminal; wide: every column.",
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
    with open_existing_directory(database) as directory:
        check_integration(directory, integration)
        records = directory.outbox.records(integration=integration, status=status)
        states = directory.sync_states()
        several = integration is None and len(directory.integrations()) > 1
    # As of each integration's last applied sync (spec_hash is set by every apply).
    disabled = sorted(
        key
        for key, state in states.items()
        if integration in (None, key)
        and state.spec_hash is not None
        and state.invitations_enabled_at is None
    )
    note = Text(clean(_disabled(", ".join(disabled)))) if disabled else None
    if output == "json":
        click.echo(dump_json([asdict(record) for record in records]))
        if note is not None:
            stderr.print(Text("note: ").append(note))
        return
    if not records:
        if integration is not None and note is not None:
            stdout.print(note)  # nothing is queued, and nothing will be while they are off
            return
        scope = f" of {integration}" if integration else ""
        stdout.print(Text(clean(f"0 invitations{scope}{f' ({status})' if status else ''}")))
    else:
        columns = [c for c in TABLE_COLUMNS if c.name != "integration" or several]
        print_table(
            stdout,
            counted(len(records), "invitation") + (f" of {integration}" if integration else ""),
            columns,
            [[_cell(c.name, getattr(record, c.name)) for c in columns] for record in records],
            wide=output == "wide",
        )
    if note is not None:
        stdout.print(note)


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
    "--company",
    metavar="NAME",
    help="Company named in the e-mail, instead of spec.invitations.companyName.",
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
    configure_logging(False)  # the report says what went wrong, once; no line per invitation
    settings = load_settings(okta=False)  # it sends e-mail; Okta is not called
    manifests = load_manifest_file(file, name, allowed_domains=settings.allowed_domains)
    smtp = _smtp_settings(manifests)
    integration = manifests.integration
    key = integration.integration_key
    # Invitations go to employees a sync wrote: no directory, or one without this integration,
    # is a mistake (a wrong --database), never "0 sent".
    with open_existing_directory(database) as directory:
        check_integration(directory, key)
        if all_pending:
            queued = directory.outbox.queue_all_pending(key)
            stdout.print(f"{key}: queued {queued} invitations", highlight=False)
        if retry_failed:
            requeued = directory.outbox.requeue_failed(key)
            stdout.print(f"{key}: {requeued} failed invitations pending again", highlight=False)
        invitations = integration.spec.invitations
        if company is not None:
            invitations = _with_company(invitations, company)
        report = asyncio.run(deliver_pending(directory.outbox, key, invitations, smtp))
    _print_report(key, report)


def _with_company(settings: InvitationSettings, company: str) -> InvitationSettings:
    """The settings with another company name, validated as the spec's own would be."""
    data = settings.model_dump(by_alias=True, exclude_none=True) | {"companyName": company}
    try:
        return InvitationSettings.model_validate(data, by_name=False)
    except ValidationError:
        raise ConfigError(
            f"--company {describe_value(company)} is not a company name (one line of text)"
        ) from None


def _print_report(key: str, report: DeliveryReport) -> None:
    # The counts and what is still pending go to stdout; the reason once, on stderr below when
    # this run failed some, else (invitations waiting out an earlier failure) on that line.
    undelivered = bool(report.failed or report.deferred)
    line = clean(describe_delivery(report, reason=not undelivered))
    stdout.print(f"{key}: {markup_escape(line)}", highlight=False)
    if undelivered:
        fail(
            f"{report.failed + report.deferred} invitations were not delivered; "
            f"last error: {markup_escape(clean(report.last_error or ''))}",
            EXIT_ERROR,
        )

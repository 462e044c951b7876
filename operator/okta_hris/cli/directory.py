"""``okta-hris directory``: read the employee directory."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import click
from rich.table import Table

from okta_hris.cli.common import (
    database_option,
    existing_or_empty,
    load_settings,
    render_value,
    resolve_database_url,
    stdout,
    user_errors,
)
from okta_hris.directory.store import Directory

COLUMNS = (
    "integration",
    "okta_id",
    "display_name",
    "work_email",
    "active",
    "okta_status",
    "employment_status",
    "teams",
    "country_code",
    "state",
    "city",
    "zip_code",
    "street_address",
    "mobile_phone",
    "mobile_phone_e164",
    "okta_last_updated",
    "first_synced_at",
    "last_synced_at",
    "deactivated_at",
)
TABLE_COLUMNS = (
    "display_name",
    "work_email",
    "active",
    "employment_status",
    "teams",
    "country_code",
    "city",
)


@click.group("directory")
def directory_group() -> None:
    """Read the employee directory."""


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    return value


@directory_group.command("employees")
@click.option("--integration", metavar="NS/NAME", help="Only this integration's employees.")
@click.option("--team", metavar="T", help="Only members of this team (Okta group name).")
@click.option("--country", metavar="C", help="Only this ISO country code.")
@click.option(
    "--active/--inactive", "active", default=None, help="Only active (or inactive) employees."
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@database_option
@user_errors
def employees_command(
    integration: str | None,
    team: str | None,
    country: str | None,
    active: bool | None,
    output: str,
    database: str | None,
) -> None:
    """List employees, optionally by team or country."""
    url = resolve_database_url(database, load_settings())
    with Directory.open(existing_or_empty(url)) as directory:
        rows = directory.list_employees(
            integration=integration, team=team, country=country, active=active
        )
    records = [{c: getattr(row, c) for c in COLUMNS} for row in rows]
    if output == "json":
        click.echo(
            json.dumps(
                [{k: _json_value(v) for k, v in r.items()} for r in records],
                indent=2,
                ensure_ascii=False,
            )
        )
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow({k: render_value(_json_value(v)) for k, v in record.items()})
        click.echo(buffer.getvalue(), nl=False)
    else:
        table = Table(title=f"{len(records)} employees", title_justify="left")
        for column in TABLE_COLUMNS:
            table.add_column(column)
        for record in records:
            table.add_row(*(render_value(record[c]) for c in TABLE_COLUMNS))
        stdout.print(table)

"""``okta-hris directory``: read the employee directory (employees, teams, sync runs).

Every listing reads a directory that exists (a missing one is an error, never an empty
listing), and checks what it is asked for against what the directory holds: a country that is
no ISO code, an integration or team the directory does not have, is one line with a
did-you-mean rather than "0 employees".
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import click
from rich.markup import escape as markup_escape
from rich.text import Text

from okta_hris.cli.common import database_option, fail, open_existing_directory, stdout, user_errors
from okta_hris.cli.tables import Column, cell, clean, clean_csv, dump_json, json_value, print_table
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import SyncRunRecord
from okta_hris.resource.spec import country_code

# Every field of an employee row (the directory's columns), for -o json and -o csv.
COLUMNS = (
    "integration",
    "okta_id",
    "display_name",
    "first_name",
    "last_name",
    "work_email",
    "personal_email",
    "active",
    "okta_status",
    "employment_status",
    "title",
    "department",
    "employee_number",
    "manager",
    "teams",
    "country_code",
    "state",
    "state_code",
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
# The table's columns in display order; by priority the first to go when the terminal is narrow.
EMPLOYEE_TABLE = (
    Column("display_name", 0, wrap=True),
    Column("work_email", 0),
    Column("integration", 1),  # shown only when the directory has several
    Column("active", 1),
    Column("employment_status", 4, header="employment"),
    Column("teams", 3, wrap=True),
    Column("country_code", 2, header="country"),
    Column("city", 5, wrap=True),
    Column("okta_status", 7),
)
# Only with -o wide. Title and department are here rather than above: at 80 columns they would
# not fit, and naming two more hidden columns makes the "not shown" line wider than the terminal.
EMPLOYEE_WIDE = (
    Column("okta_id"),
    Column("title", wrap=True),
    Column("department", wrap=True),
    Column("state", wrap=True),
    Column("state_code"),
    Column("zip_code"),
    Column("street_address", wrap=True),
    Column("mobile_phone"),
    Column("personal_email"),
    Column("employee_number"),
    Column("manager", wrap=True),
    Column("last_synced_at"),
    Column("deactivated_at"),
)
TEAM_COLUMNS = ("integration", "okta_group_id", "name", "description", "members", "active")
RUN_STATS = (
    "fetched",
    "matched",
    "created",
    "updated",
    "deactivated",
    "reactivated",
    "unchanged",
    "apiRequests",
    "rateLimited",
)

OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json", "csv"]),
    default="table",
    show_default=True,
    help=(
        "table: the columns that fit the terminal; wide: every column; json: every value "
        "exactly; csv: a cell starting with = @ + - (or a tab or CR; + and - unless a phone "
        "number or a number follows) gets a leading ' so that a spreadsheet shows it instead "
        "of running it as a formula."
    ),
)
INTEGRATION = click.option(
    "--integration", metavar="NS/NAME", help="Only this integration (namespace/name)."
)


@click.group("directory")
def directory_group() -> None:
    """Read the employee directory."""


# -- what a listing may be asked for ---------------------------------------------------------


def refuse(message: str) -> NoReturn:
    """One line on stderr, exit 1. ``message`` may hold Okta's values: printed as plain text."""
    fail(markup_escape(clean(message)))
    raise AssertionError("unreachable")


def did_you_mean(value: str, choices: Iterable[str]) -> list[str]:
    """The choices close to ``value``, ignoring case, closest first."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    close = difflib.get_close_matches(value.casefold(), list(by_folded), n=3, cutoff=0.6)
    return [by_folded[folded] for folded in close]


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _either(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, … ({len(names)} in all)"


def check_integration(directory: Directory, integration: str | None) -> None:
    """``integration`` is one the directory has (when given), or a did-you-mean line, exit 1."""
    if integration is None:
        return
    known = directory.integrations()
    if integration in known:
        return
    if not known:
        refuse(
            f"no integration {integration!r} in the directory: nothing has been synced into it "
            "yet; run okta-hris sync first"
        )
    # "acme" for "people-ops/acme": the name without its namespace.
    by_name = [key for key in known if key.rpartition("/")[2].casefold() == integration.casefold()]
    names = {key.rpartition("/")[2]: key for key in known}
    close = [names[name] for name in did_you_mean(integration.rpartition("/")[2], names)]
    suggestions = list(dict.fromkeys([*by_name, *did_you_mean(integration, known), *close]))
    if suggestions:
        refuse(
            f"no integration {integration!r} in the directory; did you mean {_either(suggestions)}?"
        )
    form = "" if "/" in integration else " (integrations are NAMESPACE/NAME)"
    refuse(f"no integration {integration!r} in the directory{form}; it has {_some(known)}")


def check_team(directory: Directory, team: str | None, integration: str | None) -> None:
    """``team`` names a team of the directory (of ``integration``), ignoring case, or exit 1."""
    if team is None:
        return
    names = sorted({listed.name for listed in directory.teams(integration)}, key=str.casefold)
    if any(name.casefold() == team.strip().casefold() for name in names):
        return
    where = integration or "the directory"
    suggestions = did_you_mean(team.strip(), names)
    if suggestions:
        refuse(f"no team {team!r} in {where}; did you mean {_either(suggestions)}?")
    if not names:
        refuse(f"no team {team!r} in {where}: it has no teams")
    listing = "okta-hris directory teams" + (f" --integration {integration}" if integration else "")
    refuse(f"no team {team!r} in {where} ({listing} lists its {len(names)} teams)")


def check_country(country: str | None) -> str | None:
    """The ISO code of ``--country`` (as the spec's countries filter accepts it), or exit 1."""
    if country is None:
        return None
    try:
        return country_code(country.strip())
    except ValueError as exc:
        refuse(str(exc))


def _several_integrations(directory: Directory, integration: str | None) -> bool:
    return integration is None and len(directory.integrations()) > 1


def _print_listing(
    title: str,
    empty: str,
    columns: Sequence[Column],
    records: Sequence[Mapping[str, object]],
    *,
    wide: bool,
) -> None:
    """A listing as a table that fits the terminal, or one line when there is nothing."""
    if not records:
        stdout.print(Text(clean(empty)))
        return
    print_table(
        stdout, title, columns, [[cell(r[c.name]) for c in columns] for r in records], wide=wide
    )


def _write_csv(fieldnames: Sequence[str], records: Iterable[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    for record in records:
        writer.writerow(
            {key: clean_csv(_csv_value(json_value(value))) for key, value in record.items()}
        )
    click.echo(buffer.getvalue(), nl=False)


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _scope(integration: str | None, **filters: str | None) -> str:
    parts = [f"{name} {value}" for name, value in filters.items() if value is not None]
    where = f" of {integration}" if integration else ""
    return where + (f" ({', '.join(parts)})" if parts else "")


# -- directory employees -----------------------------------------------------------------------


@directory_group.command("employees")
@INTEGRATION
@click.option("--team", metavar="T", help="Only members of this team (Okta group name).")
@click.option("--country", metavar="C", help="Only this ISO 3166-1 alpha-2 country code.")
@click.option(
    "--active/--inactive", "active", default=None, help="Only active (or inactive) employees."
)
@OUTPUT
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
    code = check_country(country)
    with open_existing_directory(database) as directory:
        check_integration(directory, integration)
        check_team(directory, team, integration)
        rows = directory.list_employees(
            integration=integration, team=team, country=code, active=active
        )
        several = _several_integrations(directory, integration)
    records = [{c: getattr(row, c) for c in COLUMNS} for row in rows]
    if output == "json":
        click.echo(dump_json(records))
        return
    if output == "csv":
        _write_csv(COLUMNS, records)
        return
    status = None if active is None else ("active" if active else "inactive")
    scope = _scope(integration, team=team, country=code, status=status)
    columns = [c for c in EMPLOYEE_TABLE if c.name != "integration" or several]
    if output == "wide":
        columns += EMPLOYEE_WIDE
    _print_listing(
        f"{counted(len(records), 'employee')}{scope}",
        f"0 employees{scope}",
        columns,
        records,
        wide=output == "wide",
    )


# -- directory teams ---------------------------------------------------------------------------


@directory_group.command("teams")
@INTEGRATION
@OUTPUT
@database_option
@user_errors
def teams_command(integration: str | None, output: str, database: str | None) -> None:
    """List the teams and how many employees each has.

    Teams are the Okta groups the directory keeps; ``active`` counts the members active now.
    """
    with open_existing_directory(database) as directory:
        check_integration(directory, integration)
        listed = directory.teams(integration)
        several = _several_integrations(directory, integration)
    records = [{c: getattr(team, c) for c in TEAM_COLUMNS} for team in listed]
    if output == "json":
        click.echo(dump_json(records))
        return
    if output == "csv":
        _write_csv(TEAM_COLUMNS, records)
        return
    scope = _scope(integration)
    columns = [
        Column("name", 0, wrap=True),
        *([Column("integration", 1)] if several else []),
        Column("active", 0, justify="right"),
        Column("members", 1, justify="right"),
        Column("description", 2, wrap=True),
        Column("okta_group_id", 3),
    ]
    _print_listing(
        f"{counted(len(records), 'team')}{scope}",
        f"0 teams{scope}",
        columns,
        records,
        wide=output == "wide",
    )


# -- directory runs ----------------------------------------------------------------------------


def _duration(run: SyncRunRecord) -> float:
    return round((run.finished_at - run.started_at).total_seconds(), 3)


def _run_record(run: SyncRunRecord) -> dict[str, Any]:
    return {
        "integration": run.integration,
        "mode": run.mode,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "outcome": run.outcome,
        "duration_seconds": _duration(run),
        "stats": run.stats,
        "error": run.error,
    }


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m{seconds:02d}s"


@directory_group.command("runs")
@INTEGRATION
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs, newest first.",
)
@OUTPUT
@database_option
@user_errors
def runs_command(integration: str | None, limit: int, output: str, database: str | None) -> None:
    """List recent syncs, newest first.

    When each started, which integration, Full or Incremental, how it ended (succeeded,
    failed, held), what it changed, and its error.
    """
    with open_existing_directory(database) as directory:
        check_integration(directory, integration)
        runs = directory.runs(integration, limit=limit)
        several = _several_integrations(directory, integration)
    if output == "json":
        click.echo(dump_json([_run_record(run) for run in runs]))
        return
    if output == "csv":
        fields = ("integration", "mode", "started_at", "finished_at", "outcome", "duration_seconds")
        _write_csv(
            (*fields, *RUN_STATS, "error"),
            (
                {
                    **{k: v for k, v in _run_record(run).items() if k in fields},
                    **{key: run.stats.get(key) for key in RUN_STATS},
                    "error": run.error,
                }
                for run in runs
            ),
        )
        return
    scope = _scope(integration)
    columns = [
        Column("started_at", 0),
        *([Column("integration", 0)] if several else []),
        Column("mode", 1),
        Column("outcome", 0),
        Column("duration", 4, justify="right"),
        Column("created", 2, justify="right"),
        Column("updated", 3, justify="right"),
        Column("deactivated", 2, justify="right"),
        Column("fetched", 5, justify="right"),
        Column("error", 1, wrap=True),
    ]
    values: list[dict[str, object]] = [
        {
            "started_at": run.started_at,
            "integration": run.integration,
            "mode": run.mode,
            "outcome": run.outcome,
            "duration": _seconds(_duration(run)),
            **{key: run.stats.get(key) for key in ("created", "updated", "deactivated", "fetched")},
            "error": run.error,
        }
        for run in runs
    ]
    _print_listing(
        f"last {counted(len(runs), 'sync run')}{scope}, newest first",
        f"no sync runs yet{scope}",
        columns,
        values,
        wide=output == "wide",
    )

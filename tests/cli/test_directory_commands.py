"""``okta-hris directory employees | teams | runs`` as a user meets them in the first hour.

Every listing reads a directory that exists, checks what it is asked for against what that
directory holds (one line with a did-you-mean, exit 1, instead of "0 employees"), fits its
table to the terminal as ``kubectl get`` does, and prints Okta's values as text that cannot
drive the terminal. Directories come from a real ``okta-hris sync`` against the sandbox, or,
for values no generator writes, from the store's own ``apply``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, SyncState
from okta_hris.domain.employees import EmployeeRow, Team
from okta_hris.sandbox import Sandbox

from ..support.cli import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
KEY = "people-ops/acme-engineering"  # examples/filtered.yaml
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def synced(sandbox: Sandbox, manifest: Path, database_url: str) -> str:
    """A directory that one real sync of examples/filtered.yaml wrote."""
    result = run_cli(
        "sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", database_url
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return database_url


def directory(*args: str, database: str, columns: int = 80) -> CliResult:
    return run_cli("directory", *args, "--database", database, env={"COLUMNS": str(columns)})


def employees_json(database: str, *args: str) -> list[dict[str, Any]]:
    result = directory("employees", *args, "-o", "json", database=database)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def one_error_line(result: CliResult) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def header(stdout: str) -> list[str]:
    """The column names of a rich table's header row (┃ a ┃ b ┃)."""
    line = next(line for line in stdout.splitlines() if line.startswith("┃"))
    return [name.strip() for name in line.strip("┃").split("┃")]


# -- a directory that is not there --------------------------------------------------------------


@pytest.mark.parametrize("command", [("employees",), ("teams",), ("runs",)])
def test_a_missing_sqlite_directory_is_an_error_and_stays_missing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "not-yet" / "directory.db"
    for output in ("table", "json"):
        result = directory(*command, "-o", output, database=f"sqlite:///{missing}")
        assert one_error_line(result) == (
            f"error: no directory at {missing}: run okta-hris sync first, or pass --database"
        )
    assert not missing.parent.exists()


def test_the_default_directory_is_not_created_by_reading(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_cli("directory", "employees", env={"XDG_DATA_HOME": str(data), "COLUMNS": "80"})
    line = one_error_line(result)
    assert line.startswith("error: no directory at ") and "run okta-hris sync first" in line
    assert not data.exists()


def test_an_empty_postgres_database_is_no_directory_and_gets_no_tables(postgres_url: str) -> None:
    line = one_error_line(directory("employees", database=postgres_url))
    assert line.startswith("error: no directory at postgresql+psycopg://")
    assert line.endswith(": run okta-hris sync first, or pass --database")
    engine = sa.create_engine(postgres_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


# -- what a listing is asked for ----------------------------------------------------------------


def test_country_must_be_an_iso_code_as_in_the_spec(synced: str) -> None:
    assert one_error_line(directory("employees", "--country", "Germany", database=synced)) == (
        "error: 'Germany' is not an ISO 3166-1 alpha-2 country code; did you mean DE?"
    )
    assert one_error_line(directory("employees", "--country", "XX", database=synced)) == (
        "error: 'XX' is not an ISO 3166-1 alpha-2 country code"
    )
    germans = employees_json(synced, "--country", "de")
    assert germans and {row["country_code"] for row in germans} == {"DE"}


def test_an_integration_needs_its_namespace_and_gets_a_did_you_mean(synced: str) -> None:
    expected = f"error: no integration 'acme-engineering' in the directory; did you mean {KEY}?"
    for command in ("employees", "teams", "runs"):
        result = directory(command, "--integration", "acme-engineering", database=synced)
        assert one_error_line(result) == expected, command
    unrelated = one_error_line(directory("employees", "--integration", "x/y", database=synced))
    assert unrelated == f"error: no integration 'x/y' in the directory; it has {KEY}"
    # The NAMESPACE/NAME hint only where the namespace is missing.
    bare = one_error_line(directory("employees", "--integration", "zzz", database=synced))
    assert bare == (
        "error: no integration 'zzz' in the directory (integrations are NAMESPACE/NAME); "
        f"it has {KEY}"
    )
    assert employees_json(synced, "--integration", KEY) == employees_json(synced)


def test_an_unknown_team_gets_a_did_you_mean(synced: str) -> None:
    assert one_error_line(directory("employees", "--team", "Enginering", database=synced)) == (
        "error: no team 'Enginering' in the directory; did you mean Engineering?"
    )
    scoped = directory("employees", "--integration", KEY, "--team", "Enginering", database=synced)
    assert one_error_line(scoped) == (
        f"error: no team 'Enginering' in {KEY}; did you mean Engineering?"
    )
    nothing_close = one_error_line(directory("employees", "--team", "Zzyzx", database=synced))
    assert nothing_close.startswith("error: no team 'Zzyzx' in the directory (okta-hris directory")
    # A team that exists matches ignoring case, as the spec's teams filter does.
    assert employees_json(synced, "--team", "engineering") == employees_json(synced)


def test_a_valid_query_that_matches_nobody_says_so(synced: str) -> None:
    result = directory("employees", "--country", "jp", database=synced)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 employees (country JP)"


# -- tables that fit the terminal ----------------------------------------------------------------


def test_employee_columns_follow_the_terminal_width_and_emails_stay_whole(synced: str) -> None:
    emails = [row["work_email"] for row in employees_json(synced)]
    assert emails
    narrow = directory("employees", database=synced, columns=80)
    roomy = directory("employees", database=synced, columns=200)
    wide = directory("employees", "-o", "wide", database=synced, columns=80)
    for result in (narrow, roomy, wide):
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        # Each address on one line, whole: never cut, folded or wrapped.
        assert all(any(email in line for line in lines) for email in emails), result.stdout
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    assert all(len(line) <= 200 for line in roomy.stdout.splitlines()), roomy.stdout
    shown = {name: header(result.stdout) for name, result in [("80", narrow), ("200", roomy)]}
    assert shown["80"][:2] == ["display_name", "work_email"]
    assert len(shown["80"]) < len(shown["200"])
    # The columns left out are named, with how to see them.
    hidden = [c for c in header(roomy.stdout) if c not in shown["80"]]
    assert f"not shown: {', '.join(hidden)} (-o wide shows every column)" in narrow.stdout
    assert "not shown" not in wide.stdout
    assert {"okta_id", "street_address", "teams", "country"} <= set(header(wide.stdout))
    assert len(header(wide.stdout)) > len(shown["200"])


def test_teams_lists_member_counts(synced: str) -> None:
    rows = employees_json(synced)
    listed = directory("teams", "-o", "json", database=synced)
    assert listed.returncode == 0, listed.stderr
    teams = {team["name"]: team for team in json.loads(listed.stdout)}
    assert set(teams) >= {name for row in rows for name in row["teams"]}
    for name, team in teams.items():
        assert team["integration"] == KEY
        assert team["members"] == sum(name in row["teams"] for row in rows), name
        assert team["active"] == sum(name in row["teams"] and row["active"] for row in rows)
    assert teams["Engineering"]["members"] == len(rows) > 0

    table = directory("teams", database=synced, columns=80)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"{len(teams)} teams\n")
    engineering = next(line for line in table.stdout.splitlines() if "│ Engineering " in line)
    assert f" {len(rows)} │" in engineering

    as_csv = directory("teams", "--integration", KEY, "-o", "csv", database=synced)
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {row["name"]: int(row["members"]) for row in parsed} == {
        name: team["members"] for name, team in teams.items()
    }


def test_runs_lists_recent_syncs_newest_first(
    sandbox: Sandbox, manifest: Path, synced: str
) -> None:
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", synced)
    again = run_cli("sync", *common)
    assert again.returncode == 0, again.stderr
    refused = run_cli("sync", *common, env={"OKTA_API_TOKEN": "not-the-token"})
    assert refused.returncode == 1

    listed = directory("runs", "-o", "json", database=synced)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [run["outcome"] for run in runs] == ["failed", "succeeded", "succeeded"]
    assert [run["started_at"] for run in runs] == sorted(
        (run["started_at"] for run in runs), reverse=True
    )
    assert all(run["integration"] == KEY and run["started_at"].endswith("Z") for run in runs)
    first = runs[-1]
    assert first["mode"] == "Full" and first["stats"]["created"] > 0
    assert runs[1]["stats"]["created"] == 0
    assert runs[0]["error"]

    limited = directory("runs", "--limit", "1", "--integration", KEY, "-o", "json", database=synced)
    assert [run["outcome"] for run in json.loads(limited.stdout)] == ["failed"]

    table = directory("runs", database=synced, columns=80)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("last 3 sync runs, newest first\n")
    body = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert "failed" in body[0] and "succeeded" in body[-1]
    assert {"started_at", "outcome", "created", "error"} <= set(header(table.stdout))

    as_csv = list(
        csv.DictReader(io.StringIO(directory("runs", "-o", "csv", database=synced).stdout))
    )
    assert [row["outcome"] for row in as_csv] == ["failed", "succeeded", "succeeded"]
    assert int(as_csv[-1]["created"]) == first["stats"]["created"]

    bad_limit = directory("runs", "--limit", "0", database=synced)
    assert bad_limit.returncode == 1 and "'--limit': 0 is not in the range" in bad_limit.stderr


# -- every column of the directory ----------------------------------------------------------------

# An employee with every field set, contract v2's (SPEC §9) included.
EVERY_FIELD = EmployeeRow(
    integration="people-ops/acme",
    okta_id="00u-ada",
    okta_status="ACTIVE",
    active=True,
    display_name="Ada Lovelace",
    first_name="Ada",
    last_name="Lovelace",
    work_email="ada@acme.example",
    personal_email="ada@home.example",
    employment_status="Full-time",
    title="Principal Analyst",
    department="Research",
    employee_number="E-1815",
    manager="Charles Babbage",
    mobile_phone="+44 20 7946 0018",
    mobile_phone_e164="+442079460018",
    street_address="12 St James's Square",
    country_code="GB",
    state="England",
    state_code="GB-ENG",
    city="London",
    zip_code="SW1Y 4JH",
    teams=("Engines",),
    okta_last_updated=T0,
    first_synced_at=T0,
    last_synced_at=T0,
    deactivated_at=T0,
)


def every_field_directory(url: str) -> None:
    with Directory.open(url) as opened:
        opened.apply(
            DirectoryChanges(
                integration=EVERY_FIELD.integration,
                synced_at=T0,
                employees_create=(EVERY_FIELD,),
                teams_upsert=(Team(okta_group_id="00g1", name="Engines"),),
                memberships_add=(("00u-ada", "00g1"),),
                sync_state=SyncState(spec_hash="x"),
            )
        )


def test_json_and_csv_hold_every_column_of_the_directory(database_url: str) -> None:
    every_field_directory(database_url)
    expected = {
        name: [*value] if isinstance(value, tuple) else value
        for name, value in dataclasses.asdict(EVERY_FIELD).items()
    }
    expected.update(
        {name: "2026-03-02T09:30:00Z" for name, value in expected.items() if value == T0}
    )

    (row,) = employees_json(database_url)
    assert row == expected
    assert {"first_name", "personal_email", "title", "state_code", "manager"} <= set(row)

    as_csv = directory("employees", "-o", "csv", database=database_url)
    assert as_csv.returncode == 0, as_csv.stderr
    reader = csv.DictReader(io.StringIO(as_csv.stdout))
    assert reader.fieldnames == list(row)  # the same columns, in the same order, as JSON
    (line,) = list(reader)
    assert line == {
        name: ", ".join(value) if isinstance(value, list) else str(value)
        for name, value in row.items()
    } | {"active": "True"}


def test_wide_shows_the_new_columns_and_the_table_stays_as_it_was(database_url: str) -> None:
    every_field_directory(database_url)
    roomy = directory("employees", database=database_url, columns=200)
    assert roomy.returncode == 0, roomy.stderr
    assert header(roomy.stdout) == [
        "display_name",
        "work_email",
        "active",
        "employment",
        "teams",
        "country",
        "city",
        "okta_status",
    ]

    wide = directory("employees", "-o", "wide", database=database_url, columns=80)
    assert wide.returncode == 0, wide.stderr
    shown = set(header(wide.stdout))
    assert {"title", "department", "state_code", "personal_email", "manager"} <= shown
    for value in ("Principal Analyst", "Research", "GB-ENG", "ada@home.example", "E-1815"):
        assert value in wide.stdout, value


# -- Okta's values are data, never terminal control ----------------------------------------------

HOSTILE_NAME = "\x1b[31mMallory\x1b]8;;https://evil.example\x1b\\ [bold]bold[/] \u202eevil\x9b2J"
LONG_EMAIL = "mallory.with-a-very-long-address.for-testing-wrapping@subsidiary.example.com"
HOSTILE_TEAM = "Red\x1b[5m Team [/]"


def hostile_directory(url: str) -> None:
    """One integration's rows as a sync would write them, with values Okta accepts."""
    rows = [
        EmployeeRow(
            integration="people-ops/acme",
            okta_id="00u1",
            okta_status="ACTIVE",
            active=True,
            display_name=HOSTILE_NAME,
            work_email=LONG_EMAIL,
            city="Line one\nLine two\r\x07",
            country_code="DE",
            teams=(HOSTILE_TEAM,),
            okta_last_updated=T0,
            first_synced_at=T0,
            last_synced_at=T0,
        ),
        EmployeeRow(
            integration="people-ops/acme",
            okta_id="00u2",
            okta_status="ACTIVE",
            active=True,
            display_name="Grace Hopper",
            work_email="grace@acme.example",
            teams=(HOSTILE_TEAM,),
            okta_last_updated=T0,
            first_synced_at=T0,
            last_synced_at=T0,
        ),
    ]
    with Directory.open(url) as opened:
        opened.apply(
            DirectoryChanges(
                integration="people-ops/acme",
                synced_at=T0,
                employees_create=tuple(rows),
                teams_upsert=(Team(okta_group_id="00g1", name=HOSTILE_TEAM, description="[red]"),),
                memberships_add=(("00u1", "00g1"), ("00u2", "00g1")),
                sync_state=SyncState(spec_hash="x"),
            )
        )


def test_values_from_okta_cannot_drive_the_terminal(database_url: str) -> None:
    hostile_directory(database_url)
    listings = {
        ("employees",): ["[31mMallory", "[bold]bold[/]"],  # at 80 columns teams give way
        ("employees", "-o", "wide"): ["[31mMallory", "[bold]bold[/]", "Red[5m Team [/]"],
        ("employees", "-o", "csv"): ["[31mMallory", "[bold]bold[/]", "Red[5m Team [/]"],
        ("teams",): ["Red[5m Team [/]", "[red]"],
    }
    for command, visible in listings.items():
        result = directory(*command, database=database_url, columns=80)
        assert result.returncode == 0, result.stderr
        # The escape and control characters are gone; what they would have hidden is visible.
        for unsafe in ("\x1b", "\x9b", "\x07", "\r", "\u202e"):
            assert unsafe not in result.stdout, (command, unsafe)
        for text in visible:
            assert text in result.stdout, (command, text)
    table = directory("employees", "-o", "wide", database=database_url, columns=80).stdout
    assert LONG_EMAIL in table and "Line one Line two" in table

    # JSON keeps every character, escaped so that the terminal shows them instead of obeying.
    raw = directory("employees", "-o", "json", database=database_url).stdout
    assert "\x1b" not in raw and "\x9b" not in raw and "\u202e" not in raw
    by_id = {row["okta_id"]: row for row in json.loads(raw)}
    assert by_id["00u1"]["display_name"] == HOSTILE_NAME
    assert by_id["00u1"]["teams"] == [HOSTILE_TEAM]

    # A suggestion quoting a team name is printed as it is, not as markup or escapes.
    line = one_error_line(directory("employees", "--team", "Red Team [/", database=database_url))
    assert line == "error: no team 'Red Team [/' in the directory; did you mean Red[5m Team [/]?"

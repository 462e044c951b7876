"""One bad value never blocks everyone (issue 13, item 7): a hostile Okta over real HTTP, the
directory on SQLite and PostgreSQL with the very same inputs and the very same expectations.

A value that can be made safe is (surrogates and NUL removed, text cut); a user whose id or
status the directory cannot store as sent is left out of that sync, named in a warning (by a
cut, cleaned id) and counted as ``skipped``; their row, if any, stays exactly as it was.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.controller.status import last_sync
from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.employees import EmployeeRow
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from okta_hris.sync.mapping import MAX_LINE

from ..support.cli import run_cli
from .hostile_org import HostileOrg, okta_group, okta_user, serve

INTEGRATION = "people-ops/acme"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
)
LONG_ID = "00u" + "x" * 62  # 65 characters: one more than employees.okta_id holds
GHOST = "00u" + "z" * 70  # a member Okta lists in a group but not among its users

# Users no column can hold as sent, each with why.
UNSTORABLE = {
    LONG_ID: "ACTIVE",
    "00u\ud800surrogate": "ACTIVE",
    "00u\x00nul": "ACTIVE",
    "00u\x1b[31mred": "ACTIVE",
    "": "ACTIVE",
    "00uLongStatus": "S" * 33,
    "00uOddStatus": "ACTIVATED",
    "00uNulStatus": "ACTIVE\x00",
}


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def org() -> Iterator[HostileOrg]:
    with serve(HostileOrg()) as served:
        yield served


def sync(org: HostileOrg, directory: Directory) -> SyncReport:
    request = SyncRequest(integration=INTEGRATION, spec=SPEC, token="t", okta_url=org.url)
    return asyncio.run(run_sync(request, directory, Settings()))


def employees(directory: Directory) -> dict[str, EmployeeRow]:
    return {e.okta_id: e for e in directory.list_employees(integration=INTEGRATION)}


def mirror(directory: Directory) -> dict[str, tuple[str, dict[str, Any]]]:
    with directory.engine.connect() as connection:
        rows = connection.execute(sa.select(schema.okta_users)).all()
    return {row.okta_id: (row.status, row.profile) for row in rows}


def skipped_warning(report: SyncReport) -> str:
    (warning,) = [w for w in report.plan.warnings if w.reason == "UsersSkipped"]
    return warning.message


def test_unstorable_users_are_left_out_and_everyone_else_is_synced(
    org: HostileOrg, directory: Directory
) -> None:
    org.users = [
        okta_user(
            "00uGood1",
            displayName="Ada\x00 Love\ud800lace",
            city="\ud800",
            title="t" * 100_000,
            nested={"k\ud800ey": ["v\x00", {"deep": "\udfff"}]},
            score="__NAN__",
            ratio="__INFINITY__",
            badge="__HUGE_NUMBER__",
        ),
        okta_user("00uGood2", displayName="Grace Hopper"),
        *(okta_user(okta_id, status) for okta_id, status in UNSTORABLE.items()),
    ]

    # Written as JSON can, but json.dumps only on request, and PostgreSQL's JSON never takes.
    # A number of 5,000 digits is more than Python reads: it must not make the page "not JSON".
    org.rewrite = lambda body: (
        body.replace('"__NAN__"', "NaN")
        .replace('"__INFINITY__"', "1e999")
        .replace('"__HUGE_NUMBER__"', "9" * 5000)
    )
    report = sync(org, directory)

    assert (report.stats.fetched, report.stats.created, report.stats.skipped) == (
        10,
        2,
        len(UNSTORABLE),
    )
    rows = employees(directory)
    assert sorted(rows) == ["00uGood1", "00uGood2"]
    ada = rows["00uGood1"]
    assert (ada.display_name, ada.city, ada.title) == ("Ada Lovelace", None, "t" * MAX_LINE)
    # The mirror keeps the profile as JSON every database takes, the same on both.
    profile = mirror(directory)["00uGood1"][1]
    assert profile["nested"] == {"key": ["v", {"deep": ""}]}
    assert (profile["score"], profile["ratio"], profile["badge"]) == (None, None, None)
    assert set(mirror(directory)) == {"00uGood1", "00uGood2"}

    message = skipped_warning(report)
    assert message.startswith(f"{len(UNSTORABLE)} Okta users left out of this sync")
    assert "00uOddStatus (its status is no Okta user status)" in message
    assert f"{LONG_ID[:40]}… (its id cannot be stored)" in message
    assert "00u\ufffdsurrogate" in message and "00u\ufffdnul" in message
    assert "(an empty id)" in message
    assert LONG_ID not in message and "S" * 33 not in message
    assert all(c.isprintable() for c in message)  # no NUL, ESC or surrogate reaches a reader

    (run,) = directory.runs(INTEGRATION)
    assert (run.outcome, run.stats["skipped"]) == ("succeeded", len(UNSTORABLE))
    assert last_sync(report.stats).skipped == len(UNSTORABLE)  # status.lastSync.skipped

    again = sync(org, directory)  # nothing changed in Okta: nothing is rewritten
    assert (again.stats.unchanged, again.stats.skipped, again.plan.changed) == (2, 8, False)
    assert again.plan.changes.okta_users_upsert == ()


def test_a_user_whose_status_turns_unstorable_keeps_their_row_until_it_is_fixed(
    org: HostileOrg, directory: Directory
) -> None:
    org.users = [okta_user("00uAda"), okta_user("00uBob")]
    org.groups = [okta_group("00gEng", "Engineering")]
    org.members = {"00gEng": ["00uAda", "00uBob"]}
    sync(org, directory)
    before, mirrored = employees(directory), mirror(directory)

    with org.lock:
        org.users = [okta_user("00uAda", "ACTIVE\x00", city="Hamburg"), okta_user("00uBob")]
        org.members = {"00gEng": ["00uBob"]}  # nor do their teams change
        org.groups = [okta_group("00gEng", "Engineering", moved="2026-01-06T09:00:00.000Z")]
    report = sync(org, directory)

    assert (report.stats.skipped, report.stats.deactivated, report.stats.updated) == (1, 0, 0)
    assert employees(directory) == before  # Ada is still active, in Engineering, in Berlin
    assert before["00uAda"].teams == ("Engineering",)
    assert mirror(directory) == mirrored
    assert "00uAda (its status is no Okta user status)" in skipped_warning(report)

    with org.lock:
        org.users = [okta_user("00uAda", "LOCKED_OUT", city="Hamburg"), okta_user("00uBob")]
    report = sync(org, directory)
    assert report.stats.skipped == 0
    ada = employees(directory)["00uAda"]
    assert (ada.active, ada.okta_status, ada.city, ada.teams) == (True, "LOCKED_OUT", "Hamburg", ())


def test_groups_and_members_whose_ids_cannot_be_stored_are_left_out(
    org: HostileOrg, directory: Directory
) -> None:
    bad_group = "00g" + "y" * 62
    org.users = [okta_user("00uAda"), okta_user(LONG_ID)]
    org.groups = [okta_group("00gEng", "Engineering"), okta_group(bad_group, "Ops\ud800")]
    org.members = {"00gEng": ["00uAda", LONG_ID, GHOST], bad_group: ["00uAda"]}

    report = sync(org, directory)

    assert (report.stats.created, report.stats.skipped) == (1, 1)
    assert employees(directory)["00uAda"].teams == ("Engineering",)
    (group_warning,) = [w.message for w in report.plan.warnings if w.reason == "GroupsSkipped"]
    assert group_warning.endswith(f"{bad_group[:40]}…")
    with directory.engine.connect() as connection:
        members = connection.execute(sa.select(schema.okta_group_members.c.okta_id)).scalars()
        assert sorted(members) == ["00uAda"]


def test_the_cli_summary_counts_the_users_left_out_in_one_line_each(
    org: HostileOrg, database_url: str, tmp_path: Path
) -> None:
    org.users = [okta_user("00uGood"), okta_user(LONG_ID), okta_user("00uOdd", "\ud800")]
    manifest = tmp_path / "acme.yaml"
    examples = Path(__file__).resolve().parents[2] / "examples"
    manifest.write_text(
        (examples / "okta-token-secret.yaml").read_text()
        + "\n---\n"
        + (examples / "minimal.yaml").read_text()
    )
    common = ("-f", str(manifest), "--okta-url", org.url, "--database", database_url)

    synced = run_cli("sync", *common)
    as_json = run_cli("sync", *common, "-o", "json")

    assert synced.returncode == 0, synced.stderr
    assert "left out (id or status not storable)" in synced.stdout
    warning_lines = [line for line in synced.stderr.splitlines() if "left out" in line]
    assert len(warning_lines) == 1 and "Traceback" not in synced.stderr
    assert "\ud800" not in synced.stderr + synced.stdout
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["counts"]["skipped"] == 2


def test_a_ghost_member_whose_id_cannot_be_stored_is_dropped(
    org: HostileOrg, directory: Directory
) -> None:
    org.users = [okta_user("00uAda")]
    org.groups = [okta_group("00gEng", "Engineering")]
    org.members = {"00gEng": ["00uAda", GHOST]}  # Okta lists a member it has no user for

    report = sync(org, directory)

    assert (report.stats.created, report.stats.skipped) == (1, 0)
    assert employees(directory)["00uAda"].teams == ("Engineering",)
    with directory.engine.connect() as connection:
        members = connection.execute(sa.select(schema.okta_group_members.c.okta_id)).scalars()
        assert sorted(members) == ["00uAda"]

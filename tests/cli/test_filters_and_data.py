"""SPEC §9 through `okta-hris plan` and `sync`: filters that never silently match nobody,
cleaned values, data quality, old → new values, on SQLite and PostgreSQL.

The sandbox serves a generated (messy) org over HTTP; the CLI runs in-process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from okta_hris.sandbox import Sandbox

from ..support.cli import example_manifest, run_cli


def rewrite(manifest: Path, change: Any) -> Path:
    """The manifest with its OktaIntegration's spec changed by ``change(spec)``."""
    documents = list(yaml.safe_load_all(manifest.read_text()))
    for document in documents:
        if document and document.get("kind") == "OktaIntegration":
            change(document["spec"])
    manifest.write_text(yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True))
    return manifest


def okta(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"})


def employees(database_url: str) -> list[dict[str, Any]]:
    result = run_cli("directory", "employees", "--database", database_url, "-o", "json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def common(sandbox: Sandbox, manifest: Path, database_url: str) -> tuple[str, ...]:
    return ("-f", str(manifest), "--okta-url", sandbox.url, "--database", database_url)


@pytest.mark.parametrize("command", ["plan", "sync"])
def test_a_team_typo_is_one_line_with_a_did_you_mean_and_exit_1(
    sandbox: Sandbox, manifest: Path, database_url: str, command: str
) -> None:
    rewrite(manifest, lambda spec: spec["filters"]["teams"].update(include=["enginering"]))
    result = run_cli(command, *common(sandbox, manifest, database_url))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line == (
        "error: UnknownTeam: spec.filters.teams.include[0]: no Okta group of type OKTA_GROUP "
        "is named 'enginering'; did you mean 'Engineering'?"
    )
    if command == "sync":  # nothing was written but the failed run
        assert employees(database_url) == []


def test_team_entries_by_name_in_any_case_or_by_id_keep_the_same_people(
    sandbox: Sandbox, manifest: Path, database_url: str, tmp_path: Path
) -> None:
    with okta(sandbox) as client:
        groups = client.get("/api/v1/groups", params={"q": "Engineering"}).json()
    engineering = next(g for g in groups if g["profile"]["name"] == "Engineering")

    def matched(entry: str) -> tuple[int, dict[str, Any]]:
        changed = rewrite(
            example_manifest(tmp_path, "filtered.yaml"),
            lambda spec: spec["filters"]["teams"].update(include=[entry]),
        )
        result = run_cli("plan", *common(sandbox, changed, database_url), "-o", "json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        return document["counts"]["matched"], document["filters"]

    by_name, filters = matched("Engineering")
    assert by_name > 0
    assert matched("ENGINEERING")[0] == by_name
    assert matched(f"id:{engineering['id']}")[0] == by_name
    [include, exclude] = filters["teams"]
    assert include["groups"] == [
        {"id": engineering["id"], "name": "Engineering", "members": include["groups"][0]["members"]}
    ]
    assert include["groups"][0]["members"] >= by_name
    assert exclude["side"] == "exclude" and exclude["entry"] == "Interns"
    assert set(filters["kept"]) == {"countries", "teams", "status", "employment"}
    assert filters["matched"] == by_name and filters["users"] > by_name


def test_filters_under_scope_all_are_refused(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    rewrite(manifest, lambda spec: spec["sync"].update(scope="All"))
    result = run_cli("sync", *common(sandbox, manifest, database_url))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "filters are set but spec.sync.scope is All" in line


def test_loose_employment_matching_keeps_every_spelling(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    rewrite(
        manifest,
        lambda spec: spec["filters"]["employment"].update(include=["FULL TIME", "contractor"]),
    )
    assert run_cli("sync", *common(sandbox, manifest, database_url)).returncode == 0
    rows = [r for r in employees(database_url) if r["active"]]
    assert rows
    # Stored in one spelling per value: the spellings of spec.mapping.employmentValues.
    assert {r["employment_status"] for r in rows} <= {"Full-time", "Contractor"}


def test_a_misspelt_employment_attribute_warns_and_keeps_the_values(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    rewrite(manifest, lambda spec: spec["filters"].pop("employment"))
    assert run_cli("sync", *common(sandbox, manifest, database_url)).returncode == 0
    before = {r["okta_id"]: r["employment_status"] for r in employees(database_url)}
    assert any(before.values())

    rewrite(
        manifest, lambda spec: spec.setdefault("mapping", {}).update(employmentAttribute="userTyp")
    )
    result = run_cli("sync", *common(sandbox, manifest, database_url))
    assert result.returncode == 0, result.stderr
    assert (
        "warning: no Okta user has the profile attribute 'userTyp' "
        "(spec.mapping.employmentAttribute); employment values are left as they were"
    ) in result.stderr
    assert {r["okta_id"]: r["employment_status"] for r in employees(database_url)} == before


def test_values_are_cleaned_and_data_quality_is_reported(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    rewrite(manifest, lambda spec: (spec.update(sync={"scope": "All"}), spec.pop("filters")))
    result = run_cli("sync", *common(sandbox, manifest, database_url), "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    rows = employees(database_url)
    for row in rows:
        for column in ("work_email", "personal_email"):
            assert row[column] is None or row[column] == row[column].strip().lower()
        assert row["country_code"] is None or len(row["country_code"]) == 2
        if row["state_code"] is not None:
            assert row["state_code"].startswith(f"{row['country_code']}-")
        street = row["street_address"]
        assert street is None or all(line and line == line.strip() for line in street.split("\n"))
    active = [r for r in rows if r["active"]]
    assert document["dataQuality"] == {
        "invalidPhones": sum(1 for r in active if r["mobile_phone"] and not r["mobile_phone_e164"]),
        "unknownCountries": document["dataQuality"]["unknownCountries"],
        "incompleteAddresses": sum(
            1
            for r in active
            if not (r["street_address"] and r["city"] and r["zip_code"] and r["country_code"])
        ),
    }
    assert document["dataQuality"]["incompleteAddresses"] > 0
    assert {"first_name", "last_name", "title", "department", "employee_number", "manager"} <= set(
        rows[0]
    )
    assert any(r["state_code"] for r in rows) and any(r["title"] for r in rows)

    text = run_cli("plan", *common(sandbox, manifest, database_url))
    assert "data quality: " in text.stdout and "incomplete addresses" in text.stdout


def test_plan_shows_old_and_new_values_in_name_order(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    assert run_cli("sync", *common(sandbox, manifest, database_url)).returncode == 0
    rows = sorted(
        (r for r in employees(database_url) if r["active"]), key=lambda r: r["display_name"]
    )
    first, last = rows[0], rows[-1]
    with okta(sandbox) as client:
        for row, city in ((last, "Hamburg"), (first, "Zürich")):
            client.post(
                f"/api/v1/users/{row['okta_id']}", json={"profile": {"city": city}}
            ).raise_for_status()
    result = run_cli("plan", *common(sandbox, manifest, database_url))
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    updates = [line for line in lines if line.startswith("update ")]
    assert updates == [
        f"update {first['display_name']}: city {first['city']} → Zürich ({first['okta_id']})",
        f"update {last['display_name']}: city {last['city']} → Hamburg ({last['okta_id']})",
    ]
    document = json.loads(
        run_cli("plan", *common(sandbox, manifest, database_url), "-o", "json").stdout
    )
    [change] = [c for c in document["changes"]["updated"] if c["oktaId"] == last["okta_id"]]
    assert change["values"] == {"city": {"old": last["city"], "new": "Hamburg"}}


def test_teams_holds_only_teams_somebody_in_scope_is_in(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    assert run_cli("sync", *common(sandbox, manifest, database_url)).returncode == 0
    teams = json.loads(
        run_cli("directory", "teams", "--database", database_url, "-o", "json").stdout
    )
    assert teams and all(t["active"] > 0 for t in teams)
    assert "Interns" not in {t["name"] for t in teams}


def test_a_misspelt_employment_attribute_under_an_employment_filter_fails_the_sync(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    rewrite(
        manifest, lambda spec: spec.setdefault("mapping", {}).update(employmentAttribute="usrType")
    )
    result = run_cli("sync", *common(sandbox, manifest, database_url))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: EmploymentAttributeMissing: no Okta user has the profile ")
    assert employees(database_url) == []


def test_a_hostile_group_name_is_stored_clean_on_every_database(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    with okta(sandbox) as client:
        groups = client.get("/api/v1/groups", params={"q": "Engineering"}).json()
        engineering = next(g for g in groups if g["profile"]["name"] == "Engineering")
        client.put(
            f"/api/v1/groups/{engineering['id']}",
            json={"profile": {"name": "Engineering\x00\u2028\x1b[31m", "description": "a\x00b"}},
        ).raise_for_status()
    rewrite(
        manifest, lambda spec: spec["filters"]["teams"].update(include=[f"id:{engineering['id']}"])
    )
    result = run_cli("sync", *common(sandbox, manifest, database_url))
    assert result.returncode == 0, result.stderr
    teams = json.loads(
        run_cli("directory", "teams", "--database", database_url, "-o", "json").stdout
    )
    [team] = [t for t in teams if t["okta_group_id"] == engineering["id"]]
    assert team["name"] == "Engineering [31m" and team["description"] == "ab"

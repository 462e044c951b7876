"""``okta-hris demo``: the bundled Okta sandbox, the bundled examples, an embedded directory.

Shows, in seconds and with no cluster, no Okta and no network, what the operator does every
hour: a full sync of a generated org with and without filters, then changes made through
Okta's API and the incremental sync that picks them up.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

import click
import httpx
from rich.markup import escape as markup_escape
from rich.text import Text

from okta_hris.cli.common import database_options, load_settings, stdout, user_errors
from okta_hris.cli.manifests import load_manifests
from okta_hris.cli.sync import (
    SyncJob,
    job_from_manifests,
    plan_job,
    print_plan,
    print_report,
    run_job,
)
from okta_hris.cli.tables import Column, cell, print_table
from okta_hris.directory.database import describe_url, parse_url
from okta_hris.directory.store import Directory
from okta_hris.domain.employees import EmployeeRow
from okta_hris.sandbox import SandboxConfig, run_sandbox
from okta_hris.settings import default_data_dir

EXAMPLES = ("minimal.yaml", "filtered.yaml")
SECRET = "okta-token-secret.yaml"


def _example(name: str) -> str:
    return (resources.files("okta_hris") / "data" / "examples" / name).read_text(encoding="utf-8")


def _change_the_org(okta: httpx.Client, employees: list[EmployeeRow]) -> list[str]:
    """Make the kind of changes an HR team makes in a day, through Okta's own API."""
    done: list[str] = []
    if len(employees) >= 2:
        leaver, mover = employees[0], employees[1]
        okta.post(f"/api/v1/users/{leaver.okta_id}/lifecycle/deactivate").raise_for_status()
        done.append(f"deactivated {leaver.display_name} in Okta")
        okta.post(
            f"/api/v1/users/{mover.okta_id}",
            json={
                "profile": {
                    "city": "Lisbon",
                    "countryCode": "PT",
                    "state": None,
                    "zipCode": "1100-148",
                }
            },
        ).raise_for_status()
        done.append(f"relocated {mover.display_name} to Lisbon, Portugal (out of the US/DE filter)")
    groups = okta.get("/api/v1/groups", params={"q": "Engineering"}).json()
    engineering = next((g for g in groups if g["profile"]["name"] == "Engineering"), None)
    created = okta.post(
        "/api/v1/users",
        params={"activate": "true"},
        json={
            "profile": {
                "firstName": "Grace",
                "lastName": "Hopper",
                "email": "grace.hopper@example.com",
                "login": "grace.hopper@example.com",
                "userType": "Full-time",
                "countryCode": "US",
                "city": "Arlington",
                "state": "VA",
                "mobilePhone": "+1 703 555 0100",
            }
        },
    )
    created.raise_for_status()
    if engineering is not None:
        okta.put(
            f"/api/v1/groups/{engineering['id']}/users/{created.json()['id']}"
        ).raise_for_status()
    done.append("hired Grace Hopper into Engineering")
    return done


# As `okta-hris directory employees` shows them: what fits the terminal, e-mails whole.
SAMPLE_COLUMNS = (
    Column("display_name", 0, wrap=True),
    Column("work_email", 0),
    Column("employment_status", 2, header="employment"),
    Column("teams", 3, wrap=True),
    Column("country_code", 1, header="country"),
    Column("city", 4),
    Column("mobile_phone_e164", 5, header="mobile"),
)


def _sample(directory: Directory, integration: str, limit: int = 10) -> None:
    rows = directory.list_employees(integration=integration, active=True)
    print_table(
        stdout,
        f"{integration}: first {min(limit, len(rows))} of {len(rows)} active employees",
        SAMPLE_COLUMNS,
        [[cell(getattr(row, c.name)) for c in SAMPLE_COLUMNS] for row in rows[:limit]],
    )


@click.command("demo")
@click.option("--users", default=1000, show_default=True, help="Users in the generated Okta org.")
@click.option("--groups", default=40, show_default=True, help="Groups in the generated Okta org.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated org.")
@database_options("Directory database. Default: a fresh demo SQLite file beside the embedded one.")
@user_errors
def demo_command(users: int, groups: int, seed: int, database: str | None) -> None:
    """Sync a generated Okta org into an embedded SQLite directory."""
    settings = load_settings(okta=False)  # Okta is the bundled sandbox, whatever HRIS_OKTA_URL says
    if database is None:
        # The generated org is new every run; so is the demo's own directory.
        demo_file = default_data_dir() / "demo.db"
        for stale in (demo_file, *demo_file.parent.glob("demo.db-*")):
            stale.unlink(missing_ok=True)
    url = database or f"sqlite:///{demo_file}"
    with run_sandbox(SandboxConfig(users=users, groups=groups, seed=seed)) as sandbox:
        stdout.print(
            f"[bold]Okta sandbox[/] at {sandbox.url}: {users:,} generated users, {groups} groups (seed {seed})",
            highlight=False,
        )
        where = markup_escape(describe_url(parse_url(url)))  # a path may hold "[", a password
        stdout.print(f"[bold]Directory[/] {where}\n", highlight=False)
        secret = _example(SECRET)
        jobs: list[SyncJob] = [
            job_from_manifests(
                load_manifests(f"{secret}\n---\n{_example(name)}", source=f"examples/{name}"),
                None,
                sandbox.url,
                settings,
            )
            for name in EXAMPLES
        ]
        with Directory.open(url) as directory:
            for name, job in zip(EXAMPLES, jobs, strict=True):
                report = run_job(job, directory, settings, force_full=True).report
                print_report(
                    report, title=f"examples/{name}: full sync of {job.manifest.integration_key}"
                )
            filtered_job = jobs[-1]
            _sample(directory, filtered_job.manifest.integration_key)

            with httpx.Client(
                base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
            ) as okta:
                active = directory.list_employees(
                    integration=filtered_job.manifest.integration_key, active=True
                )
                changes = _change_the_org(okta, active)
            stdout.print("\n[bold]Meanwhile in Okta:[/] " + "; ".join(changes), highlight=False)
            plan = plan_job(filtered_job, directory, settings)
            print_plan(plan, limit=10)
            # In a small demo org a few leavers exceed the example's 20% safety threshold;
            # approve what the plan showed, as an operator would with --approve-deactivations.
            approved = len(plan.plan.deactivated) if plan.held else None
            report = run_job(filtered_job, directory, settings, approved=approved).report
            print_report(
                report, title=f"then an {report.mode.lower()} sync of {report.integration}"
            )

    command = (
        f"{invoked_as()} directory employees --database {shlex.quote(describe_url(parse_url(url)))} "
        f"--integration {filtered_job.manifest.integration_key} --team Engineering"
    )
    stdout.print(Text(f"\nExplore the directory:\n  {command}"), soft_wrap=True)


def invoked_as() -> str:
    """How to run okta-hris again, as this user just did: ``okta-hris`` when that is on PATH,
    else the path they typed (``.venv/bin/okta-hris`` after ``make demo``)."""
    typed = Path(sys.argv[0])
    if typed.name != "okta-hris":  # python -m okta_hris
        return f"{sys.executable} -m okta_hris"
    found = shutil.which("okta-hris")
    if found is not None and Path(found).resolve() == typed.resolve():
        return "okta-hris"
    return str(typed)

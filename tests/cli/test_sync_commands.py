"""``okta-hris sync`` and ``plan`` telling what happened, where, and what to do (issue 11).

One sync per integration (the lease, across processes and after a SIGKILL), where the sync
wrote, the hold's advice for the CLI, invitations that could not be delivered, and ``-o json``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import Directory, schema
from okta_hris.directory.leases import SyncLease
from okta_hris.errors import HrisError
from okta_hris.okta import ApiToken
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Sandbox
from okta_hris.services import Failed, IntegrationSync, Succeeded
from okta_hris.settings import Settings

from ..invitations.support import employee, seed
from ..support.cli import cli_environ, run_cli
from ..support.directory import recent_runs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SECRET = (EXAMPLES / "okta-token-secret.yaml").read_text()
ENGINEERING = "people-ops/acme-engineering"
ACME = "people-ops/acme"
INVITATIONS = (
    "  invitations:\n    enabled: true\n    dashboardUrl: https://dashboard.example.com\n"
    "    from: People Ops <people-ops@example.com>\n    smtpSecretRef: {name: smtp}\n"
)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "engineering.yaml"
    path.write_text(SECRET + "\n---\n" + (EXAMPLES / "filtered.yaml").read_text())
    return path


def _free_port() -> int:
    """A port nothing listens on: the SMTP relay that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _smtp_secret(port: int) -> str:
    return (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: smtp, namespace: people-ops}\n"
        f"stringData: {{host: 127.0.0.1, port: '{port}', security: none}}\n"
    )


def _lease(url: str, integration: str) -> SyncLease | None:
    """The integration's lease as another process sees it; None also before the schema exists."""
    try:
        with Directory.open(url, migrate=False) as directory:
            return directory.leases.current(integration)
    except HrisError:
        return None


def _wait_for_lease(url: str, integration: str, process: subprocess.Popen[Any]) -> SyncLease:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lease = _lease(url, integration)
        if lease is not None:
            return lease
        assert process.poll() is None, "the sync ended before it took its lease"
        time.sleep(0.05)
    raise AssertionError("the sync never took its lease")


def _runs(url: str, integration: str) -> list[str]:
    with Directory.open(url) as directory:
        return [run.outcome for run in recent_runs(directory, integration)]


# -- one sync per integration -------------------------------------------------------------------


def test_a_second_sync_of_the_same_integration_is_refused_and_nothing_counts_twice(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    """A real process syncs a fresh directory; a second sync starts while it runs."""
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", database_url)
    sandbox.set_latency(0.5)  # a sync of several seconds
    first = subprocess.Popen(
        [sys.executable, "-m", "okta_hris", "sync", *common],
        env=cli_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lease = _wait_for_lease(database_url, ENGINEERING, first)
        assert lease.owner.startswith(f"okta-hris sync (pid {first.pid} on ")
        second = run_cli("sync", *common)
    finally:
        out, err = first.communicate(timeout=120)
    sandbox.set_latency(0.0)

    assert first.returncode == 0, err
    assert "created" in out
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"another sync of {ENGINEERING} is running (started " in second.stderr
    assert "by okta-hris sync (pid" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert second.stdout == ""
    assert "UNIQUE" not in err + second.stderr and "Traceback" not in err + second.stderr
    # The refused sync never started: it leaves no sync_runs row. The lease is given back.
    assert _runs(database_url, ENGINEERING) == ["succeeded"]
    assert _lease(database_url, ENGINEERING) is None
    again = run_cli("sync", *common)
    assert again.returncode == 0, again.stderr


def test_a_lease_left_by_a_killed_sync_is_taken_over_once_it_expires(
    sandbox: Sandbox, manifest: Path, sqlite_url: str
) -> None:
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url)
    sandbox.set_latency(0.5)
    killed = subprocess.Popen(
        [sys.executable, "-m", "okta_hris", "sync", *common],
        env=cli_environ({"HRIS_SYNC_LEASE_SECONDS": "2"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_lease(sqlite_url, ENGINEERING, killed)
        killed.send_signal(signal.SIGKILL)
    finally:
        killed.wait()
    sandbox.set_latency(0.0)
    left = _lease(sqlite_url, ENGINEERING)
    assert left is not None and f"pid {killed.pid} " in left.owner  # nobody released it
    time.sleep(max(0.0, (left.expires_at - datetime.now(UTC)).total_seconds()) + 0.1)

    result = run_cli("sync", *common)
    assert result.returncode == 0, result.stderr
    assert _runs(sqlite_url, ENGINEERING) == ["succeeded"]
    assert _lease(sqlite_url, ENGINEERING) is None


class _Token:
    def __init__(self, token: str) -> None:
        self.token = token

    async def okta_credential(self, spec: OktaIntegrationSpec) -> ApiToken:
        return ApiToken(self.token)

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> Any:
        raise AssertionError("invitations are off")


def test_the_service_runs_one_sync_per_integration_at_once(
    sandbox: Sandbox, database_url: str
) -> None:
    """What the operator runs: two syncs of one integration in one loop, one of another."""
    spec = OktaIntegrationSpec.model_validate(
        {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
    )
    sandbox.set_latency(0.05)

    async def three() -> list[Any]:
        with Directory.open(database_url) as directory:
            syncs = IntegrationSync(directory, Settings(okta_url=sandbox.url))
            token = _Token(sandbox.token)
            return await asyncio.gather(
                syncs.run(ACME, spec, token),
                syncs.run(ACME, spec, token),
                syncs.run("people-ops/other", spec, token),
            )

    first, second, other = asyncio.run(three())
    outcomes = sorted([first, second], key=lambda o: isinstance(o, Failed))
    assert isinstance(outcomes[0], Succeeded)
    refused = outcomes[1]
    assert isinstance(refused, Failed), refused
    assert (refused.reason, refused.permanent) == ("SyncInProgress", False)
    assert refused.message.startswith(f"another sync of {ACME} is running (started ")
    assert isinstance(other, Succeeded)
    assert _runs(database_url, ACME) == ["succeeded"]


def test_a_sync_whose_lease_was_taken_over_stops_before_it_applies(
    sandbox: Sandbox, database_url: str
) -> None:
    """As if the sync had stalled past its lease and another had taken it over meanwhile."""
    spec = OktaIntegrationSpec.model_validate(
        {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
    )
    sandbox.set_latency(0.5)  # every Okta round trip outlasts a renewal period (0.25 s)

    async def usurped() -> Any:
        with Directory.open(database_url) as directory:
            syncs = IntegrationSync(directory, Settings(okta_url=sandbox.url, sync_lease_seconds=1))
            sync = asyncio.create_task(syncs.run(ACME, spec, _Token(sandbox.token)))
            for _ in range(3000):  # the lease, as another process would poll for it
                if await asyncio.to_thread(directory.leases.current, ACME) is not None:
                    break
                await asyncio.sleep(0.02)
            with directory.engine.begin() as connection:
                connection.execute(
                    sa.update(schema.sync_leases).values(holder="usurper", owner="another sync")
                )
            outcome = await sync
            return outcome, directory.leases.current(ACME), directory.list_employees()

    outcome, lease, employees = asyncio.run(usurped())
    sandbox.set_latency(0.0)
    assert isinstance(outcome, Failed), outcome
    assert outcome.reason == "SyncInProgress"
    assert "another sync took it over" in outcome.message
    assert employees == []  # stopped before it applied
    assert lease is not None and lease.holder == "usurper"  # not released by the loser


def test_a_sync_cancelled_while_taking_its_lease_gives_it_back(
    sandbox: Sandbox, sqlite_url: str
) -> None:
    """Ctrl-C or SIGTERM while the lease's thread commits it: the lease is released as soon as
    it is taken, not left to block the next sync until it expires."""
    spec = OktaIntegrationSpec.model_validate(
        {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
    )
    path = sqlite_url.removeprefix("sqlite:///")

    async def cancelled() -> None:
        with Directory.open(sqlite_url) as directory:
            syncs = IntegrationSync(directory, Settings(okta_url=sandbox.url))
            blocker = sqlite3.connect(path, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # the lease's write waits for this writer
            try:
                sync = asyncio.create_task(syncs.run(ACME, spec, _Token(sandbox.token)))
                await asyncio.sleep(0.5)  # the sync is waiting in the lease's thread
                sync.cancel()
                await asyncio.sleep(0.1)
            finally:
                blocker.execute("ROLLBACK")  # now the lease is taken
                blocker.close()
            with pytest.raises(asyncio.CancelledError):
                await sync

    asyncio.run(cancelled())  # returns once every thread has finished
    assert _lease(sqlite_url, ACME) is None


# -- where it wrote, the hold, invitations --------------------------------------------------------


def _with_password(url: str) -> str:
    """PostgreSQL here trusts every local connection: any password works, and must not show."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.set(password="s3cret-pw").render_as_string(hide_password=False)


def test_the_summary_says_which_directory_it_wrote_without_the_password(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    url = _with_password(database_url)
    result = run_cli("sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", url)
    assert result.returncode == 0, result.stderr
    shown = sa.make_url(url).render_as_string(hide_password=True)
    assert ":***@" in shown or shown.startswith("sqlite:///")
    assert f"written to the directory {shown}" in result.stdout
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_a_mismatched_approval_says_so_and_the_run_records_a_neutral_reason(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    everyone = tmp_path / "all.yaml"
    everyone.write_text(SECRET + "\n---\n" + (EXAMPLES / "minimal.yaml").read_text())
    common = ("--okta-url", sandbox.url, "--database", sqlite_url)
    assert run_cli("sync", "-f", str(everyone), *common).returncode == 0
    narrowed = tmp_path / "narrow.yaml"
    narrowed.write_text(
        SECRET
        + "\n---\napiVersion: hris.dev/v1alpha1\nkind: OktaIntegration\n"
        + "metadata: {name: acme, namespace: people-ops}\n"
        + "spec:\n  okta: {subdomain: acme, tokenSecretRef: {name: okta-api-token}}\n"
        + "  sync: {scope: Filtered}\n  filters: {countries: {include: [JP]}}\n"
    )
    held = run_cli("sync", "-f", str(narrowed), *common, "--approve-deactivations", "5")
    assert held.returncode == 3, held.stdout + held.stderr
    assert len(held.stderr.strip().splitlines()) == 1, held.stderr
    assert "--approve-deactivations 5 does not match the hold: this sync would deactivate " in (
        held.stderr
    )
    with Directory.open(sqlite_url) as directory:
        run = recent_runs(directory, ACME, limit=1)[0]
    assert run.outcome == "held" and run.error is not None
    count = int(run.error.split("would deactivate ")[1].split()[0])
    assert f"approve with --approve-deactivations {count}, or fix the spec" in held.stderr
    assert run.error.startswith(f"held: it would deactivate {count} of ")
    assert "annotation" not in run.error + held.stderr and "--approve" not in run.error

    plain = run_cli("sync", "-f", str(narrowed), *common)
    assert plain.returncode == 3 and "does not match" not in plain.stderr
    assert f"approve with --approve-deactivations {count}" in plain.stderr


def test_sync_says_why_invitations_were_not_sent_and_how_many_wait(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "invite.yaml"
    path.write_text(
        SECRET
        + "\n---\n"
        + _smtp_secret(_free_port())
        + "---\n"
        + (EXAMPLES / "minimal.yaml").read_text()
        + INVITATIONS
    )
    result = run_cli("sync", "-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
    assert result.returncode == 0, result.stderr
    with Directory.open(sqlite_url) as directory:
        pending = directory.outbox.counts(ACME).pending
    assert pending > 50  # more than one delivery batch: the relay refused the first
    lines = [line for line in result.stdout.splitlines() if line.startswith("invitations:")]
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"invitations: 0 sent, 0 failed, 50 to retry; {pending} pending")
    assert "last error: cannot use the SMTP relay 127.0.0.1:" in lines[0]
    assert "SMTP relay" not in result.stderr


def test_invitations_send_says_the_reason_once(tmp_path: Path, sqlite_url: str) -> None:
    with Directory.open(sqlite_url) as directory:
        seed(directory, [employee(f"00u{i:02}") for i in range(60)])
    path = tmp_path / "acme.yaml"
    path.write_text(
        "apiVersion: hris.dev/v1alpha1\nkind: OktaIntegration\n"
        + "metadata: {name: acme, namespace: people-ops}\n"
        + "spec:\n  okta: {subdomain: acme, tokenSecretRef: {name: okta-api-token}}\n"
        + INVITATIONS
        + "---\n"
        + _smtp_secret(_free_port())
    )
    result = run_cli("invitations", "send", "-f", str(path), "--database", sqlite_url)
    assert result.returncode == 1
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    assert result.stdout.startswith(f"{ACME}: 0 sent, 0 failed, 50 to retry; 60 pending")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.count("cannot use the SMTP relay") == 1


# -- -o json ------------------------------------------------------------------------------------


def test_plan_and_sync_as_json(sandbox: Sandbox, manifest: Path, database_url: str) -> None:
    url = _with_password(database_url)
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", url)
    plan = run_cli("plan", *common, "-o", "json", "--limit", "1")
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert (planned["integration"], planned["mode"], planned["applied"]) == (
        ENGINEERING,
        "Full",
        False,
    )
    assert planned["held"] is False and isinstance(planned["deactivationLimit"], int)
    created = planned["changes"]["created"]
    assert len(created) == planned["counts"]["created"] > 1  # every name, not --limit
    assert {"oktaId", "displayName"} <= set(created[0])
    assert "s3cret-pw" not in plan.stdout

    synced = run_cli("sync", *common, "--output", "json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)  # the whole of stdout: no table, no progress
    assert report["applied"] is True and report["held"] is False
    assert report["counts"]["created"] == len(created)
    assert sorted(c["oktaId"] for c in report["changes"]["created"]) == sorted(
        c["oktaId"] for c in created
    )
    assert report["employees"]["active"] == len(created)
    assert report["directory"] == sa.make_url(url).render_as_string(hide_password=True)
    assert report["invitations"] == {"queued": 0}

    with Directory.open(database_url) as directory:
        leaver = directory.list_employees(integration=ENGINEERING)[0]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        okta.post(f"/api/v1/users/{leaver.okta_id}/lifecycle/suspend").raise_for_status()
    again = json.loads(run_cli("plan", *common, "-o", "json").stdout)
    assert again["mode"] == "Incremental"
    assert again["changes"]["deactivated"] == [
        {"oktaId": leaver.okta_id, "displayName": leaver.display_name}
    ]


def test_json_errors_stay_one_line_on_stderr(
    sandbox: Sandbox, manifest: Path, sqlite_url: str
) -> None:
    result = run_cli(
        "sync",
        "-f",
        str(manifest),
        "--okta-url",
        sandbox.url,
        "--database",
        sqlite_url,
        "-o",
        "json",
        env={"OKTA_API_TOKEN": "wrong"},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Unauthorized" in result.stderr


def test_a_terminated_sync_releases_its_lease(
    sandbox: Sandbox, manifest: Path, sqlite_url: str
) -> None:
    """SIGTERM (kill, timeout, a cancelled CI job) stops a sync as Ctrl-C does: nothing
    applied, and the next sync need not wait for the lease to lapse."""
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url)
    sandbox.set_latency(0.5)
    terminated = subprocess.Popen(
        [sys.executable, "-m", "okta_hris", "sync", *common],
        env=cli_environ(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_lease(sqlite_url, ENGINEERING, terminated)
        terminated.send_signal(signal.SIGTERM)
        _, stderr = terminated.communicate(timeout=60)
    finally:
        if terminated.poll() is None:
            terminated.kill()
    sandbox.set_latency(0.0)
    assert terminated.returncode == 130, stderr
    assert "interrupted; nothing was written" in stderr and "Traceback" not in stderr
    assert _lease(sqlite_url, ENGINEERING) is None
    assert run_cli("sync", *common).returncode == 0  # at once, no lease to wait for


def test_a_password_in_the_query_is_masked_too(
    sandbox: Sandbox, manifest: Path, postgres_url: str
) -> None:
    url = f"{postgres_url}?password=QsS3cretPW&application_name=x"
    result = run_cli("sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", url)
    assert result.returncode == 0, result.stderr
    assert "QsS3cretPW" not in result.stdout + result.stderr
    assert "password=***" in result.stdout


def test_plan_prints_okta_names_as_written_never_as_escapes_or_lines(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    """A name is Okta's value: it must not style the plan, move the cursor, or forge a line."""
    hostile = (
        "[bold red]x[/] \x1b[31mRED\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07"
        "\nLine2\r\n  deactivate Fake Person (00uFAKE)"
    )
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        profile = {
            "firstName": "Eve",
            "lastName": "Hostile",
            "displayName": hostile,
            "email": "eve.hostile@example.com",
            "login": "eve.hostile@example.com",
            "countryCode": "US",
        }
        created = okta.post("/api/v1/users", params={"activate": "true"}, json={"profile": profile})
        created.raise_for_status()
    everyone = tmp_path / "everyone.yaml"  # scope All: the new user is in it
    everyone.write_text(SECRET + "\n---\n" + (EXAMPLES / "minimal.yaml").read_text())
    result = run_cli(
        "plan",
        "-f",
        str(everyone),
        "--okta-url",
        sandbox.url,
        "--database",
        sqlite_url,
        "--limit",
        "100000",
    )
    assert result.returncode == 0, result.stderr
    assert "[bold red]x[/]" in result.stdout  # shown as written, not styled away
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "00uFAKE" not in "".join(
        line for line in result.stdout.splitlines() if line.strip().startswith("deactivate")
    )
    assert all(
        not line.lstrip().startswith("deactivate Fake") for line in result.stdout.splitlines()
    )

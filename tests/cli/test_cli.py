"""The console script as a user runs it, against the sandbox and a real directory.

Most tests invoke it in-process (``tests.support.cli.run_cli``); a few run it as a real process
where the process is the point: a sync killed with SIGKILL, a happy-path sync, the demo, and a
user error's exit code and stderr as the interpreter leaves them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_hris.sandbox import Sandbox

from ..support.cli import cli_environ, run_cli, run_cli_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

PLAN_LINE = re.compile(
    r"sync would create (?P<create>\d+), update (?P<update>\d+), "
    r"deactivate (?P<deactivate>\d+) \((?P<unchanged>\d+) unchanged"
)


def planned(stdout: str) -> dict[str, int]:
    """The counts of ``plan``'s summary line: create, update, deactivate, unchanged."""
    match = PLAN_LINE.search(stdout)
    assert match, stdout
    return {key: int(value) for key, value in match.groupdict().items()}


def reported(stdout: str) -> dict[str, int]:
    """The rows of ``sync``'s report table, label -> count (``created``, ``updated``, ...)."""
    rows: dict[str, int] = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 4 and cells[2].replace(",", "").isdigit():  # "│ label │ count │"
            rows[cells[1]] = int(cells[2].replace(",", ""))
    assert "created" in rows, stdout
    return rows


def test_sync_then_plan_then_directory(sandbox: Sandbox, manifest: Path, database_url: str) -> None:
    common = ("--okta-url", sandbox.url, "--database", database_url)
    plan = run_cli("plan", "-f", str(manifest), *common, "--exit-code")
    assert plan.returncode == 2, plan.stderr
    assert planned(plan.stdout)["create"] > 0

    synced = run_cli("sync", "-f", str(manifest), *common)
    assert synced.returncode == 0, synced.stderr
    report = reported(synced.stdout)
    assert report["created"] == planned(plan.stdout)["create"]

    unchanged = run_cli("plan", "-f", str(manifest), *common, "--exit-code")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "would create 0, update 0, deactivate 0" in unchanged.stdout

    listed = run_cli("directory", "employees", "--database", database_url, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    assert len(rows) == report["created"]
    assert all(r["integration"] == "people-ops/acme-engineering" for r in rows)
    assert all(r["country_code"] in ("US", "DE") and "Engineering" in r["teams"] for r in rows)

    germans = run_cli(
        "directory", "employees", "--database", database_url, "--country", "de", "-o", "csv"
    )
    assert germans.returncode == 0, germans.stderr
    table = list(csv.DictReader(io.StringIO(germans.stdout)))
    assert table and {r["country_code"] for r in table} == {"DE"}
    assert len(table) == sum(r["country_code"] == "DE" for r in rows) < len(rows)

    team = run_cli(
        "directory", "employees", "--database", database_url, "--team", "Engineering", "-o", "json"
    )
    assert len(json.loads(team.stdout)) == len(rows)
    # Everyone in scope is in Engineering; a team only some of them are in shows the filter works.
    other = next(
        t
        for t in sorted({t for r in rows for t in r["teams"]})
        if 0 < sum(t in r["teams"] for r in rows) < len(rows)
    )
    members = run_cli(
        "directory", "employees", "--database", database_url, "--team", other, "-o", "json"
    )
    assert {r["okta_id"] for r in json.loads(members.stdout)} == {
        r["okta_id"] for r in rows if other in r["teams"]
    }


def test_plan_names_deactivations_after_an_okta_change(
    sandbox: Sandbox, manifest: Path, sqlite_url: str
) -> None:
    common = ("--okta-url", sandbox.url, "--database", sqlite_url)
    assert run_cli("sync", "-f", str(manifest), *common).returncode == 0
    rows = json.loads(
        run_cli("directory", "employees", "--database", sqlite_url, "-o", "json").stdout
    )
    leaver = rows[0]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        okta.post(f"/api/v1/users/{leaver['okta_id']}/lifecycle/suspend").raise_for_status()
    plan = run_cli("plan", "-f", str(manifest), *common, "--exit-code")
    assert plan.returncode == 2
    assert planned(plan.stdout)["deactivate"] == 1
    assert f"deactivate {leaver['display_name']} ({leaver['okta_id']})" in plan.stdout


def test_token_overrides(sandbox: Sandbox, manifest: Path, sqlite_url: str, tmp_path: Path) -> None:
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url)
    bad = run_cli("sync", *common, env={"OKTA_API_TOKEN": "not-the-token"})
    assert bad.returncode == 1
    assert "Unauthorized" in bad.stderr and "Traceback" not in bad.stderr
    assert "not-the-token" not in bad.stderr + bad.stdout
    token_file = tmp_path / "token"
    token_file.write_text(sandbox.token + "\n")
    assert (
        run_cli(
            "sync", *common, "--token-file", str(token_file), env={"OKTA_API_TOKEN": "x"}
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "no OktaIntegration"),
        ("a: [1, 2\n", "YAML syntax error at line"),
        (
            "apiVersion: hris.dev/v1alpha1\nkind: OktaIntegration\nmetadata: {name: x}\n"
            "spec: {okta: {subdomain: acme, tokenSecretRef: {name: t}}, filters: {countries: {include: [Germany]}}}\n",
            "did you mean DE",
        ),
        (
            "apiVersion: hris.dev/v1alpha1\nkind: OktaIntegration\nmetadata: {name: x}\n"
            "spec: {okta: {subdomain: acme, tokenSecretRef: {name: t}}}\n",
            "no Secret 't'",
        ),
    ],
)
def test_user_errors_are_one_clear_line(
    tmp_path: Path, sqlite_url: str, content: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = run_cli("sync", "-f", str(path), "--database", sqlite_url)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_file_and_plain_http_to_a_remote_host(manifest: Path, sqlite_url: str) -> None:
    missing = run_cli("sync", "-f", "/nonexistent.yaml", "--database", sqlite_url)
    assert missing.returncode == 1 and "cannot read /nonexistent.yaml" in missing.stderr
    remote = run_cli(
        "sync", "-f", str(manifest), "--okta-url", "http://example.com", "--database", sqlite_url
    )
    assert remote.returncode == 1 and "loopback" in remote.stderr


def test_unreachable_okta(manifest: Path, sqlite_url: str) -> None:
    """A process: whatever asyncio or httpx print at interpreter exit counts too.

    Retries are not the subject here; without them Okta is given up on at the first refusal.
    """
    result = run_cli_process(
        "sync",
        "-f",
        str(manifest),
        "--okta-url",
        "http://127.0.0.1:9",
        "--database",
        sqlite_url,
        env={"HRIS_OKTA_MAX_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert "OktaUnavailable" in result.stderr and "Traceback" not in result.stderr


def test_safety_hold_exits_3_and_applies_nothing(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    secret = (EXAMPLES / "okta-token-secret.yaml").read_text()
    everyone = tmp_path / "all.yaml"
    everyone.write_text(secret + "\n---\n" + (EXAMPLES / "minimal.yaml").read_text())
    common = ("--okta-url", sandbox.url, "--database", sqlite_url)
    assert run_cli("sync", "-f", str(everyone), *common).returncode == 0
    before = run_cli("directory", "employees", "--database", sqlite_url, "-o", "json").stdout
    assert json.loads(before)
    narrowed = tmp_path / "narrow.yaml"
    narrowed.write_text(
        secret
        + "\n---\n"
        + "apiVersion: hris.dev/v1alpha1\nkind: OktaIntegration\n"
        + "metadata: {name: acme, namespace: people-ops}\n"
        + "spec:\n  okta: {subdomain: acme, tokenSecretRef: {name: okta-api-token}}\n"
        + "  sync: {scope: Filtered}\n  filters: {countries: {include: [JP]}}\n"
    )
    held = run_cli("sync", "-f", str(narrowed), *common)
    assert held.returncode == 3, held.stdout + held.stderr
    assert "would deactivate" in held.stderr
    assert (
        run_cli("directory", "employees", "--database", sqlite_url, "-o", "json").stdout == before
    )


def test_demo_runs_offline(tmp_path: Path) -> None:
    """A process: the demo starts its own sandbox, as ``okta-hris demo`` does for a user."""
    result = run_cli_process(
        "demo",
        "--users",
        "300",
        "--groups",
        "20",
        "--database",
        f"sqlite:///{tmp_path / 'demo.db'}",
    )
    assert result.returncode == 0, result.stderr
    assert "full sync of people-ops/acme-engineering" in result.stdout
    assert "incremental sync" in result.stdout


def test_sync_delivers_the_invitations_it_queued(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    from aiosmtpd.controller import Controller

    from ..invitations.support import Mailbox

    with socket.socket() as probe:  # aiosmtpd's Controller cannot start on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    relay = Controller(mailbox, hostname="127.0.0.1", port=port)
    relay.start()
    try:
        path = tmp_path / "invite.yaml"
        path.write_text(
            (EXAMPLES / "okta-token-secret.yaml").read_text()
            + "\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: smtp, namespace: people-ops}\n"
            + f"stringData: {{host: 127.0.0.1, port: '{port}', security: none}}\n"
            + "---\n"
            + (EXAMPLES / "filtered.yaml").read_text()
            + "  invitations:\n    enabled: true\n    dashboardUrl: https://dashboard.example.com\n"
            + "    from: People Ops <people-ops@example.com>\n    smtpSecretRef: {name: smtp}\n"
        )
        common = ("-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
        first = run_cli("sync", *common)
        assert first.returncode == 0, first.stderr
        rows = json.loads(
            run_cli("directory", "employees", "--database", sqlite_url, "-o", "json").stdout
        )
        assert len(mailbox.received) == len(rows) > 0
        assert f"invitations: {len(rows)} sent, 0 failed, 0 to retry" in first.stdout
        assert run_cli("sync", *common).returncode == 0
        assert len(mailbox.received) == len(rows)
        listed = run_cli("invitations", "list", "--database", sqlite_url, "-o", "json")
        assert listed.returncode == 0, listed.stderr
        assert {i["status"] for i in json.loads(listed.stdout)} == {"sent"}
    finally:
        relay.stop()


def test_a_killed_sync_leaves_the_directory_as_it_was(
    sandbox: Sandbox, manifest: Path, sqlite_url: str
) -> None:
    """Processes: the sync is killed with SIGKILL. The sync before it is the happy path of
    ``okta-hris sync`` as a real process."""
    common = ("-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url)
    first = run_cli_process("sync", *common)
    assert first.returncode == 0, first.stderr
    assert reported(first.stdout)["created"] > 0
    rows = run_cli_process("directory", "employees", "--database", sqlite_url, "-o", "json").stdout
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        okta.post(
            f"/api/v1/users/{json.loads(rows)[0]['okta_id']}/lifecycle/suspend"
        ).raise_for_status()
    sandbox.set_latency(0.5)
    sandbox.requests.clear()
    process = subprocess.Popen(
        [sys.executable, "-m", "okta_hris", "sync", "--full", *common],
        env=cli_environ(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(sandbox.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the sync ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    sandbox.set_latency(0.0)
    after = run_cli_process("directory", "employees", "--database", sqlite_url, "-o", "json").stdout
    assert after == rows


def test_plan_creates_no_directory(sandbox: Sandbox, manifest: Path, tmp_path: Path) -> None:
    target = tmp_path / "not-yet.db"
    result = run_cli(
        "plan", "-f", str(manifest), "--okta-url", sandbox.url, "--database", f"sqlite:///{target}"
    )
    assert result.returncode == 0, result.stderr
    assert planned(result.stdout)["create"] > 0
    assert not target.exists()


def test_review_regressions(sandbox: Sandbox, manifest: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share")}
    tilde = "sqlite:///~/e.db"
    assert (
        run_cli(
            "sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", tilde, env=env
        ).returncode
        == 0
    )
    assert (home / "e.db").exists()
    # plan reads the same ~ database as sync: nothing to do
    plan = run_cli(
        "plan",
        "-f",
        str(manifest),
        "--okta-url",
        sandbox.url,
        "--database",
        tilde,
        "--exit-code",
        env=env,
    )
    assert plan.returncode == 0, plan.stdout
    # a bad port, a token file that is not text: one line, no traceback
    bad_port = run_cli("plan", "-f", str(manifest), "--okta-url", "http://127.0.0.1:99999", env=env)
    assert (
        bad_port.returncode == 1
        and "invalid port" in bad_port.stderr
        and "Traceback" not in bad_port.stderr
    )
    binary = tmp_path / "token.bin"
    binary.write_bytes(b"\xff\xfe")
    bad_token = run_cli(
        "plan", "-f", str(manifest), "--okta-url", sandbox.url, "--token-file", str(binary), env=env
    )
    assert bad_token.returncode == 1 and "not UTF-8" in bad_token.stderr
    # reading a directory that does not exist creates nothing
    missing = tmp_path / "missing.db"
    listed = run_cli(
        "directory", "employees", "--database", f"sqlite:///{missing}", "-o", "json", env=env
    )
    assert listed.returncode == 1 and "no directory at" in listed.stderr and not missing.exists()


def test_file_from_stdin(sandbox: Sandbox, manifest: Path, sqlite_url: str) -> None:
    result = run_cli(
        "plan",
        "-f",
        "-",
        "--okta-url",
        sandbox.url,
        "--database",
        sqlite_url,
        input=manifest.read_text(),
    )
    assert result.returncode == 0, result.stderr
    assert planned(result.stdout)["create"] > 0


def test_missing_smtp_secret_stops_the_sync_before_it_writes(
    sandbox: Sandbox, manifest: Path, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "invite.yaml"
    path.write_text(
        manifest.read_text()
        + "  invitations:\n    enabled: true\n    dashboardUrl: https://dashboard.example.com\n"
        + "    from: People Ops <people-ops@example.com>\n    smtpSecretRef: {name: smtp}\n"
    )
    result = run_cli("sync", "-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
    # (the test's tmp_path holds "smtp" too: look for the whole message)
    assert result.returncode == 1
    assert "has no Secret 'smtp' with the SMTP settings" in result.stderr
    listed = run_cli("directory", "employees", "--database", sqlite_url, "-o", "json")
    # Nothing written: no directory at all, or (had the sync opened it) nobody in it.
    assert "no directory at" in listed.stderr or json.loads(listed.stdout) == []

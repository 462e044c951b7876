"""``okta-hris invitations list`` and ``send``: the console script, a real directory and relay."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, SyncState
from okta_hris.sandbox import Sandbox

from ..support.cli import CliResult, run_cli
from .support import INTEGRATION, T0, Mailbox, employee, seed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BETA = "people-ops/beta"

MANIFEST = """\
apiVersion: hris.dev/v1alpha1
kind: OktaIntegration
metadata: {{name: acme, namespace: people-ops}}
spec:
  okta: {{subdomain: acme, tokenSecretRef: {{name: okta-api-token}}}}
  invitations:
    enabled: {enabled}
    dashboardUrl: https://dashboard.acme.example/welcome
    from: "People Ops <people-ops@acme.example>"
    smtpSecretRef: {{name: smtp}}{company}
---
apiVersion: v1
kind: Secret
metadata: {{name: {secret_name}, namespace: people-ops}}
stringData:
  host: 127.0.0.1
  port: "{port}"
  security: {security}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def relay(mailbox: Mailbox) -> Iterator[int]:
    """The relay in its own thread: the CLI runs its own event loop."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
def manifest(tmp_path: Path, relay: int) -> Callable[..., str]:
    def write(
        enabled: bool = True,
        secret_name: str = "smtp",
        security: str = "none",
        company: str | None = None,
    ) -> str:
        path = tmp_path / "acme.yaml"
        path.write_text(
            MANIFEST.format(
                enabled=str(enabled).lower(),
                secret_name=secret_name,
                port=relay,
                security=security,
                company=f"\n    companyName: {json.dumps(company)}" if company else "",
            )
        )
        return str(path)

    return write


def run(*args: str, env: dict[str, str] | None = None, columns: int = 200) -> CliResult:
    return run_cli("invitations", *args, env={"COLUMNS": str(columns), **(env or {})})


def table_rows(stdout: str) -> list[list[str]]:
    """The cells of each body row of a rich table, the lines of a wrapped row joined."""
    rows: list[list[str]] = []
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0] or not rows:  # a row's first line; the first column is never empty
            rows.append(cells)
        else:
            rows[-1] = [
                f"{above} {below}".strip() for above, below in zip(rows[-1], cells, strict=True)
            ]
    return rows


def test_send_delivers_pending_invitations_once(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1", "Zoë Ångström"), employee("00u2")])
    first = run("send", "-f", manifest(), "--database", database_url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "people-ops/acme: 2 sent, 0 failed, 0 to retry" in first.stdout
    second = run("send", "-f", manifest(), "--database", database_url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "people-ops/acme: 0 sent, 0 failed, 0 to retry" in second.stdout
    assert mailbox.recipients() == ["00u1@acme.example", "00u2@acme.example"]
    # No spec.invitations.companyName: no company named, and never the resource's name.
    assert mailbox.received[0].message["Subject"] == "You're invited to your employee dashboard"
    assert_names_no_company(mailbox.received[0].message)


def assert_names_no_company(message: EmailMessage) -> None:
    """Neither the resource's name (acme) nor its namespace in the subject or the text."""
    shown = [str(message["Subject"])]
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        assert part is not None
        # The dashboard's URL and the sender's address are the spec's, and name acme.example.
        shown.append(part.get_content().replace("acme.example", "example"))
    for text in shown:
        assert "acme" not in text.lower() and "people-ops" not in text, text


def test_send_names_the_company_of_the_spec(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1")])
    result = run("send", "-f", manifest(company="Initech & <Sons>"), "--database", database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    message = mailbox.received[0].message
    assert message["Subject"] == "You're invited to the Initech & <Sons> employee dashboard"
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    assert "Initech & <Sons> has invited you to its employee dashboard" in text.get_content()
    assert "Initech &amp; &lt;Sons&gt; has invited you" in html.get_content()


def test_send_company_option_overrides_the_spec_and_is_checked(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1")])
    bad = run(
        "send", "-f", manifest(company="Acme"), "--company", "X\r\nBcc: a@b.c", "--database",
        database_url,
    )  # fmt: skip
    assert bad.returncode == 1 and mailbox.received == []
    assert "--company 'X\\r\\nBcc: a@b.c' is not a company name" in bad.stderr
    good = run(
        "send", "-f", manifest(company="Acme"), "--company", "Globex", "--database", database_url
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert (
        mailbox.received[0].message["Subject"] == "You're invited to the Globex employee dashboard"
    )


@pytest.mark.parametrize(
    ("company", "subject"),
    [
        (None, "You're invited to your employee dashboard"),
        ("Initech", "You're invited to the Initech employee dashboard"),
    ],
)
def test_sync_invites_in_the_name_of_the_spec_company_only(
    sandbox_factory: Callable[..., Sandbox],
    sqlite_url: str,
    mailbox: Mailbox,
    manifest: Callable[..., str],
    company: str | None,
    subject: str,
) -> None:
    """``okta-hris sync`` delivers what it queued: through the sync service, which is handed
    the resource's name (acme) and must not show it."""
    org = sandbox_factory(users=12, groups=3, seed=3)
    result = run_cli(
        "sync",
        "-f",
        manifest(company=company),
        "--okta-url",
        org.url,
        "--database",
        sqlite_url,
        env={"OKTA_API_TOKEN": org.token},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert mailbox.received
    for received in mailbox.received:
        assert received.message["Subject"] == subject
    if company is None:
        assert_names_no_company(mailbox.received[0].message)


def test_send_all_pending_queues_employees_without_an_invitation(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1"), employee("00u2", active=False)], invite=False)
    # The database from the environment, as the operator settings allow.
    result = run("send", "-f", manifest(), "--all-pending", env={"HRIS_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queued 1 invitations" in result.stdout
    assert mailbox.recipients() == ["00u1@acme.example"]


def test_undelivered_invitations_exit_non_zero(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    mailbox.refuse["00u2@acme.example"] = "550 5.1.1 no such user"
    result = run("send", "-f", manifest(), "--database", database_url)
    assert result.returncode == 1
    assert "1 sent, 1 failed" in result.stdout
    assert "last error: recipient refused: 550 5.1.1 no such user" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_list_as_table_and_json(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1", "Ada Lovelace"), employee("00u2", "Grace Hopper")])
    mailbox.refuse["00u2@acme.example"] = "550 5.1.1 no such user"
    run("send", "-f", manifest(), "--database", database_url)

    table = run("list", "--database", database_url)
    assert table.returncode == 0, table.stdout + table.stderr
    assert "2 invitations" in table.stdout
    # At 200 columns every column fits: display_name, email, status, attempts, sent_at,
    # last_error (and no integration column: the directory has one).
    rows = {cells[0]: cells for cells in table_rows(table.stdout)}
    assert {name: cells[2] for name, cells in rows.items()} == {
        "Ada Lovelace": "sent",
        "Grace Hopper": "failed",
    }
    assert "550 5.1.1" in rows["Grace Hopper"][5] and not rows["Ada Lovelace"][5]

    listed = run("list", "--status", "failed", "-o", "json", "--database", database_url)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    (failed,) = json.loads(listed.stdout)
    assert failed["integration"] == INTEGRATION
    assert failed["okta_id"] == "00u2"
    assert failed["status"] == "failed"
    assert failed["last_error"] == "recipient refused: 550 5.1.1 no such user"

    everything = json.loads(
        run("list", "--integration", INTEGRATION, "-o", "json", "--database", database_url).stdout
    )
    sent = next(item for item in everything if item["status"] == "sent")
    assert sent["message_id"] == mailbox.received[0].message_id
    assert sent["sent_at"].endswith("Z")
    unknown = run("list", "--integration", "acme", "-o", "json", "--database", database_url)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == (
        f"error: no integration 'acme' in the directory; did you mean {INTEGRATION}?"
    )


@pytest.mark.parametrize(
    ("write_options", "message"),
    [
        ({"enabled": False}, "spec.invitations.enabled false"),
        ({"secret_name": "other"}, "has no Secret 'smtp'"),
        ({"security": "ssl"}, "'security' is 'ssl'"),
    ],
)
def test_user_errors_are_one_line(
    sqlite_url: str, manifest: Callable[..., str], write_options: dict[str, object], message: str
) -> None:
    result = run("send", "-f", manifest(**write_options), "--database", sqlite_url)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_file_is_a_user_error(tmp_path: Path, sqlite_url: str) -> None:
    result = run("send", "-f", str(tmp_path / "nope.yaml"), "--database", sqlite_url)
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_list_of_a_missing_directory_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "directory.db"
    for output in ("table", "json"):
        result = run("list", "-o", output, "--database", f"sqlite:///{missing}")
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.strip() == (
            f"error: no directory at {missing}: run okta-hris sync first, or pass --database"
        )
    assert not missing.parent.exists()


def test_list_says_when_invitations_are_disabled(directory: Directory, database_url: str) -> None:
    # people-ops/acme synced with spec.invitations.enabled false (no invitations_enabled_at);
    # people-ops/beta with them on, one invitation queued.
    disabled = SyncState(spec_hash="spec-of-acme", invitations_enabled_at=None)
    directory.apply(
        DirectoryChanges(
            integration=INTEGRATION,
            synced_at=T0,
            employees_create=(employee("00u1", "Ada Lovelace"),),
            sync_state=disabled,
        )
    )
    seed(directory, [employee("00u9", "Grace Hopper", integration=BETA)], integration=BETA)
    message = f"invitations are disabled for {INTEGRATION} (spec.invitations.enabled is false)"

    only_acme = run("list", "--integration", INTEGRATION, "--database", database_url)
    assert only_acme.returncode == 0, only_acme.stderr
    assert only_acme.stdout.strip() == message

    everything = run("list", "--database", database_url)
    assert everything.returncode == 0, everything.stderr
    assert "1 invitation" in everything.stdout and "Grace Hopper" in everything.stdout
    assert everything.stdout.rstrip().endswith(message)

    as_json = run("list", "--integration", INTEGRATION, "-o", "json", "--database", database_url)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    assert as_json.stderr.strip() == f"note: {message}"

    enabled = run("list", "--integration", BETA, "--database", database_url)
    assert enabled.returncode == 0 and "disabled" not in enabled.stdout
    assert "Grace Hopper" in enabled.stdout


def test_list_after_a_real_sync_without_invitations(
    sandbox: Sandbox, tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "filtered.yaml"
    path.write_text(
        (EXAMPLES / "okta-token-secret.yaml").read_text()
        + "\n---\n"
        + (EXAMPLES / "filtered.yaml").read_text()
    )
    synced = run_cli("sync", "-f", str(path), "--okta-url", sandbox.url, "--database", database_url)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    key = "people-ops/acme-engineering"
    listed = run("list", "--integration", key, "--database", database_url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == (
        f"invitations are disabled for {key} (spec.invitations.enabled is false)"
    )


def test_send_needs_a_directory_that_has_the_integration(
    tmp_path: Path, directory: Directory, database_url: str, manifest: Callable[..., str]
) -> None:
    """A wrong --database is a mistake to name, never "0 sent": no file is created either."""
    missing = tmp_path / "nowhere.db"
    absent = run("send", "-f", manifest(), "--database", f"sqlite:///{missing}")
    assert absent.returncode == 1
    assert absent.stderr.strip() == (
        f"error: no directory at {missing}: run okta-hris sync first, or pass --database"
    )
    assert not missing.exists()
    seed(
        directory,
        [employee("00u1", integration="people-ops/other")],
        integration="people-ops/other",
    )
    unknown = run("send", "-f", manifest(), "--database", database_url)
    assert unknown.returncode == 1 and "0 sent" not in unknown.stdout
    assert "no integration 'people-ops/acme' in the directory" in unknown.stderr


def test_invitations_waiting_out_a_retry_say_why_and_until_when(
    directory: Directory, database_url: str, mailbox: Mailbox, manifest: Callable[..., str]
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    mailbox.refuse["00u1@acme.example"] = "451 4.3.0 try again later"
    mailbox.refuse["00u2@acme.example"] = "451 4.3.0 try again later"
    first = run("send", "-f", manifest(), "--database", database_url)
    assert first.returncode == 1
    assert "0 sent, 0 failed, 2 to retry; 2 pending" in first.stdout
    # Right after: nothing is due, so nothing is tried; the line still says why they wait.
    again = run("send", "-f", manifest(), "--database", database_url)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.strip().splitlines()
    assert len(lines) == 1, again.stdout
    assert lines[0].startswith("people-ops/acme: 0 sent, 0 failed, 0 to retry; 2 pending")
    assert "next attempt after" in lines[0]
    assert "last error: recipient refused: 451 4.3.0 try again later" in lines[0]

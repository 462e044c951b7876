"""The installed CLI against hostile input (issue 13, items 4, 5b, 8 and 10).

Manifests that are YAML bombs, command-line values that are no URL, files that never end,
Okta values that are rich markup or escape sequences, a password on the command line: each is
one line of error (or printed as written), never a traceback, a hang, or a secret.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import Directory
from okta_hris.sandbox import Sandbox

from ..support.cli import CliResult, run_cli
from .test_directory_commands import one_error_line

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SECRET = (EXAMPLES / "okta-token-secret.yaml").read_text()
EVERYONE = SECRET + "\n---\n" + (EXAMPLES / "minimal.yaml").read_text()
INTEGRATION = "people-ops/acme"


def manifest(tmp_path: Path, text: str, name: str = "hostile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def with_spec(extra: str) -> str:
    """The minimal example with more lines under ``spec:``."""
    return EVERYONE.replace("  sync:\n", f"{extra}  sync:\n", 1)


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        previous = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{previous}]")
    return "\n".join(lines) + "\n"


# -- manifests: YAML bombs and values Python cannot read are one line --------------------------

HOSTILE_YAML = {
    "unhashable key": ("? [a, b]\n: 1\n", "a key cannot be a list"),
    "unhashable flow key": ("{[a]: 1}\n", "a key cannot be a list"),
    "10k nested lists": ("[" * 10_000 + "]" * 10_000, "values are nested more than 64 deep"),
    "billion laughs": (billion_laughs(), "stands for more than 100,000 values"),
    "recursive alias": ("a: &a [*a]\n", "alias *a refers to itself"),
    "5000-digit integer": ("x: " + "9" * 5000 + "\n", "an integer of 5,000 digits is too large"),
    "5000-digit maxDeactivations": (
        with_spec("  safety: {maxDeactivations: " + "9" * 5000 + "}\n"),
        "an integer of 5,000 digits is too large",
    ),
    "quoted 5000-digit maxDeactivations": (
        with_spec("  safety: {maxDeactivations: '" + "9" * 5000 + "'}\n"),
        "spec.safety.maxDeactivations: must be at most 1,000,000,000",
    ),
    "30-digit maxDeactivations": (
        with_spec("  safety: {maxDeactivations: " + "9" * 30 + "}\n"),
        "spec.safety.maxDeactivations: must be at most 1,000,000,000",
    ),
    "5000-digit interval": (
        EVERYONE.replace("scope: All", "scope: All\n    interval: " + "9" * 5000 + "h"),
        "is too long a duration",
    ),
    "a date that is none": ("x: 2024-13-45\n", "cannot read the value: month must be in 1..12"),
    "control characters in a key": (
        with_spec('  "sa\\x1b[2Jfety\\nx": {}\n'),
        "spec.sa\\x1b[2Jfety\\nx: unknown field",
    ),
    "a duplicate key": (
        EVERYONE.replace("    subdomain: acme", "    subdomain: acme\n    subdomain: evil"),
        "duplicate key 'subdomain'",
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text, problem", HOSTILE_YAML.values(), ids=HOSTILE_YAML.keys())
def test_a_hostile_manifest_is_one_line(tmp_path: Path, text: str, problem: str) -> None:
    path = manifest(tmp_path, text)
    line = one_error_line(run_cli("plan", "-f", str(path), "--okta-url", "http://127.0.0.1:1"))
    assert problem in line
    assert line.isprintable()


def test_a_merge_key_may_be_overridden_as_kubectl_allows(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    text = EVERYONE.replace(
        "    subdomain: acme",
        "    <<: {subdomain: elsewhere, domain: okta.com}\n    subdomain: acme",
    )
    path = manifest(tmp_path, text)
    result = run_cli(
        "plan", "-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url, "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["integration"] == INTEGRATION


def test_base64_that_is_not_text_says_so(tmp_path: Path) -> None:
    binary = base64.b64encode(b"\xff\xfe\xfd").decode()
    secret = SECRET.replace("stringData:\n  token: sandbox-token", f"data:\n  token: {binary}")
    path = manifest(tmp_path, secret + "\n---\n" + (EXAMPLES / "minimal.yaml").read_text())
    line = one_error_line(run_cli("plan", "-f", str(path), "--okta-url", "http://127.0.0.1:1"))
    assert line.endswith("data.token is base64 of data that is not UTF-8 text")


# -- files that never end, or are no file -------------------------------------------------------


@pytest.mark.timeout(60)
def test_token_and_manifest_files_are_read_to_a_bound(tmp_path: Path) -> None:
    path = manifest(tmp_path, EVERYONE)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes to it: opening it must not wait for a writer
    plan = ("plan", "-f", str(path), "--okta-url", "http://127.0.0.1:1")
    cases = {
        "/dev/zero": "cannot read --token-file /dev/zero: it is larger than 64 KiB",
        str(tmp_path): f"cannot read --token-file {tmp_path}: Is a directory",
        str(fifo): "the Okta API token",  # nothing written to it: an empty token
    }
    for token_file, problem in cases.items():
        assert problem in one_error_line(run_cli(*plan, "--token-file", token_file)), token_file
    zero = one_error_line(run_cli("plan", "-f", "/dev/zero"))
    assert zero.endswith("cannot read /dev/zero: it is larger than 4 MiB")
    assert "has no OktaIntegration" in one_error_line(run_cli("plan", "-f", str(fifo)))
    piped = one_error_line(run_cli("plan", "-f", "-", input="\x00" * (5 * 2**20)))
    assert piped.endswith("cannot read <stdin>: it is larger than 4 MiB")


# -- --okta-url and HRIS_OKTA_URL ---------------------------------------------------------------


def test_an_okta_url_that_is_no_url_is_one_line(tmp_path: Path) -> None:
    path = manifest(tmp_path, EVERYONE)
    flag = one_error_line(run_cli("plan", "-f", str(path), "--okta-url", "http://[::1"))
    assert flag.endswith("Okta URL 'http://[::1' is not a valid URL")
    env = one_error_line(run_cli("plan", "-f", str(path), env={"HRIS_OKTA_URL": "http://[::1"}))
    assert env == flag
    secret = run_cli("plan", "-f", str(path), "--okta-url", "http://user:H6pw@127.0.0.1:1/")
    assert "H6pw" not in one_error_line(secret) and "***@127.0.0.1" in secret.stderr


def test_a_bad_hris_okta_url_does_not_break_commands_that_do_not_call_okta(
    sqlite_url: str,
) -> None:
    Directory.open(sqlite_url).close()  # an empty directory, as after a first operator start
    env = {"HRIS_OKTA_URL": "http://[::1", "HRIS_DATABASE_URL": sqlite_url}
    employees = run_cli("directory", "employees", env=env)
    assert employees.returncode == 0, employees.stderr
    assert employees.stdout.strip() == "0 employees"
    runs = run_cli("directory", "runs", env=env)
    assert runs.returncode == 0 and "no sync runs yet" in runs.stdout


def test_a_trailing_newline_in_the_okta_url_is_dropped(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = manifest(tmp_path, EVERYONE)
    url = f"{sandbox.url}\n"  # as $(cat okta-url.txt) would not, but a YAML value or env may
    result = run_cli("plan", "-f", str(path), "--okta-url", url, "--database", sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "full sync would create 200" in result.stdout


# -- Okta's values are printed as written, never as markup or terminal control ------------------

MARKUP_NAME = "[/x] [link=http://evil.example]Mallory[/link] [bold]B[/]"
HOSTILE_NAME = MARKUP_NAME + " \x1b[2J\x9b31m\u202eevil"
HOSTILE_GROUP = "[/x] [link=http://evil.example]Red Team[/link]"
FORMULA = '=HYPERLINK("http://evil.example","click")'


def hostile_org(sandbox: Sandbox) -> None:
    """A user and a group whose names are rich markup with escape sequences, and a title that
    a spreadsheet would run."""
    headers = {"Authorization": f"SSWS {sandbox.token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as okta:
        profile = {
            "firstName": "Mallory",
            "lastName": "[/x]",
            "displayName": HOSTILE_NAME,
            "title": FORMULA,
            "email": "mallory@example.com",
            "login": "mallory@example.com",
            "countryCode": "DE",
        }
        user = okta.post("/api/v1/users", params={"activate": "true"}, json={"profile": profile})
        user.raise_for_status()
        group = okta.post(
            "/api/v1/groups", json={"profile": {"name": HOSTILE_GROUP, "description": "[/]"}}
        )
        group.raise_for_status()
        member = f"/api/v1/groups/{group.json()['id']}/users/{user.json()['id']}"
        okta.put(member).raise_for_status()


def assert_inert(result: CliResult) -> None:
    """Exit 0, and nothing a terminal would act on reached it."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for unsafe in ("\x1b", "\x9b", "\u202e"):
        assert unsafe not in result.stdout + result.stderr, repr(unsafe)


def test_okta_values_that_are_markup_print_as_written(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(users=5, groups=2, seed=3)
    hostile_org(sandbox)
    # A directory whose path holds markup too: the summary names it.
    folder = tmp_path / "[" / "x]"
    url = f"sqlite:///{folder / 'directory.db'}"
    path = manifest(tmp_path, EVERYONE)
    common = ("-f", str(path), "--okta-url", sandbox.url, "--database", url)

    plan = run_cli("plan", *common)
    assert_inert(plan)
    assert MARKUP_NAME in plan.stdout
    planned = run_cli("plan", *common, "-o", "json")
    assert_inert(planned)
    names = {c["displayName"] for c in json.loads(planned.stdout)["changes"]["created"]}
    assert any(name.startswith(MARKUP_NAME) for name in names)

    synced = run_cli("sync", *common)
    assert_inert(synced)
    # SQLAlchemy writes the brackets as %5B and %5D: the path cannot style the line either.
    assert "written to the directory sqlite:///" in synced.stdout
    assert "/%5B/x%5D/directory.db" in synced.stdout

    wide = run_cli("directory", "employees", "--database", url, "-o", "wide", "--country", "DE")
    assert_inert(wide)
    assert "[/x] [link=http://evil.example]" in wide.stdout
    teams = run_cli("directory", "teams", "--database", url, env={"COLUMNS": "200"})
    assert_inert(teams)
    assert HOSTILE_GROUP in teams.stdout

    table = run_cli("directory", "employees", "--database", url, "-o", "csv")
    assert_inert(table)
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    [mallory] = [row for row in rows if row["work_email"] == "mallory@example.com"]
    assert mallory["title"] == "'" + FORMULA  # shown by a spreadsheet, never run
    assert mallory["last_name"] == "[/x]"

    # The error printer quotes what was asked for and what the directory has, literally.
    asked = "[/x] [link=http://evil.example]Red Tem[/link]"
    line = one_error_line(run_cli("directory", "employees", "--database", url, "--team", asked))
    assert line == f"error: no team {asked!r} in the directory; did you mean {HOSTILE_GROUP}?"


# -- a database password does not belong on the command line -----------------------------------


def test_a_password_on_the_command_line_is_warned_about_and_a_url_file_is_offered(
    sandbox: Sandbox, tmp_path: Path, postgres_url: str
) -> None:
    # Trust authentication ignores the password: enough to see where it would be shown.
    with_password = sa.make_url(postgres_url).set(password="H6s3cretPW")
    url = with_password.render_as_string(hide_password=False)
    path = manifest(tmp_path, EVERYONE)
    common = ("sync", "-f", str(path), "--okta-url", sandbox.url)

    given = run_cli(*common, "--database", url)
    assert given.returncode == 0, given.stderr
    assert "H6s3cretPW" not in given.stdout + given.stderr
    [warning] = [line for line in given.stderr.splitlines() if line.startswith("warning:")]
    assert ":***@127.0.0.1" in warning and "--database-url-file" in warning

    url_file = tmp_path / "database-url"
    url_file.write_text(url + "\n", encoding="utf-8")
    from_file = run_cli(*common, "--database-url-file", str(url_file))
    assert from_file.returncode == 0, from_file.stderr
    assert "warning:" not in from_file.stderr
    assert "H6s3cretPW" not in from_file.stdout + from_file.stderr
    listed = run_cli("directory", "runs", "--database-url-file", str(url_file), "-o", "json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2

    both = run_cli(*common, "--database", url, "--database-url-file", str(url_file))
    assert both.returncode == 1 and "not both" in both.stderr
    assert "H6s3cretPW" not in both.stdout + both.stderr
    endless = one_error_line(run_cli("directory", "runs", "--database-url-file", "/dev/zero"))
    assert endless.endswith("cannot read --database-url-file /dev/zero: it is larger than 64 KiB")


COMMANDS_WITH_A_DATABASE = [
    ("sync",),
    ("plan",),
    ("directory", "employees"),
    ("directory", "teams"),
    ("directory", "runs"),
    ("invitations", "list"),
    ("invitations", "send"),
    ("demo",),
    ("run",),
]


@pytest.mark.parametrize("command", COMMANDS_WITH_A_DATABASE, ids=" ".join)
def test_every_command_with_a_database_takes_a_url_file(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert "--database-url-file PATH" in help_text
    assert "in the process list" in help_text  # why a password does not go in --database

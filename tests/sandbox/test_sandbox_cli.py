"""``okta-hris sandbox`` as a user runs it: a process that prints its URL and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from click.testing import CliRunner

from okta_hris.cli import main

LINE = re.compile(
    r"\AOkta sandbox listening on (http://127\.0\.0\.1:(\d+)) "
    r"\(token: (\S+), (\d+) users, (\d+) groups, seed (\d+)\)\n\Z"
)


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "okta_hris", "sandbox", "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_prints_its_url_serves_the_org_and_stops_on_ctrl_c() -> None:
    with running("--users", "40", "--groups", "5", "--seed", "3", "--token", "t0k") as (
        process,
        line,
    ):
        match = LINE.match(line)
        assert match, line
        url, token = match.group(1), match.group(3)
        assert (token, match.group(4), match.group(5), match.group(6)) == ("t0k", "40", "5", "3")
        response = httpx.get(
            f"{url}/api/v1/users", params={"search": 'status pr'},
            headers={"Authorization": "SSWS t0k"},
        )  # fmt: skip
        assert response.status_code == 200 and len(response.json()) == 40
        groups = httpx.get(f"{url}/api/v1/groups", headers={"Authorization": "SSWS t0k"}).json()
        assert len(groups) == 6
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_options_reach_the_sandbox() -> None:
    args = ("--users", "3", "--groups", "0", "--rate-limit-users", "2",
            "--rate-limit-window", "30", "--fault", "503,on=1,path=/api/v1/groups")  # fmt: skip
    with running(*args) as (process, line):
        match = LINE.match(line)
        assert match, line
        url = match.group(1)
        headers = {"Authorization": "SSWS sandbox-token"}
        assert httpx.get(f"{url}/api/v1/groups", headers=headers).status_code == 503
        users = [httpx.get(f"{url}/api/v1/users", headers=headers) for _ in range(3)]
        assert [r.status_code for r in users] == [200, 200, 429]
        assert users[0].headers["x-rate-limit-limit"] == "2"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_a_busy_port_is_one_clear_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "okta_hris", "sandbox", "--users", "1", "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fault", ["teapot", "500,on=0", "500,p=3"])
def test_bad_faults_are_usage_errors(fault: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--fault", fault])
    assert result.exit_code == 1  # a usage error, as every CLI user error (2 is plan's changes)
    assert "--fault" in result.output


def test_help_documents_the_fault_syntax() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--help"])
    assert result.exit_code == 0
    assert "--users" in result.output and "--rate-limit-window" in result.output
    assert "slow,on=2,delay=30" in result.output

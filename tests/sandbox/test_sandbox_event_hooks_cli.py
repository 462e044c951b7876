"""``okta-hris sandbox --hook-fault ...``: delivery faults from the command line."""

from __future__ import annotations

import signal

import httpx
import pytest
from click.testing import CliRunner

from okta_hris.cli import main

from .hook_endpoint import hook_endpoint
from .test_sandbox_cli import LINE, running
from .test_sandbox_event_hooks import hook_body


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("explode", "Input should be 'drop', 'delay', 'duplicate' or 'reorder'"),
        ("drop,p=1.5", "Input should be less than or equal to 1"),
        ("drop,p=lots", "Input should be a valid number"),
        ("delay,delay=-1", "Input should be greater than or equal to 0"),
        ("drop,0.3", "expected key=value, got '0.3'"),
        ("drop,on=3", "unknown option 'on' (p, delay)"),
    ],
)
def test_a_bad_hook_fault_is_one_line(fault: str, message: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--hook-fault", fault])
    assert result.exit_code == 1  # a usage error, as every user error (cli/__init__.py)
    [line] = [text for text in result.output.splitlines() if text.startswith("Error")]
    assert message in line and "Traceback" not in result.output


def test_hook_faults_reach_the_running_sandbox() -> None:
    args = ("--users", "0", "--groups", "0", "--hook-batch-window", "0",
            "--hook-fault", "duplicate", "--hook-fault-seed", "4")  # fmt: skip
    with running(*args) as (process, line), hook_endpoint() as endpoint:
        match = LINE.match(line)
        assert match, line
        headers = {"Authorization": "SSWS sandbox-token"}
        with httpx.Client(base_url=match.group(1), headers=headers) as okta:
            hook = okta.post("/api/v1/eventHooks", json=hook_body(endpoint.url)).json()
            okta.post(f"/api/v1/eventHooks/{hook['id']}/lifecycle/verify").raise_for_status()
            login = "ada@example.com"
            profile = {"firstName": "Ada", "lastName": "L", "login": login, "email": login}
            okta.post("/api/v1/users", json={"profile": profile}).raise_for_status()
            endpoint.wait_for(lambda: len(endpoint.posts) == 2)
        first, second = endpoint.posts
        assert first.body["eventId"] == second.body["eventId"]
        assert first.body["data"]["events"][0]["eventType"] == "user.lifecycle.create"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0

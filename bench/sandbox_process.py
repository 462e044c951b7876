"""The Okta sandbox in its own process, so a benchmark's client does not share its GIL."""

from __future__ import annotations

import re
import subprocess
import sys

TOKEN = "bench-token"


def start_sandbox(users: int, groups: int, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``okta-hris sandbox`` on a free port; returns the process and its base URL."""
    command = [
        sys.executable, "-m", "okta_hris", "sandbox", "--users", str(users),
        "--groups", str(groups), "--seed", "7", "--port", "0", "--token", TOKEN, *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process, match.group(1)

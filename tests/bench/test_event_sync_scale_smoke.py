"""bench/event_sync_scale.py on a small org: it runs, prints its table and sane figures.

Run as its users run it (its own process, the sandbox in another), SQLite only; no figure is
compared with a time or a size it should have.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "event_sync_scale.py"
ROW = re.compile(
    r"^\| SQLite \| (profile edit|membership add) \| (its part|whole state) \| ([\d.]+) s "
    r"\| (\d+) \| (.*) \| (\d+) MiB \|$"
)


def test_the_bench_prints_each_change_read_both_ways() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--users", "300", "--no-postgresql"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = [m.groups() for line in result.stdout.splitlines() if (m := ROW.match(line))]
    assert [(change, path) for change, path, *_ in rows] == [
        ("profile edit", "its part"),
        ("profile edit", "whole state"),
        ("membership add", "its part"),
        ("membership add", "whole state"),
    ]
    requests = {(change, path): int(n) for change, path, _, n, _, _ in rows}
    # One user read by id; a membership also lists the team groups and the group's members.
    assert requests[("profile edit", "its part")] == requests[("profile edit", "whole state")] == 1
    assert requests[("membership add", "its part")] == requests[("membership add", "whole state")]
    assert requests[("membership add", "its part")] >= 3
    for *_, phases, _ in rows:
        assert {"load", "fetch", "plan", "apply"} <= set(re.findall(r"(\w+) [\d.]+ s", phases))
    assert "reproduce: .venv/bin/python bench/event_sync_scale.py --users 300" in result.stdout

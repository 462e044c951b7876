"""bench/okta_scale.py on a tiny org: every run of the table runs, with figures that add up.

The benchmark runs as its users run it (its own process; the sandbox, each sync and the SDK
run in others; the PostgreSQL run on the test server), on 300 users, 10 groups and a 1 s
window. No figure is compared with a time or a size it should have.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "okta_scale.py"
RUNS = [
    "full, SQLite",
    "full, PostgreSQL",
    "incremental, SQLite",
    "naive official SDK (extrapolated)",
]
TINY = ["--users", "300", "--groups", "10", "--window", "1"]


def run_bench(postgres: str, *args: str) -> str:
    """The benchmark's output; its PostgreSQL run on the test server (a scratch database)."""
    result = subprocess.run(
        [sys.executable, str(BENCH), *TINY, "--postgresql", postgres, *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_json_has_every_run_with_the_sandbox_counts(postgres_admin_url: str) -> None:
    found = json.loads(run_bench(postgres_admin_url, "--json"))
    runs: list[dict[str, Any]] = found["runs"]

    assert [run["name"] for run in runs] == RUNS
    assert found["context"]["changed"]["users"] == 3  # 1% of 300
    for run in runs[:3]:
        child = run["child"]
        assert child["mode"] == ("Incremental" if "incremental" in run["name"] else "Full")
        # The sandbox's count is the client's own: nothing was made that it did not see.
        assert (
            sum(ok + refused for ok, refused in run["requests"].values())
            == (child["client_requests"])
        )
        assert set(child["timings"]) == {"load", "fetch", "plan", "apply"}
        assert run["wall_s"] > 0 and run["peak_rss_mib"] > 0
    full, _, incremental, naive = runs
    assert full["requests"]["users"][0] == 2  # ⌈300 / 200⌉ pages
    assert full["child"]["created"] == 300
    assert incremental["child"]["created"] == 0
    # The sandbox saw one /users/{id}/groups per user listed, on top of the listing's pages:
    # 300 users are all in the sample, so nothing is scaled.
    users = naive["child"]["users"]
    assert naive["child"]["asked"] == users
    assert naive["child"]["counted"] == [-(-users // 200) + users, 0]
    assert naive["requests"]["users"] == [-(-users // 200) + users, 0]


def test_table_prints_every_row_and_the_profile(postgres_admin_url: str) -> None:
    out = run_bench(postgres_admin_url, "--profile", "--no-naive")

    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| run | Okta requests | wall | rate-limit bound")
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows[1:]] == RUNS[:3]
    assert out.count("cProfile of ") == 3
    assert "where the time went:" in out and "reproduce: " in out

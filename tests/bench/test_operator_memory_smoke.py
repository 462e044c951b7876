"""bench/operator_memory.py on a tiny org: it runs, prints its table and sane figures.

The benchmark is run as its users run it (its own process, the sandbox in another), on 200
users and N = 2; no figure is compared with a time or a size it should have.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "operator_memory.py"
KEYS = ["bench/acme", "bench-1/acme"]
ROUNDS = [("first full", "Full"), ("incremental", "Incremental"), ("full", "Full")]


def run_bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--users", "200", "--concurrency", "2", *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def mebibytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)Mi", value)
    assert match, value
    return int(match.group(1))


def assert_round(found: dict[str, Any], mode: str, baseline: float) -> None:
    assert found["peak_mib"] >= found["steady_mib"] > 0
    assert found["peak_mib"] >= baseline
    assert found["per_sync_mib"] == (found["peak_mib"] - baseline) / 2
    assert found["seconds"] > 0
    assert [sync["integration"] for sync in found["syncs"]] == KEYS
    assert {(sync["outcome"], sync["mode"]) for sync in found["syncs"]} == {("succeeded", mode)}


def test_json_has_sane_figures_for_every_round_and_sync() -> None:
    [row] = json.loads(run_bench("--json"))

    assert (row["users"], row["groups"], row["concurrency"]) == (200, 4, 2)
    assert (row["directory"], row["rate_limits"]) == ("sqlite", "off")
    assert row["baseline_mib"] > 0
    assert [found["name"] for found in row["rounds"]] == [name for name, _ in ROUNDS]
    for found, (_, mode) in zip(row["rounds"], ROUNDS, strict=True):
        assert_round(found, mode, row["baseline_mib"])
    first, incremental, full = row["rounds"]
    assert [sync["created"] for sync in first["syncs"]] == [200, 200]
    assert [sync["updated"] for sync in incremental["syncs"]] == [50, 50]
    assert [sync["fetched"] for sync in full["syncs"]] == [200, 200]
    windows = [found["window_s"] for found in row["rounds"]]
    assert 0 < windows[0][0] < windows[0][1] < windows[1][0] < windows[1][1] < windows[2][0]
    assert row["peak_mib"] == max(found["peak_mib"] for found in row["rounds"])
    assert row["steady_mib"] == max(found["steady_mib"] for found in row["rounds"])
    request = mebibytes(row["suggested"]["requests.memory"])
    limit = mebibytes(row["suggested"]["limits.memory"])
    assert request % 64 == limit % 64 == 0  # rounded up to the next multiple of 64Mi
    assert request - 64 < row["steady_mib"] <= request
    assert limit - 64 < row["peak_mib"] * 1.25 <= limit
    times = [t for t, _ in row["curve"]]
    assert times == sorted(times)
    assert max(rss for _, rss in row["curve"]) == pytest.approx(row["sampled_peak_mib"], abs=0.1)
    assert "--users 200 --concurrency 2" in row["command"]


def test_the_table_names_every_figure_and_the_command() -> None:
    lines = run_bench().splitlines()

    header = next(line for line in lines if line.startswith("users"))
    assert header.split() == [
        "users", "N", "baseline", "round", "peak", "per", "sync", "steady", "seconds", "syncs"
    ]  # fmt: skip
    start = lines.index(header) + 1
    first, incremental, full = (line.split() for line in lines[start : start + 3])
    assert first[:2] == ["200", "2"] and first[3:5] == ["first", "full"]
    baseline = int(first[2])
    assert baseline > 0
    assert int(first[5]) >= baseline and first[-2:] == ["2/2", "Full"]
    assert incremental[0] == "incremental" and incremental[-2:] == ["2/2", "Incremental"]
    assert int(incremental[1]) >= baseline
    assert full[0] == "full" and int(full[1]) >= baseline and full[-2:] == ["2/2", "Full"]
    assert any(
        line.startswith("200 users, N=2: .venv/bin/python bench/operator_memory.py --users 200 ")
        for line in lines
    )
    suggested = [line for line in lines if "HRIS_MAX_CONCURRENT_SYNCS=2:" in line]
    assert len(suggested) == 1
    assert re.search(r"requests\.memory \d+Mi, limits\.memory \d+Mi$", suggested[0])

"""bench/many_integrations.py on a tiny configuration: it runs and reports sane figures.

Run as its users run it (its own process, the sandbox and the operator in others); no figure is
compared with a time or a size it should have.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "many_integrations.py"
ARGS = ["--integrations", "3", "--users", "100", "--window", "5"]


def run_bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH), *ARGS, *args], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_json_has_sane_figures() -> None:
    found = json.loads(run_bench("--json"))
    assert (found["integrations"], found["users"], found["load"]) == (3, 100, "resync")
    assert found["baseline_mib"] > 0 and 0 < found["steady_mib"] <= found["peak_mib"]
    assert found["per_integration_mib"] == (found["steady_mib"] - found["baseline_mib"]) / 3
    # The resync load kept the operator syncing through the window, and every sync succeeded.
    assert found["syncs"] > 0 and found["failed_syncs"] == 0
    assert found["syncs_per_minute"] == found["syncs"] / found["window_s"] * 60
    assert found["mean_sync_s"] > 0 and found["cpu_percent"] > 0
    assert found["cold_start_s"] > 0
    assert "--integrations 3 --users 100 --window 5 --json" in found["command"]


def test_the_table_names_every_figure_and_the_command() -> None:
    lines = run_bench("--load", "schedule").splitlines()
    labels = [line.split("  ")[0] for line in lines]
    for label in (
        "integrations x users",
        "baseline RSS (no integration)",
        "steady RSS (schedule load)",
        "RSS per integration",
        "syncs per minute",
    ):
        assert label in labels
    assert any(line.startswith("extrapolated to 500 x 1000: RSS ") for line in lines)
    assert lines[-1] == (
        "command: .venv/bin/python bench/many_integrations.py "
        "--integrations 3 --users 100 --window 5 --load schedule"
    )

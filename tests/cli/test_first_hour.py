"""The first hour with the CLI: exit codes a script can trust, error labels that say what is
wrong, completion, NO_COLOR, and a demo whose closing hint runs as printed."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.cli import cli_environ, run_cli, run_cli_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONSOLE_SCRIPT = Path(sys.executable).parent / "okta-hris"


@pytest.mark.parametrize(
    "args",
    [
        ("sync", "--nope"),  # an unknown option
        ("nosuch",),  # an unknown command
        ("plan", "-f", "x.yaml", "--limit", "many"),  # a bad value
        ("plan",),  # a missing required option
        ("directory", "employees", "-o", "yaml"),  # not one of the choices
    ],
)
def test_usage_errors_exit_1_never_2(args: tuple[str, ...]) -> None:
    """2 is reserved for ``plan --exit-code`` finding changes: a CI script must be able to tell
    a typo from a change."""
    result = run_cli(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error:" in result.stderr and "Traceback" not in result.stderr


def test_a_usage_error_exits_1_in_a_real_process() -> None:
    result = run_cli_process("sync", "--nope")
    assert result.returncode == 1
    assert "No such option" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ("sync", "-f", "{manifest}"),
            {"HRIS_MAX_CONCURRENT_SYNCS": "abc"},
            "ConfigError: HRIS_MAX_CONCURRENT_SYNCS must be a whole number",
        ),
        (
            ("sync", "-f", "{manifest}", "--okta-url", "http://okta.example.com"),
            {},
            "ConfigError: Okta URL 'http://okta.example.com' uses plain http",
        ),
        (
            ("resync", "acme", "-n", "people-ops", "--kubeconfig", "{missing}"),
            {},
            "ConfigError:",
        ),
    ],
)
def test_bad_settings_are_not_called_an_invalid_spec(
    args: tuple[str, ...], env: dict[str, str], expected: str, manifest: Path, tmp_path: Path
) -> None:
    filled = [a.format(manifest=manifest, missing=tmp_path / "no-kubeconfig") for a in args]
    result = run_cli(*filled, env=env)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "InvalidSpec" not in lines[0]


def test_completion_scripts_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete ")):
        result = run_cli("completion", shell)
        assert result.returncode == 0, result.stderr
        assert "_OKTA_HRIS_COMPLETE" in result.stdout and marker in result.stdout
    assert run_cli("completion", "tcsh").returncode == 1


def test_completion_completes_commands_and_options() -> None:
    """What the bash script asks for as the user presses tab."""

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        result = run_cli(
            env={
                "_OKTA_HRIS_COMPLETE": "bash_complete",
                "COMP_WORDS": line,
                "COMP_CWORD": str(len(words) - 1),
            }
        )
        return [item.split(",", 1)[1] for item in result.stdout.split()]

    assert complete("okta-hris dir") == ["directory"]
    assert "employees" in complete("okta-hris directory ")
    assert complete("okta-hris sync --fu") == ["--full"]


def test_no_color_means_plain_text(manifest: Path) -> None:
    """FORCE_COLOR makes rich style even a pipe; NO_COLOR turns every style off again."""
    broken = manifest.parent / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    styled = run_cli_process("sync", "-f", str(broken), env={"FORCE_COLOR": "1"})
    plain = run_cli_process("sync", "-f", str(broken), env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert styled.returncode == plain.returncode == 1
    assert "\x1b[" in styled.stderr
    assert "\x1b[" not in plain.stderr
    assert "YAML syntax error" in plain.stderr


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="needs the installed console script")
def test_the_demo_hint_runs_as_printed(tmp_path: Path) -> None:
    """After ``make demo`` okta-hris is not on PATH: the hint names the script that ran."""
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    environ = cli_environ({"PATH": os.defpath})
    demo = subprocess.run(
        [str(CONSOLE_SCRIPT), "demo", "--users", "200", "--groups", "10", "--database", database],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    hint = next(line.strip() for line in demo.stdout.splitlines() if "directory employees" in line)
    assert hint.startswith(str(CONSOLE_SCRIPT))
    explored = subprocess.run(
        [*shlex.split(hint), "-o", "json"], capture_output=True, text=True, env=environ
    )
    assert explored.returncode == 0, explored.stderr
    assert explored.stdout.lstrip().startswith("[") and "Engineering" in explored.stdout

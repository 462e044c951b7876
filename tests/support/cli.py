"""Running the ``okta-hris`` console script in tests: in-process (fast), or as a real process.

``run_cli`` invokes ``okta_hris.cli:main`` through Click's ``CliRunner`` and answers what a
process would have: the exit code, stdout, and stderr. Three things keep it faithful:

- The environment is the test process's minus every ``HRIS_*`` and ``OKTA_*`` variable, plus
  ``env``; CliRunner sets it in ``os.environ`` for the call and restores it afterwards.
- Logging starts as in a fresh interpreter: no root handlers, root at WARNING, the
  ``okta_hris`` logger unset. So ``configure_logging``'s ``basicConfig`` (or logging's last
  resort handler) writes to the captured stderr, as in a real run. Pytest's own handlers would
  otherwise swallow those records (and the tracebacks ``logger.exception`` writes), and the
  level the CLI sets would leak into later tests. Everything is restored afterwards.
- An exception the CLI lets escape is written to stderr as the interpreter would
  ("Traceback ..."), exit code 1. CliRunner only keeps it in ``Result.exception``. So
  ``"Traceback" not in stderr`` means the same in-process as in a subprocess.

``run_cli_process`` runs ``python -m okta_hris`` with the same environment. Use it only where a
process boundary is the point (signals, interpreter start-up and exit).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from okta_hris.cli import main

_CLEARED_PREFIXES = ("HRIS_", "OKTA_")
# Styles and hyperlinks rich writes when it believes it is writing to a terminal.
_ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def cli_environ(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``python -m okta_hris`` child: ours without HRIS_*/OKTA_*, plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    environ.update(env or {})
    return environ


@contextmanager
def _fresh_process_logging() -> Iterator[None]:
    root = logging.getLogger()
    package = logging.getLogger("okta_hris")
    saved_handlers, saved_level, saved_package_level = root.handlers[:], root.level, package.level
    for handler in saved_handlers:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    package.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        for handler in root.handlers[:]:  # what the CLI's basicConfig added
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        package.setLevel(saved_package_level)


def _consoles_render_styles() -> bool:
    """Whether the CLI's rich Consoles chose a color system.

    ``okta_hris.cli.common`` creates them at import and picks their color system then. Imported
    inside an invocation (the usual case), they see CliRunner's stream and pick none, as a piped
    process does. Imported earlier while stdout was a terminal (``pytest -s`` in a terminal, with
    a test module importing ``okta_hris.cli.operator``), they keep writing ANSI styles to every
    later stream. A process piped to a file or a test would not.
    """
    common = sys.modules.get("okta_hris.cli.common")
    consoles = (getattr(common, "stdout", None), getattr(common, "stderr", None))
    return any(getattr(console, "color_system", None) for console in consoles)


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, input: str | None = None
) -> CliResult:
    """``okta-hris ARGS`` in this process, with ``input`` on stdin."""
    overrides: dict[str, str | None] = {
        key: None for key in os.environ if key.startswith(_CLEARED_PREFIXES)
    }
    overrides.update(env or {})
    with _fresh_process_logging():
        result = CliRunner().invoke(
            main, list(args), input=input, env=overrides, prog_name="okta-hris"
        )
    stdout, stderr = result.stdout, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    if _consoles_render_styles():
        stdout, stderr = _ANSI.sub("", stdout), _ANSI.sub("", stderr)
    return CliResult(returncode=result.exit_code, stdout=stdout, stderr=stderr)


def run_cli_process(
    *args: str, env: Mapping[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> CliResult:
    """``python -m okta_hris ARGS`` as a child process."""
    completed = subprocess.run(
        [sys.executable, "-m", "okta_hris", *args],
        input=input,
        capture_output=True,
        text=True,
        env=cli_environ(env),
        timeout=timeout,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_manifest(directory: Path, example: str) -> Path:
    """``examples/okta-token-secret.yaml`` and ``examples/<example>`` as one manifest file, as a
    user would write it for ``okta-hris sync -f``."""
    path = directory / "integration.yaml"
    path.write_text(
        (EXAMPLES / "okta-token-secret.yaml").read_text()
        + "\n---\n"
        + (EXAMPLES / example).read_text()
    )
    return path

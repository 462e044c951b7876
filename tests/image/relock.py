"""Regenerate the image's lock files (``make lock``): ``.venv/bin/python -m tests.image.relock``.

Needs PyPI and uv (in the test extra). Each lock is resolved with ``uv pip compile`` once per
platform the image is built for, and written only when both resolve to the same pins (the file
then installs the same packages on either architecture; its hashes cover every wheel of each
pin). The header records the command, and the sha256 of the requirement list that
tests/image/test_lock.py compares with pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.image.lockfiles import (
    LOCKS,
    PLATFORMS,
    PYTHON_VERSION,
    RELOCK_COMMAND,
    REPO,
    RUNTIME,
    LockSpec,
    parse_lock,
    read_pyproject,
    requirements_digest,
)


def compile_command(spec: LockSpec, platform: str, output: str) -> list[str]:
    """uv reads the runtime list from pyproject.toml itself; the build list comes on stdin.

    uv keeps the versions already in ``output`` unless a requirement needs another one (or
    ``--upgrade`` / ``--upgrade-package NAME`` is given), so a re-lock changes only what it must.
    """
    source = "pyproject.toml" if spec is RUNTIME else "-"
    return [
        "uv", "pip", "compile", source, "--generate-hashes", "--python-version", PYTHON_VERSION,
        "--python-platform", platform, "--only-binary", ":all:", "--no-header", "--quiet",
        "--output-file", output,
    ]  # fmt: skip


def resolve(spec: LockSpec, requirements: list[str], platform: str, uv_args: list[str]) -> str:
    """The lock uv writes for one platform, starting from a copy of the current one."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / spec.filename
        if spec.path.exists():
            shutil.copyfile(spec.path, output)
        completed = subprocess.run(
            [sys.executable, "-m", *compile_command(spec, platform, str(output)), *uv_args],
            cwd=REPO,
            input="\n".join(requirements) + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(
                f"uv could not lock {spec.filename} for {platform}:\n{completed.stderr}"
            )
        return output.read_text(encoding="utf-8")


def header(spec: LockSpec, requirements: list[str]) -> str:
    command = " ".join(compile_command(spec, "<platform>", spec.filename))
    stdin = "" if spec is RUNTIME else " < (that list, one per line)"
    lines = [
        spec.purpose,
        f"For CPython {PYTHON_VERSION} on Linux {' and '.join(PLATFORMS)}: both resolve to these pins.",
        f"The Dockerfile installs it: pip install --require-hashes --no-deps --only-binary=:all: -r {spec.filename}",
        f"Regenerate it after changing that list (needs PyPI): {RELOCK_COMMAND}",
        "(= .venv/bin/python -m tests.image.relock [--upgrade]), which runs once per platform",
        f"    {command}{stdin}",
        "and refuses to write when the platforms disagree. tests/image/test_lock.py fails while the",
        "digest below is not that of pyproject.toml's list:",
        f"requirements-sha256: {requirements_digest(requirements)}",
    ]
    return "".join(f"# {line}\n" for line in lines)


def relock(spec: LockSpec, uv_args: list[str]) -> None:
    requirements = spec.requirements(read_pyproject())
    resolved = {p: resolve(spec, requirements, p, uv_args) for p in PLATFORMS}
    pins = {platform: parse_lock(text) for platform, text in resolved.items()}
    first, *others = PLATFORMS
    for other in others:
        if pins[other] != pins[first]:
            differ = sorted(set(pins[other].items()) ^ set(pins[first].items()))
            raise SystemExit(f"{spec.filename}: {first} and {other} resolve differently: {differ}")
    spec.path.write_text(header(spec, requirements) + resolved[first], encoding="utf-8")
    print(f"{spec.filename}: {len(pins[first])} pins")


def main() -> None:
    for spec in LOCKS:
        relock(spec, uv_args=sys.argv[1:])


if __name__ == "__main__":
    main()

"""The image's lock files: what each one locks, how it is read, and how it is known to be current.

``requirements.lock`` pins the runtime dependencies (``[project.dependencies]``) that the
Dockerfile installs into the image's virtualenv; ``requirements-build.lock`` pins the build
tools (``[build-system].requires``) that build the project's wheel in the builder stage. Both
carry a sha256 of the requirement list they were resolved from, so a change to pyproject.toml
without ``make lock`` is caught offline, the way ``poetry check --lock`` compares a content hash.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
RELOCK_COMMAND = "make lock"  # = .venv/bin/python -m tests.image.relock
# Both architectures the image is built for; relock fails unless they resolve to the same pins.
PLATFORMS = ("x86_64-manylinux_2_28", "aarch64-manylinux_2_28")
PYTHON_VERSION = "3.11"
DIGEST_LINE = re.compile(r"^# requirements-sha256: (?P<digest>[0-9a-f]{64})$", re.MULTILINE)
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class LockSpec:
    """One lock file and the pyproject.toml requirement list it is resolved from."""

    filename: str
    table: tuple[str, ...]  # where the list lives in pyproject.toml
    purpose: str  # the header's first line

    @property
    def path(self) -> Path:
        return REPO / self.filename

    def requirements(self, pyproject: Mapping[str, Any]) -> list[str]:
        value: Any = pyproject
        for key in self.table:
            value = value[key]
        return list(value)


RUNTIME = LockSpec(
    "requirements.lock",
    ("project", "dependencies"),
    "The container image's runtime dependencies (pyproject.toml [project.dependencies]).",
)
BUILD = LockSpec(
    "requirements-build.lock",
    ("build-system", "requires"),
    "The tools that build the project's wheel in the image's builder stage "
    "(pyproject.toml [build-system] requires).",
)
LOCKS = (RUNTIME, BUILD)


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]  # "sha256:<hex>"


def read_pyproject(path: Path = PYPROJECT) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def requirements_digest(requirements: Sequence[str]) -> str:
    """sha256 of a requirement list, blind to order, spacing and name spelling.

    Two lists that ask pip for the same thing hash the same, so reordering or reformatting
    pyproject.toml needs no re-lock; any other change (a bound, an extra, a marker) does.
    """
    canonical = sorted(_canonical(Requirement(text)) for text in requirements)
    return hashlib.sha256("\n".join(canonical).encode("utf-8")).hexdigest()


def _canonical(requirement: Requirement) -> str:
    extras = ",".join(sorted(canonicalize_name(e) for e in requirement.extras))  # PEP 685
    extras = f"[{extras}]" if extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return f"{canonicalize_name(requirement.name)}{extras}{requirement.specifier}{marker}"


def recorded_digest(lock_text: str) -> str | None:
    match = DIGEST_LINE.search(lock_text)
    return match["digest"] if match else None


def parse_lock(lock_text: str) -> dict[str, Pin]:
    """The pins of a hash-checking requirements file; ValueError on anything else in it."""
    pins: dict[str, Pin] = {}
    for entry in _logical_lines(lock_text):
        requirement_text, _, hash_text = entry.partition(" --hash=")
        requirement = Requirement(requirement_text)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise ValueError(f"not an exact pin: {requirement_text!r}")
        hashes = tuple(hash_text.split(" --hash=")) if hash_text else ()
        if not all(_HASH.match(h) for h in hashes):
            raise ValueError(f"a hash of {requirement.name} is not --hash=sha256:<64 hex digits>")
        name = canonicalize_name(requirement.name)
        if name in pins:
            raise ValueError(f"{name} is pinned twice")
        pins[name] = Pin(name, specifiers[0].version, hashes)
    return pins


def _logical_lines(text: str) -> Iterator[str]:
    """Requirement lines with their ``\\`` continuations joined, comments dropped."""
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        continued = line.endswith("\\")
        current.append(line.removesuffix("\\").strip())
        if not continued:
            yield " ".join(current)
            current = []
    if current:
        yield " ".join(current)


def lock_problems(spec: LockSpec, pyproject: Mapping[str, Any], lock_text: str) -> list[str]:
    """Why the lock no longer matches pyproject.toml's list (empty when it does)."""
    requirements = spec.requirements(pyproject)
    pins = parse_lock(lock_text)
    problems: list[str] = []
    if recorded_digest(lock_text) != requirements_digest(requirements):
        problems.append(f"{spec.filename} was locked from another requirement list")
    for text in requirements:
        requirement = Requirement(text)
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement.name}=={pin.version} is outside {requirement.specifier}")
    problems.extend(f"{pin.name} has no hash" for pin in pins.values() if not pin.hashes)
    return [f"{p}: run {RELOCK_COMMAND}" for p in problems]

"""The image's lock files are current: pyproject.toml's lists cannot change without ``make lock``.

Offline: the locks are compared with pyproject.toml, and their transitive closure with the
metadata of the packages installed here (where the installed version is the locked one).
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections import defaultdict
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.image.lockfiles import (
    LOCKS,
    PLATFORMS,
    RUNTIME,
    LockSpec,
    Pin,
    lock_problems,
    parse_lock,
    read_pyproject,
    requirements_digest,
)

# The marker values of the image's interpreter (uv's --python-version 3.11 means 3.11.0).
TARGETS = [
    {
        "implementation_name": "cpython",
        "implementation_version": "3.11.0",
        "os_name": "posix",
        "platform_machine": platform.split("-")[0],
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": "3.11.0",
        "python_version": "3.11",
        "sys_platform": "linux",
    }
    for platform in PLATFORMS
]


def _pins(spec: LockSpec) -> dict[str, Pin]:
    return parse_lock(spec.path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("spec", LOCKS, ids=lambda s: s.filename)
def test_each_lock_is_current_with_pyproject(spec: LockSpec) -> None:
    assert lock_problems(spec, read_pyproject(), spec.path.read_text(encoding="utf-8")) == []


def _with_dependencies(dependencies: list[str]) -> dict[str, Any]:
    pyproject = read_pyproject()
    pyproject["project"]["dependencies"] = dependencies
    return pyproject


def test_a_changed_dependency_list_makes_the_lock_stale() -> None:
    lock = RUNTIME.path.read_text(encoding="utf-8")
    listed = read_pyproject()["project"]["dependencies"]
    raised = [d if not d.startswith("kopf") else "kopf>=99" for d in listed]
    added = [*listed, "tomli-w>=1.0"]
    reformatted = [d.replace(">=", " >= ").upper() for d in reversed(listed)]

    assert lock_problems(RUNTIME, _with_dependencies(raised), lock) == [
        "requirements.lock was locked from another requirement list: run make lock",
        f"kopf=={_pins(RUNTIME)['kopf'].version} is outside >=99: run make lock",
    ]
    assert lock_problems(RUNTIME, _with_dependencies(added), lock) == [
        "requirements.lock was locked from another requirement list: run make lock",
        "tomli-w is not pinned: run make lock",
    ]
    # The same list, reordered and respelled, asks for the same packages: no re-lock needed.
    assert lock_problems(RUNTIME, _with_dependencies(reformatted), lock) == []


def test_the_digest_follows_what_a_requirement_asks_for() -> None:
    assert requirements_digest(["a>=1", "b[x,y]"]) == requirements_digest(["B[y,x]", "a >= 1"])
    assert requirements_digest(["a>=1"]) != requirements_digest(["a>=1.1"])
    assert requirements_digest(["b"]) != requirements_digest(["b[x]"])
    assert requirements_digest(["a"]) != requirements_digest(["a; sys_platform == 'win32'"])


def test_every_pin_carries_a_sha256_hash() -> None:
    for spec in LOCKS:
        assert all(pin.hashes for pin in _pins(spec).values()), spec.filename


def test_no_test_only_package_is_in_the_runtime_lock() -> None:
    test_extra = read_pyproject()["project"]["optional-dependencies"]["test"]
    test_only = {canonicalize_name(Requirement(text).name) for text in test_extra}
    assert test_only & set(_pins(RUNTIME)) == set()


def _closure(
    pins: dict[str, Pin], requirements: list[str]
) -> tuple[dict[str, set[str]], list[str], list[str]]:
    """Walk the pins from pyproject.toml's list through the installed packages' metadata.

    Returns what each locked package is required by, the requirements the lock lacks or pins
    outside their specifier, and the locked packages whose metadata is not here at the locked
    version (their own requirements go unchecked).
    """
    required_by: dict[str, set[str]] = defaultdict(set)
    extras: dict[str, set[str]] = defaultdict(set)
    problems: list[str] = []
    unchecked: list[str] = []
    pending = [(Requirement(text), "pyproject.toml") for text in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, parent = pending.pop()
        name = canonicalize_name(requirement.name)
        pin = pins.get(name)
        if pin is None or not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{parent} requires {requirement}, locked: {pin and pin.version}")
            continue
        required_by[name].add(parent)
        extras[name] |= requirement.extras
        if (name, frozenset(extras[name])) in seen:
            continue
        seen.add((name, frozenset(extras[name])))
        try:
            installed = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or installed.version != pin.version:
            unchecked.append(name)
            continue
        pending.extend(
            (child, name)
            for child in map(Requirement, installed.requires or [])
            if _applies(child, extras[name])
        )
    return required_by, problems, sorted(set(unchecked))


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**target, "extra": extra})
        for target in TARGETS
        for extra in [*extras, ""]
    )


def _closure_of(spec: LockSpec) -> tuple[dict[str, set[str]], list[str], list[str]]:
    return _closure(_pins(spec), spec.requirements(read_pyproject()))


@pytest.mark.parametrize("spec", LOCKS, ids=lambda s: s.filename)
def test_the_lock_holds_every_transitive_requirement(spec: LockSpec) -> None:
    _, problems, unchecked = _closure_of(spec)
    assert problems == []
    if unchecked:  # PyPI moved on since the last `make lock`, and the test env with it
        warnings.warn(
            f"not installed at the locked version, so not walked: {unchecked}", stacklevel=1
        )


@pytest.mark.parametrize("spec", LOCKS, ids=lambda s: s.filename)
def test_the_lock_pins_nothing_unused(spec: LockSpec) -> None:
    required_by, _, unchecked = _closure_of(spec)
    if unchecked:
        pytest.skip(f"requirements of {unchecked} unknown: installed at other versions")
    assert set(_pins(spec)) - set(required_by) == set()


def test_a_lock_missing_a_transitive_requirement_is_caught() -> None:
    """multidict is no direct dependency: only aiohttp's (and yarl's) metadata name it."""
    pins = _pins(RUNTIME)
    del pins["multidict"]
    _, problems, _ = _closure(pins, RUNTIME.requirements(read_pyproject()))
    assert any(p.startswith("aiohttp requires multidict") for p in problems)
    assert all(" requires multidict" in p and p.endswith("locked: None") for p in problems)

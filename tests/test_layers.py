"""The package's folders import one way (docs/ARCHITECTURE.md):

    cli → controller → services → sync → invitations → directory / okta → resource → domain

and SQL and Kopf each stay in their one folder. Read from the source, so a new import that
points back up fails here rather than in review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "operator" / "okta_hris"

# A module may import the package's own modules of a lower layer, or of its own folder.
LAYERS: dict[str, int] = {
    "errors": 0,
    "memory": 0,
    "domain": 1,
    "resource": 2,
    "settings": 2,
    "crd": 3,
    "okta": 3,
    "directory": 3,
    "sandbox": 3,
    "invitations": 4,
    "sync": 5,
    "services": 6,
    "eventhooks": 6,  # the hook receiver and queue: beside services, below the controller
    "controller": 7,
    "cli": 8,
    "__main__": 9,
}


def _modules() -> Iterator[tuple[Path, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield path, parts[0]


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, at any depth (function-level imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # "from okta_hris import errors" names a module
                yield node.lineno, f"{node.module}.{alias.name}"


def _component(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "okta_hris" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def test_every_folder_has_a_layer() -> None:
    folders = {folder for _, folder in _modules()} - {"__init__"}
    assert folders <= set(LAYERS), f"give {sorted(folders - set(LAYERS))} a layer"


def test_imports_point_down_only() -> None:
    upward: list[str] = []
    for path, folder in _modules():
        if folder == "__init__":
            continue
        for line, module in _imports(path):
            target = _component(module)
            if target is None or target == folder:
                continue
            if LAYERS[target] >= LAYERS[folder]:
                where = f"{path.relative_to(PACKAGE)}:{line}"
                upward.append(f"{where} imports {module} ({folder} → {target})")
    assert upward == []


def test_the_package_root_imports_nothing_of_its_own() -> None:
    # okta_hris/__init__.py is imported by every layer (for __version__).
    assert [m for _, m in _imports(PACKAGE / "__init__.py") if m.startswith("okta_hris")] == []


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("sqlalchemy", {"directory"}),
        ("alembic", {"directory"}),
        ("kopf", {"controller", "cli/operator.py"}),
        ("click", {"cli"}),
        ("aiosmtplib", {"invitations"}),
    ],
)
def test_libraries_stay_in_their_folder(library: str, allowed: set[str]) -> None:
    found: list[str] = []
    for path, folder in _modules():
        relative = str(path.relative_to(PACKAGE))
        if folder in allowed or relative in allowed:
            continue
        found += [
            f"{relative}:{line}"
            for line, module in _imports(path)
            if module == library or module.startswith(f"{library}.")
        ]
    assert found == [], f"{library} is imported outside {sorted(allowed)}"

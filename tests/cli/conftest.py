"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..support.cli import example_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """The filtered example (US and DE engineers) with its token Secret, as one file."""
    return example_manifest(tmp_path, "filtered.yaml")

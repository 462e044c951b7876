"""Pin: the collector is on again after the paused steps fail (apply refused, plan raising)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from okta_hris.directory.store import Directory
from okta_hris.errors import DirectoryError
from tests.directory.directory_samples import changes, employee


@pytest.fixture(autouse=True)
def _enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_a_refused_apply_leaves_the_collector_enabled(database_url: str) -> None:
    with Directory.open(database_url) as directory:
        row = employee("00uGhost")
        with pytest.raises(DirectoryError):
            directory.apply(changes(employees_update=[row]))
        assert gc.isenabled()
        directory.apply(changes(employees_create=[row]))
        with pytest.raises(DirectoryError):
            directory.apply(changes(employees_create=[row]))  # a duplicate key
        assert gc.isenabled()

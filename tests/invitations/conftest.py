"""Fixtures of the invitation tests: a migrated directory on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from okta_hris.directory.store import Directory

from .support import Clock, Mailbox


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()

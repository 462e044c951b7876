"""Reading the directory the way only tests need to."""

from __future__ import annotations

from okta_hris.directory import Directory
from okta_hris.domain.changes import SyncRunRecord


def recent_runs(directory: Directory, integration: str, limit: int = 10) -> list[SyncRunRecord]:
    """The ``sync_runs`` rows of one integration, newest first (what ``directory runs`` lists)."""
    return directory.runs(integration, limit=limit)

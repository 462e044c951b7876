"""Reading the directory the way only tests need to."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa

from okta_hris.directory import Directory
from okta_hris.directory.schema import sync_runs
from okta_hris.domain.changes import SyncMode, SyncOutcome, SyncRunRecord


def recent_runs(directory: Directory, integration: str, limit: int = 10) -> list[SyncRunRecord]:
    """The ``sync_runs`` rows of one integration, newest first."""
    query = (
        sa.select(sync_runs)
        .where(sync_runs.c.integration == integration)
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
        .limit(limit)
    )
    with directory.engine.connect() as connection:
        return [
            SyncRunRecord(
                integration=row["integration"],
                mode=cast(SyncMode, row["mode"]),
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                outcome=cast(SyncOutcome, row["outcome"]),
                stats=dict(row["stats"]),
                error=row["error"],
            )
            for row in connection.execute(query).mappings()
        ]

"""The progress display of a sync's Okta listings (users, groups, memberships)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from okta_hris.cli.common import stderr


class ListingProgress:
    """A rich progress display of the Okta listings (users, groups, memberships)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, listing: str, total: int | None) -> None:
        if listing in self._tasks:
            self._progress.update(self._tasks[listing], total=total)
        else:
            self._tasks[listing] = self._progress.add_task(f"Okta {listing}", total=total)

    def advance(self, listing: str, count: int) -> None:
        if listing not in self._tasks:
            self.start(listing, None)
        self._progress.advance(self._tasks[listing], count)


@contextmanager
def listing_progress(enabled: bool) -> Iterator[ListingProgress | None]:
    if not enabled:
        yield None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("[bold]{task.completed:,.0f}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    with progress:
        yield ListingProgress(progress)

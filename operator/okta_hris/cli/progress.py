"""The progress display of a sync's Okta listings (users, groups, memberships).

While Okta's rate limit holds the listings back, a line of its own says so and counts the
seconds down ("waiting for Okta's rate limit, 14 s"), so a stalled bar never looks frozen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from okta_hris.cli.common import stderr

# The task field that marks the rate-limit line: the monotonic time its wait is expected to end.
_WAIT_UNTIL = "wait_until"  # as passed to Progress.update below


def describe_wait(seconds: float) -> str:
    return f"waiting for Okta's rate limit, {max(math.ceil(seconds), 0)} s"


class _DescriptionColumn(ProgressColumn):
    """A listing's name, or on the rate-limit line the wait counted down."""

    def render(self, task: Task) -> Text:
        until = task.fields.get(_WAIT_UNTIL)
        if until is not None:
            return Text(describe_wait(until - time.monotonic()), style="yellow")
        return Text(f"{task.description:<18}")


class _ListingColumn(ProgressColumn):
    """A column of the listings only; empty on the rate-limit line."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self._column = column

    def render(self, task: Task) -> RenderableType:
        if task.fields.get(_WAIT_UNTIL) is not None:
            return Text("")
        return self._column.render(task)


class ListingProgress:
    """A rich progress display of the Okta listings (users, groups, memberships).

    ``waiting(bucket, seconds)`` is the Okta client's ``on_wait``: several buckets may wait at
    once; the line shows the longest wait and goes when none is left.
    """

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._waits: dict[str, float] = {}  # bucket -> monotonic end of its wait
        self._wait_task: TaskID | None = None

    def start(self, listing: str, total: int | None) -> None:
        if listing in self._tasks:
            self._progress.update(self._tasks[listing], total=total)
        else:
            self._tasks[listing] = self._progress.add_task(f"Okta {listing}", total=total)

    def advance(self, listing: str, count: int) -> None:
        if listing not in self._tasks:
            self.start(listing, None)
        self._progress.advance(self._tasks[listing], count)

    def waiting(self, bucket: str, seconds: float | None) -> None:
        if seconds is None:
            self._waits.pop(bucket, None)
        else:
            self._waits[bucket] = time.monotonic() + max(seconds, 0.0)
        if not self._waits:
            if self._wait_task is not None:
                self._progress.remove_task(self._wait_task)
                self._wait_task = None
        elif self._wait_task is None:
            until = max(self._waits.values())
            self._wait_task = self._progress.add_task(
                "Okta rate limit", total=None, wait_until=until
            )
        else:
            self._progress.update(self._wait_task, wait_until=max(self._waits.values()))
        self._progress.refresh()  # now, not at the next tick: a wait may be long


def listing_columns() -> tuple[ProgressColumn, ...]:
    return (
        SpinnerColumn(),
        _DescriptionColumn(),
        _ListingColumn(BarColumn()),
        _ListingColumn(TextColumn("[bold]{task.completed:,.0f}")),
        _ListingColumn(TimeElapsedColumn()),
    )


@contextmanager
def listing_progress(
    enabled: bool, console: Console | None = None
) -> Iterator[ListingProgress | None]:
    if not enabled:
        yield None
        return
    progress = Progress(*listing_columns(), console=console or stderr, transient=True)
    with progress:
        yield ListingProgress(progress)

"""Okta's timestamp format and the sandbox clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def format_time(moment: datetime) -> str:
    """Okta's ``YYYY-MM-DDTHH:mm:ss.SSSZ``: always UTC, always milliseconds.

    Fixed-width strings in one zone sort like the instants they name, so the org stores
    timestamps in this form and compares them as strings.
    """
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp as clients send it (``Z`` or an offset, with or without
    fractions; a bare date means midnight UTC). Raises ``ValueError``."""
    value = text.strip()
    if not value:
        raise ValueError("empty timestamp")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalize_time(text: str) -> str:
    """Any accepted timestamp in Okta's canonical form (milliseconds truncated)."""
    return format_time(parse_time(text))


class Clock:
    """Wall-clock time at millisecond resolution for the org's writes.

    ``now`` never repeats or goes backwards: each write gets a later timestamp than the one
    before, even within one millisecond, so "changed after X" is exact for consecutive writes
    and the System Log's ``published`` order is the order events were written. ``peek`` reads
    the time without claiming a timestamp.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    @staticmethod
    def _wall() -> datetime:
        moment = datetime.now(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def now(self) -> datetime:
        moment = self._wall()
        with self._lock:
            if moment <= self._last:
                moment = self._last + MILLISECOND
            self._last = moment
        return moment

    def now_text(self) -> str:
        return format_time(self.now())

    def peek(self) -> datetime:
        with self._lock:
            return max(self._wall(), self._last)


MILLISECOND = timedelta(milliseconds=1)

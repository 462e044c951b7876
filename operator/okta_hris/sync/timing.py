"""Where a sync's time went, in one line: what ``okta-hris sync -v`` and the operator log show.

The phases are the engine's (``SyncReport.timings``: load the directory, fetch from Okta,
plan, apply); the rate-limit waits are the Okta client's own pauses for a window to reset,
most of them before any 429, so a slow fetch says whether Okta's limits or our CPU held it.
"""

from __future__ import annotations

from collections.abc import Mapping

from okta_hris.domain.changes import SyncStats


def describe_time(timings: Mapping[str, float], stats: SyncStats) -> str:
    """``load 0.02 s, fetch 8.41 s, plan 0.90 s, apply 1.20 s; 3 rate-limit waits (12.4 s)``."""
    phases = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in timings.items())
    waits = (
        f"{stats.rate_limit_waits} rate-limit waits ({stats.rate_limit_wait_seconds:.1f} s)"
        if stats.rate_limit_waits
        else "no rate-limit wait"
    )
    return f"{phases or 'no phase timed'}; {waits}"

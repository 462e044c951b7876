"""``okta-hris sync -v`` says where the time went; the CLI's event loop keeps reports out of reprs.

Issue 12: ``-v`` showed neither the engine's phase timings nor the rate-limit waits; and
``asyncio.run`` built the text representation of the whole sync report when it returned.
"""

from __future__ import annotations

import re
from pathlib import Path

from okta_hris.cli.common import run_coroutine
from okta_hris.sandbox import RateLimitConfig, Sandbox

from ..support.cli import run_cli

TIME_LINE = re.compile(
    r"^time: load \d+\.\d\d s, fetch \d+\.\d\d s, plan \d+\.\d\d s, apply \d+\.\d\d s; "
    r"(?:no rate-limit wait|(\d+) rate-limit waits \((\d+\.\d) s\))$",
    re.MULTILINE,
)


def test_verbose_sync_shows_each_phase_and_the_rate_limit_waits(
    sandbox: Sandbox, manifest: Path, sqlite_url: str
) -> None:
    # 5 requests a second to /api/v1/groups*: the 20 groups' member listings must wait.
    sandbox.set_rate_limits(RateLimitConfig(groups=5, window=1.0))
    sync = ("sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url)

    verbose = run_cli(*sync, "-v")

    assert verbose.returncode == 0, verbose.stderr
    found = TIME_LINE.search(verbose.stdout)
    assert found is not None, verbose.stdout
    waits, seconds = found.groups()
    assert waits is not None and int(waits) >= 1 and float(seconds) > 0

    quiet = run_cli(*sync)
    assert quiet.returncode == 0, quiet.stderr
    assert "time: " not in quiet.stdout


class _Loud:
    """A result whose text representation says it was built."""

    built = 0

    def __repr__(self) -> str:
        type(self).built += 1
        return "_Loud()"


async def _loud() -> _Loud:
    return _Loud()


def test_run_coroutine_returns_the_result_without_building_its_repr() -> None:
    result = run_coroutine(_loud())

    assert isinstance(result, _Loud)
    assert _Loud.built == 0

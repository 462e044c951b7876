"""Red team R1 on issue 13, item 2 (two clocks): one Okta answer whose ``Date`` is 23 h 50 min
ahead (inside the day of skew the client accepts) stores ``last_full_sync_at`` 23 h 50 min in
the future, so the daily full sync is postponed to two days away. The sandbox over real HTTP,
behind tests/okta/hostile_okta.py's proxy; the directory on SQLite and PostgreSQL.

Fails until fixed (e.g. a stored time later than the clock now is treated as due, or the Date
of one answer is checked against the others')."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from tests.okta.hostile_okta import OktaProxy
from tests.sync.helpers import make_spec

from okta_hris.directory.store import Directory
from okta_hris.okta import OktaClient
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync

KEY = "people-ops/acme"


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def quick_client(base_url: str, token: Any) -> OktaClient:
    return OktaClient(base_url, token, max_retries=1, backoff_base=0.01, backoff_max=0.05)


async def _sync(url: str, sandbox: Sandbox, directory: Directory) -> SyncReport:
    request = SyncRequest(integration=KEY, spec=make_spec(), token=sandbox.token, okta_url=url)
    return await run_sync(request, directory, Settings(), client_factory=quick_client)


async def test_one_date_a_day_ahead_does_not_postpone_the_daily_full_sync(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    sandbox = sandbox_factory(users=20, groups=3, seed=5)
    ahead = format_datetime(datetime.now(UTC) + timedelta(hours=23, minutes=50), usegmt=True)
    async with OktaProxy(sandbox.url, date_override=lambda n: ahead if n == 1 else None) as proxy:
        assert (await _sync(proxy.url, sandbox, directory)).mode == "Full"
    # Okta's clock is honest from now on.
    second = await _sync(sandbox.url, sandbox, directory)
    state = directory.load_state(KEY).sync_state
    assert state.last_full_sync_at is not None
    print(f"second sync: {second.mode}; last full sync stored at {state.last_full_sync_at}")
    assert state.last_full_sync_at <= datetime.now(UTC) + timedelta(minutes=5)

"""One clock for a sync (issue 13, item 2): since, until and every stored time come from Okta's
clock, checked against ours. The sandbox over real HTTP, behind a proxy that sets its clock off
(tests/okta/hostile_okta.py), and a real directory on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import SyncState
from okta_hris.errors import OktaApiError
from okta_hris.okta import OktaClient
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.okta.hostile_okta import OktaProxy
from tests.support.directory import recent_runs

from .helpers import make_spec

KEY = "people-ops/acme"
IN_2099 = datetime(2099, 1, 1, tzinfo=UTC)


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(users=40, groups=6, seed=11)


@pytest.fixture
async def okta(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Okta's write API, straight to the sandbox."""
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as client:
        yield client


def quick_client(base_url: str, token: Any) -> OktaClient:
    return OktaClient(base_url, token, max_retries=1, backoff_base=0.01, backoff_max=0.05)


async def sync(proxy: OktaProxy, sandbox: Sandbox, directory: Directory) -> SyncReport:
    request = SyncRequest(
        integration=KEY, spec=make_spec(), token=sandbox.token, okta_url=proxy.url
    )
    return await run_sync(request, directory, Settings(), client_factory=quick_client)


def stored(directory: Directory) -> SyncState:
    return directory.load_state(KEY).sync_state


def employees(directory: Directory) -> dict[str, Any]:
    return {row.okta_id: row for row in directory.list_employees(integration=KEY)}


@pytest.mark.parametrize("minutes", [10, -10], ids=["okta-ahead", "okta-behind"])
async def test_incremental_syncs_miss_nothing_with_okta_ten_minutes_off(
    minutes: int, sandbox: Sandbox, directory: Directory, okta: httpx.AsyncClient
) -> None:
    offset = timedelta(minutes=minutes)
    async with OktaProxy(sandbox.url, offset) as proxy:
        assert (await sync(proxy, sandbox, directory)).mode == "Full"
        # Stored on Okta's clock: the watermark is Okta's fetch start minus the margin.
        expected = datetime.now(UTC) + offset - timedelta(minutes=2)
        watermark = stored(directory).watermark
        assert watermark is not None and abs(watermark - expected) < timedelta(minutes=1)

        changed, deleted = sorted(employees(directory))[:2]
        profile = {"profile": {"city": "Oslo"}}
        (await okta.post(f"/api/v1/users/{changed}", json=profile)).raise_for_status()
        (await okta.post(f"/api/v1/users/{deleted}/lifecycle/deactivate")).raise_for_status()
        (await okta.delete(f"/api/v1/users/{deleted}")).raise_for_status()

        # At once: with Okta ahead, a since on its clock and an until on ours were inverted.
        report = await sync(proxy, sandbox, directory)
        assert report.mode == "Incremental"
        rows = employees(directory)
        assert rows[changed].city == "Oslo"
        assert rows[deleted].okta_status == "DELETED" and not rows[deleted].active

        again = await sync(proxy, sandbox, directory)
    assert again.mode == "Incremental" and again.stats.updated == again.stats.deactivated == 0


async def test_one_date_in_2099_fails_the_sync_and_stores_nothing_of_it(
    sandbox: Sandbox, directory: Directory
) -> None:
    async with OktaProxy(sandbox.url) as proxy:
        await sync(proxy, sandbox, directory)
    before = stored(directory)

    bogus = format_datetime(IN_2099, usegmt=True)
    async with OktaProxy(sandbox.url, date_override=lambda n: bogus if n == 1 else None) as proxy:
        with pytest.raises(OktaApiError) as caught:
            await sync(proxy, sandbox, directory)
    assert str(caught.value).startswith("Okta's clock (the Date of its answer to GET /api/v1/")
    assert "2099-01-01 00:00 UTC) is 26," in str(caught.value)
    assert stored(directory) == before
    (failed, _) = recent_runs(directory, KEY, limit=2)
    assert failed.outcome == "failed" and failed.error is not None
    assert failed.error.startswith("OktaError: Okta's clock") and "\n" not in failed.error

    async with OktaProxy(sandbox.url) as proxy:
        assert (await sync(proxy, sandbox, directory)).mode == "Incremental"


async def test_times_stored_in_the_future_by_an_older_version_heal_with_a_full_sync(
    sandbox: Sandbox, directory: Directory
) -> None:
    async with OktaProxy(sandbox.url) as proxy:
        await sync(proxy, sandbox, directory)
        with directory.engine.begin() as connection:
            connection.execute(
                sa.update(schema.integrations)
                .where(schema.integrations.c.integration == KEY)
                .values(watermark=IN_2099, last_full_sync_at=IN_2099)
            )

        healed = await sync(proxy, sandbox, directory)
        assert healed.mode == "Full"
        state = stored(directory)
        now = datetime.now(UTC)
        assert state.watermark is not None and state.watermark < now
        assert state.last_full_sync_at is not None and state.last_full_sync_at <= now

        assert (await sync(proxy, sandbox, directory)).mode == "Incremental"

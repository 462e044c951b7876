"""When a sync is full and when incremental (SPEC §3)."""

from __future__ import annotations

from datetime import timedelta

from okta_hris.domain.changes import SyncState
from okta_hris.sync.engine import FULL_SYNC_EVERY, choose_mode

from .helpers import T0

HASH = "abc"
SYNCED = SyncState(spec_hash=HASH, watermark=T0, last_full_sync_at=T0)


def test_first_run_is_full() -> None:
    assert choose_mode(SyncState(), HASH, False, T0) == "Full"


def test_between_full_syncs_is_incremental() -> None:
    assert choose_mode(SYNCED, HASH, False, T0 + timedelta(hours=1)) == "Incremental"


def test_spec_change_request_and_daily_full() -> None:
    assert choose_mode(SYNCED, "changed", False, T0 + timedelta(hours=1)) == "Full"
    assert choose_mode(SYNCED, HASH, True, T0 + timedelta(hours=1)) == "Full"
    assert choose_mode(SYNCED, HASH, False, T0 + FULL_SYNC_EVERY) == "Full"
    assert (
        choose_mode(SYNCED, HASH, False, T0 + FULL_SYNC_EVERY - timedelta(seconds=1))
        == "Incremental"
    )

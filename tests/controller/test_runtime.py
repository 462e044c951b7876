"""runtime: token fingerprints, pokes, and syncs in their own loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from datetime import UTC, datetime

import pytest

from okta_hris.controller.runtime import IntegrationState, run_in_own_loop, token_fingerprint
from okta_hris.controller.scheduling import Memory


class TestTokenFingerprint:
    def test_the_fingerprint_is_not_the_value(self) -> None:
        fingerprint = token_fingerprint({"token": "s3cret-t0ken"}, "token")
        assert "s3cret" not in fingerprint
        assert token_fingerprint({"token": " s3cret-t0ken\n"}, "token") == fingerprint
        assert token_fingerprint({"token": "SSWS s3cret-t0ken"}, "token") == fingerprint
        assert token_fingerprint({"token": "other"}, "token") != fingerprint

    def test_a_missing_secret_key_or_value_each_has_its_own(self) -> None:
        found = {
            token_fingerprint(None, "token"),
            token_fingerprint({"other": "x"}, "token"),
            token_fingerprint({"token": " SSWS "}, "token"),
            token_fingerprint({"token": "t"}, "token"),
        }
        assert len(found) == 4


def test_a_poke_wakes_the_daemon_and_reads_a_stalled_secret_again() -> None:
    """A change of the integration may come with a fixed Secret (no Secret watch tells)."""
    state = IntegrationState("people/acme")
    state.memory = Memory(secret_check_at=datetime(2026, 11, 28, tzinfo=UTC))
    state.poke()
    assert state.wake.is_set()
    assert state.memory.secret_check_at is None


class TestRunInOwnLoop:
    async def test_runs_elsewhere_and_cancels_what_the_sync_left_running(self) -> None:
        outer = threading.get_ident()
        leftover: list[asyncio.Task[None]] = []

        async def sync() -> int:
            assert threading.get_ident() != outer
            leftover.append(asyncio.create_task(asyncio.sleep(3600)))
            return 42

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert await run_in_own_loop(sync, pool) == 42
        assert leftover[0].cancelled()

    async def test_cancelling_the_caller_cancels_the_sync(self) -> None:
        started, stopped = threading.Event(), threading.Event()

        async def sync() -> None:
            started.set()
            try:
                await asyncio.sleep(3600)
            finally:
                stopped.set()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = asyncio.create_task(run_in_own_loop(sync, pool))
            await asyncio.to_thread(started.wait, 10)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert stopped.is_set()  # it had stopped before the caller got control back

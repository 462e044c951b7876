"""runtime: Secret change detection by fingerprint, and syncs in their own loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from okta_hris.controller.runtime import (
    IntegrationState,
    TokenSeen,
    run_in_own_loop,
    token_fingerprint,
)


class TestSecretChanges:
    """Which Secret events retry an integration stalled on its token (401, 403, missing)."""

    def test_only_a_new_token_value_counts(self) -> None:
        state = IntegrationState("people/acme")
        state.token_seen = TokenSeen("okta", "token", token_fingerprint({"token": "old"}, "token"))
        state.secret_changed("okta", {"token": "old", "note": "a label or another key"})
        state.secret_changed("smtp", {"token": "new"})
        assert not state.memory.secret_changed and not state.wake.is_set()
        state.secret_changed("okta", {"token": "rotated"})
        assert state.memory.secret_changed and state.wake.is_set()

    @pytest.mark.parametrize(
        ("found", "same", "changed"),
        [
            (None, None, {"other": "x"}),  # created: a new problem (no key) to report
            ({"other": "x"}, {"other": "y"}, {"token": "t"}),
            ({"token": " "}, {"token": "", "other": "x"}, {"token": "t"}),
        ],
    )
    def test_a_missing_token_counts_when_the_secret_or_key_appears(
        self,
        found: dict[str, str] | None,
        same: dict[str, str] | None,
        changed: dict[str, str],
    ) -> None:
        state = IntegrationState("people/acme")
        state.token_seen = TokenSeen("okta", "token", token_fingerprint(found, "token"))
        if same is not None:
            state.secret_changed("okta", same)
            assert not state.memory.secret_changed
        state.secret_changed("okta", changed)
        assert state.memory.secret_changed

    def test_before_any_attempt_every_change_counts(self) -> None:
        state = IntegrationState("people/acme")
        state.secret_changed("okta", {})
        assert state.memory.secret_changed

    def test_the_fingerprint_is_not_the_value(self) -> None:
        fingerprint = token_fingerprint({"token": "s3cret-t0ken"}, "token")
        assert "s3cret" not in fingerprint
        assert token_fingerprint({"token": " s3cret-t0ken\n"}, "token") == fingerprint
        assert token_fingerprint({"token": "other"}, "token") != fingerprint


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

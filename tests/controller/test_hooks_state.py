"""Event hooks in the operator, without a server: when events get a sync of their own, what an
integration remembers of them (HookState), and HRIS_HOOKS_ADDRESS."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from okta_hris.controller import conditions, scheduling
from okta_hris.controller.options import ControllerConfig, LaunchOptions
from okta_hris.controller.runtime import HookState
from okta_hris.domain.events import HookEvent
from okta_hris.errors import ConfigError, SecretNotFound
from okta_hris.eventhooks import PendingEvents
from okta_hris.resource.spec import EventHookSettings
from okta_hris.resource.status import EventHooksStatus

from .status_samples import NOW, synced, view

EVENTS = scheduling.Sync(scheduling.Trigger.EVENTS, force_full=False)


def ready(status: str = "True", reason: str = "SyncSucceeded") -> dict[str, Any]:
    condition = {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": "",
        "lastTransitionTime": conditions.format_time(NOW),
    }
    return synced(conditions=[condition])


def event(uuid: str, user: str, minute: int = 0) -> HookEvent:
    published = datetime(2026, 12, 1, 12, minute, tzinfo=UTC)
    return HookEvent(uuid, "user.lifecycle.create", published, frozenset({user}), frozenset())


class TestDecide:
    def test_ready_events_sync_at_once_in_a_healthy_integration(self) -> None:
        memory = scheduling.Memory()
        assert scheduling.decide(view(ready()), memory, NOW, events_ready=True) == EVENTS
        waiting = scheduling.decide(view(ready()), memory, NOW)
        assert isinstance(waiting, scheduling.Wait)

    def test_a_due_sync_covers_the_events(self) -> None:
        later = NOW + timedelta(hours=2)
        action = scheduling.decide(view(ready()), scheduling.Memory(), later, events_ready=True)
        assert action == scheduling.Sync(scheduling.Trigger.SCHEDULED, force_full=False)

    @pytest.mark.parametrize(
        "status",
        [
            ready("False", "OktaUnavailable"),  # backing off: events must not bypass it
            ready("False", "DeactivationThresholdExceeded"),  # held: only an approval releases
            synced(),  # never Ready
        ],
    )
    def test_events_wait_while_the_integration_is_not_ready(self, status: dict[str, Any]) -> None:
        action = scheduling.decide(view(status), scheduling.Memory(), NOW, events_ready=True)
        assert isinstance(action, scheduling.Wait)

    def test_suspended_and_new_integrations_never_sync_for_events(self) -> None:
        suspended = scheduling.decide(
            view(ready(), suspend=True), scheduling.Memory(), NOW, events_ready=True
        )
        assert suspended == scheduling.Suspend()
        created = scheduling.decide(view(), scheduling.Memory(), NOW, events_ready=True)
        assert created == scheduling.Sync(scheduling.Trigger.CREATED, force_full=True)


class TestHookState:
    async def test_counts_add_up_across_restarts(self) -> None:
        hooks = HookState()
        hooks.configure(None, _reader("v"), 0.0, suspended=False)
        assert hooks.offer([event("a", "u1", 1), event("b", "u2", 5), event("a", "u1", 1)]) == (
            True,
            2,
        )
        batch = hooks.take()
        assert batch is not None and batch.user_ids == {"u1", "u2"} and batch.events == 2
        before = EventHooksStatus(received=10, applied=7, last_event_time=NOW)
        after = hooks.status_after_sync(before, applied=batch.events)
        assert after == EventHooksStatus(
            received=12, applied=9, last_event_time=datetime(2026, 12, 1, 12, 5, tzinfo=UTC)
        )
        # What status was told is not told again.
        assert hooks.status_after_sync(after, applied=0) == after

    async def test_integrations_without_hooks_get_no_status_field(self) -> None:
        assert HookState().status_after_sync(None, applied=0) is None

    async def test_a_failed_sync_gives_its_events_to_the_next_one(self) -> None:
        hooks = HookState()
        hooks.offer([event("a", "u1")])
        first = hooks.take()
        assert first is not None and hooks.take() is None
        hooks.offer([event("b", "u2")])
        hooks.give_back(first)
        again = hooks.take()
        assert again is not None and again.user_ids == {"u1", "u2"} and again.events == 2

    async def test_suspended_events_are_deduplicated_and_dropped(self) -> None:
        hooks = HookState()
        hooks.configure(None, _reader("v"), 0.0, suspended=True)
        assert hooks.offer([event("a", "u1")]) == (True, 1)
        assert hooks.offer([event("a", "u1")]) == (True, 0)
        assert hooks.take() is None

    async def test_while_a_batch_waits_the_queue_fills_and_refuses(self) -> None:
        hooks = HookState(pending=PendingEvents(capacity=2))
        hooks.offer([event("a", "u1")])
        assert (await asyncio.wait_for(hooks.debounced(), 5)).events == 1
        assert hooks.offer([event("b", "u2"), event("c", "u3")]) == (True, 2)
        assert hooks.offer([event("d", "u4")]) == (False, 0)  # the receiver answers 503
        waiting = asyncio.ensure_future(hooks.debounced())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # one batch waits at a time
        hooks.take()
        hooks.offer([event("e", "u5")])
        assert (await asyncio.wait_for(waiting, 5)).user_ids == {"u5"}

    async def test_the_secret_is_read_again_once_stale_and_a_missing_one_means_404(self) -> None:
        values = ["first", "second"]
        hooks = HookState()
        hooks.configure(None, _reader(*values), 0.0, suspended=False)
        assert await hooks.authorization("ns/a", ttl=60) == "first"
        assert await hooks.authorization("ns/a", ttl=60) == "first"  # cached
        assert await hooks.authorization("ns/a", ttl=0) == "second"

        async def missing() -> str:
            raise SecretNotFound('Secret "okta-hook" does not exist')

        other = EventHookSettings.model_validate({"enabled": True, "authSecretRef": {"name": "x"}})
        hooks.configure(other, missing, 0.0, suspended=False)  # another spec: read afresh
        assert await hooks.authorization("ns/a", ttl=60) is None
        hooks.configure(None, None, 0.0, suspended=False)
        assert await hooks.authorization("ns/a", ttl=0) is None


def _reader(*values: str) -> Any:
    remaining = list(values)

    async def read() -> str:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return read


class TestHooksAddress:
    def test_default_and_explicit(self) -> None:
        assert ControllerConfig.from_env({}).hooks_address == ("0.0.0.0", 8081)
        assert ControllerConfig.from_env({"HRIS_HOOKS_ADDRESS": "[::]:9443"}).hooks_address == (
            "::",
            9443,
        )

    @pytest.mark.parametrize("value", ["8081", "host:", "0.0.0.0:70000", "a b:1", "\x1b[31m:1"])
    def test_a_wrong_value_is_one_line(self, value: str) -> None:
        with pytest.raises(ConfigError, match="HRIS_HOOKS_ADDRESS") as caught:
            ControllerConfig.from_env({"HRIS_HOOKS_ADDRESS": value})
        assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)

    @pytest.mark.parametrize(
        "launch",
        [LaunchOptions(metrics_port=8081), LaunchOptions(metrics_port=None, liveness_port=8081)],
    )
    def test_it_cannot_share_the_metrics_or_liveness_port(self, launch: LaunchOptions) -> None:
        with pytest.raises(ConfigError, match="must differ"):
            ControllerConfig.from_env({}).check_ports(launch)

    def test_port_zero_never_clashes(self) -> None:
        config = ControllerConfig.from_env({"HRIS_HOOKS_ADDRESS": "127.0.0.1:0"})
        config.check_ports(LaunchOptions(metrics_port=None, liveness_port=None))


def okta_hris_run(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HRIS_", "KUBECONFIG"))}
    command = [str(Path(sys.executable).with_name("okta-hris")), "run", "-n", "people-ops"]
    return subprocess.run(
        [*command, *args], env={**env, **environ}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "environ", "message"),
    [
        (
            (),
            {"HRIS_HOOKS_ADDRESS": "everywhere"},
            "HRIS_HOOKS_ADDRESS: 'everywhere' is not HOST:PORT",
        ),
        (("--metrics-port=8081",), {}, "HRIS_HOOKS_ADDRESS uses port 8081, as --metrics-port does"),
    ],
)
def test_a_wrong_hooks_address_stops_okta_hris_run_with_one_line(
    args: tuple[str, ...], environ: dict[str, str], message: str
) -> None:
    done = okta_hris_run(*args, **environ)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr

"""Red team on issue 14 (R2): ``okta-hris sync -f FILE --watch`` end to end with the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from okta_hris.sandbox import Fault, FaultKind, Sandbox
from tests.cli.test_sync_watch import (
    LISTENING,
    QUICK_HOOKS,
    Watch,
    eventually,
    manifest,
    okta_client,
    register_hook,
    rows,
)


@pytest.fixture
def watch_without_retries(tmp_path: Path) -> Iterator[Callable[[Sandbox, str], Watch]]:
    started: list[Watch] = []

    def start(sandbox: Sandbox, database: str) -> Watch:
        args = ["sync", "-f", str(manifest(tmp_path)), "--watch", "--okta-url", sandbox.url]
        # No retries inside one Okta request: one 503 fails the targeted sync, as a short
        # Okta outage (longer than the client's retries) does.
        env = {"HRIS_HOOKS_ADDRESS": "127.0.0.1:0", "HRIS_OKTA_MAX_RETRIES": "0"}
        started.append(watch := Watch([*args, "--database", database], env))
        return watch

    yield start
    for watch in started:
        if watch.process.poll() is None:
            watch.process.kill()
            watch.process.wait()


def test_the_events_of_a_failed_targeted_sync_are_covered_by_the_next_sync(
    sandbox_factory: Callable[..., Sandbox],
    tmp_path: Path,
    watch_without_retries: Callable[[Sandbox, str], Watch],
) -> None:
    # cli/watch.py watch(): `await sync(batch.result())` drops the batch when that sync fails;
    # the operator gives it back (controller/reconciler.py _sync, HookState.give_back) and
    # EVENT-HOOKS.md says events wait for the sync that succeeds next. In --watch the change
    # waits for the periodic sync instead: an hour, with the default interval.
    sandbox = sandbox_factory(users=20, groups=3, seed=5, hook_delivery=QUICK_HOOKS)
    database = f"sqlite:///{tmp_path / 'directory.db'}"
    watch = watch_without_retries(sandbox, database)
    url = watch.wait_for(LISTENING.pattern)[1]
    watch.wait_for(r"^Full sync of people-ops/acme: 20 created")
    first, second = sorted(rows(database))[:2]
    with okta_client(sandbox) as okta:
        register_hook(okta, url)
        # The 1st request to first's path is the write below; the 2nd, the targeted sync's read.
        sandbox.add_fault(
            Fault(kind=FaultKind("503"), on_request=2, path_prefix=f"/api/v1/users/{first}")
        )
        profile = {"profile": {"title": "Changed While Okta Hiccuped"}}
        okta.post(f"/api/v1/users/{first}", json=profile).raise_for_status()
        watch.wait_for(r"^sync failed \(1 events\): OktaUnavailable")
        okta.post(
            f"/api/v1/users/{second}", json={"profile": {"title": "Later"}}
        ).raise_for_status()
        watch.wait_for(r"^Event sync of people-ops/acme .*: 0 created, [12] updated")

    eventually(lambda: rows(database)[first].title == "Changed While Okta Hiccuped", timeout=10)

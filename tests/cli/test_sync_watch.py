"""``okta-hris sync -f FILE --watch`` end to end: the sandbox delivers Okta event hooks to the
receiver of a real ``okta-hris`` process, whose targeted syncs reach the directory."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from okta_hris.directory import Directory
from okta_hris.domain.events import CONSUMED_EVENT_TYPES
from okta_hris.sandbox import HookDeliveryConfig, HookFault, Sandbox

from ..support.cli import cli_environ, run_cli

HOOK_SECRET = "Bearer watch-hook-secret-42"
KEY = "people-ops/acme"
# Okta's batching and retry, shortened: a test need not wait Okta's 3 seconds for a timeout.
QUICK_HOOKS = HookDeliveryConfig(batch_window=0.1, timeout=2.0, retry_delay=0.1)
LISTENING = re.compile(r"listening for Okta event hooks at (http://\S+)")


def manifest(tmp_path: Path, *, hooks: str = "enabled", interval: str = "1h") -> Path:
    event_hooks = {
        "enabled": "eventHooks: {enabled: true, authSecretRef: {name: okta-hook}, debounce: 0s}",
        "off": "eventHooks: {enabled: false}",
        "no-secret": "eventHooks: {enabled: true, authSecretRef: {name: missing}}",
    }[hooks]
    path = tmp_path / "acme.yaml"
    path.write_text(
        f"""
apiVersion: v1
kind: Secret
metadata: {{name: okta-api-token, namespace: people-ops}}
stringData: {{token: sandbox-token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: okta-hook, namespace: people-ops}}
stringData:
  authorization: "{HOOK_SECRET}\\n"
---
apiVersion: hris.dev/v1alpha1
kind: OktaIntegration
metadata: {{name: acme, namespace: people-ops}}
spec:
  okta: {{subdomain: acme, tokenSecretRef: {{name: okta-api-token}}}}
  sync:
    interval: {interval}
    {event_hooks}
"""
    )
    return path


class Watch:
    """A running ``okta-hris sync --watch``, its stdout read line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "okta_hris", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_environ(env),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,))
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in {self.seen}")

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM, as ``kill`` or a CI job's cancel sends it; the exit code, stdout, stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.process.returncode, "".join(self.seen), err


@pytest.fixture
def watching(
    tmp_path: Path,
) -> Iterator[Callable[..., Watch]]:
    started: list[Watch] = []

    def start(sandbox: Sandbox, path: Path, database: str) -> Watch:
        watch = Watch(
            ["sync", "-f", str(path), "--watch", "--okta-url", sandbox.url, "--database", database],
            {"HRIS_HOOKS_ADDRESS": "127.0.0.1:0"},
        )
        started.append(watch)
        return watch

    yield start
    for watch in started:
        if watch.process.poll() is None:
            watch.process.kill()
            watch.process.wait()


def register_hook(okta: httpx.Client, url: str) -> str:
    """What ``okta-hris hooks register`` does, through the sandbox's Event Hooks API."""
    body = {
        "name": "HRIS directory",
        "events": {"type": "EVENT_TYPE", "items": list(CONSUMED_EVENT_TYPES)},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": url,
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": HOOK_SECRET},
            },
        },
    }
    created = okta.post("/api/v1/eventHooks", json=body)
    assert created.status_code == 200, created.text
    hook_id = str(created.json()["id"])
    verified = okta.post(f"/api/v1/eventHooks/{hook_id}/lifecycle/verify")
    assert verified.status_code == 200, verified.text
    return hook_id


def okta_client(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"})


def rows(database: str) -> dict[str, Any]:
    with Directory.open(database) as directory:
        return {r.okta_id: r for r in directory.list_employees(integration=KEY)}


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the directory did not catch up"
        time.sleep(0.1)


def new_user(okta: httpx.Client, name: str) -> str:
    login = f"{name.lower()}@example.com"
    profile = {"firstName": name, "lastName": "Watch", "login": login, "email": login}
    response = okta.post("/api/v1/users", params={"activate": "true"}, json={"profile": profile})
    response.raise_for_status()
    return str(response.json()["id"])


def test_changes_reach_the_directory_through_event_hooks(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path, watching: Callable[..., Watch]
) -> None:
    sandbox = sandbox_factory(users=50, groups=5, seed=11, hook_delivery=QUICK_HOOKS)
    database = f"sqlite:///{tmp_path / 'directory.db'}"
    watch = watching(sandbox, manifest(tmp_path), database)
    url = watch.wait_for(LISTENING.pattern)[1]
    assert url.endswith("/hooks/okta/people-ops/acme")
    watch.wait_for(r"^Full sync of people-ops/acme: 50 created")
    with okta_client(sandbox) as okta:
        register_hook(okta, url)
        leaver = sorted(rows(database))[0]
        newcomer = new_user(okta, "Hanna")
        okta.post(f"/api/v1/users/{leaver}/lifecycle/deactivate").raise_for_status()
        team = next(g for g in okta.get("/api/v1/groups").json() if g["type"] == "OKTA_GROUP")
        okta.put(f"/api/v1/groups/{team['id']}/users/{newcomer}").raise_for_status()

    eventually(
        lambda: (
            newcomer in (now := rows(database))
            and team["profile"]["name"] in now[newcomer].teams
            and not now[leaver].active
        )
    )
    watch.wait_for(r"^Event sync of people-ops/acme \(\d+ events\): ")
    code, out, err = watch.stop()
    assert code == 0, err
    assert "stopped watching" in out
    assert "Traceback" not in err
    assert HOOK_SECRET not in out + err
    delivered = [d for d in sandbox.hook_deliveries if d.succeeded]
    assert delivered  # the changes came by hook, not by the hourly schedule


@pytest.mark.slow
def test_with_a_third_of_deliveries_dropped_the_periodic_sync_heals_everything(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path, watching: Callable[..., Watch]
) -> None:
    sandbox = sandbox_factory(
        users=40,
        groups=4,
        seed=12,
        hook_delivery=HookDeliveryConfig(batch_window=0.0, max_events=1, timeout=2.0),
        hook_faults=(HookFault(kind="drop", probability=0.3),),
        hook_fault_seed=5,
    )
    database = f"sqlite:///{tmp_path / 'directory.db'}"
    watch = watching(sandbox, manifest(tmp_path, interval="1m"), database)
    url = watch.wait_for(LISTENING.pattern)[1]
    watch.wait_for(r"^Full sync")
    with okta_client(sandbox) as okta:
        register_hook(okta, url)
        users = sorted(k for k, row in rows(database).items() if row.okta_status == "ACTIVE")
        users = users[:20]
        for n, user in enumerate(users):  # a few leavers: under the safety hold's 20%
            if n % 4:
                profile = {"profile": {"city": f"Town {n}"}}
                okta.post(f"/api/v1/users/{user}", json=profile).raise_for_status()
            else:
                okta.post(f"/api/v1/users/{user}/lifecycle/suspend").raise_for_status()
    dropped = [d for d in sandbox.hook_deliveries if d.dropped]
    assert dropped, "the fault seed dropped nothing"

    watch.wait_for(r"^Incremental sync of people-ops/acme", timeout=90)
    now = rows(database)
    for n, user in enumerate(users):
        assert (now[user].city == f"Town {n}") if n % 4 else not now[user].active, user
    code, _, err = watch.stop()
    assert code == 0, err


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ("off", "--watch needs spec.sync.eventHooks.enabled: true"),
        ("no-secret", "has no Secret 'missing'"),
    ],
)
def test_watch_refuses_without_hooks_or_their_secret(
    sandbox: Sandbox, tmp_path: Path, hooks: str, message: str
) -> None:
    database = f"sqlite:///{tmp_path / 'directory.db'}"
    path = manifest(tmp_path, hooks=hooks) if hooks == "off" else _no_secret(tmp_path)
    result = run_cli(
        "sync", "-f", str(path), "--watch", "--okta-url", sandbox.url, "--database", database
    )
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert rows(database) == {}  # refused before any sync


def _no_secret(tmp_path: Path) -> Path:
    path = manifest(tmp_path, hooks="no-secret")
    return path


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["-o", "json"], {}, "--watch prints one line per sync"),
        ([], {"HRIS_HOOKS_ADDRESS": "8081"}, "HRIS_HOOKS_ADDRESS: '8081' is not HOST:PORT"),
    ],
)
def test_watch_refuses_json_output_and_a_bad_address(
    sandbox: Sandbox, tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = run_cli(
        "sync",
        "-f",
        str(manifest(tmp_path)),
        "--watch",
        "--okta-url",
        sandbox.url,
        "--database",
        f"sqlite:///{tmp_path / 'directory.db'}",
        *args,
        env=env,
    )
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr

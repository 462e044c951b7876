"""``okta-hris hooks register|list|delete`` against the Okta sandbox's Event Hooks API, with the
operator's own receiver answering Okta's verification (in a thread of its own, as a running
operator or ``sync --watch`` would)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from okta_hris.domain.events import CONSUMED_EVENT_TYPES, HookEvent
from okta_hris.eventhooks import EventHookReceiver
from okta_hris.sandbox import Sandbox
from tests.support.cli import run_cli

HOOK_SECRET = "Bearer cli-hook-secret"
INTEGRATION = "people-ops/acme"
PATH = "/hooks/okta/people-ops/acme"


def manifest_text(enabled: bool = True) -> str:
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: okta-api-token, namespace: people-ops}}
stringData: {{token: sandbox-token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: okta-hook, namespace: people-ops}}
stringData: {{authorization: "{HOOK_SECRET}"}}
---
apiVersion: hris.dev/v1alpha1
kind: OktaIntegration
metadata: {{name: acme, namespace: people-ops}}
spec:
  okta: {{subdomain: acme, tokenSecretRef: {{name: okta-api-token}}}}
  sync:
    eventHooks: {{enabled: {str(enabled).lower()}, authSecretRef: {{name: okta-hook}}}}
"""


class Integrations:
    def __init__(self, key: str, authorization: str) -> None:
        self.key, self.value = key, authorization

    async def authorization(self, integration: str) -> str | None:
        return self.value if integration == self.key else None

    def offer(self, integration: str, events: Sequence[HookEvent]) -> bool:
        return True


@pytest.fixture
def receiver() -> Iterator[str]:
    """The base URL of a receiver serving people-ops/acme, in its own thread and loop."""
    loop = asyncio.new_event_loop()
    hooks = EventHookReceiver(Integrations(INTEGRATION, HOOK_SECRET), "127.0.0.1", 0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(hooks.start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{hooks.port}"
    finally:
        asyncio.run_coroutine_threadsafe(hooks.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def hooks_cli(sandbox: Sandbox, file: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli("hooks", *args, "-f", str(file), "--okta-url", sandbox.url)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def listed(sandbox: Sandbox, file: Path) -> list[dict[str, object]]:
    code, out, err = hooks_cli(sandbox, file, "list", "-o", "json")
    assert code == 0, err
    hooks: list[dict[str, object]] = json.loads(out)
    return hooks


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "integration.yaml"
    path.write_text(manifest_text())
    return path


def test_register_is_idempotent_and_delete_removes_the_hook(
    sandbox: Sandbox, manifest: Path, receiver: str
) -> None:
    code, out, err = hooks_cli(sandbox, manifest, "register", "--url", receiver)
    assert code == 0, err
    assert out.startswith("Created event hook ") and "ACTIVE, VERIFIED" in out
    assert f"{receiver}{PATH}" in out
    code, out, err = hooks_cli(
        sandbox, manifest, "register", "--url", receiver + PATH, "--hook-name", "hris"
    )
    assert code == 0, err
    assert out.startswith("Updated event hook ")
    (hook,) = listed(sandbox, manifest)
    assert hook["uri"] == receiver + PATH and hook["name"] == "hris"
    assert (hook["status"], hook["verification"]) == ("ACTIVE", "VERIFIED")
    assert set(hook["events"]) == set(CONSUMED_EVENT_TYPES)  # type: ignore[arg-type]
    code, out, _ = hooks_cli(sandbox, manifest, "list")
    assert code == 0 and str(hook["id"]) in out and HOOK_SECRET not in out
    code, out, err = hooks_cli(sandbox, manifest, "delete", "--url", receiver)
    assert code == 0, err
    assert out.startswith(f"Deleted event hook {hook['id']}")
    assert listed(sandbox, manifest) == []


def test_delete_by_id_deactivates_first(sandbox: Sandbox, manifest: Path, receiver: str) -> None:
    assert hooks_cli(sandbox, manifest, "register", "--url", receiver)[0] == 0
    (hook,) = listed(sandbox, manifest)
    code, _, err = hooks_cli(sandbox, manifest, "delete", str(hook["id"]))
    assert code == 0, err
    assert listed(sandbox, manifest) == []
    lifecycle = [r.path.rsplit("/", 1)[-1] for r in sandbox.requests if "/lifecycle/" in r.path]
    assert lifecycle[-1] == "deactivate"


def test_register_without_a_receiver_says_it_must_be_up(sandbox: Sandbox, manifest: Path) -> None:
    code, _, err = hooks_cli(sandbox, manifest, "register", "--url", "http://127.0.0.1:9")
    assert code == 1
    assert "receiver must be running" in err and len(err.strip().splitlines()) == 1
    assert HOOK_SECRET not in err
    (hook,) = listed(sandbox, manifest)  # created, left unverified: a rerun updates it
    assert hook["verification"] != "VERIFIED"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com", "plain http"),
        ("ftp://127.0.0.1", "absolute https URL"),
        ("https://u:p@hooks.example.com", "credentials"),
        ("https://hooks.example.com/x?y=1", "query"),
        ("https://hooks.example.com/hooks/okta/people-ops/other", "another receiver path"),
        ("https://hooks.example.com:99999", "not a URL"),
        ("https://hooks.example.com/../x", ". or .. path segments"),
        ("https://hooks.example.com/a b", "spaces"),
    ],
)
def test_a_wrong_url_is_one_line(sandbox: Sandbox, manifest: Path, url: str, problem: str) -> None:
    code, _, err = hooks_cli(sandbox, manifest, "register", "--url", url)
    assert code == 1 and problem in err and len(err.strip().splitlines()) == 1
    assert not [r for r in sandbox.requests if r.path.startswith("/api/v1/eventHooks")]


def test_an_integration_without_event_hooks_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "off.yaml"
    path.write_text(manifest_text(enabled=False))
    code, _, err = hooks_cli(sandbox, path, "register", "--url", "https://hooks.example.com")
    assert code == 1 and "spec.sync.eventHooks.enabled" in err


def test_delete_needs_an_id_or_a_url_and_refuses_a_bad_id(sandbox: Sandbox, manifest: Path) -> None:
    assert hooks_cli(sandbox, manifest, "delete")[0] == 1
    code, _, err = hooks_cli(sandbox, manifest, "delete", "../users")
    assert code == 1 and "event hook id" in err
    code, _, err = hooks_cli(sandbox, manifest, "delete", "who0000000000000000")
    assert code == 1 and "404" in err and len(err.strip().splitlines()) == 1

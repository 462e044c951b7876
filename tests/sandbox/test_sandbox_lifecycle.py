"""Starting and stopping sandboxes from synchronous and asynchronous code."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from okta_hris.sandbox import Sandbox, SandboxConfig, run_sandbox, start_sandbox


async def test_start_sandbox_serves_in_the_running_loop() -> None:
    sandbox = await start_sandbox(SandboxConfig(users=5, groups=2, seed=1))
    try:
        headers = {"Authorization": f"SSWS {sandbox.token}"}
        async with httpx.AsyncClient(base_url=sandbox.url, headers=headers) as client:
            response = await client.get("/api/v1/groups")
        assert response.status_code == 200 and len(response.json()) == 3
        assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    finally:
        await sandbox.stop()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{sandbox.url}/api/v1/groups")


async def test_run_sandbox_works_inside_an_async_test() -> None:
    with run_sandbox(SandboxConfig(users=3, groups=0)) as sandbox:
        headers = {"Authorization": f"SSWS {sandbox.token}"}
        async with httpx.AsyncClient(base_url=sandbox.url, headers=headers) as client:
            assert (await client.get("/api/v1/users")).status_code == 200
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{sandbox.url}/api/v1/users")


def test_run_sandbox_stops_on_exit_and_reports_a_busy_port(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    running = sandbox_factory(users=1, groups=0)
    with pytest.raises(OSError), run_sandbox(SandboxConfig(port=running.port)):
        pass  # pragma: no cover
    with run_sandbox(SandboxConfig(users=1, groups=0)) as sandbox:
        url = sandbox.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_the_default_config() -> None:
    config = SandboxConfig()
    assert (config.users, config.groups, config.token, config.host) == (
        1000, 50, "sandbox-token", "127.0.0.1"
    )  # fmt: skip
    assert config.rate_limits.users == 600 and config.rate_limits.concurrency == 75
    with pytest.raises(ValueError):
        SandboxConfig(users=10, groupz=3)  # type: ignore[call-arg]


def test_recorded_requests_are_capped(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=1, groups=0, recorded_requests=10)
    recorded = sandbox.requests
    headers = {"Authorization": f"SSWS {sandbox.token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as client:
        for limit in range(1, 26):
            client.get("/api/v1/users", params={"limit": limit})
    assert recorded is sandbox.requests
    assert len(recorded) <= 10
    assert recorded[-1].query == {"limit": "25"}

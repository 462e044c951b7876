"""Sandboxes shared by the sandbox tests.

``shared_sandbox`` is one seeded org per module for tests that only read; tests that write
start their own (``empty_sandbox`` or the ``sandbox_factory`` fixture of tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from okta_hris.sandbox import RateLimitConfig, Sandbox, SandboxConfig, run_sandbox

from .sandbox_http import client_for


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(users=200, groups=20, seed=7, rate_limits=RateLimitConfig(enabled=False))
    with run_sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(shared_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(shared_sandbox) as client:
        yield client


@pytest.fixture
def empty_sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """An org with no users and only the Everyone group, for exact scenarios."""
    return sandbox_factory(users=0, groups=0)


@pytest.fixture
def empty_http(empty_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(empty_sandbox) as client:
        yield client

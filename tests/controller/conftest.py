"""Fixtures of the operator tests: an API server (kmock, or a real cluster), the operator.

Every scenario takes the ``cluster`` fixture, which is parametrised: ``kmock`` runs always;
``cluster`` (marker ``cluster``) runs the same scenario against the cluster of ``$KUBECONFIG``
when asked for with ``pytest -m cluster`` (see docs/OPERATOR.md for kind).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml

from okta_hris.controller.kube import ObjectNotFound
from okta_hris.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL
from okta_hris.sandbox import Sandbox

from .kube_emulator import ApiServer
from .operator_harness import LogCapture, OperatorThread, TestKube, eventually, write_kubeconfig
from .status_schema import status_problems

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / f"{PLURAL}.{API_GROUP}.yaml"
KUBE_TOKEN = "kube-api-test-token"

# Timing knobs that make retries happen in a fraction of a second.
FAST_TIMING = {
    "HRIS_RETRY_BACKOFF": "0.3",
    "HRIS_RETRY_BACKOFF_MAX": "1",
    "HRIS_RESTART_SPREAD": "0",
    "HRIS_SYNC_JITTER": "0.05",
}


@dataclass
class Cluster:
    """An API server to run scenarios against, and a client for the test's own requests."""

    kind: str  # "kmock" or "real"
    kubeconfig: Path
    kube: TestKube
    apiserver: ApiServer | None = None
    namespaces: list[str] = field(default_factory=list)

    async def namespace(self, prefix: str = "hris") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        await self.kube.create_namespace(name)
        self.namespaces.append(name)
        return name


def _declare_resources(server: ApiServer) -> None:
    server.declare(
        f"{API_GROUP}/{API_VERSION}/{PLURAL}",
        kind=KIND,
        subresources=("status",),
        shortnames=("okta",),
    )
    server.declare("v1/secrets", kind="Secret")
    server.declare("v1/events", kind="Event")
    server.declare("v1/namespaces", kind="Namespace", namespaced=False)
    server.declare("kopf.dev/v1/kopfpeerings", kind="KopfPeering")


CRD_FILES = (
    CRD_FILE,
    REPO / "charts" / "okta-hris-operator" / "crds" / "kopfpeerings.kopf.dev.yaml",
)
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def _ensure_crds(kube: TestKube) -> None:
    """Install the CRDs the scenarios need, and wait until the API serves them."""
    for path in CRD_FILES:
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            name = crd["metadata"]["name"]
            try:
                await kube._request("GET", f"{CRDS_PATH}/{name}")
            except ObjectNotFound:
                await kube._request("POST", CRDS_PATH, payload=crd)

            async def established(name: str = name) -> bool:
                found = await kube._request("GET", f"{CRDS_PATH}/{name}")
                conditions = (found.get("status") or {}).get("conditions") or []
                return any(
                    c.get("type") == "Established" and c.get("status") == "True" for c in conditions
                )

            await eventually(established, what=f"the CRD {name}")


@pytest.fixture(params=["kmock", pytest.param("cluster", marks=pytest.mark.cluster)])
async def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cluster]:
    if request.param == "kmock":
        async with ApiServer() as server, kmock.Server(server) as http:
            _declare_resources(server)
            server.status_validators[PLURAL] = status_problems
            url = str(http.url).rstrip("/")
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, KUBE_TOKEN)
            async with TestKube.from_kubeconfig(kubeconfig) as kube:
                yield Cluster("kmock", kubeconfig, kube, server)
            # Every status the operator wrote in the scenario fits the CRD and the model.
            assert server.invalid_statuses == []
        return
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not paths:
        pytest.skip("the cluster suite needs KUBECONFIG (see docs/OPERATOR.md)")
    async with TestKube.from_kubeconfig(paths[0]) as kube:
        await _ensure_crds(kube)
        real = Cluster("real", Path(paths[0]), kube)
        try:
            yield real
        finally:
            for namespace in real.namespaces:
                await kube.delete_namespace(namespace)


OperatorStarter = Callable[..., Awaitable[OperatorThread]]


@pytest.fixture
async def start_operator(
    cluster: Cluster, sandbox_factory: Callable[..., Sandbox]
) -> AsyncIterator[OperatorStarter]:
    """Start operators (stopped after the test) watching the given namespaces.

    Depends on ``sandbox_factory`` so that operators stop before the Okta sandboxes do.
    """
    running: list[OperatorThread] = []

    async def start(
        namespaces: list[str], *, database_url: str, okta_url: str, **kwargs: Any
    ) -> OperatorThread:
        environ = {
            "HRIS_DATABASE_URL": database_url,
            "HRIS_OKTA_URL": okta_url,
            **FAST_TIMING,
            **kwargs.pop("environ", {}),
        }
        operator = OperatorThread(
            kubeconfig=cluster.kubeconfig, namespaces=namespaces, environ=environ, **kwargs
        )
        running.append(operator)
        return await operator.start()

    yield start
    for operator in reversed(running):
        if operator.running:
            await operator.stop()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Every log line of the test, the operator's thread included, down to DEBUG."""
    capture = LogCapture()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("kopf", "okta_hris", "httpx")}
    root.addHandler(capture)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

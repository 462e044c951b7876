"""Running the real operator in a test: its own thread and loop, a kubeconfig, helpers.

The operator is Kopf with our handlers, started with ``kopf.operator`` in a thread of its own
(a test's event loop serves the kmock API server; an operator in that loop would cancel its
tasks on stop). It reaches the API server over HTTP through a per-test kubeconfig, the Okta
sandbox over HTTP through ``HRIS_OKTA_URL``, and a real database.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import kopf
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import okta_hris.controller.handlers  # noqa: F401  # registers the handlers with Kopf
from okta_hris.controller.kube import KubeApi, ObjectNotFound, load_configuration
from okta_hris.controller.options import LaunchOptions
from okta_hris.controller.runtime import OperatorRuntime
from okta_hris.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL

T = TypeVar("T")

INTEGRATIONS_PATH = f"/apis/{API_GROUP}/{API_VERSION}"
DEFAULT_WAIT_S = 30.0
TOKEN_SECRET = "okta-token"  # the Secret the scenarios' integrations name


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    """A kubeconfig for one test, passed to every client explicitly (never via $KUBECONFIG)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "test", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class LogCapture(logging.Handler):
    """Every log line of every thread, formatted (to search for leaked secrets)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._mutex = threading.Lock()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self._mutex:
            self.lines.append(line)

    @property
    def text(self) -> str:
        with self._mutex:
            return "\n".join(self.lines)


class OperatorThread:
    """The operator under test, started and stopped from an async test."""

    def __init__(
        self,
        *,
        kubeconfig: Path,
        namespaces: Sequence[str],
        environ: Mapping[str, str],
        liveness_port: int | None = None,
        peering: str | None = None,
        priority: int = 0,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = list(namespaces)
        # Any free port for the event hooks receiver: tests run side by side.
        self.environ = {"HRIS_HOOKS_ADDRESS": "127.0.0.1:0", **environ}
        self.liveness_port = liveness_port
        self.peering = peering
        self.priority = priority
        self.memo = kopf.Memo(
            launch=LaunchOptions(
                metrics_host="127.0.0.1",
                metrics_port=0,
                kubeconfig=str(kubeconfig),
                environ=self.environ,
            )
        )
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._target, name="operator", daemon=True)

    @property
    def runtime(self) -> OperatorRuntime:
        runtime = self.memo.get("runtime")
        assert isinstance(runtime, OperatorRuntime), "the operator has not started"
        return runtime

    @property
    def hooks_url(self) -> str:
        """The event hooks receiver's base URL (append HOOK_PATH)."""
        receiver = self.runtime.hooks_receiver
        assert receiver is not None
        return f"http://127.0.0.1:{receiver.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def metrics_url(self) -> str:
        server = self.runtime.metrics_server
        assert server is not None
        return f"http://127.0.0.1:{server.port}/metrics"

    async def start(self, within: float = DEFAULT_WAIT_S) -> OperatorThread:
        self._thread.start()
        ready = await asyncio.to_thread(self._ready.wait, within)
        if self.error is not None:
            raise self.error
        assert ready, "the operator did not start"
        return self

    async def stop(self, within: float = DEFAULT_WAIT_S) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, within)
        assert not self._thread.is_alive(), "the operator did not stop"
        if self.error is not None:
            raise self.error

    def _target(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        settings = kopf.OperatorSettings()
        settings.scanning.disabled = True
        settings.networking.request_timeout = 30
        settings.posting.level = logging.INFO
        try:
            loop.run_until_complete(
                kopf.operator(
                    registry=kopf.get_default_registry(),
                    settings=settings,
                    namespaces=self.namespaces,
                    standalone=self.peering is None,
                    peering_name=self.peering,
                    priority=self.priority,
                    liveness_endpoint=(
                        f"http://127.0.0.1:{self.liveness_port}/healthz"
                        if self.liveness_port
                        else None
                    ),
                    memo=self.memo,
                    ready_flag=self._ready,
                    stop_flag=self._stop,
                )
            )
        except BaseException as exc:  # surfaced in the test by start() / stop()
            self.error = exc
            self._ready.set()
        finally:
            # Kopf waits for the stop flag in a thread of its own: release it even when the
            # operator failed, or that thread keeps the interpreter from exiting.
            self._stop.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class OperatorProcess:
    """``okta-hris run`` as a process, as a pod runs it: its own logging set-up and
    environment. Its output (stdout and stderr) is read as it comes: a full pipe would block
    the operator."""

    def __init__(self, process: asyncio.subprocess.Process, metrics_port: int) -> None:
        self.process = process
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.lines: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(
        cls,
        *,
        kubeconfig: Path,
        namespace: str,
        database_url: str,
        environ: Mapping[str, str],
        args: Sequence[str] = (),
    ) -> OperatorProcess:
        """Standalone, watching ``namespace``, metrics on a free port; ``environ`` is added to
        this process's environment without its HRIS_* settings and KUBECONFIG."""
        metrics_port = free_port()
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("HRIS_", "KUBECONFIG"))
        }
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("okta-hris")),
            "run",
            "-n",
            namespace,
            "--standalone",
            f"--database={database_url}",
            "--kubeconfig",
            str(kubeconfig),
            f"--metrics-port={metrics_port}",
            *args,
            env={**inherited, "HRIS_HOOKS_ADDRESS": "127.0.0.1:0", **environ},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process, metrics_port)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode().rstrip("\n"))

    async def stop(self, within: float = 60) -> int:
        """SIGTERM, and the exit code once it has exited."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout=within)
        await asyncio.wait_for(self._reader, timeout=10)
        return code


class TestKube(KubeApi):
    """The test's own client: create, patch, delete and read whatever a scenario needs."""

    __test__ = False  # not a pytest test class

    @classmethod
    def from_kubeconfig(cls, path: Path | str) -> TestKube:
        return cls(load_configuration(str(path)))

    async def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", _collection_path(obj), payload=obj)

    async def apply_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        """Create the Secret, or replace its data if it exists (as kubectl apply would)."""
        path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
        try:
            current = await self._request("GET", path)
        except ObjectNotFound:
            await self.create(
                {**body, "metadata": {"name": name, "namespace": namespace}, "stringData": data}
            )
            return
        encoded = {k: _b64(v) for k, v in data.items()}
        removed = {k: None for k in current.get("data") or {} if k not in data}
        await self._request(
            "PATCH",
            path,
            payload={"data": {**removed, **encoded}},
            content_type="application/merge-patch+json",
        )

    async def label_secret(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        """Change the Secret's metadata only (its data stays as it is)."""
        await self._request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/secrets/{name}",
            payload={"metadata": {"labels": dict(labels)}},
            content_type="application/merge-patch+json",
        )

    async def delete_secret(self, namespace: str, name: str) -> None:
        await self._request("DELETE", f"/api/v1/namespaces/{namespace}/secrets/{name}")

    async def patch_spec(self, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        await self._request(
            "PATCH",
            self._integration_path(namespace, name),
            payload={"spec": dict(spec)},
            content_type="application/merge-patch+json",
        )

    async def delete_integration(self, namespace: str, name: str) -> None:
        await self._request("DELETE", self._integration_path(namespace, name))

    async def integration_exists(self, namespace: str, name: str) -> bool:
        try:
            await self.get_integration(namespace, name)
        except ObjectNotFound:
            return False
        return True

    async def events(self, namespace: str, name: str | None = None) -> list[dict[str, Any]]:
        found = await self._request("GET", f"/api/v1/namespaces/{namespace}/events")
        items: list[dict[str, Any]] = found.get("items") or []
        return [
            e for e in items if name is None or (e.get("involvedObject") or {}).get("name") == name
        ]

    async def create_namespace(self, name: str) -> None:
        await self._request("POST", "/api/v1/namespaces", payload={"metadata": {"name": name}})

    async def delete_namespace(self, name: str) -> None:
        await self._request("DELETE", f"/api/v1/namespaces/{name}")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _collection_path(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    kind = obj.get("kind")
    if kind == KIND:
        return f"{INTEGRATIONS_PATH}/namespaces/{namespace}/{PLURAL}"
    if kind == "KopfPeering":
        return f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings"
    plural = {"Secret": "secrets", "Namespace": "namespaces"}[str(kind)]
    if namespace:
        return f"/api/v1/namespaces/{namespace}/{plural}"
    return f"/api/v1/{plural}"


def integration(
    namespace: str,
    name: str,
    *,
    secret: str = TOKEN_SECRET,
    **spec: Any,
) -> dict[str, Any]:
    """An OktaIntegration manifest for the sandbox org (the operator sends Okta calls there)."""
    body: dict[str, Any] = {
        "okta": {"subdomain": "acme", "tokenSecretRef": {"name": secret, "key": "token"}},
        "safety": {"maxDeactivations": "100%"},
    }
    for key, value in spec.items():
        body[key] = {**body.get(key, {}), **value} if isinstance(value, dict) else value
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


async def create_integration(
    kube: TestKube, namespace: str, token: str | None, name: str = "acme", **spec: Any
) -> None:
    """OktaIntegration ``name`` and, unless ``token`` is None, the token Secret it names."""
    if token is not None:
        await kube.apply_secret(namespace, TOKEN_SECRET, {"token": token})
    await kube.create(integration(namespace, name, secret=TOKEN_SECRET, **spec))


def integration_labels(key: str) -> dict[str, str]:
    """The labels of every series of integration ``ns/name``: namespace and name."""
    namespace, _, name = key.partition("/")
    return {"namespace": namespace, "name": name}


def is_integration_series(line: str, key: str) -> bool:
    """Whether a line of ``/metrics`` text is a series of integration ``key``, whatever order
    the labels are printed in."""
    return all(f'{label}="{value}"' in line for label, value in integration_labels(key).items())


def integration_samples(text: str, key: str) -> list[Sample]:
    """Every sample of integration ``key``, parsed from ``/metrics`` text (the order labels
    are printed in depends on the prometheus_client version: never match the text itself)."""
    wanted = integration_labels(key).items()
    return [
        found
        for family in text_string_to_metric_families(text)
        for found in family.samples
        if wanted <= found.labels.items()
    ]


async def metrics_text(url: str) -> str:
    """``/metrics`` of an operator (``OperatorThread.metrics_url``, or a process's)."""
    async with httpx.AsyncClient() as http:
        return (await http.get(url)).text


def metric_value(text: str, sample: str, labels: Mapping[str, str]) -> float | None:
    """The value of the first ``sample`` (e.g. ``okta_hris_syncs_total``) whose labels include
    ``labels``, parsed from ``/metrics`` text; None if there is none."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and labels.items() <= found.labels.items():
                return float(found.value)
    return None


def probing(check: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A synchronous check as a probe for ``eventually``."""

    async def probe() -> T:
        return check()

    return probe


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = DEFAULT_WAIT_S,
    interval: float = 0.1,
    what: str = "the condition",
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)


def condition(status: Mapping[str, Any], type_: str) -> dict[str, Any]:
    for item in status.get("conditions") or []:
        if item.get("type") == type_:
            return dict(item)
    return {}


async def wait_for_status(
    kube: TestKube,
    namespace: str,
    name: str,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    within: float = DEFAULT_WAIT_S,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        status: dict[str, Any] = (await kube.get_integration(namespace, name)).get("status") or {}
        return status if predicate(status) else None

    return await eventually(probe, within=within, what=f"{namespace}/{name}: {what}")


async def wait_for_generation(
    kube: TestKube,
    namespace: str,
    name: str,
    generation: int,
    *,
    ready: bool = False,
    within: float = DEFAULT_WAIT_S,
) -> dict[str, Any]:
    """The status once it has observed ``generation`` (and, with ``ready``, is Ready=True)."""

    def observed(found: dict[str, Any]) -> bool:
        if found.get("observedGeneration") != generation:
            return False
        return not ready or condition(found, "Ready").get("status") == "True"

    what = f"the sync of generation {generation}" if ready else f"generation {generation}"
    return await wait_for_status(kube, namespace, name, observed, what=what, within=within)


async def wait_for_condition(
    kube: TestKube,
    namespace: str,
    name: str,
    type_: str,
    status: str,
    reason: str | None = None,
    *,
    within: float = DEFAULT_WAIT_S,
) -> dict[str, Any]:
    def matches(found: dict[str, Any]) -> bool:
        cond = condition(found, type_)
        return cond.get("status") == status and (reason is None or cond.get("reason") == reason)

    return await wait_for_status(
        kube,
        namespace,
        name,
        matches,
        what=f"{type_}={status}" + (f" ({reason})" if reason else ""),
        within=within,
    )

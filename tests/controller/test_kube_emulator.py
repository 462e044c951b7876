"""The test API server behaves like the real one where the operator depends on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import pytest

from okta_hris.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL

from .kube_emulator import ApiServer

BASE = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/ns/{PLURAL}"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with ApiServer() as api, kmock.Server(api):
        api.declare(f"{API_GROUP}/{API_VERSION}/{PLURAL}", kind=KIND, subresources=("status",))
        api.declare("v1/secrets", kind="Secret")
        api.declare("v1/events", kind="Event")
        yield api


async def call(server: ApiServer, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with server.request(method, path, **kwargs) as response:
        return response.status, await response.json()


def merge(payload: dict[str, Any]) -> dict[str, Any]:
    return {"json": payload, "headers": {"Content-Type": "application/merge-patch+json"}}


async def create(server: ApiServer, **spec: Any) -> dict[str, Any]:
    body = {"apiVersion": "hris.dev/v1alpha1", "kind": KIND, "metadata": {"name": "acme"}}
    code, obj = await call(server, "POST", BASE, json={**body, "spec": spec, "status": {"x": 1}})
    assert code == 201
    return dict(obj)


async def test_create_assigns_identity_and_versions(server: ApiServer) -> None:
    obj = await create(server, interval="1h")
    meta = obj["metadata"]
    assert meta["namespace"] == "ns"
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    assert meta["generation"] == 1
    assert "status" not in obj  # the status subresource ignores status on create
    code, _ = await call(server, "POST", BASE, json=obj)
    assert code == 409


async def test_spec_changes_bump_generation_and_status_is_isolated(server: ApiServer) -> None:
    first = await create(server, interval="1h")
    code, obj = await call(server, "PATCH", f"{BASE}/acme", **merge({"spec": {"interval": "2h"}}))
    assert code == 200
    assert obj["metadata"]["generation"] == 2
    assert obj["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]

    code, obj = await call(
        server, "PATCH", f"{BASE}/acme", **merge({"metadata": {"labels": {"a": "b"}}})
    )
    assert obj["metadata"]["generation"] == 2  # metadata is not spec

    code, obj = await call(
        server,
        "PATCH",
        f"{BASE}/acme/status",
        **merge({"status": {"observedGeneration": 2}, "spec": {"interval": "9h"}}),
    )
    assert obj["status"] == {"observedGeneration": 2}
    assert obj["spec"]["interval"] == "2h"  # /status changes nothing but status
    assert obj["metadata"]["generation"] == 2

    code, obj = await call(server, "PATCH", f"{BASE}/acme", **merge({"status": {"x": 2}}))
    assert obj["status"] == {"observedGeneration": 2}  # the main endpoint ignores status


async def test_failed_json_patch_test_is_422(server: ApiServer) -> None:
    obj = await create(server)
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "stale"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
    ]
    headers = {"Content-Type": "application/json-patch+json"}
    code, status = await call(server, "PATCH", f"{BASE}/acme", json=ops, headers=headers)
    assert code == 422 and status["kind"] == "Status"
    ops[0]["value"] = obj["metadata"]["resourceVersion"]
    code, patched = await call(server, "PATCH", f"{BASE}/acme", json=ops, headers=headers)
    assert code == 200 and patched["metadata"]["finalizers"] == ["x"]


async def test_generate_name_and_string_data(server: ApiServer) -> None:
    event = {"metadata": {"generateName": "acme."}, "reason": "R"}
    names = set()
    for _ in range(2):
        code, obj = await call(server, "POST", "/api/v1/namespaces/ns/events", json=event)
        assert code == 201
        names.add(obj["metadata"]["name"])
    assert len(names) == 2 and all(n.startswith("acme.") for n in names)

    secret = {"metadata": {"name": "s"}, "stringData": {"token": "t0ken"}}
    code, obj = await call(server, "POST", "/api/v1/namespaces/ns/secrets", json=secret)
    assert obj["data"] == {"token": "dDBrZW4="} and "stringData" not in obj


async def test_finalizers_hold_deletion(server: ApiServer) -> None:
    await create(server)
    await call(server, "PATCH", f"{BASE}/acme", **merge({"metadata": {"finalizers": ["f"]}}))
    code, obj = await call(server, "DELETE", f"{BASE}/acme")
    assert code == 200 and obj["metadata"]["deletionTimestamp"]
    code, _ = await call(server, "GET", f"{BASE}/acme")
    assert code == 200
    await call(server, "PATCH", f"{BASE}/acme", **merge({"metadata": {"finalizers": None}}))
    code, _ = await call(server, "GET", f"{BASE}/acme")
    assert code == 404


async def test_watch_streams_what_happens_after_it_starts(server: ApiServer) -> None:
    await create(server, interval="1h")
    url = server.url.with_path(BASE).with_query(watch="true")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        first = await response.content.readline()
        assert b'"ADDED"' in first
        await call(server, "PATCH", f"{BASE}/acme", **merge({"spec": {"interval": "3h"}}))
        second = await response.content.readline()
        assert b'"MODIFIED"' in second and b'"3h"' in second


async def test_namespaces_are_listed(server: ApiServer) -> None:
    await create(server)
    await call(server, "POST", "/api/v1/namespaces", json={"metadata": {"name": "other"}})
    code, body = await call(server, "GET", "/api/v1/namespaces")
    assert code == 200
    assert {item["metadata"]["name"] for item in body["items"]} == {"ns", "other"}


async def test_refused_writes(server: ApiServer) -> None:
    await create(server)
    server.refuse("PATCH", PLURAL, subresource="status", code=429, times=1)
    status_patch = merge({"status": {"observedGeneration": 1}})
    code, body = await call(server, "PATCH", f"{BASE}/acme/status", **status_patch)
    assert code == 429 and body["reason"] == "TooManyRequests"
    code, _ = await call(server, "PATCH", f"{BASE}/acme", **merge({"spec": {"a": 1}}))
    assert code == 200  # only the status subresource was refused
    code, body = await call(server, "PATCH", f"{BASE}/acme/status", **status_patch)
    assert code == 200 and body["status"] == {"observedGeneration": 1}


async def test_expired_watches_end_with_410(server: ApiServer) -> None:
    url = server.url.with_path("/api/v1/namespaces/ns/secrets").with_query(watch="true")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        await server.expire_watches("v1/secrets")
        line = await response.content.readline()
        assert b'"ERROR"' in line and b"410" in line
        assert await response.content.readline() == b""  # the stream has ended

"""The sandbox's Event Hooks API (/api/v1/eventHooks): Okta's objects, rules and errors, and
the one-time verification, against a real HTTP endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from okta_hris.domain.events import CONSUMED_EVENT_TYPES
from okta_hris.sandbox import HookDeliveryConfig, Sandbox

from .hook_endpoint import HookEndpoint, hook_endpoint, unused_url
from .sandbox_http import OKTA_TIME, client_for

SECRET = "Bearer hook-secret-0123"


def hook_body(uri: str, *events: str, name: str = "HRIS directory") -> dict[str, Any]:
    return {
        "name": name,
        "events": {"type": "EVENT_TYPE", "items": list(events) or ["user.lifecycle.create"]},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": uri,
                "headers": [{"key": "X-Other-Header", "value": "my-header-value"}],
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": SECRET},
            },
        },
    }


@pytest.fixture
def endpoint() -> Iterator[HookEndpoint]:
    with hook_endpoint() as serving:
        yield serving


@pytest.fixture
def fast_sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """Okta's 3-second timeout and half-second retry pause, shortened for the failure cases."""
    return sandbox_factory(
        users=0, groups=0, hook_delivery=HookDeliveryConfig(timeout=1.5, retry_delay=0.05)
    )


@pytest.fixture
def okta(fast_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(fast_sandbox) as client:
        yield client


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["errorCode"] == code, body
    return body


def test_a_hook_is_created_active_and_unverified_and_never_shows_its_secret(
    okta: httpx.Client, endpoint: HookEndpoint
) -> None:
    created = okta.post("/api/v1/eventHooks", json=hook_body(endpoint.url, "user.lifecycle.create"))
    assert created.status_code == 200, created.text
    hook = created.json()
    assert hook["id"].startswith("who") and len(hook["id"]) == 20
    assert (hook["status"], hook["verificationStatus"]) == ("ACTIVE", "UNVERIFIED")
    assert OKTA_TIME.match(hook["created"]) and hook["lastUpdated"] == hook["created"]
    assert hook["events"] == {
        "type": "EVENT_TYPE",
        "items": ["user.lifecycle.create"],
        "filter": None,
    }
    config = hook["channel"]["config"]
    assert config["uri"] == endpoint.url and config["method"] == "POST"
    assert config["headers"] == [{"key": "X-Other-Header", "value": "my-header-value"}]
    assert config["authScheme"] == {"type": "HEADER", "key": "Authorization"}
    self_link = f"{str(okta.base_url).rstrip('/')}/api/v1/eventHooks/{hook['id']}"
    assert hook["_links"]["self"]["href"] == self_link
    assert hook["_links"]["deactivate"]["hints"]["allow"] == ["POST"]
    for response in (okta.get("/api/v1/eventHooks"), okta.get(f"/api/v1/eventHooks/{hook['id']}")):
        assert SECRET not in response.text
    assert okta.get("/api/v1/eventHooks").json() == [hook]
    assert okta.get(f"/api/v1/eventHooks/{hook['id']}").json() == hook
    assert endpoint.received == []  # nothing is called before verify


def test_replace_deactivate_activate_and_delete(okta: httpx.Client, endpoint: HookEndpoint) -> None:
    hook = okta.post("/api/v1/eventHooks", json=hook_body(endpoint.url)).json()
    path = f"/api/v1/eventHooks/{hook['id']}"
    assert okta.post(f"{path}/lifecycle/verify").json()["verificationStatus"] == "VERIFIED"

    renamed = hook_body(endpoint.url, "user.lifecycle.create", "group.user_membership.add")
    renamed["name"] = "Renamed"
    del renamed["channel"]["config"]["authScheme"]["value"]  # write-only: kept as it was
    replaced = okta.put(path, json=renamed).json()
    assert replaced["name"] == "Renamed" and replaced["verificationStatus"] == "VERIFIED"
    assert replaced["events"]["items"] == ["user.lifecycle.create", "group.user_membership.add"]

    moved = hook_body(endpoint.url + "?v=2")
    assert okta.put(path, json=moved).json()["verificationStatus"] == "UNVERIFIED"

    refused = okta.delete(path)
    assert "deactivated" in error_of(refused, 400, "E0000001")["errorCauses"][0]["errorSummary"]
    inactive = okta.post(f"{path}/lifecycle/deactivate").json()
    assert inactive["status"] == "INACTIVE" and "activate" in inactive["_links"]
    assert okta.post(f"{path}/lifecycle/activate").json()["status"] == "ACTIVE"
    okta.post(f"{path}/lifecycle/deactivate")
    assert okta.delete(path).status_code == 204
    assert okta.get("/api/v1/eventHooks").json() == []
    for response in (
        okta.get(path),
        okta.put(path, json=moved),
        okta.delete(path),
        okta.post(f"{path}/lifecycle/verify"),
        okta.post(f"{path}/lifecycle/activate"),
    ):
        body = error_of(response, 404, "E0000007")
        assert hook["id"] in body["errorSummary"]
    error_of(okta.post(f"/api/v1/eventHooks/{hook['id']}/lifecycle/explode"), 404, "E0000008")


def _with(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    change(body)
    return body


def _config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = body["channel"]["config"]
    return config


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (lambda b: b.pop("name"), "name: The field cannot be left blank"),
        (lambda b: b["events"].update(items=["user.lifecycle.explode"]), "Invalid event type"),
        (lambda b: b["events"].update(items=[]), "events.items: The field cannot be left blank"),
        (lambda b: b["events"].update(type="FLOW"), "events.type: must be EVENT_TYPE"),
        (lambda b: _config(b).update(uri="http://hooks.example.com/x"), "must use HTTPS"),
        (lambda b: _config(b).update(uri="ftp://127.0.0.1/x"), "is not a valid URI"),
        (lambda b: _config(b).update(uri="https://host:port/x"), "is not a valid URI"),
        (lambda b: _config(b).pop("uri"), "channel.config.uri: The field cannot be left blank"),
        (
            lambda b: _config(b).update(headers=[{"key": "X-A", "value": "1\r\nX-Injected: 2"}]),
            "printable ASCII on one line",
        ),
        (lambda b: _config(b).update(headers=[{"key": "Bad Name", "value": "1"}]), "header name"),
        (lambda b: _config(b).update(headers=[{"key": "Host", "value": "x"}]), "reserved"),
        (lambda b: _config(b)["authScheme"].update(type="BASIC"), "must be HEADER"),
        (lambda b: b["channel"].update(version="2.0.0"), "only supported version is 1.0.0"),
        (lambda b: b.update(channel="http://127.0.0.1"), "channel: must be an object"),
    ],
)
def test_invalid_hooks_are_refused_as_okta_does(
    okta: httpx.Client, change: Callable[[dict[str, Any]], None], cause: str
) -> None:
    body = _with(hook_body("https://hooks.example.com/okta"), change)
    response = okta.post("/api/v1/eventHooks", json=body)
    causes = [c["errorSummary"] for c in error_of(response, 400, "E0000001")["errorCauses"]]
    assert any(cause in text for text in causes), causes
    assert okta.get("/api/v1/eventHooks").json() == []


def test_https_anywhere_and_plain_http_only_to_loopback(okta: httpx.Client) -> None:
    for uri in ("https://hooks.example.com/okta", "http://localhost:9/x", "http://[::1]:9/x"):
        assert okta.post("/api/v1/eventHooks", json=hook_body(uri)).status_code == 200, uri
    error_of(okta.post("/api/v1/eventHooks", content=b"{not json"), 400, "E0000003")


def test_an_org_holds_at_most_25_event_hooks(okta: httpx.Client) -> None:
    for number in range(25):
        body = hook_body("https://hooks.example.com/okta", name=f"hook {number}")
        assert okta.post("/api/v1/eventHooks", json=body).status_code == 200
    refused = okta.post("/api/v1/eventHooks", json=hook_body("https://hooks.example.com/okta"))
    assert "at most 25" in error_of(refused, 400, "E0000001")["errorCauses"][0]["errorSummary"]


def test_verify_sends_a_challenge_with_the_auth_header_and_needs_it_echoed(
    okta: httpx.Client, endpoint: HookEndpoint
) -> None:
    hook = okta.post("/api/v1/eventHooks", json=hook_body(endpoint.url)).json()
    verified = okta.post(f"/api/v1/eventHooks/{hook['id']}/lifecycle/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["verificationStatus"] == "VERIFIED"
    [call] = endpoint.received
    assert call.method == "GET"
    assert call.headers["Authorization"] == SECRET
    assert call.headers["X-Other-Header"] == "my-header-value"
    assert len(call.headers["X-Okta-Verification-Challenge"]) >= 24

    second = okta.post(f"/api/v1/eventHooks/{hook['id']}/lifecycle/verify")
    assert second.status_code == 200
    challenges = [r.headers["X-Okta-Verification-Challenge"] for r in endpoint.received]
    assert len(set(challenges)) == 2  # a fresh challenge every time


@pytest.mark.parametrize("answer", ["wrong", "stall", "closed"])
def test_a_failed_verification_is_retried_once_then_leaves_the_hook_unverified(
    okta: httpx.Client, endpoint: HookEndpoint, answer: str
) -> None:
    endpoint.verification = answer
    uri = unused_url() if answer == "closed" else endpoint.url
    hook = okta.post("/api/v1/eventHooks", json=hook_body(uri)).json()
    refused = okta.post(f"/api/v1/eventHooks/{hook['id']}/lifecycle/verify")
    body = error_of(refused, 400, "E0000001")
    [cause] = body["errorCauses"]
    assert cause["errorSummary"].startswith("Verification failed: ")
    assert SECRET not in refused.text
    if answer != "closed":
        assert len(endpoint.received) == 2
    after = okta.get(f"/api/v1/eventHooks/{hook['id']}").json()
    assert after["verificationStatus"] == "UNVERIFIED"


def test_every_event_type_the_sync_consumes_can_be_registered(okta: httpx.Client) -> None:
    body = hook_body("https://hooks.example.com/okta", *CONSUMED_EVENT_TYPES)
    created = okta.post("/api/v1/eventHooks", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["events"]["items"] == list(CONSUMED_EVENT_TYPES)

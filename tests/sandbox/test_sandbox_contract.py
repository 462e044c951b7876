"""Sandbox responses against Okta's own OpenAPI description (management-minimal.yaml)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from okta_hris.sandbox import RateLimitConfig, Sandbox

from .sandbox_http import ALL_USERS, OKTA_TIME, client_for, every_user

# Shipped with the tests (okta/README.md), so the contract is checked on every clone.
SPEC = Path(
    os.environ.get(
        "OKTA_OPENAPI_SPEC", Path(__file__).resolve().parent / "okta" / "management-minimal.yaml"
    )
)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=loader)
    return document


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator for ``schema``, whose ``$ref``s resolve into the spec's components."""
    document = {**schema, "components": spec["components"]}
    return OAS30Validator(document, format_checker=oas30_format_checker)


def component(spec: dict[str, Any], name: str) -> Any:
    return validator(spec, {"$ref": f"#/components/schemas/{name}"})


def problems(check: Any, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(instance)
    ]


def test_the_validator_rejects_what_okta_would_not_send(spec: dict[str, Any]) -> None:
    # A control: if $refs did not resolve, everything below would pass vacuously.
    user = component(spec, "User")
    assert problems(user, {"id": "00u1", "status": "SLEEPING"})
    assert problems(user, {"profile": {"firstName": "x" * 51}})
    assert problems(component(spec, "Group"), {"type": "TEAM"})
    assert problems(component(spec, "LogEvent"), {"severity": "LOUD"})


def test_user_listings_match_the_list_users_response_schema(
    spec: dict[str, Any], http: httpx.Client
) -> None:
    response_schema = spec["paths"]["/api/v1/users"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    check = validator(spec, response_schema)
    plain = http.get("/api/v1/users")
    searched = http.get("/api/v1/users", params={"search": ALL_USERS})
    assert problems(check, plain.json()) == []
    assert problems(check, searched.json()) == []
    assert {u["status"] for u in searched.json()} >= {"ACTIVE", "DEPROVISIONED", "STAGED"}


def test_every_generated_user_matches_the_user_schema(
    spec: dict[str, Any], http: httpx.Client
) -> None:
    check = component(spec, "User")
    users = every_user(http)
    assert len(users) == 200
    for user in users:
        assert problems(check, user) == [], user["id"]
        single = http.get(f"/api/v1/users/{user['id']}").json()
        assert problems(check, single) == [], user["id"]


def test_groups_with_stats_match_the_group_schema(spec: dict[str, Any], http: httpx.Client) -> None:
    check = component(spec, "Group")
    groups = http.get("/api/v1/groups", params={"expand": "stats"}).json()
    assert {g["type"] for g in groups} == {"BUILT_IN", "OKTA_GROUP", "APP_GROUP"}
    for group in groups:
        assert problems(check, group) == [], group["profile"]["name"]
    user_id = every_user(http)[0]["id"]
    for group in http.get(f"/api/v1/users/{user_id}/groups").json():
        assert problems(check, group) == []


def test_system_log_events_match_the_log_event_schema(
    spec: dict[str, Any], empty_sandbox: Sandbox, empty_http: httpx.Client
) -> None:
    created = empty_http.post(
        "/api/v1/users",
        params={"activate": "true"},
        json={
            "profile": {
                "firstName": "Zoë",
                "lastName": "Åkesson",
                "login": "zoe@example.com",
                "email": "zoe@example.com",
            },
            "credentials": {"password": {"value": "Correct-horse-1"}},
        },
    ).json()
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Design"}}).json()
    empty_http.put(f"/api/v1/groups/{group['id']}/users/{created['id']}")
    empty_http.post(f"/api/v1/users/{created['id']}", json={"profile": {"title": "Designer"}})
    empty_http.post(f"/api/v1/users/{created['id']}/lifecycle/suspend")
    events = empty_http.get("/api/v1/logs").json()
    assert len(events) == 6
    check = component(spec, "LogEvent")
    for event in events:
        assert problems(check, event) == [], event["eventType"]
        assert OKTA_TIME.match(event["published"])


def test_error_bodies_match_the_error_schema(spec: dict[str, Any], sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(users=5, groups=1, rate_limits=RateLimitConfig(users=1))
    check = component(spec, "Error")
    with client_for(sandbox) as client:
        responses = [
            client.get("/api/v1/users"),  # uses up the one request of the window
            client.get("/api/v1/users"),  # 429
            client.get("/api/v1/groups/00gnothere0000000000"),  # 404
            client.get("/api/v1/groups", params={"filter": 'name eq "x"'}),  # 400
            client.delete("/api/v1/groups"),  # 405
            client.get("/api/v1/groups", headers={"Authorization": "SSWS wrong"}),  # 401
        ]
    assert [r.status_code for r in responses] == [200, 429, 404, 400, 405, 401]
    for response in responses[1:]:
        body = response.json()
        assert problems(check, body) == []
        assert body["errorCode"].startswith("E0000") and body["errorLink"] == body["errorCode"]
        assert body["errorId"] and isinstance(body["errorCauses"], list)


def test_event_hooks_match_the_event_hook_schema(
    spec: dict[str, Any], empty_sandbox: Sandbox, empty_http: httpx.Client
) -> None:
    check = component(spec, "EventHook")
    body = {
        "name": "HRIS directory",
        "events": {"type": "EVENT_TYPE", "items": ["user.lifecycle.create"]},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": "https://hooks.example.com/okta",
                "headers": [{"key": "X-Other-Header", "value": "my-header-value"}],
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": "secret"},
            },
        },
    }
    assert problems(check, {**body, "status": "SLEEPING"})  # a control
    created = empty_http.post("/api/v1/eventHooks", json=body).json()
    hook_path = f"/api/v1/eventHooks/{created['id']}"
    hooks = [
        created,
        empty_http.get(hook_path).json(),
        empty_http.post(f"{hook_path}/lifecycle/deactivate").json(),
        *empty_http.get("/api/v1/eventHooks").json(),
    ]
    for hook in hooks:
        assert problems(check, hook) == [], hook
    errors = [
        empty_http.post("/api/v1/eventHooks", json={**body, "name": ""}),
        empty_http.get("/api/v1/eventHooks/whonothere0000000000"),
    ]
    assert [r.status_code for r in errors] == [400, 404]
    for response in errors:
        assert problems(component(spec, "Error"), response.json()) == []

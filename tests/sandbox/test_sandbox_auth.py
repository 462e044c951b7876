"""SSWS authentication, and the headers every response carries."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx
import pytest

from okta_hris.sandbox import Sandbox


@pytest.mark.parametrize("header", ["SSWS {token}", "SSWS{token}", "ssws {token}", "SSWS  {token}"])
def test_ssws_tokens_with_or_without_a_space(shared_sandbox: Sandbox, header: str) -> None:
    authorization = header.format(token=shared_sandbox.token)
    response = httpx.get(
        f"{shared_sandbox.url}/api/v1/users",
        params={"limit": 1},
        headers={"Authorization": authorization},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "SSWS wrong-token"},
        {"Authorization": "Bearer {token}"},
        {"Authorization": "{token}"},
        {"Authorization": "SSWS"},
    ],
)
def test_missing_or_wrong_tokens_get_401_e0000011(
    shared_sandbox: Sandbox, headers: dict[str, str]
) -> None:
    sent = {k: v.format(token=shared_sandbox.token) for k, v in headers.items()}
    for method, path in (("GET", "/api/v1/users"), ("POST", "/api/v1/groups"), ("GET", "/nope")):
        response = httpx.request(method, f"{shared_sandbox.url}{path}", headers=sent)
        assert response.status_code == 401, (method, path)
        body = response.json()
        assert body["errorCode"] == "E0000011"
        assert body["errorSummary"] == "Invalid token provided"


def test_a_custom_token(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=1, groups=0, token="s3cr3t")
    url = f"{sandbox.url}/api/v1/users"
    assert httpx.get(url, headers={"Authorization": "SSWS s3cr3t"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "SSWS sandbox-token"}).status_code == 401


def test_every_response_carries_okta_headers(shared_sandbox: Sandbox, http: httpx.Client) -> None:
    responses = [
        http.get("/api/v1/users", params={"limit": 1}),
        http.get("/api/v1/groups/00gmissing00000000000"),
        http.get("/api/v1/users", params={"search": "bad"}),
        http.patch("/api/v1/users"),
        http.get("/api/v2/whatever"),
        httpx.get(f"{shared_sandbox.url}/api/v1/logs"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 405, 404, 401]
    request_ids = set()
    for response in responses:
        headers = response.headers
        assert parsedate_to_datetime(headers["date"]).tzinfo is not None
        assert int(headers["x-rate-limit-limit"]) > 0
        assert int(headers["x-rate-limit-remaining"]) >= 0
        assert int(headers["x-rate-limit-reset"]) > 1_700_000_000
        assert len(headers["x-okta-request-id"]) >= 20
        assert headers["content-type"].startswith("application/json")
        request_ids.add(headers["x-okta-request-id"])
    assert len(request_ids) == len(responses)
    assert responses[3].headers["allow"]  # 405 names the methods that work
    assert responses[3].json()["errorCode"] == "E0000022"
    assert responses[4].json()["errorCode"] == "E0000008"


def test_requests_are_recorded_with_their_bucket(
    shared_sandbox: Sandbox, http: httpx.Client
) -> None:
    shared_sandbox.requests.clear()
    http.get("/api/v1/users", params={"limit": 2, "search": 'status eq "ACTIVE"'})
    http.get("/api/v1/groups")
    http.get("/api/v1/logs")
    http.get("/api/v1/apps")
    recorded = list(shared_sandbox.requests)
    assert [(r.method, r.path, r.status, r.bucket) for r in recorded] == [
        ("GET", "/api/v1/users", 200, "users"),
        ("GET", "/api/v1/groups", 200, "groups"),
        ("GET", "/api/v1/logs", 200, "logs"),
        ("GET", "/api/v1/apps", 404, "other"),
    ]
    assert recorded[0].query == {"limit": "2", "search": 'status eq "ACTIVE"'}

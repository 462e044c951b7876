"""The sandbox's token endpoint and scope enforcement (SPEC §10), over HTTP as Okta's clients
use them: a form POST with a private_key_jwt assertion, then Bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_hris.sandbox import RateLimitConfig, Sandbox, SandboxConfig, run_sandbox
from okta_hris.sandbox.oauth import TOKEN_PATH, OAuthClientConfig, allows, required_scope

from ..support.oauth import (
    CLIENT_ID,
    assertion,
    private_key,
    private_pem,
    public_pem,
    registered,
    token_form,
)

OTHER_CLIENT = "0oaOtherClient000000"
WRITER = "0oaWriterClient00000"


@pytest.fixture(scope="module")
def org() -> Iterator[Sandbox]:
    config = SandboxConfig(
        users=20,
        groups=4,
        rate_limits=RateLimitConfig(enabled=False),
        oauth_clients=(
            registered(private_key("rsa")),
            registered(private_key("ec"), OTHER_CLIENT),
            registered(
                private_key("ec", 1), WRITER, scopes=["okta.groups.manage", "okta.users.read"]
            ),
        ),
    )
    with run_sandbox(config) as sandbox:
        yield sandbox


def token_url(org: Sandbox) -> str:
    return org.url + TOKEN_PATH


def ask(org: Sandbox, form: dict[str, str]) -> httpx.Response:
    return httpx.post(token_url(org), data=form)


def access_token(org: Sandbox, scope: str, kind: Any = "rsa", client_id: str = CLIENT_ID) -> str:
    number = 1 if client_id == WRITER else 0
    signed = assertion(private_key(kind, number), token_url(org), client_id=client_id)
    response = ask(org, token_form(signed, scope))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("kind", "client_id"), [("rsa", CLIENT_ID), ("ec", OTHER_CLIENT)])
def test_an_assertion_signed_with_the_app_key_gets_a_scoped_bearer_token(
    org: Sandbox, kind: Any, client_id: str
) -> None:
    signed = assertion(private_key(kind), token_url(org), client_id=client_id)
    response = ask(org, token_form(signed, "okta.users.read okta.groups.read"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"].split() == ["okta.groups.read", "okta.users.read"]
    assert response.headers["Cache-Control"] == "no-store"
    users = httpx.get(f"{org.url}/api/v1/users", headers=bearer(body["access_token"]))
    assert users.status_code == 200 and len(users.json()) > 0


def _claims_problem(org: Sandbox, change: str) -> str:
    key, url, now = private_key("rsa"), token_url(org), int(time.time())
    signed = {
        "another key": lambda: assertion(private_key("rsa", 7), url),
        "aud of another endpoint": lambda: assertion(key, org.url + "/oauth2/default/v1/token"),
        "iss of no client": lambda: assertion(key, url, iss="0oaNobody", sub="0oaNobody"),
        "sub not the client": lambda: assertion(key, url, sub="someone-else"),
        "expired": lambda: assertion(key, url, iat=now - 600, exp=now - 1),
        "exp two hours away": lambda: assertion(key, url, exp=now + 7200),
        "no exp": lambda: assertion(key, url, exp=None),
        "no jti": lambda: assertion(key, url, jti=None),
        "iat in the future": lambda: assertion(key, url, iat=now + 600),
        "signed HS256 with the public key": lambda: _hs256(url),
        "not a JWT": lambda: "not.a.jwt",
    }[change]()
    response = ask(org, token_form(signed))
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert set(body) == {"error", "error_description"}
    description: str = body["error_description"]
    return description


def _hs256(url: str) -> str:
    # The classic confusion: the public key (which anyone has) used as an HMAC secret.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"aud": url, "iss": CLIENT_ID, "sub": CLIENT_ID, "exp": now + 60, "jti": "x"}
    payload = b64(json.dumps(claims).encode())
    secret = registered(private_key("rsa")).public_key_pem.encode()
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("another key", "signature"),
        ("signed HS256 with the public key", "signature"),
        ("aud of another endpoint", "audience"),
        ("iss of no client", "iss"),
        ("sub not the client", "sub"),
        ("expired", "expired"),
        ("exp two hours away", "too far into the future"),
        ("no exp", "exp"),
        ("no jti", "jti"),
        ("iat in the future", "iat"),
        ("not a JWT", "well-formed"),
    ],
)
def test_each_assertion_rule_is_checked(org: Sandbox, change: str, says: str) -> None:
    assert says in _claims_problem(org, change)


def test_an_assertion_is_good_once(org: Sandbox) -> None:
    signed = assertion(private_key("rsa"), token_url(org))
    assert ask(org, token_form(signed)).status_code == 200
    replayed = ask(org, token_form(signed))
    assert replayed.status_code == 401
    assert replayed.json() == {
        "error": "invalid_client",
        "error_description": "The client_assertion token has already been used.",
    }


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"grant_type": None}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:something:else"}, 401, "invalid_client"),
        ({"client_assertion": None}, 401, "invalid_client"),
        ({"scope": None}, 400, "invalid_scope"),
        ({"scope": "okta.users.read okta.users.manage"}, 400, "invalid_scope"),
        ({"scope": "okta.users.read openid"}, 400, "invalid_scope"),
    ],
)
def test_the_request_itself_is_checked(
    org: Sandbox, change: dict[str, str | None], status: int, error: str
) -> None:
    form: dict[str, str | None] = {
        **token_form(assertion(private_key("rsa"), token_url(org))),
        **change,
    }
    response = ask(org, {k: v for k, v in form.items() if v is not None})
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_the_form_must_be_a_form(org: Sandbox) -> None:
    response = httpx.post(
        token_url(org), json=token_form(assertion(private_key("rsa"), token_url(org)))
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_the_private_key_registered_instead_of_the_public_one_works_too(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    """Convenient for demos: one PEM file for both ends (the public key is derived)."""
    key = private_key("ec")
    client = OAuthClientConfig(client_id=CLIENT_ID, public_key_pem=private_pem(key))
    org = sandbox_factory(users=1, groups=0, oauth_clients=(client,))
    assert ask(org, token_form(assertion(key, token_url(org)))).status_code == 200


def test_a_scope_must_be_granted_by_name_to_be_asked_for(org: Sandbox) -> None:
    token = access_token(org, "okta.groups.manage", kind="ec", client_id=WRITER)
    # manage includes read, as in Okta
    assert httpx.get(f"{org.url}/api/v1/groups", headers=bearer(token)).status_code == 200
    created = httpx.post(
        f"{org.url}/api/v1/groups",
        headers=bearer(token),
        json={"profile": {"name": "Made with OAuth"}},
    )
    assert created.status_code == 200, created.text


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/api/v1/groups", "okta.groups.read"),
        ("GET", "/api/v1/logs", "okta.logs.read"),
        ("GET", "/api/v1/eventHooks", "okta.eventHooks.read"),
        ("POST", "/api/v1/users", "okta.users.manage"),
        ("POST", "/api/v1/eventHooks", "okta.eventHooks.manage"),
    ],
)
def test_a_token_without_the_endpoint_scope_gets_403_insufficient_scope(
    org: Sandbox, method: str, path: str, needed: str
) -> None:
    token = access_token(org, "okta.users.read")
    response = httpx.request(method, org.url + path, headers=bearer(token), json={})

    assert response.status_code == 403
    assert response.json()["errorCode"] == "E0000006"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="{needed}"' in challenge
    assert httpx.get(f"{org.url}/api/v1/users", headers=bearer(token)).status_code == 200


def test_an_unknown_bearer_token_gets_401_invalid_token(org: Sandbox) -> None:
    for token in ("made-up", org.token):  # an SSWS token is no access token
        response = httpx.get(f"{org.url}/api/v1/users", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["errorCode"] == "E0000011"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_expired_token_gets_401_invalid_token(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    key = private_key("rsa")
    org = sandbox_factory(users=1, groups=0, oauth_clients=(registered(key),), oauth_token_ttl=1)
    body = ask(org, token_form(assertion(key, token_url(org)))).json()
    assert body["expires_in"] == 1
    headers = bearer(body["access_token"])
    assert httpx.get(f"{org.url}/api/v1/users", headers=headers).status_code == 200

    time.sleep(1.2)
    expired = httpx.get(f"{org.url}/api/v1/users", headers=headers)
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_ssws_tokens_keep_working_beside_oauth(org: Sandbox) -> None:
    response = httpx.post(
        f"{org.url}/api/v1/groups",
        headers={"Authorization": f"SSWS {org.token}"},
        json={"profile": {"name": "Made with SSWS"}},
    )
    assert response.status_code == 200


def test_required_scopes_follow_okta_openapi_spec() -> None:
    assert required_scope("GET", "/api/v1/users/00u1/groups") == "okta.users.read"
    assert required_scope("POST", "/api/v1/users/00u1/lifecycle/suspend") == "okta.users.manage"
    assert required_scope("PUT", "/api/v1/groups/00g1/users/00u1") == "okta.groups.manage"
    assert required_scope("POST", "/api/v1/eventHooks/who/lifecycle/verify") == (
        "okta.eventHooks.manage"
    )
    assert required_scope("GET", "/api/v1/usersx") is None
    assert allows(frozenset({"okta.users.manage"}), "okta.users.read")
    assert not allows(frozenset({"okta.users.read"}), "okta.users.manage")


def test_the_sandbox_command_serves_a_registered_service_app(tmp_path: Path) -> None:
    """``okta-hris sandbox --oauth-client CLIENT_ID=PEM_FILE --oauth-token-ttl S``, as a process."""
    key = private_key("ec")
    key_file = tmp_path / "public.pem"
    key_file.write_text(public_pem(key))
    command = [
        sys.executable, "-m", "okta_hris", "sandbox", "--port", "0", "--users", "3",
        "--oauth-client", f"{CLIENT_ID}={key_file}", "--oauth-token-ttl", "120",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[4]
        assert process.stdout.readline() == (
            f"OAuth service apps {CLIENT_ID}: tokens at {url}{TOKEN_PATH}, valid 120 s\n"
        )
        answer = httpx.post(url + TOKEN_PATH, data=token_form(assertion(key, url + TOKEN_PATH)))
        assert answer.status_code == 200 and answer.json()["expires_in"] == 120
        users = httpx.get(f"{url}/api/v1/users", headers=bearer(answer.json()["access_token"]))
        assert len(users.json()) == 3
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)

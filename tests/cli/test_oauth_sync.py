"""``okta-hris sync -f oauth.yaml`` end to end: the service app's key from the file's Secret, an
access token from the sandbox's token endpoint, the sync on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from okta_hris.sandbox import Sandbox
from okta_hris.sandbox.oauth import TOKEN_PATH

from ..support.cli import EXAMPLES, run_cli
from ..support.oauth import CLIENT_ID, KeyKind, private_key, private_pem, public_pem, registered

EXAMPLE = (EXAMPLES / "oauth.yaml").read_text()
_, INTEGRATION = EXAMPLE.split("\n---\n")


def key_secret(**values: dict[str, str]) -> str:
    metadata = {"name": "okta-oauth-key", "namespace": "people-ops"}
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, **values})


def manifest(tmp_path: Path, secret: str, integration: str = INTEGRATION) -> Path:
    path = tmp_path / "oauth.yaml"
    path.write_text(secret + "\n---\n" + integration)
    return path


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(
        users=40,
        groups=4,
        oauth_clients=(registered(private_key("rsa")), registered(private_key("ec"), "0oaEcApp")),
    )


def sync(path: Path, org: Sandbox, database: str, *extra: str, **kw: Any) -> Any:
    return run_cli(
        "sync", "-f", str(path), "--okta-url", org.url, "--database", database, *extra, **kw
    )


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_sync_as_a_service_app(
    org: Sandbox, tmp_path: Path, database_url: str, kind: KeyKind
) -> None:
    client_id = CLIENT_ID if kind == "rsa" else "0oaEcApp"
    pem = private_pem(private_key(kind))
    # base64 data, as `kubectl create secret --from-file` writes it
    secret = key_secret(data={"private.pem": base64.b64encode(pem.encode()).decode()})
    path = manifest(tmp_path, secret, INTEGRATION.replace(CLIENT_ID, client_id))

    result = sync(path, org, database_url)

    assert result.returncode == 0, result.stderr
    assert "Full sync of people-ops/acme-oauth" in result.stdout
    assert org.oauth_tokens_issued == 1
    paths = [r.path for r in org.requests]
    assert paths[0] == TOKEN_PATH and TOKEN_PATH not in paths[1:]
    assert {r.status for r in org.requests} == {200}
    employees = json.loads(
        run_cli("directory", "employees", "--database", database_url, "-o", "json").stdout
    )
    assert len(employees) > 0
    told = result.stdout + result.stderr
    assert all(line not in told for line in pem.splitlines()[1:-1])


def test_the_example_with_its_placeholder_key_says_what_to_do(
    org: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "oauth.yaml"
    path.write_text(EXAMPLE)
    result = sync(path, org, sqlite_url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: InvalidSecret: key 'private.pem' of Secret 'okta-oauth-key' in "
        f"{path} is not a PEM private key (-----BEGIN PRIVATE KEY----- ...)"
    ]
    assert org.requests == []


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "x" * 100_000,
        "-----BEGIN PRIVATE KEY-----\nAAAA\x00BBBB\n-----END PRIVATE KEY-----\n",
        "",
        public_pem(private_key("rsa")),
    ],
    ids=["garbage", "huge", "nul", "empty", "public key"],
)
def test_a_hostile_key_secret_is_one_line(
    org: Sandbox, tmp_path: Path, sqlite_url: str, value: str
) -> None:
    path = manifest(tmp_path, key_secret(stringData={"private.pem": value}))
    result = sync(path, org, sqlite_url)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "Secret 'okta-oauth-key'" in line and "Traceback" not in line
    assert len(line) < 300
    assert org.requests == []


def test_an_ssws_token_beside_oauth_is_refused(
    org: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = manifest(tmp_path, key_secret(stringData={"private.pem": private_pem(private_key())}))
    token_file = tmp_path / "token"
    token_file.write_text(org.token)
    for extra, env in (
        (("--token-file", str(token_file)), None),
        ((), {"OKTA_API_TOKEN": org.token}),
    ):
        result = sync(path, org, sqlite_url, *extra, env=env)
        assert result.returncode == 1
        assert "gives an SSWS API token, but spec.okta uses oauth" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert org.requests == []


def test_a_key_okta_does_not_know_is_unauthorized(
    org: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    other = private_pem(private_key("rsa", 3))
    path = manifest(tmp_path, key_secret(stringData={"private.pem": other}))
    result = sync(path, org, sqlite_url)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"Okta refused OAuth service app {CLIENT_ID}: 401 invalid_client" in line
    assert "Secret 'okta-oauth-key'" in line
    assert [r.path for r in org.requests] == [TOKEN_PATH]


def test_a_scope_the_app_lacks_is_forbidden(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path, sqlite_url: str
) -> None:
    """The app may read users but was never granted groups: plan says which scope is missing."""
    key = private_key("ec")
    org = sandbox_factory(
        users=5, groups=2, oauth_clients=(registered(key, scopes=["okta.users.read"]),)
    )
    narrow = INTEGRATION.replace(
        "scopes: [okta.users.read, okta.groups.read, okta.logs.read]", "scopes: [okta.users.read]"
    )
    path = manifest(tmp_path, key_secret(stringData={"private.pem": private_pem(key)}), narrow)
    result = run_cli("plan", "-f", str(path), "--okta-url", org.url, "--database", sqlite_url)
    assert result.returncode == 1
    assert "lacks scope okta.groups.read" in result.stderr


def test_sandbox_command_registers_service_apps(tmp_path: Path) -> None:
    """``--oauth-client CLIENT_ID=PEM_FILE`` refusals, before anything listens."""
    key_file = tmp_path / "public.pem"
    key_file.write_text("not a key")
    for value, says in (
        ("no-equals-sign", "expected CLIENT_ID=PUBLIC_KEY_PEM_FILE"),
        (f"0oaApp={tmp_path / 'missing.pem'}", "cannot read"),
        (f"0oaApp={key_file}", "0oaApp: the key of OAuth client 0oaApp is not a PEM public key"),
        (f"bad id={key_file}", "is not a client id"),
    ):
        result = run_cli("sandbox", "--port", "0", "--oauth-client", value)
        assert result.returncode != 0, result.stderr
        assert says in result.stderr
        assert "Traceback" not in result.stderr

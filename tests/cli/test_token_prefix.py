"""A token pasted with its ``SSWS `` prefix (SPEC §9 "Tokens"): ``okta-hris sync -f FILE``
against the sandbox over HTTP, from the file's Secret, ``--token-file`` and ``OKTA_API_TOKEN``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from okta_hris.sandbox import Sandbox

from ..support.cli import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INTEGRATION = (EXAMPLES / "filtered.yaml").read_text()
EMPTY = "the Okta API token (Secret 'okta-api-token', key 'token') is empty"


def token_secret(**values: dict[str, str]) -> str:
    """The example's token Secret (as YAML's JSON subset), with ``stringData`` or base64
    ``data`` as given."""
    metadata = {"name": "okta-api-token", "namespace": "people-ops"}
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, **values})


def manifest(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "integration.yaml"
    path.write_text(secret + "\n---\n" + INTEGRATION)
    return path


def test_sync_with_a_secret_token_with_its_ssws_prefix(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = manifest(tmp_path, token_secret(stringData={"token": f"SSWS {sandbox.token}"}))
    result = run_cli("sync", "-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.requests and {r.status for r in sandbox.requests} == {200}
    employees = json.loads(
        run_cli("directory", "employees", "--database", sqlite_url, "-o", "json").stdout
    )
    assert employees


@pytest.mark.parametrize(
    "value", ["ssws   sandbox-token\n", "  Ssws\tsandbox-token  ", "sandbox-token\n"]
)
def test_base64_secret_data_with_any_case_and_spacing(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str, value: str
) -> None:
    encoded = base64.b64encode(value.replace("sandbox-token", sandbox.token).encode()).decode()
    path = manifest(tmp_path, token_secret(data={"token": encoded}))
    result = run_cli("plan", "-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "sync would create" in result.stdout


def test_token_file_and_environment_with_the_prefix(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    # The file's own token is wrong: only the override can make these work.
    path = manifest(tmp_path, token_secret(stringData={"token": "not-the-token"}))
    common = ("-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
    token_file = tmp_path / "token"
    token_file.write_text(f"SSWS {sandbox.token}\n")
    from_file = run_cli("sync", *common, "--token-file", str(token_file))
    assert from_file.returncode == 0, from_file.stderr
    from_env = run_cli("plan", *common, env={"OKTA_API_TOKEN": f" ssws {sandbox.token}\n"})
    assert from_env.returncode == 0, from_env.stderr


@pytest.mark.parametrize("value", ["", "SSWS", "SSWS ", " ssws \n"])
def test_a_token_that_is_only_the_prefix_is_empty(
    tmp_path: Path, sqlite_url: str, value: str
) -> None:
    path = manifest(tmp_path, token_secret(stringData={"token": value}))
    result = run_cli("sync", "-f", str(path), "--database", sqlite_url)
    assert result.returncode == 1
    # One line, as for an empty token (the first case): which Secret, which key, what is wrong.
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and line.endswith(EMPTY), line


@pytest.mark.parametrize("source", ["secret", "token-file", "environment"])
def test_an_empty_override_is_the_same_clear_error(
    tmp_path: Path, sqlite_url: str, source: str
) -> None:
    path = manifest(tmp_path, token_secret(stringData={"token": "SSWS \n"}))
    args = ["sync", "-f", str(path), "--database", sqlite_url]
    env: dict[str, str] = {}
    if source == "token-file":
        token_file = tmp_path / "token"
        token_file.write_text("SSWS\n")
        args += ["--token-file", str(token_file)]
    elif source == "environment":
        env["OKTA_API_TOKEN"] = "SSWS "
    result = run_cli(*args, env=env)
    assert result.returncode == 1
    assert EMPTY in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_wrong_token_with_the_prefix_is_never_shown(
    sandbox: Sandbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = manifest(tmp_path, token_secret(stringData={"token": "SSWS not-the-token"}))
    result = run_cli("sync", "-f", str(path), "--okta-url", sandbox.url, "--database", sqlite_url)
    assert result.returncode == 1
    assert "Unauthorized" in result.stderr and "Traceback" not in result.stderr
    assert "not-the-token" not in result.stdout + result.stderr

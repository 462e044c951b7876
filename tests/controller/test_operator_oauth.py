"""The operator with an OAuth service app (SPEC §10): real Kopf, the kmock API server, the
sandbox's token endpoint. The key Secret is read by name, stalls like a token Secret until it
holds a usable key, and neither the key nor an access token reaches status, Events or logs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from okta_hris.okta.oauth import TOKEN_CACHE
from okta_hris.sandbox import Sandbox

from ..support.oauth import CLIENT_ID, private_key, private_pem, registered
from .conftest import Cluster, OperatorStarter
from .operator_harness import (
    LogCapture,
    condition,
    integration,
    wait_for_condition,
    wait_for_status,
)

KEY_SECRET = "okta-oauth-key"
SECRET_RETRY = {"HRIS_SECRET_RETRY": "0.2"}


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    TOKEN_CACHE.clear()  # the operator runs in this process: no token from an earlier test
    return sandbox_factory(users=40, groups=4, oauth_clients=(registered(private_key("ec")),))


def oauth_integration(ns: str) -> dict[str, object]:
    manifest = integration(ns, "acme")
    okta = manifest["spec"]["okta"]  # type: ignore[index]
    del okta["tokenSecretRef"]
    okta["oauth"] = {"clientId": CLIENT_ID, "privateKeySecretRef": {"name": KEY_SECRET}}
    return manifest


async def test_an_oauth_integration_stalls_on_its_key_secret_then_gets_ready(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    sqlite_url: str,
    logs: LogCapture,
) -> None:
    ns = await cluster.namespace()
    await cluster.kube.create(oauth_integration(ns))
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url, environ=SECRET_RETRY)

    missing = await wait_for_condition(
        cluster.kube, ns, "acme", "Stalled", "True", "SecretNotFound"
    )
    assert KEY_SECRET in condition(missing, "Stalled")["message"]
    assert org.requests == []

    await cluster.kube.apply_secret(ns, KEY_SECRET, {"private.pem": "garbage\x00" * 100})
    invalid = await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "InvalidSecret")
    message = condition(invalid, "Stalled")["message"]
    assert message == (
        f'key "private.pem" of Secret "{KEY_SECRET}" in namespace "{ns}" is not a PEM '
        "private key (-----BEGIN PRIVATE KEY----- ...)"
    )
    assert org.requests == []

    pem = private_pem(private_key("ec"))
    await cluster.kube.apply_secret(ns, KEY_SECRET, {"private.pem": pem})
    status = await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")
    assert status["employees"]["total"] > 0
    assert condition(status, "Stalled")["status"] == "False"
    assert org.oauth_tokens_issued == 1

    # What the operator says anywhere: never the key, never an access token.
    events = await cluster.kube.events(ns, "acme")
    told = json.dumps(status) + json.dumps(events) + logs.text
    assert org.oauth_access_tokens
    for token in org.oauth_access_tokens:
        assert token not in told
    for line in pem.splitlines()[1:-1]:
        assert line not in told


async def test_a_scope_okta_never_granted_stalls_as_forbidden(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    ns = await cluster.namespace()
    await cluster.kube.apply_secret(ns, KEY_SECRET, {"private.pem": private_pem(private_key("ec"))})
    manifest = oauth_integration(ns)
    manifest["spec"]["okta"]["oauth"]["scopes"] = [  # type: ignore[index]
        "okta.users.read",
        "okta.users.manage",
    ]
    await cluster.kube.create(manifest)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url, environ=SECRET_RETRY)

    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda found: condition(found, "Stalled").get("reason") == "Forbidden",
        what="Stalled: Forbidden",
    )
    assert "invalid_scope" in condition(status, "Stalled")["message"]
    assert org.oauth_tokens_issued == 0

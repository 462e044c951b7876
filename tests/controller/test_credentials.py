"""ClusterCredentials: the token Secret as the operator reads it, from an API server over HTTP."""

from __future__ import annotations

import pytest

from okta_hris.controller.credentials import ClusterCredentials
from okta_hris.controller.runtime import IntegrationState
from okta_hris.errors import SecretNotFound
from okta_hris.okta import ApiToken
from okta_hris.resource.spec import OktaIntegrationSpec

from .conftest import Cluster

SECRET = "okta-api-token"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": SECRET}}}
)


async def credentials(cluster: Cluster, token: str) -> ClusterCredentials:
    ns = await cluster.namespace()
    await cluster.kube.apply_secret(ns, SECRET, {"token": token})
    return ClusterCredentials(cluster.kube, ns, IntegrationState(f"{ns}/acme"))


@pytest.mark.parametrize(
    "value",
    [
        "SSWS sandbox-token",  # the whole Authorization header value, pasted
        "ssws sandbox-token",
        "SSWS   sandbox-token\n",
        "  Ssws\tsandbox-token  \n",
        "sandbox-token\n",
        "sandbox-token",
    ],
)
async def test_the_token_without_its_ssws_prefix_and_whitespace(
    cluster: Cluster, value: str
) -> None:
    found = await credentials(cluster, value)
    assert await found.okta_credential(SPEC) == ApiToken("sandbox-token")
    assert found.state.token_seen is not None


async def test_ssws_is_a_prefix_only_when_a_space_follows(cluster: Cluster) -> None:
    # Only "SSWS" and a space is the Authorization header's scheme (SPEC §9); a value that runs
    # on is left as it is, for Okta to accept or refuse.
    found = await credentials(cluster, "SSWSsandbox-token")
    assert await found.okta_credential(SPEC) == ApiToken("SSWSsandbox-token")


@pytest.mark.parametrize("value", ["", "  \n", "SSWS", "SSWS ", " ssws \n"])
async def test_a_token_empty_without_its_prefix_is_an_empty_token(
    cluster: Cluster, value: str
) -> None:
    found = await credentials(cluster, value)
    with pytest.raises(SecretNotFound) as raised:
        await found.okta_credential(SPEC)
    assert str(raised.value) == (
        f'key "token" of Secret "{SECRET}" in namespace "{found.namespace}" is empty'
    )


async def test_the_token_is_never_in_the_message(cluster: Cluster) -> None:
    ns = await cluster.namespace()
    await cluster.kube.apply_secret(ns, SECRET, {"other": "SSWS sandbox-token"})
    found = ClusterCredentials(cluster.kube, ns, IntegrationState(f"{ns}/acme"))
    with pytest.raises(SecretNotFound) as raised:
        await found.okta_credential(SPEC)
    assert "does not exist" in str(raised.value)
    assert "sandbox-token" not in str(raised.value) + repr(found.state)


async def test_a_secret_read_again_tells_whether_the_token_changed(cluster: Cluster) -> None:
    """What a stalled integration's re-read (no Secret watch) compares: the token only."""
    found = await credentials(cluster, "first-token")
    ns = found.namespace
    assert await found.token_changed(SPEC)  # nothing read before: what failed is unknown
    assert not await found.token_changed(SPEC)

    await cluster.kube.label_secret(ns, SECRET, {"example.com/touched": "1"})
    await cluster.kube.apply_secret(ns, SECRET, {"token": "first-token", "note": "x"})
    assert not await found.token_changed(SPEC)  # a label, another key: the same token
    await cluster.kube.apply_secret(ns, SECRET, {"token": "SSWS first-token\n"})
    assert not await found.token_changed(SPEC)  # the same token, as pasted

    await cluster.kube.apply_secret(ns, SECRET, {"token": "second-token"})
    assert await found.token_changed(SPEC)
    await cluster.kube.delete_secret(ns, SECRET)
    assert await found.token_changed(SPEC)  # gone: a new problem to report
    assert not await found.token_changed(SPEC)
    await cluster.kube.apply_secret(ns, SECRET, {"other": "x"})
    assert await found.token_changed(SPEC)  # back, without the key
    await cluster.kube.apply_secret(ns, SECRET, {"token": "second-token"})
    assert await found.token_changed(SPEC)

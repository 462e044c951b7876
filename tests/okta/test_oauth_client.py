"""The Okta client with an OAuth service app, over HTTP: against the sandbox's token endpoint
and scope enforcement, and against purpose-built servers for what the sandbox never does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from okta_hris.errors import OktaForbidden, OktaUnauthorized, OktaUnavailable, WrongOktaUrl
from okta_hris.okta import OktaClient, collect
from okta_hris.okta.oauth import TOKEN_CACHE, TOKEN_PATH
from okta_hris.sandbox import Fault, FaultKind, Sandbox

from ..support.oauth import CLIENT_ID, private_key, private_pem, registered, service_app
from .okta_stub import StubServer, json_response

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}
READ_ALL = ["okta.users.read", "okta.groups.read", "okta.logs.read"]


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    """Each test starts without cached access tokens (the cache is process-wide)."""
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(
        users=30,
        groups=3,
        oauth_clients=(registered(private_key("rsa")), registered(private_key("ec"), "0oaEc")),
    )


def token_requests(org: Sandbox) -> int:
    return sum(1 for r in org.requests if r.path == TOKEN_PATH)


@pytest.mark.parametrize(("kind", "client_id"), [("rsa", CLIENT_ID), ("ec", "0oaEc")])
async def test_one_access_token_serves_every_client_of_the_process(
    org: Sandbox, kind: Any, client_id: str
) -> None:
    app = service_app(private_key(kind), client_id)
    async with OktaClient(org.url, app, **FAST) as first:
        # Concurrent first requests wait for one token rather than each fetching one.
        listings = await asyncio.gather(
            collect(first.list_users()), collect(first.list_groups()), collect(first.list_users())
        )
    async with OktaClient(org.url, service_app(private_key(kind), client_id)) as second:
        again = await collect(second.list_users())

    assert len(listings[0]) == len(again) > 0
    assert org.oauth_tokens_issued == 1
    assert token_requests(org) == 1
    bearer_calls = [r for r in org.requests if r.path != TOKEN_PATH]
    assert bearer_calls and all(r.status == 200 for r in bearer_calls)


async def test_another_key_or_scope_set_gets_its_own_token(org: Sandbox) -> None:
    async with OktaClient(org.url, service_app(private_key("rsa"))) as client:
        await collect(client.list_users())
    narrower = service_app(private_key("rsa"), scopes=["okta.users.read"])
    async with OktaClient(org.url, narrower) as client:
        await collect(client.list_users())
    assert org.oauth_tokens_issued == 2


async def test_a_401_with_a_cached_token_fetches_a_new_one_once(org: Sandbox) -> None:
    async with OktaClient(org.url, service_app(private_key("rsa")), **FAST) as client:
        await collect(client.list_groups())  # the token is cached now
        # Okta revoked it: the next request is refused once.
        org.add_fault(Fault(kind=FaultKind.UNAUTHORIZED, on_request=1, path_prefix="/api/v1/users"))
        users = await collect(client.list_users())
    assert len(users) > 0
    assert org.oauth_tokens_issued == 2


async def test_a_401_with_a_new_token_is_final(org: Sandbox) -> None:
    async with OktaClient(org.url, service_app(private_key("rsa")), **FAST) as client:
        await collect(client.list_groups())
        org.add_fault(
            Fault(kind=FaultKind.UNAUTHORIZED, on_request=1, count=5, path_prefix="/api/v1/users")
        )
        with pytest.raises(OktaUnauthorized) as raised:
            await collect(client.list_users())
    assert raised.value.permanent
    assert org.oauth_tokens_issued == 2  # the cached one, and one new one: no more


async def test_a_missing_scope_is_forbidden_naming_it(org: Sandbox) -> None:
    app = service_app(private_key("rsa"), scopes=["okta.users.read"])
    async with OktaClient(org.url, app, **FAST) as client:
        with pytest.raises(OktaForbidden) as raised:
            await collect(client.list_groups())
    message = str(raised.value)
    assert "lacks scope okta.groups.read" in message and CLIENT_ID in message
    assert raised.value.reason == "Forbidden" and raised.value.permanent


async def test_an_unknown_client_or_key_is_unauthorized(org: Sandbox) -> None:
    for app in (service_app(private_key("rsa"), "0oaNobody"), service_app(private_key("rsa", 5))):
        async with OktaClient(org.url, app, **FAST) as client:
            with pytest.raises(OktaUnauthorized) as raised:
                await collect(client.list_users())
        assert "invalid_client" in str(raised.value)
        assert raised.value.reason == "Unauthorized" and raised.value.permanent
    assert org.oauth_tokens_issued == 0
    assert all(r.path == TOKEN_PATH for r in org.requests)  # no API call without a token


async def test_a_scope_not_granted_is_forbidden(org: Sandbox) -> None:
    app = service_app(private_key("rsa"), scopes=["okta.users.read", "okta.users.manage"])
    async with OktaClient(org.url, app, **FAST) as client:
        with pytest.raises(OktaForbidden) as raised:
            await collect(client.list_users())
    assert "invalid_scope" in str(raised.value) and "okta.users.manage" in str(raised.value)


async def test_the_token_endpoint_is_retried_like_any_request(org: Sandbox) -> None:
    org.add_fault(Fault(kind=FaultKind.UNAVAILABLE, on_request=1, count=2, path_prefix="/oauth2"))
    async with OktaClient(org.url, service_app(private_key("rsa")), **FAST) as client:
        assert len(await collect(client.list_users())) > 0
    assert token_requests(org) == 3


async def test_a_token_endpoint_that_keeps_failing_is_unavailable(org: Sandbox) -> None:
    org.add_fault(Fault(kind=FaultKind.SERVER_ERROR, path_prefix="/oauth2"))
    app = service_app(private_key("rsa"))
    async with OktaClient(org.url, app, max_retries=2, **FAST) as client:
        with pytest.raises(OktaUnavailable) as raised:
            await collect(client.list_users())
    assert "cannot get an OAuth access token" in str(raised.value)
    assert "after 3 attempts" in str(raised.value)


ISSUED = "eyJraWQiOiJ0ZXN0In0.access-token-value.that-must-never-show-1234567890"


async def _stub_org(token_answer: Callable[[], web.StreamResponse]) -> StubServer:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == TOKEN_PATH:
            return token_answer()
        # A hostile org echoes the credential it was sent in its error text.
        sent = request.headers.get("Authorization", "")
        return json_response(
            {"errorCode": "E0000009", "errorSummary": f"Internal error for {sent}"}, status=400
        )

    return StubServer(handle)


async def test_neither_the_access_token_nor_the_key_reaches_a_message_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = {"token_type": "Bearer", "expires_in": 3600, "access_token": ISSUED}
    pem = private_pem(private_key("rsa"))
    caplog.set_level(logging.DEBUG)
    async with (
        await _stub_org(lambda: json_response(answer)) as server,
        OktaClient(server.url, service_app(private_key("rsa")), **FAST) as client,
    ):
        with pytest.raises(Exception) as raised:
            await collect(client.list_users())
    told = str(raised.value) + repr(client) + caplog.text
    assert "Internal error for Bearer" in told  # the echo arrived, redacted
    assert ISSUED not in told and ISSUED[:30] not in told
    assert all(line not in told for line in pem.splitlines()[1:-1])


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        (
            lambda: json_response({"error": "invalid_dpop_proof", "error_description": "x"}, 400),
            OktaUnauthorized,
            "requires DPoP",
        ),
        (
            lambda: json_response({"token_type": "DPoP", "expires_in": 60, "access_token": "a"}),
            OktaUnauthorized,
            "requires DPoP",
        ),
        (
            lambda: json_response({"token_type": "Bearer", "access_token": "with spaces in it"}),
            Exception,
            "without a Bearer access_token",
        ),
        (
            lambda: web.Response(status=404, text="<html>no</html>", content_type="text/html"),
            WrongOktaUrl,
            "not Okta's token endpoint",
        ),
        (
            lambda: web.Response(
                body=b"{" + b" " * 200_000 + b"}", content_type="application/json"
            ),
            Exception,
            "more than 64 KiB",
        ),
        (
            lambda: json_response(
                {"error": "invalid_client", "error_description": "bad\x1b[2J\r\nX-Injected: 1"},
                401,
            ),
            OktaUnauthorized,
            "invalid_client: bad [2J X-Injected: 1",
        ),
    ],
)
async def test_hostile_token_endpoints_are_one_clear_line(
    answer: Callable[[], web.StreamResponse], error: type[Exception], says: str
) -> None:
    async with (
        await _stub_org(answer) as server,
        OktaClient(server.url, service_app(private_key("rsa")), max_retries=1, **FAST) as client,
    ):
        with pytest.raises(error) as raised:
            await collect(client.list_users())
    message = str(raised.value)
    assert says in message
    assert "\n" not in message and "\x1b" not in message


async def test_a_token_endpoint_that_drips_is_given_up_on() -> None:
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(100):
            await response.write(b" ")
            await asyncio.sleep(0.1)
        return response

    async with (
        StubServer(drip) as server,
        OktaClient(
            server.url, service_app(private_key("rsa")), timeout=0.5, max_retries=1, **FAST
        ) as client,
    ):
        with pytest.raises(OktaUnavailable) as raised:
            await collect(client.list_users())
    # The token request counts against the deadline of the request that needed it.
    assert "answer within 0.5 s" in str(raised.value)


def test_the_whole_read_set_is_the_default() -> None:
    assert list(service_app(private_key("rsa")).scopes) == READ_ALL

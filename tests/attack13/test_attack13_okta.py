"""Red team R1 on issue 13: hostile Okta answers the fixes do not cover yet (real HTTP).

Each test reproduces one finding and fails until it is fixed:
- a body encoded twice (``Content-Encoding: gzip, gzip``) decodes in one step, past the cap;
- a token endpoint answering deeply nested JSON raises RecursionError (a traceback);
- the scopes a token endpoint claims to grant reach the error message unbounded and unchecked.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from tests.okta.okta_stub import StubServer, json_response
from tests.support.oauth import private_key, service_app

from okta_hris.errors import OktaError
from okta_hris.okta import OktaClient, collect
from okta_hris.okta.oauth import TOKEN_CACHE, TOKEN_PATH

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 1}


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


def _gzip_of_spaces(size: int) -> bytes:
    """gzip of ``size`` spaces, built without holding them all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * 2**20
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.flush()


# 256 MiB of spaces, gzipped (~250 KiB), gzipped again (a few hundred bytes).
BOMB = gzip.compress(_gzip_of_spaces(256 * 2**20), 9)


def _bomb() -> web.Response:
    return web.Response(
        body=BOMB,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"},
    )


@pytest.mark.parametrize("where", ["api", "token endpoint"])
async def test_a_body_encoded_twice_is_capped_as_it_is_read(where: str) -> None:
    """Okta's answers are capped 'as read' (64 MiB, 64 KiB for a token): a body of a few hundred
    bytes encoded twice must not be decoded into 256 MiB first."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == TOKEN_PATH and where == "api":
            return json_response({"token_type": "Bearer", "expires_in": 60, "access_token": "a"})
        return _bomb()

    credential = service_app(private_key("rsa"))
    tracemalloc.start()
    try:
        async with (
            StubServer(handle) as server,
            OktaClient(server.url, credential, max_body_bytes=2**20, **FAST) as client,
        ):
            with pytest.raises(OktaError):
                await collect(client.list_users())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"peak traced memory: {peak / 2**20:.0f} MiB for a {len(BOMB)}-byte answer")
    assert peak < 64 * 2**20


@pytest.mark.parametrize("status", [200, 400])
async def test_a_token_endpoint_nesting_json_deeply_is_one_clear_line(status: int) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=b"[" * 60_000, content_type="application/json")

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, service_app(private_key("rsa")), **FAST) as client,
    ):
        # Today: RecursionError from oauth._json_object (json.loads), a traceback in the CLI.
        with pytest.raises(OktaError) as raised:
            await collect(client.list_users())
    assert "\n" not in str(raised.value)


async def test_the_scopes_a_token_endpoint_claims_are_not_echoed_unchecked() -> None:
    claimed = "okta.users.read \x1b[31mRED [/x] " + "okta.z" * 3000

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == TOKEN_PATH:
            answer = {"token_type": "Bearer", "expires_in": 600, "access_token": "abc"}
            return json_response({**answer, "scope": claimed})
        return web.Response(
            status=403,
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="okta.x.read"'},
        )

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, service_app(private_key("rsa")), **FAST) as client,
    ):
        with pytest.raises(OktaError) as raised:
            await collect(client.list_users())
    message = str(raised.value)
    assert "lacks scope okta.x.read" in message
    # Today: the whole 18 kB claim, ESC included, goes into the message (status, Events, logs).
    assert "\x1b" not in message
    assert len(message) < 1000


BAD_IDNA = "http://xn--abc-.com"  # an A-label may not end with "-": httpx raises idna.IDNAError


@pytest.mark.parametrize("where", ["redirect", "next link", "token redirect"])
async def test_a_url_with_an_invalid_idna_host_is_one_clear_line(where: str) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == TOKEN_PATH and where != "token redirect":
            return json_response({"token_type": "Bearer", "expires_in": 60, "access_token": "a"})
        if where == "next link":
            link = f'<{BAD_IDNA}/api/v1/users?after=x>; rel="next"'
            return json_response([], headers=[("Link", link)])
        return web.Response(status=302, headers={"Location": f"{BAD_IDNA}/"})

    credential: Any = service_app(private_key("rsa")) if where == "token redirect" else "tok"
    async with (
        StubServer(handle) as server,
        OktaClient(server.url, credential, **FAST) as client,
    ):
        # Today: idna.core.IDNAError escapes (httpx builds the redirect request even when not
        # following it; links.origin reads url.host), a traceback in the CLI.
        with pytest.raises(OktaError):
            await collect(client.list_users())

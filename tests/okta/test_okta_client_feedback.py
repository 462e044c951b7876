"""What the Okta client tells people: rate-limit waits as they happen, the host it could not
reach, and a URL that is not an Okta org's API as a permanent error, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from okta_hris.errors import OktaApiError, OktaUnavailable, WrongOktaUrl
from okta_hris.okta import OktaClient, OktaNotFound, collect
from okta_hris.okta.ratelimit import Bucket

from .okta_stub import FakeOrg, StubServer, json_response, okta_error, user_json

TOKEN = "00aBcD-secret_TOKEN-value-1234567890"
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>[bold red]Not here\x1b[2J</title></head>"
    "<body>This is not the Okta org you are looking for</body></html>"
)

Notice = tuple[Bucket, float | None]


def recorder() -> tuple[list[Notice], Any]:
    notices: list[Notice] = []

    def on_wait(bucket: Bucket, seconds: float | None) -> None:
        notices.append((bucket, seconds))

    return notices, on_wait


def wait_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "okta_hris.okta.client" and r.getMessage().startswith("waiting")
    ]


# Rate-limit waits ---------------------------------------------------------------------------


async def test_a_wait_for_the_window_is_logged_at_info_and_told_to_on_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="okta_hris")
    # 3 requests per 3-second window and 7 pages: some window is spent at its start, so at least
    # one wait lasts most of a window. The client's estimate of Okta's clock comes from ``Date``
    # headers truncated to the second and may get up to a second better in that window, which
    # shortens the wait it tells by as much: a 2-second window left this under a second at times.
    org = FakeOrg(users=14, limit=3, window=3)
    notices, on_wait = recorder()
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, rate_limit_reserve=0, on_wait=on_wait, **FAST) as client,
    ):
        users = await collect(client.list_users(limit=2))
    assert len(users) == 14
    assert org.rate_limited == 0 and client.stats.rate_limited == 0

    told = [seconds for bucket, seconds in notices if seconds is not None]
    assert told and all(seconds >= 1.0 for seconds in told)
    assert {bucket for bucket, _ in notices} == {"users"}
    # Every wait told is followed by its end, and the last notice says nothing waits any more.
    assert notices[-1] == ("users", None)
    assert [s is None for _, s in notices] == [False, True] * (len(notices) // 2)

    records = wait_records(caplog)
    assert len(records) == len(told)
    for record in records:
        message = record.getMessage()
        assert record.levelno == logging.INFO
        assert "users rate limit" in message and server.url in message
        assert "/api/v1/users" in message
    # The client counts the pauses and their length, although Okta never answered 429.
    assert client.stats.rate_limit_waits >= len(told)
    assert client.stats.rate_limit_wait_seconds >= 1.0


async def test_requests_waiting_together_are_one_wait(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="okta_hris")
    # Six listings at once, two requests per window: four of them wait for the same reset.
    org = FakeOrg(groups={f"00g{i}": 1 for i in range(6)}, limit=2, window=2, delay=0.02)
    notices, on_wait = recorder()
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, rate_limit_reserve=0, on_wait=on_wait) as client,
    ):
        await asyncio.gather(*(collect(client.list_group_members(g)) for g in org.groups))
    assert org.rate_limited == 0
    told = [seconds for _, seconds in notices if seconds is not None]
    held_back = client.stats.waits_for_rate_limit
    assert held_back >= 4
    assert 1 <= len(told) < held_back
    assert len(wait_records(caplog)) == len(told)
    assert client.stats.rate_limit_waits < held_back
    assert notices[-1] == ("groups", None)


async def test_a_wait_after_a_429_is_told_and_counted() -> None:
    reset: int | None = None

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal reset
        now = datetime.now(UTC)
        if reset is not None and now.timestamp() >= reset:
            return json_response([user_json(1)])
        reset = int(now.timestamp()) + 2  # between 1 and 2 seconds away
        response = okta_error(429, "E0000047", "API call exceeded rate limit")
        response.headers["Date"] = format_datetime(now, usegmt=True)
        response.headers["X-Rate-Limit-Limit"] = "600"
        response.headers["X-Rate-Limit-Remaining"] = "0"
        response.headers["X-Rate-Limit-Reset"] = str(reset)
        return response

    notices, on_wait = recorder()
    async with StubServer(handle) as server:
        client = OktaClient(server.url, TOKEN, max_retries=1, on_wait=on_wait, **FAST)
        async with client:
            await collect(client.list_users())
    assert client.stats.rate_limited == 1
    assert client.stats.rate_limit_waits == 1
    assert client.stats.rate_limit_wait_seconds >= 1.0
    assert [bucket for bucket, _ in notices] == ["users", "users"]
    assert notices[0][1] is not None and notices[0][1] >= 1.0
    assert notices[1] == ("users", None)


async def test_short_waits_are_not_told() -> None:
    # A generous limit: nothing waits, nothing is told.
    org = FakeOrg(users=6, limit=1000, window=1)
    notices, on_wait = recorder()
    async with (
        StubServer(org.handle) as server,
        OktaClient(server.url, TOKEN, on_wait=on_wait) as client,
    ):
        await collect(client.list_users(limit=2))
    assert notices == []
    assert client.stats.rate_limit_waits == 0 and client.stats.rate_limit_wait_seconds == 0.0


# A URL that is not an Okta org's API ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (404, "text/plain", "404 page not found"),
        (404, "text/html", HTML_PAGE),
        (404, "application/json", '{"message": "no such route"}'),
        (404, "text/plain", ""),
    ],
)
async def test_a_404_that_is_not_oktas_is_a_wrong_url_and_not_retried(
    status: int, content_type: str, body: str
) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body, content_type=content_type)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(WrongOktaUrl) as caught:
            await collect(client.list_users())
    assert str(caught.value) == f"{server.url} answered 404: is the subdomain right?"
    assert caught.value.permanent and caught.value.reason == "WrongOktaUrl"
    assert len(server.seen) == 1 and client.stats.retries == 0


@pytest.mark.parametrize("status", [200, 400, 401, 403])
async def test_an_html_page_is_a_wrong_url_and_not_retried(status: int) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=HTML_PAGE, content_type="text/html")

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(WrongOktaUrl) as caught:
            await collect(client.list_groups())
    answered = "answered" if status == 200 else f"answered {status}"
    assert str(caught.value) == (
        f"{server.url} {answered} with an HTML page, not Okta's API: is the subdomain right?"
    )
    assert caught.value.permanent
    assert len(server.seen) == 1


async def test_an_html_page_without_a_content_type_is_recognised() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\n  <html><body>Welcome to nginx!</body></html>")

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(WrongOktaUrl, match="HTML page"):
            await client.get_user("00u1")
    assert len(server.seen) == 1


async def test_a_redirect_is_a_wrong_url_naming_the_host() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("https://login.example.com/signin?\x1b[31mfromURI=x")

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(WrongOktaUrl) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert message.startswith(f"{server.url} answered GET /api/v1/users with a redirect (302)")
    # Another origin is named by scheme and host only: its path or query may echo the token.
    assert "redirect (302) to https://login.example.com, not" in message
    assert "signin" not in message and "fromURI" not in message
    assert len(server.seen) == 1


async def test_a_redirect_with_an_html_body_is_reported_as_the_redirect() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=301,
            text='<html><body><a href="https://www.okta.com/">Moved</a></body></html>',
            content_type="text/html",
            headers={"Location": "https://www.okta.com/"},
        )

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(WrongOktaUrl, match=r"redirect \(301\) to https://www.okta.com, not"):
            await collect(client.list_users())
    assert len(server.seen) == 1


async def test_a_connection_dropped_every_time_is_not_called_unreachable() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(1)
        return json_response([])

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, TOKEN, max_retries=1, **FAST) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert message.startswith(f"Okta at {server.url} kept failing GET /api/v1/users: ")
    assert message.endswith("(after 2 attempts)")


@pytest.mark.parametrize("code", ["E0000007", "E0000022"])
async def test_a_404_with_oktas_error_body_stays_not_found(code: str) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return okta_error(404, code, "Not found: Resource not found: 00g1 (UserGroup)")

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(OktaNotFound, match=code) as caught:
            await collect(client.list_group_members("00g1"))
    assert not isinstance(caught.value, WrongOktaUrl)
    assert len(server.seen) == 1


async def test_oktas_error_text_becomes_one_bounded_line() -> None:
    summary = "Bad\x1b[31m request\r\nX-Injected: 1\u2028" + "[bold]x[/bold]" * 200

    async def handle(request: web.Request) -> web.StreamResponse:
        return okta_error(400, "E0000001", summary)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert "\x1b" not in message and "\n" not in message and "\r" not in message
    assert "\u2028" not in message
    assert "Bad [31m request X-Injected: 1" in message
    assert len(message) < 500


# A host that does not answer ----------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_host_is_named_with_every_retry_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="okta_hris")
    url = f"http://127.0.0.1:{closed_port()}"
    async with OktaClient(url, TOKEN, max_retries=2, **FAST) as client:
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert message.startswith(f"cannot reach {url}: ConnectError")
    assert message.endswith("(GET /api/v1/users, 3 attempts)")
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert all(url in r.getMessage() and r.levelno == logging.WARNING for r in retries)
    assert TOKEN not in message


async def test_a_host_that_never_answers_is_named_with_the_timeout() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return json_response([])

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, TOKEN, timeout=0.2, max_retries=1, **FAST) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    assert str(caught.value) == (
        f"cannot reach {server.url}: no complete answer within 0.2 s "
        "(GET /api/v1/users, 2 attempts)"
    )
    assert len(server.seen) == 2


async def test_a_failing_okta_is_named_with_its_host() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return okta_error(503, "E0000009", "Service unavailable")

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, TOKEN, max_retries=1, **FAST) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    assert str(caught.value) == (
        f"Okta at {server.url} kept failing GET /api/v1/users: 503 E0000009 Service "
        "unavailable (after 2 attempts)"
    )

"""A hostile Okta cannot hang, bloat, loop or leak: the attacks of issue 13 (items 3, 5, 10)
over real HTTP against the real client."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from okta_hris.errors import OktaApiError, OktaUnavailable, WrongOktaUrl
from okta_hris.okta import OktaClient, collect

from . import hostile_okta as hostile
from .okta_stub import Handler, StubServer, json_response, user_json

# Hostname-safe, so that it can also be echoed in a host name.
TOKEN = "00aBcDsecretTOKENvalue1234567890xyz"
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 1}
TOKEN_FORMS = [
    TOKEN,
    TOKEN.lower(),
    quote(TOKEN, safe=""),
    base64.b64encode(TOKEN.encode()).decode().rstrip("="),
    base64.b64encode(f"SSWS {TOKEN}".encode()).decode()[8:40],
]


def assert_no_token(text: str) -> None:
    for form in TOKEN_FORMS:
        assert form not in text, form
    assert "\n" not in text and "\x1b" not in text


# Answers that never end -------------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_an_answer_dripping_a_byte_at_a_time_fails_at_the_request_deadline() -> None:
    async with (
        StubServer(hostile.drip(every=0.05)) as server,
        OktaClient(server.url, TOKEN, timeout=0.5, **FAST) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    assert str(caught.value) == (
        f"cannot reach {server.url}: no complete answer within 0.5 s "
        "(GET /api/v1/users, 2 attempts)"
    )
    assert len(server.seen) == 2


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip-bomb"])
async def test_a_body_past_the_cap_is_refused_while_read(gzipped: bool) -> None:
    firehose = hostile.Firehose(total=256 * 2**20, gzip=gzipped)
    async with (
        StubServer(firehose.handle) as server,
        OktaClient(server.url, TOKEN, max_body_bytes=2**20, **FAST) as client,
    ):
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_users())
    assert (
        str(caught.value) == "Okta's answer to GET /api/v1/users is larger than 1 MiB; refusing it"
    )
    # Not retried (it would be as large again), and the rest was never read.
    assert len(server.seen) == 1
    assert firehose.sent < 64 * 2**20
    print(f"\n{'gzip' if gzipped else 'plain'}: server wrote {firehose.sent / 2**20:.1f} MiB")


async def test_a_declared_body_past_the_cap_is_refused_before_reading() -> None:
    async with (
        StubServer(hostile.declared_huge()) as server,
        OktaClient(server.url, TOKEN, **FAST) as client,
    ):
        with pytest.raises(OktaApiError, match="larger than 64 MiB; refusing it"):
            await collect(client.list_users())


async def test_a_gzip_answer_under_the_cap_is_read() -> None:
    body = gzip.compress(json.dumps([user_json(1)]).encode())

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN) as client:
        users = await collect(client.list_users())
    assert [user.id for user in users] == ["00u000001"]


@pytest.mark.parametrize(
    ("style", "requests", "message"),
    [
        ("cache-buster", 2, "points back to a page read"),
        ("same-items", 2, "listed OktaUser 00u000001 twice in GET /api/v1/users (pages 1 and 2)"),
        ("empty", 3, "sent 3 empty pages in a row, each with a next link"),
        ("new-items", 20, "went on past 20 pages"),
    ],
)
async def test_next_links_that_never_converge_stop(style: str, requests: int, message: str) -> None:
    async with (
        StubServer(hostile.endless_next(style)) as server,
        OktaClient(server.url, TOKEN, max_pages=20, **FAST) as client,
    ):
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_users())
    assert message in str(caught.value)
    assert len(server.seen) == requests


async def test_a_user_listed_on_two_pages_fails_the_listing() -> None:
    async with (
        StubServer(hostile.duplicate_across_pages()) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_users())
    assert str(caught.value) == (
        "Okta listed OktaUser 00u000002 twice in GET /api/v1/users (pages 1 and 2): the listing "
        "is inconsistent and may have skipped others too"
    )


async def test_a_next_link_to_another_path_is_not_followed() -> None:
    handler = hostile.next_link_to(lambda r: f"http://{r.host}/api/v1/groups?after=x")
    async with StubServer(handler) as server, OktaClient(server.url, TOKEN) as client:
        with pytest.raises(OktaApiError, match="points to another path"):
            await collect(client.list_users())
    assert len(server.seen) == 1


async def test_json_nested_beyond_decoding_is_an_answer_that_is_not_json() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"[" * 200_000 + b"]" * 200_000, content_type="application/json")

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    assert str(caught.value) == (
        f"Okta at {server.url} kept failing GET /api/v1/users: 200 with a body that is not JSON "
        "(after 2 attempts)"
    )


async def test_a_next_link_that_is_not_a_url_is_one_line() -> None:
    handler = hostile.next_link_to(lambda r: "http://[::1")
    async with StubServer(handler) as server, OktaClient(server.url, TOKEN) as client:
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_users())
    assert str(caught.value) == (
        "Okta answered GET /api/v1/users with a rel=next link that is not a valid URL"
    )


# Rate limits far away ---------------------------------------------------------------------------


async def test_a_429_with_a_reset_an_hour_away_fails_at_once_naming_when() -> None:
    async with (
        StubServer(hostile.rate_limited_until(3600)) as server,
        OktaClient(server.url, TOKEN, max_retries=6) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert re.fullmatch(
        rf"Okta's rate limit at {re.escape(server.url)} is spent until "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(3,[56]\d\d s from now\), longer than a sync waits "
        r"\(90 s\): try again after then",
        message,
    ), message
    assert len(server.seen) == 1


async def test_the_retry_logged_after_a_429_is_the_whole_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="okta_hris.okta.client")
    async with (
        StubServer(hostile.rate_limited_until(1.5)) as server,
        OktaClient(server.url, TOKEN, **FAST) as client,
    ):
        users = await collect(client.list_users())
    assert [user.id for user in users] == ["00u000001"]
    (logged,) = [r.getMessage() for r in caplog.records if "retry 1/1" in r.getMessage()]
    said = re.search(r"retry 1/1 in ([\d.]+)s", logged)
    assert said is not None and 0.0 < float(said.group(1)) <= 2.5
    # After that sleep the request went at once: no second, unannounced wait for the budget.
    assert client.stats.waits_for_rate_limit == 0 and client.stats.rate_limit_waits == 1
    assert len(server.seen) == 2


# Okta's clock -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "said"),
    [
        (datetime(2099, 1, 1, tzinfo=UTC), "2099-01-01 00:00 UTC) is 26,"),
        (datetime.now(UTC) - timedelta(days=3), "3 days behind this machine's"),
    ],
)
async def test_an_implausible_okta_clock_is_refused_in_one_line(date: datetime, said: str) -> None:
    handler = hostile.dated(format_datetime(date, usegmt=True))
    async with StubServer(handler) as server, OktaClient(server.url, TOKEN) as client:
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert message.startswith("Okta's clock (the Date of its answer to GET /api/v1/users, ")
    assert said in message and "check this machine's time" in message
    assert client.first_response_date is None
    assert abs(client.okta_now() - datetime.now(UTC)) < timedelta(minutes=1)


async def test_okta_now_follows_a_plausibly_skewed_okta() -> None:
    skewed = datetime.now(UTC) + timedelta(minutes=10)
    handler = hostile.dated(format_datetime(skewed, usegmt=True))
    async with StubServer(handler) as server, OktaClient(server.url, TOKEN) as client:
        await collect(client.list_users())
        ahead = client.okta_now() - datetime.now(UTC)
    assert timedelta(minutes=9) < ahead < timedelta(minutes=11)


# Secrets in messages ----------------------------------------------------------------------------


def _token_in_every_form(request: web.Request) -> str:
    return (
        f"/{TOKEN}/x?t={quote(TOKEN)}&b={base64.b64encode(TOKEN.encode()).decode()}"
        f"&a={base64.b64encode(f'SSWS {TOKEN}'.encode()).decode()}"
    )


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (
            hostile.redirect(lambda r: f"https://{TOKEN}.evil.example{_token_in_every_form(r)}"),
            "with a redirect (302) to https://**********.evil.example, not Okta's API",
        ),
        (
            hostile.redirect(lambda r: f"http://evil.example:8443{_token_in_every_form(r)}"),
            "with a redirect (302) to http://evil.example:8443, not Okta's API",
        ),
        (
            hostile.redirect(lambda r: _token_in_every_form(r), status=307),
            "with a redirect (307) to /**********/x, not Okta's API",
        ),
        (
            hostile.next_link_to(lambda r: f"https://{TOKEN}.evil.example/api/v1/users?after=x"),
            "points to another origin (https://**********.evil.example:443)",
        ),
        (
            hostile.echoing(
                f"Invalid token SSWS {TOKEN} "
                f"({base64.b64encode(f'SSWS {TOKEN}'.encode()).decode()}, {quote(TOKEN)})"
            ),
            "Invalid token SSWS ********** (",
        ),
    ],
    ids=["redirect-host", "redirect-other-origin", "redirect-same-origin", "next-host", "echo"],
)
async def test_the_token_echoed_by_okta_never_reaches_a_message(
    handler: Handler, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with StubServer(handler) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises((OktaApiError, WrongOktaUrl)) as caught:
            await collect(client.list_users())
    message = str(caught.value)
    assert expected in message, message
    assert_no_token(message)
    # httpcore's own DEBUG trace quotes response headers verbatim: the operator keeps it quiet.
    for record in caplog.records:
        if not record.name.startswith("httpcore"):
            assert_no_token(record.getMessage())


async def test_a_user_id_echoing_the_token_stays_out_of_messages() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return json_response({"errorCode": "E0000007", "errorSummary": "Not found"}, 404)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(OktaApiError) as caught:
            await client.get_user(TOKEN)
    assert "GET /api/v1/users/********** with 404" in str(caught.value)
    assert_no_token(str(caught.value))

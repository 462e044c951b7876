"""The Okta client over real HTTP against purpose-built servers: auth, paging, errors, retries."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from okta_hris import __version__
from okta_hris.errors import OktaApiError, OktaForbidden, OktaUnauthorized, OktaUnavailable
from okta_hris.okta import OktaClient, OktaNotFound, collect

from .okta_stub import FakeOrg, Handler, StubServer, json_response, okta_date, okta_error, user_json

TOKEN = "00aBcD-secret_TOKEN-value-1234567890"
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}


def pages_handler(pages: list[list[dict[str, Any]]], path: str = "/api/v1/users") -> Handler:
    """Serves ``pages`` at ``path`` as Okta does: ``self`` and ``next`` as separate lines."""

    async def handle(request: web.Request) -> web.StreamResponse:
        index = int(request.query.get("after", "0"))
        base = f"http://{request.host}{path}"
        headers = [("Link", f'<{base}?after={index}>; rel="self"')]
        if index + 1 < len(pages):
            headers.append(("Link", f'<{base}?after={index + 1}&limit=2>; rel="next"'))
        return json_response(pages[index], headers=headers)

    return handle


async def test_sends_okta_auth_accept_and_user_agent_headers() -> None:
    async with (
        StubServer(pages_handler([[user_json(1)]])) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        users = await collect(client.list_users(search='status eq "ACTIVE"', limit=50))
    assert [user.id for user in users] == ["00u000001"]
    (request,) = server.seen
    assert request.headers["Authorization"] == f"SSWS {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"okta-hris-operator/{__version__}"
    assert request.query == {"search": 'status eq "ACTIVE"', "limit": "50"}


async def test_follows_next_links_across_separate_link_header_lines() -> None:
    pages = [[user_json(2 * p), user_json(2 * p + 1)] for p in range(4)]
    async with (
        StubServer(pages_handler(pages)) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        got = [[user.id for user in page] async for page in client.list_users()]
    assert got == [[f"00u{2 * p:06d}", f"00u{2 * p + 1:06d}"] for p in range(4)]
    assert [seen.query.get("after") for seen in server.seen] == [None, "1", "2", "3"]
    assert client.stats.requests == 4
    assert client.stats.requests_by_bucket["users"] == 4


async def test_follows_next_link_in_a_single_comma_separated_header() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        base = f"http://{request.host}/api/v1/groups/00g1/users"
        if "after" in request.query:
            return json_response([user_json(2)], headers=[("Link", f'<{base}>; rel="self"')])
        link = f'<{base}>; rel="self", <{base}?after=x>; rel="next"'
        return json_response([user_json(1)], headers=[("Link", link)])

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN) as client:
        users = await collect(client.list_group_members("00g1"))
    assert [user.id for user in users] == ["00u000001", "00u000002"]
    assert client.stats.requests_by_bucket["groups"] == 2


async def test_refuses_a_next_link_to_another_origin() -> None:
    async with StubServer(pages_handler([[user_json(9)]])) as elsewhere:

        async def handle(request: web.Request) -> web.StreamResponse:
            link = f'<{elsewhere.url}/api/v1/users?after=1>; rel="next"'
            return json_response([user_json(1)], headers=[("Link", link)])

        async with StubServer(handle) as server, OktaClient(server.url, TOKEN) as client:
            with pytest.raises(OktaApiError, match="another origin"):
                await collect(client.list_users())
    assert elsewhere.seen == []


async def test_refuses_a_next_link_that_loops_back() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        # Page 2 sends the client back to page 1.
        query = "limit=1" if "after" in request.query else "after=1&limit=1"
        link = f'<http://{request.host}/api/v1/users?{query}>; rel="next"'
        return json_response([user_json(len(server.seen))], headers=[("Link", link)])

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN) as client:
        with pytest.raises(OktaApiError, match="points back"):
            await collect(client.list_users(limit=1))
    assert len(server.seen) == 2


async def test_does_not_follow_redirects() -> None:
    async with StubServer(pages_handler([[user_json(1)]])) as target:

        async def handle(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"{target.url}/api/v1/users?token=x")

        async with StubServer(handle) as server, OktaClient(server.url, TOKEN) as client:
            with pytest.raises(OktaApiError, match=r"redirect \(302\)") as caught:
                await collect(client.list_users())
    assert target.seen == []
    assert "token=x" not in str(caught.value)


async def test_retries_a_503_on_the_same_url_and_yields_each_page_once() -> None:
    pages = [[user_json(0)], [user_json(1)], [user_json(2)]]
    serve = pages_handler(pages)
    failed: set[str] = set()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path_qs not in failed:
            failed.add(request.path_qs)
            return okta_error(503, "E0000009", "Service unavailable")
        return await serve(request)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        users = await collect(client.list_users())
    assert [user.id for user in users] == ["00u000000", "00u000001", "00u000002"]
    # Each page: a 503 (the handler fails the first try of every URL), then the retry.
    queries = [seen.query.get("after") for seen in server.seen]
    assert queries == [None, None, "1", "1", "2", "2"]
    assert client.stats.requests == 6
    assert client.stats.retries == 3


async def test_gives_up_with_okta_unavailable_after_max_retries() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return okta_error(500, "E0000009", "Internal Server Error")

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, TOKEN, max_retries=2, **FAST) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(client.list_users(search='profile.email eq "a@b.example"'))
    message = str(caught.value)
    assert "500" in message and "E0000009" in message and "/api/v1/users" in message
    assert "a@b.example" not in message
    assert len(server.seen) == 3
    assert client.stats.requests == 3 and client.stats.retries == 2


@pytest.mark.parametrize("how", ["closed", "reset"])
async def test_retries_a_connection_dropped_before_the_response(how: str) -> None:
    serve = pages_handler([[user_json(1)]])
    dropped = False

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal dropped
        if not dropped:
            dropped = True
            transport = request.transport
            assert transport is not None
            if how == "reset":
                # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
                sock = transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
            await asyncio.sleep(1)  # cancelled by the server when the connection goes
        return await serve(request)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        users = await collect(client.list_users())
    assert [user.id for user in users] == ["00u000001"]
    # The first try got no response at all; the retry got the page.
    assert client.stats.requests == 2 and client.stats.retries == 1
    assert len(server.seen) == 2


async def test_retries_a_connection_dropped_mid_body() -> None:
    serve = pages_handler([[user_json(1), user_json(2)], [user_json(3)]])
    dropped: set[str] = set()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path_qs in dropped:
            return await serve(request)
        dropped.add(request.path_qs)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 10_000
        await response.prepare(request)
        await response.write(b'[{"id": "00u000001", "status": "ACT')
        assert request.transport is not None
        request.transport.close()
        return response

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        ids = [[user.id for user in page] async for page in client.list_users()]
    assert ids == [["00u000001", "00u000002"], ["00u000003"]]
    assert client.stats.retries == 2


async def test_retries_a_timed_out_request() -> None:
    serve = pages_handler([[user_json(1)]])
    slow = True

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal slow
        if slow:
            slow = False
            await asyncio.sleep(5)
        return await serve(request)

    async with (
        StubServer(handle) as server,
        OktaClient(server.url, TOKEN, timeout=0.2, **FAST) as client,
    ):
        users = await collect(client.list_users())
    assert [user.id for user in users] == ["00u000001"]
    assert client.stats.retries == 1 and client.stats.requests == 2


async def test_401_raises_unauthorized_with_okta_summary_and_no_retry() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return okta_error(401, "E0000011", "Invalid token provided")

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(OktaUnauthorized, match="E0000011 Invalid token provided"):
            await collect(client.list_users())
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (403, "E0000006", OktaForbidden),
        (400, "E0000031", OktaApiError),
        (404, "E0000007", OktaNotFound),
    ],
)
async def test_other_client_errors(status: int, code: str, error: type[Exception]) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = {
            "errorCode": code,
            "errorSummary": "Bad request",
            "errorCauses": [{"errorSummary": "Invalid search criteria."}],
        }
        return json_response(body, status)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        with pytest.raises(error, match=code) as caught:
            await client.get_user("someone@example.com")
    assert "Invalid search criteria." in str(caught.value)
    assert server.seen[0].path == "/api/v1/users/someone@example.com"
    assert len(server.seen) == 1


async def test_get_user_escapes_the_id_into_one_path_segment() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return json_response(user_json(7))

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN) as client:
        user = await client.get_user("../groups/00g1")
    assert user.id == "00u000007"
    assert server.seen[0].raw_path == "/api/v1/users/..%2Fgroups%2F00g1"


async def test_token_never_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/echo"):
            # A server that quotes the credential back must not make us log it.
            return okta_error(401, "E0000011", f"Bad token {request.headers['Authorization']}")
        return okta_error(503, "E0000009", "Unavailable")

    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    async with StubServer(handle) as server:
        client = OktaClient(server.url, f"{TOKEN}\n", max_retries=1, **FAST)
        async with client:
            for call in (client.get_user("x"), client.get_user("echo")):
                try:
                    await call
                except Exception as exc:
                    errors.append(exc)
            texts = [repr(client), repr(client._http), repr(client._http.auth), str(vars(client))]
    assert server.seen[0].headers["Authorization"] == f"SSWS {TOKEN}"
    assert [type(e) for e in errors] == [OktaUnavailable, OktaUnauthorized]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [record.getMessage() for record in caplog.records]
    assert len(caplog.records) > 0
    for text in texts:
        assert TOKEN not in text


def test_a_malformed_token_is_refused_without_quoting_it() -> None:
    with pytest.raises(OktaUnauthorized) as caught:
        OktaClient("https://acme.okta.com", "secret part\r\nX-Evil: 1")
    assert "secret" not in str(caught.value)


async def test_429_waits_for_the_reset_then_retries() -> None:
    serve = pages_handler([[user_json(1)]])
    # Okta's clock an hour behind ours: the wait must follow Okta's Date, not our clock.
    skew = timedelta(hours=1)
    reset: int | None = None

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal reset
        okta_now = datetime.now(UTC) - skew
        if reset is not None and okta_now.timestamp() >= reset:
            return await serve(request)
        reset = int(okta_now.timestamp()) + 1
        response = okta_error(429, "E0000047", "API call exceeded rate limit")
        response.headers["Date"] = okta_now.strftime("%a, %d %b %Y %H:%M:%S GMT")
        response.headers["X-Rate-Limit-Limit"] = "600"
        response.headers["X-Rate-Limit-Remaining"] = "0"
        response.headers["X-Rate-Limit-Reset"] = str(reset)
        return response

    # One retry only: retrying before Okta's reset would be answered with another 429.
    async with StubServer(handle) as server:
        client = OktaClient(server.url, TOKEN, max_retries=1, **FAST)
        async with client:
            users = await collect(client.list_users())
    assert [user.id for user in users] == ["00u000001"]
    assert client.stats.rate_limited == 1 and client.stats.retries == 1


@pytest.mark.timeout(30)
async def test_429_with_limit_zero_is_the_concurrency_limit_and_retried() -> None:
    serve = pages_handler([[user_json(1)]])
    calls = 0

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            response = okta_error(429, "E0000047", "API call exceeded rate limit")
            response.headers["X-Rate-Limit-Limit"] = "0"
            response.headers["X-Rate-Limit-Remaining"] = "0"
            # A reset far away: for the concurrency limit it must not be waited for.
            response.headers["X-Rate-Limit-Reset"] = str(int(datetime.now(UTC).timestamp()) + 3600)
            return response
        return await serve(request)

    async with StubServer(handle) as server, OktaClient(server.url, TOKEN, **FAST) as client:
        users = await collect(client.list_users())
    assert len(users) == 1
    assert client.stats.rate_limited == 2 and client.stats.waits_for_rate_limit == 0


async def test_first_response_date_is_oktas_date() -> None:
    org = FakeOrg(users=3, skew=-6 * 3600.0)
    async with StubServer(org.handle) as server, OktaClient(server.url, TOKEN) as client:
        assert client.first_response_date is None
        await collect(client.list_users(limit=1))
    first = client.first_response_date
    assert first is not None and first.tzinfo is not None
    expected = datetime.now(UTC) - timedelta(hours=6)
    assert abs((first - expected).total_seconds()) < 600


def log_event(uuid: str, published: datetime, target_id: str | None = "00u1") -> dict[str, Any]:
    target = None
    if target_id:
        target = [
            {
                "id": target_id,
                "type": "User",
                "alternateId": "a@example.com",
                "displayName": "A",
                "detailEntry": None,
            }
        ]
    return {
        "uuid": uuid,
        "published": okta_date(published),
        "eventType": "user.lifecycle.delete.initiated",
        "displayMessage": "Delete user",
        "severity": "INFO",
        "target": target,
    }


async def test_log_events_bounded_query_ends_without_next() -> None:
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    pages = [
        [log_event("e1", t0), log_event("e2", t0 + timedelta(seconds=1), None)],
        [log_event("e3", t0 + timedelta(seconds=2))],
    ]
    async with (
        StubServer(pages_handler(pages, "/api/v1/logs")) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        events = await collect(
            client.list_log_events(
                since=t0, until=t0 + timedelta(hours=1), filter='eventType eq "x"'
            )
        )
    assert [event.uuid for event in events] == ["e1", "e2", "e3"]
    assert events[0].event_type == "user.lifecycle.delete.initiated"
    assert events[0].target[0].alternate_id == "a@example.com"
    assert events[1].target == []
    assert server.seen[0].query == {
        "since": "2024-05-01T00:00:00.000Z",
        "until": "2024-05-01T01:00:00.000Z",
        "filter": 'eventType eq "x"',
        "limit": "1000",
    }


async def test_log_events_since_must_be_timezone_aware() -> None:
    async with OktaClient("http://127.0.0.1:9", TOKEN) as client:
        with pytest.raises(ValueError, match="timezone-aware"):
            client.list_log_events(since=datetime(2024, 1, 1), until=datetime.now(UTC))


async def test_groups_are_parsed_with_stats() -> None:
    group = {
        "id": "00g1",
        "created": "2020-01-01T00:00:00.000Z",
        "lastUpdated": "2024-01-02T03:04:05.006Z",
        "lastMembershipUpdated": "2024-02-03T04:05:06.007Z",
        "objectClass": ["okta:user_group"],
        "type": "OKTA_GROUP",
        "profile": {"name": "Engineering", "description": None},
        "_embedded": {"stats": {"usersCount": 42}},
    }

    async with (
        StubServer(pages_handler([[group]], "/api/v1/groups")) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        (parsed,) = await collect(
            client.list_groups(filter='type eq "OKTA_GROUP"', expand_stats=True)
        )
    assert (parsed.id, parsed.type, parsed.name, parsed.description) == (
        "00g1",
        "OKTA_GROUP",
        "Engineering",
        None,
    )
    assert parsed.last_membership_updated == datetime(2024, 2, 3, 4, 5, 6, 7000, tzinfo=UTC)
    assert parsed.users_count == 42
    assert server.seen[0].query == {
        "filter": 'type eq "OKTA_GROUP"',
        "limit": "200",
        "expand": "stats",
    }


async def test_users_are_parsed_into_aware_datetimes_with_extras_kept() -> None:
    async with (
        StubServer(pages_handler([[user_json(3)]])) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        (user,) = await collect(client.list_users())
    assert user.status_changed == datetime(2023, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert user.last_updated.tzinfo is not None and user.activated is None
    assert user.profile["lastName"] == "Tëst"
    assert user.model_extra is not None and user.model_extra["type"] == {"id": "oty1"}


async def test_an_unexpected_object_is_an_api_error_without_personal_data() -> None:
    broken = user_json(1)
    del broken["lastUpdated"]
    async with (
        StubServer(pages_handler([[broken]])) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        with pytest.raises(OktaApiError, match="lastUpdated") as caught:
            await collect(client.list_users())
    assert "user1@example.com" not in str(caught.value)

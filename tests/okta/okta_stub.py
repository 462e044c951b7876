"""Small purpose-built HTTP servers for the Okta client tests (real HTTP on 127.0.0.1).

``StubServer`` answers every request with a test's own handler, to craft exact headers,
redirects, dropped connections and failures. ``FakeOrg`` is a minimal Okta org (users, group
members) with ``Link`` paging and rate-limit windows on a clock that may be skewed from ours.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]


class StubServer:
    """An aiohttp server on 127.0.0.1 in the test's event loop, sending every request to
    ``handler`` and recording it in ``seen``."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path.split("?")[0],
                dict(request.query),
                dict(request.headers),
            )
        )
        return await self._handler(request)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def okta_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def user_json(index: int, updated: datetime | None = None) -> dict[str, Any]:
    updated = updated or datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=index)
    return {
        "id": f"00u{index:06d}",
        "status": "ACTIVE",
        "created": "2023-01-01T00:00:00.000Z",
        "activated": None,
        "statusChanged": "2023-01-02T03:04:05.678Z",
        "lastLogin": None,
        "lastUpdated": okta_date(updated),
        "passwordChanged": None,
        "type": {"id": "oty1"},
        "profile": {
            "firstName": f"User{index}",
            "lastName": "Tëst",
            "email": f"user{index}@example.com",
            "login": f"user{index}@example.com",
            "countryCode": "DE",
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"https://example.okta.com/api/v1/users/00u{index:06d}"}},
    }


def json_response(
    body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=CIMultiDict(headers or []),
    )


def okta_error(status: int, code: str, summary: str) -> web.Response:
    body = {"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae1"}
    return json_response(body, status)


@dataclass
class FakeOrg:
    """A minimal Okta org behind ``StubServer``: ``/api/v1/users`` and group members.

    Rate limits: ``limit`` requests per bucket per ``window`` seconds of the org's clock, which
    is ours plus ``skew`` seconds; ``Date`` and ``X-Rate-Limit-Reset`` use that clock, as Okta's
    do. ``delay`` slows every answer so that requests overlap.
    """

    users: int = 0
    groups: dict[str, int] = field(default_factory=dict)
    limit: int = 1000
    window: int = 1
    skew: float = 0.0
    delay: float = 0.0
    served: list[str] = field(default_factory=list)
    rate_limited: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def now(self) -> float:
        return time.time() + self.skew

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: web.Request) -> web.StreamResponse:
        now = self.now()
        bucket = "groups" if request.path.startswith("/api/v1/groups") else "users"
        window_start = math.floor(now / self.window) * self.window
        reset = int(window_start + self.window)
        key = (bucket, reset)
        used = self._counts.get(key, 0) + 1
        self._counts[key] = used
        headers = [
            ("Date", format_datetime(datetime.fromtimestamp(now, UTC), usegmt=True)),
            ("X-Rate-Limit-Limit", str(self.limit)),
            ("X-Rate-Limit-Remaining", str(max(self.limit - used, 0))),
            ("X-Rate-Limit-Reset", str(reset)),
        ]
        if used > self.limit:
            self.rate_limited += 1
            response = okta_error(429, "E0000047", "API call exceeded rate limit")
            response.headers.extend(headers)
            return response

        if request.path == "/api/v1/users":
            total = self.users
        elif request.path.startswith("/api/v1/groups/") and request.path.endswith("/users"):
            total = self.groups[request.path.split("/")[4]]
        else:
            return okta_error(404, "E0000007", "Not found")
        limit = int(request.query.get("limit", "200"))
        start = int(request.query.get("after", "0"))
        end = min(start + limit, total)
        self.served.append(request.path_qs)
        base = f"http://{request.host}{request.path}"
        headers.append(("Link", f'<{base}?limit={limit}>; rel="self"'))
        if end < total:
            headers.append(("Link", f'<{base}?after={end}&limit={limit}>; rel="next"'))
        return json_response([user_json(i) for i in range(start, end)], headers=headers)

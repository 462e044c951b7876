"""A hostile Okta for the tests: answers that never end, bodies that never stop, next links that
lead nowhere new, rate limits spent for an hour, redirects echoing the token, clocks far off.

Each attack is an aiohttp handler for ``okta_stub.StubServer`` (real HTTP on 127.0.0.1), so the
client under test is the real one over a real connection. ``OktaProxy`` stands in front of the
sandbox to make a whole org hostile: a clock ``offset`` from ours (everything time-valued it
passes, ``Date``, ``X-Rate-Limit-Reset``, every timestamp in bodies, query parameters and links,
is shifted, as if the sandbox's own clock were off), a bogus ``Date``, edited answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self

import httpx
from aiohttp import web
from multidict import CIMultiDict

from .okta_stub import Handler, json_response, okta_error, user_json

USERS = "/api/v1/users"


def next_header(request: web.Request, query: str) -> tuple[str, str]:
    return ("Link", f'<http://{request.host}{request.path}?{query}>; rel="next"')


def drip(every: float) -> Handler:
    """200 with proper headers, then a JSON body one byte every ``every`` seconds, forever:
    each read gets a byte well within any per-read timeout."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"[")
        while True:
            await asyncio.sleep(every)
            await response.write(b" ")

    return handle


@dataclass
class Firehose:
    """A 200 whose JSON array of users goes on for ``total`` bytes (no Content-Length), or a
    gzip-encoded body that decodes to ``total`` bytes (a compression bomb); ``sent`` counts the
    bytes written before the client hung up."""

    total: int
    gzip: bool = False
    sent: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": "application/json"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        item = json.dumps(user_json(1)).encode() + b","
        chunk = b"[" + item * (65536 // len(item))
        compressor = zlib.compressobj(wbits=31) if self.gzip else None
        produced = 0
        try:
            while produced < self.total:
                data = compressor.compress(chunk) if compressor else chunk
                produced += len(chunk)
                self.sent += len(data)
                await response.write(data)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return response


def declared_huge() -> Handler:
    """A 200 announcing a body of a terabyte."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 2**40
        await response.prepare(request)
        await response.write(b"[]")
        return response

    return handle


def endless_next(style: str) -> Handler:
    """Next links that never converge:

    - ``cache-buster``: the same ``after`` cursor, a new throwaway parameter each time;
    - ``same-items``: a fresh cursor every page, with the users of the first page again;
    - ``empty``: a fresh cursor every page, and no users;
    - ``new-items``: a fresh cursor every page with users never seen before, forever.
    """
    served = 0

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal served
        served += 1
        if style == "cache-buster":
            users, query = [user_json(served)], f"after=00u1&_={served}"
        elif style == "same-items":
            users, query = [user_json(1)], f"after=c{served}"
        elif style == "empty":
            users, query = [], f"after=c{served}"
        else:
            users, query = [user_json(served)], f"after=c{served}"
        return json_response(users, headers=[next_header(request, query)])

    return handle


def duplicate_across_pages() -> Handler:
    """Two pages whose cursors are fine but which both list user 2 (last-wins would hide it)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if "after" not in request.query:
            return json_response(
                [user_json(1), user_json(2)], headers=[next_header(request, "after=00u2")]
            )
        return json_response([user_json(2), user_json(3)])

    return handle


def rate_limited_until(seconds: float) -> Handler:
    """429 for ``seconds``, with a reset that far away, then a page of one user."""
    reset: int | None = None

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal reset
        now = datetime.now(UTC)
        if reset is None:
            reset = int(now.timestamp() + seconds)
        if now.timestamp() >= reset:
            return json_response([user_json(1)])
        response = okta_error(429, "E0000047", "API call exceeded rate limit")
        response.headers.update(
            {
                "Date": format_datetime(now, usegmt=True),
                "X-Rate-Limit-Limit": "600",
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(reset),
            }
        )
        return response

    return handle


def redirect(location: Callable[[web.Request], str], status: int = 302) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location(request)})

    return handle


def next_link_to(target: Callable[[web.Request], str]) -> Handler:
    """A first page whose next link is ``target(request)`` (another host, another path)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return json_response([user_json(1)], headers=[("Link", f'<{target(request)}>; rel="next"')])

    return handle


def echoing(summary: str, status: int = 400) -> Handler:
    """Okta's error body with ``summary`` as its errorSummary (and a cause repeating it)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = {
            "errorCode": "E0000001",
            "errorSummary": summary,
            "errorCauses": [{"errorSummary": summary}],
        }
        return json_response(body, status)

    return handle


def dated(date: str) -> Handler:
    """A page of one user with ``Date: <date>``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return json_response([user_json(1)], headers=[("Date", date)])

    return handle


# A proxy with a skewed clock ----------------------------------------------------------------

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


def shift_timestamps(text: str, delta: timedelta) -> str:
    """Every ISO 8601 timestamp in ``text`` moved by ``delta``, in Okta's form."""

    def moved(match: re.Match[str]) -> str:
        moment = datetime.fromisoformat(match.group()).astimezone(UTC) + delta
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"

    return _TIMESTAMP.sub(moved, text)


@dataclass
class OktaProxy:
    """The sandbox at ``upstream``, seen through a clock ``offset`` from ours.

    ``date_override(n)`` may replace the ``Date`` of the n-th answer (1-based), e.g. one
    ``Date`` in 2099 among honest ones; ``edit(path, query, body)`` may rewrite a JSON answer.
    """

    upstream: str
    offset: timedelta = timedelta(0)
    date_override: Callable[[int], str | None] = lambda n: None
    edit: Callable[[str, dict[str, str], Any], Any] | None = None
    answered: int = 0
    url: str = ""
    _runner: web.AppRunner | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    def _shift_url(self, url: httpx.URL, delta: timedelta, origin: str) -> str:
        params = [(key, shift_timestamps(value, delta)) for key, value in url.params.multi_items()]
        return str(httpx.URL(origin + url.path, params=params))

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        target = self._shift_url(httpx.URL(str(request.rel_url)), -self.offset, self.upstream)
        upstream = await self._http.request(
            request.method,
            target,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=await request.read(),
        )
        self.answered += 1
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in upstream.headers.multi_items():
            lower = name.lower()
            if lower in ("content-length", "content-encoding", "transfer-encoding", "date"):
                continue
            if lower == "x-rate-limit-reset":
                value = str(int(value) + int(self.offset.total_seconds()))
            elif lower == "link":
                value = re.sub(
                    r"<([^>]*)>",
                    lambda m: f"<{self._shift_url(httpx.URL(m.group(1)), self.offset, self.url)}>",
                    value,
                )
            headers.add(name, value)
        shifted_now = datetime.now(UTC) + self.offset
        headers["Date"] = self.date_override(self.answered) or format_datetime(
            shifted_now, usegmt=True
        )
        text = upstream.text
        if self.edit is not None and upstream.status_code == 200:
            text = json.dumps(self.edit(request.path, dict(request.query), json.loads(text)))
        body = shift_timestamps(text, self.offset).encode()
        return web.Response(status=upstream.status_code, body=body, headers=headers)

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
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
        assert self._runner is not None and self._http is not None
        await self._runner.cleanup()
        await self._http.aclose()

"""The Okta Management API client: auth, pagination, rate limits, retries.

One :class:`OktaClient` per Okta org, used as an async context manager. Listings are async
iterators of pages; every page is fetched by following Okta's ``Link: <...>; rel="next"`` header
(the cursor is opaque), a failed request is retried on the *same* URL, and so a listing never
skips or repeats a page.

Independent listings may run concurrently; the client's own concurrency cap and rate-limit
budget apply across all of them, so the engine can simply write::

    async with OktaClient(url, token) as client:
        async def members(group: OktaGroup) -> list[str]:
            return await collect(client.list_group_member_ids(group.id))

        async with asyncio.TaskGroup() as tasks:
            jobs = {g.id: tasks.create_task(members(g)) for g in groups}

and at most ``max_concurrency`` requests are on the wire at any time, none of them spending the
last requests of an Okta rate-limit window.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import functools
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast
from urllib.parse import quote, quote_plus

import httpx
import msgspec
from pydantic import BaseModel, SecretStr, ValidationError

from okta_hris import __version__
from okta_hris.domain.profiles import MAX_INTEGER_DIGITS
from okta_hris.domain.text import one_line
from okta_hris.errors import (
    OktaApiError,
    OktaError,
    OktaForbidden,
    OktaUnauthorized,
    OktaUnavailable,
    WrongOktaUrl,
)
from okta_hris.okta.encodings import ACCEPT_ENCODING, unreadable_encoding
from okta_hris.okta.links import next_link, origin, same_origin
from okta_hris.okta.models import (
    LogEvent,
    OktaGroup,
    OktaMember,
    OktaUser,
    OktaUserFields,
    validation_problems,
)
from okta_hris.okta.oauth import AccessTokens, ApiToken, BearerAuth, OAuthServiceApp, OktaCredential
from okta_hris.okta.ratelimit import (
    BUCKETS,
    Bucket,
    BucketBudget,
    OktaClock,
    RateLimitHeaders,
    bucket_for_path,
)

log = logging.getLogger(__name__)

USER_AGENT = f"okta-hris-operator/{__version__}"

# An Okta window is 60 s; a reset further away than this means a bogus header or clock, or a
# limit spent for longer than a sync should sit waiting: the request fails at once, naming when.
MAX_RATE_LIMIT_WAIT = 90.0
# Okta's clock (its Date) times every sync: since, until, the watermark. A Date further than this
# from our own clock means one of the two is wrong, and times taken from either could skip
# changes (ours wrong) or land in the future (Okta's wrong): refused rather than guessed.
MAX_CLOCK_SKEW = timedelta(days=1)
# An answer larger than this is refused, read incrementally so memory stays bounded: a page of
# 1000 members with large custom profiles is a few MiB.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Okta pages with opaque cursors; a listing longer than this (2 million users at 200 a page) is a
# next link that never ends, not an org.
MAX_PAGES = 10_000
# Pages in a row without an item, each with a next link: fresh cursors going nowhere.
MAX_EMPTY_PAGES = 3
# Waits at least this long are worth telling a person about (INFO, and ``on_wait``); shorter
# ones happen all the time in a busy window and are only logged at DEBUG.
NOTICEABLE_WAIT = 1.0
# Okta's own error text is hostile input: one line, no control characters, bounded.
MAX_OKTA_TEXT = 300

# Okta API tokens are printable ASCII without spaces. Checking up front also keeps the token out
# of error messages: h11 quotes the offending header value when it refuses to send one.
_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]+")

ModelT = TypeVar("ModelT", bound=BaseModel)
StructT = TypeVar("StructT", bound=msgspec.Struct)
ItemT = TypeVar("ItemT")
ParsedT = TypeVar("ParsedT")

WaitListener = Callable[[Bucket, float | None], None]
"""``on_wait(bucket, seconds)``: requests of ``bucket`` wait about ``seconds`` for Okta's
rate-limit window to reset (told again if the wait grows); ``on_wait(bucket, None)``: none of
them waits any more. Only waits of at least ``NOTICEABLE_WAIT`` seconds are told."""


class OktaNotFound(OktaApiError):
    """404: the user or group does not exist (any more)."""


@dataclass
class ClientStats:
    """What the client did; ``requests`` counts every HTTP request sent, retries included."""

    requests: int = 0
    rate_limited: int = 0
    """429 answers received (rate limit and concurrency limit)."""
    retries: int = 0
    waits_for_rate_limit: int = 0
    """Requests held back because their bucket's budget was down to the reserve."""
    rate_limit_waits: int = 0
    """Times the client paused for a rate-limit window to reset, before a 429 (the budget) or
    after one; requests that wait at the same time count once."""
    rate_limit_wait_seconds: float = 0.0
    """How long those pauses lasted in all: the time during which any request waited."""
    requests_by_bucket: dict[Bucket, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))


class _SswsAuth(httpx.Auth):
    """``Authorization: SSWS <token>`` on every request, with the token kept out of reprs."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token
        self._pattern = _secret_pattern(token.get_secret_value())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"SSWS {self._token.get_secret_value()}"
        yield request

    def redact(self, text: str) -> str:
        return self._pattern.sub("**********", text)

    def __repr__(self) -> str:
        return "_SswsAuth(token='**********')"


def _api_token_auth(token: str) -> _SswsAuth:
    # A token pasted into a Secret usually ends with a newline; Okta never has one.
    token = token.strip()
    if not _TOKEN_SHAPE.fullmatch(token):
        raise OktaUnauthorized(
            "the Okta API token is empty or contains spaces or non-ASCII characters"
        )
    return _SswsAuth(SecretStr(token))


async def collect(pages: AsyncIterator[list[ItemT]]) -> list[ItemT]:
    """Every item of a paged listing, in order."""
    items: list[ItemT] = []
    async for page in pages:
        items.extend(page)
    return items


def format_okta_datetime(value: datetime) -> str:
    """``YYYY-MM-DDTHH:mm:ss.SSSZ`` in UTC, the form Okta's query parameters expect."""
    if value.tzinfo is None:
        raise ValueError("Okta query times must be timezone-aware datetimes")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class OktaClient:
    """An Okta org's Management API, read through one ``httpx.AsyncClient``.

    ``rate_limit_reserve`` is how much of each rate-limit window the client leaves unspent: an
    ``int`` is a number of requests, a ``float`` in [0, 1) a fraction of ``X-Rate-Limit-Limit``
    (rounded up). The reserve leaves room for the other API clients of the org that share the
    bucket.

    ``on_wait`` is told when requests wait for a rate-limit window long enough for a person to
    notice (see ``WaitListener``); such waits are also logged at INFO with Okta's URL.

    ``timeout`` bounds each request as a whole (connecting, sending, and reading the whole
    answer), not each read: a server dripping a byte at a time cannot hold a sync.
    ``max_body_bytes`` and ``max_pages`` bound an answer and a listing.
    """

    def __init__(
        self,
        base_url: str,
        credential: str | OktaCredential,
        *,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        rate_limit_reserve: int | float = 0.05,
        on_wait: WaitListener | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_pages: int = MAX_PAGES,
    ) -> None:
        try:
            base = httpx.URL(base_url.rstrip("/"))
        except httpx.InvalidURL as exc:  # too long, or not a URL at all
            raise ValueError(f"the Okta base URL is not usable: {exc}") from None
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"Okta base URL {base_url!r} must be an absolute http(s) URL")
        if base.query or base.fragment or base.userinfo:
            raise ValueError("the Okta base URL must not carry credentials, a query or a fragment")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if timeout <= 0 or backoff_base <= 0 or backoff_max < backoff_base:
            raise ValueError("timeout and backoff_base must be positive, backoff_max >= base")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if max_body_bytes < 1 or max_pages < 1:
            raise ValueError("max_body_bytes and max_pages must be positive")
        if isinstance(rate_limit_reserve, bool) or not (
            (isinstance(rate_limit_reserve, int) and rate_limit_reserve >= 0)
            or (isinstance(rate_limit_reserve, float) and 0.0 <= rate_limit_reserve < 1.0)
        ):
            raise ValueError(
                "rate_limit_reserve must be a request count (int >= 0) "
                "or a fraction of the limit (float in [0, 1))"
            )

        self._base = base
        # What messages name as "where": the org's URL as configured, never a path or query.
        self._where = str(base)
        # A str is an SSWS API token, as tests and the sandbox's users pass it.
        self._auth: _SswsAuth | BearerAuth
        if isinstance(credential, OAuthServiceApp):
            tokens = AccessTokens(
                credential,
                base,
                timeout=timeout,
                max_retries=max_retries,
                backoff_base=backoff_base,
                backoff_max=backoff_max,
            )
            self._auth = BearerAuth(tokens, _secret_pattern)
        else:
            self._auth = _api_token_auth(
                credential.value if isinstance(credential, ApiToken) else credential
            )
        self._max_concurrency = max_concurrency
        self._max_retries = max_retries
        self._timeout = timeout
        self._max_body_bytes = max_body_bytes
        self._max_pages = max_pages
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._random = random.Random()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._clock = OktaClock()
        self._budgets: dict[Bucket, BucketBudget] = {
            bucket: BucketBudget(rate_limit_reserve, self._clock, MAX_RATE_LIMIT_WAIT)
            for bucket in BUCKETS
        }
        self._first_response_date: datetime | None = None
        self.stats = ClientStats()
        self.on_wait = on_wait
        """Told about rate-limit waits (see ``WaitListener``); may be set after construction."""
        self._waiting = 0  # requests waiting for a window, all buckets
        self._waiting_since = 0.0
        self._bucket_waiting: dict[Bucket, int] = dict.fromkeys(BUCKETS, 0)
        self._announced_until: dict[Bucket, float] = {}  # monotonic end of the wait told
        self._http = httpx.AsyncClient(
            auth=self._auth,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout),
            # A redirect from the API is an error (wrong domain, login page); following it could
            # also carry the token to another host.
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
        )

    def __repr__(self) -> str:
        return f"OktaClient(base_url={str(self._base)!r}, max_concurrency={self._max_concurrency})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def base_url(self) -> str:
        return str(self._base)

    @property
    def first_response_date(self) -> datetime | None:
        """Okta's ``Date`` of the first response this client received (the fetch start time).

        Okta's clock rather than ours, so a watermark taken from it cannot drift ahead of the
        ``lastUpdated`` values Okta compares it with.
        """
        return self._first_response_date

    def okta_now(self) -> datetime:
        """Okta's current time, estimated from the ``Date`` of its answers so far (our own clock
        before the first): the one clock a sync's since, until and watermark are taken from."""
        return datetime.fromtimestamp(self._clock.now(), UTC)

    # Listings ---------------------------------------------------------------------------------

    def list_users(
        self, *, search: str | None = None, filter: str | None = None, limit: int = 200
    ) -> AsyncIterator[list[OktaUser]]:
        """Pages of users. A plain listing omits DEPROVISIONED users; ``search`` includes them."""
        params = {"search": search, "filter": filter, "limit": limit}
        return self._pages("/api/v1/users", params, _ModelPages(OktaUser), _user_key)

    def list_user_fields(
        self, *, search: str | None = None, filter: str | None = None, limit: int = 200
    ) -> AsyncIterator[list[OktaUserFields]]:
        """Pages of users as ``list_users`` has them, decoded into only what a sync keeps."""
        params = {"search": search, "filter": filter, "limit": limit}
        return self._pages("/api/v1/users", params, _USER_FIELD_PAGES, _user_key)

    def list_groups(
        self,
        *,
        filter: str | None = None,
        q: str | None = None,
        limit: int = 200,
        expand_stats: bool = False,
    ) -> AsyncIterator[list[OktaGroup]]:
        """Pages of groups, e.g. ``filter='type eq "OKTA_GROUP"'``.

        ``q`` is Okta's name-prefix query, which Okta does not page (at most 300 results).
        """
        params = {
            "filter": filter,
            "q": q,
            "limit": limit,
            "expand": "stats" if expand_stats else None,
        }
        return self._pages("/api/v1/groups", params, _ModelPages(OktaGroup), _group_key)

    def list_group_members(
        self, group_id: str, *, limit: int = 1000
    ) -> AsyncIterator[list[OktaUser]]:
        """Pages of the users in a group, whole."""
        path = _members_path(group_id)
        return self._pages(path, {"limit": limit}, _ModelPages(OktaUser), _user_key)

    async def list_group_member_ids(
        self, group_id: str, *, limit: int = 1000
    ) -> AsyncIterator[list[str]]:
        """Pages of the ids of the users in a group: Okta answers with whole user objects (a
        few MiB a page), of which only each ``id`` is decoded."""
        path = _members_path(group_id)
        async for page in self._pages(path, {"limit": limit}, _MEMBER_PAGES, _user_key):
            yield [member.id for member in page]

    def list_log_events(
        self,
        *,
        since: datetime,
        until: datetime,
        filter: str | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[list[LogEvent]]:
        """Pages of System Log events published in [``since``, ``until``), oldest first.

        A bounded query, which ends at the first page without a ``next`` link (without
        ``until`` Okta would answer in polling mode, where every page has one).
        """
        params = {
            "since": format_okta_datetime(since),
            "until": format_okta_datetime(until),
            "filter": filter,
            "limit": limit,
        }
        return self._pages("/api/v1/logs", params, _ModelPages(LogEvent), _event_key)

    async def get_user(self, user_id: str) -> OktaUser:
        """One user by id or login; raises :class:`OktaNotFound` when there is none."""
        path = f"/api/v1/users/{quote(user_id, safe='')}"
        data, _ = await self._get_json(self._url(path, {}), _json_loads)
        with self._secrets_kept_out():
            return _parse(OktaUser, data, self._redact(path), 0)

    # Paging -----------------------------------------------------------------------------------

    def _url(self, path: str, params: dict[str, Any]) -> httpx.URL:
        query = {key: str(value) for key, value in params.items() if value is not None}
        return httpx.URL(str(self._base) + path, params=query)

    async def _pages(
        self,
        path: str,
        params: dict[str, Any],
        reader: _PageReader[ItemT],
        key: Callable[[ItemT], str],
    ) -> AsyncIterator[list[ItemT]]:
        """Every page of a listing, following next links while they lead somewhere new.

        Okta's cursors never repeat an item or a cursor: a listing that does (an old cursor with
        a cache-buster, fresh cursors over the same items or over nothing) is inconsistent or
        endless and fails at once, rather than burning the org's rate limit or making a snapshot
        of it.
        """
        start = self._url(path, params)
        url: httpx.URL | None = start
        cursors = {_cursor(start)}
        first_seen: dict[str, int] = {}  # item key -> the page it came in
        empty_in_a_row = 0
        number = 0
        while url is not None:
            number += 1
            page, response = await self._get_json(url, functools.partial(reader.read, path=path))
            with self._secrets_kept_out():
                for item in page:
                    item_key = key(item)
                    if item_key in first_seen:
                        first = first_seen[item_key]
                        pages = (
                            f"page {first}" if first == number else f"pages {first} and {number}"
                        )
                        raise OktaApiError(
                            f"Okta listed {reader.kind} {_one_line(item_key, 64)} twice in "
                            f"GET {path} ({pages}): the listing is inconsistent and may have "
                            "skipped others too"
                        )
                    first_seen[item_key] = number
                empty_in_a_row = 0 if page else empty_in_a_row + 1
                url = self._next_url(response, path, url)
                # The answer's body (a MiB for a page of members) is not kept while the next
                # page waits for the rate limit: at 2,000 groups, listings parked between
                # pages held 50 MB of bodies read and decoded.
                del response
                if url is not None:
                    if _cursor(url) in cursors:
                        raise OktaApiError(
                            f"Okta's next link for GET {path} points back to a page read"
                        )
                    if empty_in_a_row >= MAX_EMPTY_PAGES:
                        raise OktaApiError(
                            f"Okta's listing GET {path} sent {empty_in_a_row} empty pages in a "
                            "row, each with a next link; stopped (a next link that never ends)"
                        )
                    if number >= self._max_pages:
                        raise OktaApiError(
                            f"Okta's listing GET {path} went on past {self._max_pages:,} pages; "
                            "stopped (a next link that never ends)"
                        )
                    cursors.add(_cursor(url))
            if page:
                yield page
            del page

    def _next_url(
        self, response: httpx.Response, path: str, current: httpx.URL
    ) -> httpx.URL | None:
        try:
            link = next_link(response)
        except ValueError as exc:
            raise OktaApiError(f"Okta answered GET {path} with {exc}") from None
        if link is None:
            return None
        url = httpx.URL(link)
        if not same_origin(url, self._base):
            scheme, host, port = origin(url)
            raise OktaApiError(
                f"Okta's next link for GET {path} points to another origin "
                f"({_one_line(f'{scheme}://{host}:{port}', 100)}); refusing to send the API "
                "token there"
            )
        if url.path != current.path:
            raise OktaApiError(
                f"Okta's next link for GET {path} points to another path; not following it"
            )
        return url

    # One request, with retries ----------------------------------------------------------------

    async def _get_json(
        self, url: httpx.URL, parse: Callable[[bytes], ParsedT]
    ) -> tuple[ParsedT, httpx.Response]:
        """GET ``url`` until it answers 2xx with JSON, retrying what can be retried; the body
        as ``parse`` reads it (ValueError: not JSON, retried). Whatever it raises has the token
        redacted."""
        with self._secrets_kept_out():
            return await self._get_json_retrying(url, parse)

    async def _get_json_retrying(
        self, url: httpx.URL, parse: Callable[[bytes], ParsedT]
    ) -> tuple[ParsedT, httpx.Response]:
        path = self._redact(self._api_path(url))
        bucket = bucket_for_path(path)
        budget = self._budgets[bucket]
        problem = "no attempt made"
        last_error: Exception | None = None
        for attempt in range(self._max_retries + 1):
            if attempt:
                self.stats.retries += 1
            if await self._acquire(budget, bucket, path):
                self.stats.waits_for_rate_limit += 1
            response, error, date, received = await self._attempt("GET", url, None, budget, bucket)
            self._check_clock(date, path)

            window_wait = False
            if response is None:
                assert error is not None
                last_error = error
                problem = self._transport_problem(error)
                delay = self._backoff(attempt)
            else:
                status = response.status_code
                if (status < 300 or 400 <= status < 500) and status != 429 and _is_html(response):
                    # A login page, a parked domain, a proxy: nothing an Okta org's API says.
                    # (A redirect's body is often HTML too; its Location says more.)
                    raise self._html_answer(status)
                if 200 <= status < 300:
                    try:
                        return parse(response.content), response
                    except ValueError:
                        problem = f"{status} with a body that is not JSON"
                        delay = self._backoff(attempt)
                elif status == 429:
                    self.stats.rate_limited += 1
                    problem = f"429 {self._error_summary(response)}"
                    delay, window_wait = self._rate_limited_delay(
                        response, budget, date, received, attempt
                    )
                elif status >= 500 or status == 408:
                    problem = f"{status} {self._error_summary(response)}"
                    delay = self._backoff(attempt)
                else:
                    raise self._client_error(response, f"GET {path}")
            if attempt < self._max_retries:
                log.warning(
                    "GET %s at %s failed (%s); retry %d/%d in %.2fs",
                    path,
                    self._where,
                    problem,
                    attempt + 1,
                    self._max_retries,
                    delay,
                )
                if window_wait:
                    self._wait_begins(bucket)
                    self._announce_wait(bucket, delay, path, "was answered 429")
                try:
                    await asyncio.sleep(delay)
                finally:
                    if window_wait:
                        self._wait_ends(bucket)
        attempts = self._max_retries + 1
        if response is None and isinstance(
            last_error, httpx.ConnectError | httpx.TimeoutException | TimeoutError
        ):
            raise OktaUnavailable(
                f"cannot reach {self._where}: {problem} (GET {path}, {attempts} attempts)"
            ) from last_error
        raise OktaUnavailable(
            f"Okta at {self._where} kept failing GET {path}: {problem} (after {attempts} attempts)"
        ) from last_error

    async def _attempt(
        self, method: str, url: httpx.URL, json: Any, budget: BucketBudget, bucket: Bucket
    ) -> tuple[httpx.Response | None, Exception | None, datetime | None, float]:
        """One request under the concurrency cap, counted, its answer's rate-limit headers
        given back to the budget: (the answer or None, the transport error, Okta's Date, when
        it was received)."""
        response: httpx.Response | None = None
        error: Exception | None = None
        try:
            async with self._semaphore:
                self.stats.requests += 1
                self.stats.requests_by_bucket[bucket] += 1
                try:
                    response = await self._exchange(method, url, json=json)
                except (httpx.TransportError, httpx.DecodingError, TimeoutError) as exc:
                    error = exc
        finally:
            received = time.monotonic()
            date = self._observe_date(response, received)
            # A 429's headers describe a spent window; _rate_limited_delay records that.
            budget.release(
                RateLimitHeaders.from_headers(response.headers)
                if response is not None and response.status_code != 429
                else None
            )
        return response, error, date, received

    async def _exchange(self, method: str, url: httpx.URL, json: Any = None) -> httpx.Response:
        """One request and its whole answer within ``timeout``, the body read incrementally up
        to ``max_body_bytes`` (decoded: a compressed bomb stops there too).

        Raises TimeoutError past the deadline, OktaApiError for a body too large (not retried:
        it would be as large again).
        """
        call = f"{method} {self._api_path(url)}"
        async with asyncio.timeout(self._timeout):
            request = self._http.build_request(method, url, json=json)
            try:
                response = await self._http.send(request, stream=True)
            except (UnicodeError, httpx.InvalidURL):
                # httpx reads a redirect's Location even when it does not follow it: an
                # invalid host there (an IDNA label ending in "-") raises before we see it.
                raise WrongOktaUrl(
                    f"{self._where} answered {call} with a redirect to an invalid URL, not "
                    "Okta's API (redirects are not followed): is the subdomain right?"
                ) from None
            try:
                encoding = unreadable_encoding(response)
                if encoding is not None:
                    raise OktaApiError(
                        f"Okta's answer to {call} is compressed as {encoding!r}: only one gzip "
                        "or deflate layer is read (a stacked one could decode to gigabytes)"
                    )
                body = await self._read_body(response, call)
            finally:
                await response.aclose()
        kept = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=kept,
            content=body,
            request=response.request,
            extensions={k: v for k, v in response.extensions.items() if k == "reason_phrase"},
        )

    async def _read_body(self, response: httpx.Response, call: str) -> bytes:
        declared = response.headers.get("content-length", "")
        too_large = OktaApiError(
            f"Okta's answer to {self._redact(call)} is larger than "
            f"{self._max_body_bytes / 2**20:g} MiB; refusing it"
        )
        if declared.isdigit() and len(declared) < 20 and int(declared) > self._max_body_bytes:
            raise too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_body_bytes:
                raise too_large
        return bytes(body)

    # Rate-limit waits ---------------------------------------------------------------------

    async def _acquire(self, budget: BucketBudget, bucket: Bucket, path: str) -> bool:
        """The budget's ``acquire``, with its waits counted, logged and told to ``on_wait``."""
        waiting = False

        def before_wait(seconds: float) -> None:
            nonlocal waiting
            if not waiting:
                waiting = True
                self._wait_begins(bucket)
            self._announce_wait(bucket, seconds, path, "would exceed it")

        try:
            return await budget.acquire(before_wait)
        finally:
            if waiting:
                self._wait_ends(bucket)

    def _wait_begins(self, bucket: Bucket) -> None:
        if self._waiting == 0:
            self.stats.rate_limit_waits += 1
            self._waiting_since = time.monotonic()
        self._waiting += 1
        self._bucket_waiting[bucket] += 1

    def _announce_wait(self, bucket: Bucket, seconds: float, path: str, when: str) -> None:
        """Log a wait (INFO when noticeable) and tell ``on_wait``, once per bucket and window:
        requests that wait together for the same reset are one wait to a person."""
        until = time.monotonic() + seconds
        told = self._announced_until.get(bucket)
        if seconds < NOTICEABLE_WAIT:
            if told is None:
                log.debug("GET %s waits %.2fs for the %s rate-limit window", path, seconds, bucket)
            return
        if told is not None and until <= told + NOTICEABLE_WAIT:
            return
        self._announced_until[bucket] = until
        log.info(
            "waiting %.0f s for Okta's %s rate limit at %s (GET %s %s)",
            seconds,
            bucket,
            self._where,
            path,
            when,
        )
        if self.on_wait is not None:
            self.on_wait(bucket, seconds)

    def _wait_ends(self, bucket: Bucket) -> None:
        self._waiting -= 1
        self._bucket_waiting[bucket] -= 1
        if self._waiting == 0:
            self.stats.rate_limit_wait_seconds += time.monotonic() - self._waiting_since
        told = (
            self._announced_until.pop(bucket, None) if self._bucket_waiting[bucket] == 0 else None
        )
        if told is not None and self.on_wait is not None:
            self.on_wait(bucket, None)

    def _api_path(self, url: httpx.URL) -> str:
        """The API path of ``url`` (for a base URL with a path, the part after it), no query."""
        base_path = self._base.path.rstrip("/")
        path = url.path
        return path[len(base_path) :] if base_path and path.startswith(base_path) else path

    def _observe_date(self, response: httpx.Response | None, received: float) -> datetime | None:
        """The answer's ``Date``; only a plausible one (see ``MAX_CLOCK_SKEW``) sets the clock."""
        if response is None:
            return None
        date = _parse_http_date(response.headers.get("date"))
        if date is not None and _clock_skew(date) <= MAX_CLOCK_SKEW:
            self._clock.observe(date.timestamp(), received)
            if self._first_response_date is None:
                self._first_response_date = date
        return date

    def _check_clock(self, date: datetime | None, path: str) -> None:
        """Refuse an answer whose ``Date`` is implausibly far from our clock: a watermark from
        either clock could then skip changes or lie in the future (and stay there)."""
        if date is None or _clock_skew(date) <= MAX_CLOCK_SKEW:
            return
        ahead = date > datetime.now(UTC)
        raise OktaApiError(
            f"Okta's clock (the Date of its answer to GET {path}, {date:%Y-%m-%d %H:%M} UTC) is "
            f"{_span(_clock_skew(date))} {'ahead of' if ahead else 'behind'} this machine's: one "
            "of them is wrong, and sync times taken from either could skip changes; check this "
            "machine's time"
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self._backoff_max, self._backoff_base * 2**attempt)
        return self._random.uniform(0.0, ceiling)

    def _rate_limited_delay(
        self,
        response: httpx.Response,
        budget: BucketBudget,
        date: datetime | None,
        received: float,
        attempt: int,
    ) -> tuple[float, bool]:
        """How long to wait after a 429, and whether that is a wait for the window to reset."""
        headers = RateLimitHeaders.from_headers(response.headers)
        if headers is None or headers.limit == 0:
            # Limit 0 is Okta's concurrency limit (too many requests in flight for the org), not
            # a spent window: a short backoff is enough.
            return self._backoff(attempt), False
        budget.exhaust(headers.reset)
        # Reset minus this response's own Date, rather than the clock estimate: should the
        # estimate be off, waiting as Okta itself says still ends after the reset.
        okta_now = date.timestamp() + (time.monotonic() - received) if date else self._clock.now()
        until_reset = max(headers.reset - okta_now, 0.0)
        if until_reset > MAX_RATE_LIMIT_WAIT:
            # Waiting would hold the sync (and, capped, be answered 429 again, every retry).
            raise OktaUnavailable(
                f"Okta's rate limit at {self._where} is spent until {_utc_text(headers.reset)} "
                f"({until_reset:,.0f} s from now), longer than a sync waits "
                f"({MAX_RATE_LIMIT_WAIT:.0f} s): try again after then"
            )
        return until_reset + self._backoff(attempt), True

    def _transport_problem(self, error: Exception) -> str:
        if isinstance(error, TimeoutError):
            return f"no complete answer within {self._timeout:g} s"
        if isinstance(error, httpx.TimeoutException):
            timeout = self._http.timeout.read or self._http.timeout.connect
            within = f" within {timeout:g} s" if timeout else ""
            return f"no answer{within} ({type(error).__name__})"
        return _one_line(self._redact(f"{type(error).__name__}: {error}".rstrip(": ")))

    def _error_summary(self, response: httpx.Response) -> str:
        """Okta's ``errorCode errorSummary`` (plus causes), or the HTTP reason phrase."""
        try:
            body = _json_body(response)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("errorSummary"):
            return _one_line(response.reason_phrase) or "(no error body)"
        summary = f"{body.get('errorCode', '')} {body['errorSummary']}".strip()
        causes = body.get("errorCauses")
        if isinstance(causes, list):
            details = [
                str(cause["errorSummary"])
                for cause in causes
                if isinstance(cause, dict) and cause.get("errorSummary")
            ]
            if details:
                summary += f" ({'; '.join(details)})"
        return _one_line(self._redact(summary))

    def _client_error(self, response: httpx.Response, call: str) -> OktaError:
        """The error of a non-2xx answer that retrying cannot help (``call``: ``GET /path``)."""
        status = response.status_code
        if 300 <= status < 400:
            return WrongOktaUrl(
                f"{self._where} answered {call} with a redirect ({status}) to "
                f"{self._redirect_target(response)}, not Okta's API (redirects are not "
                "followed): is the subdomain right?"
            )
        summary = self._error_summary(response)
        if status == 401:
            return OktaUnauthorized(f"Okta rejected the API token: 401 {summary} ({call})")
        if status == 403:
            return OktaForbidden(
                f"Okta refused {call}: 403 {summary}; the token's admin role may not allow it"
            )
        if status == 404:
            if not _is_okta_error(response):
                # Okta's API answers a 404 with its error body (E0000007 for an unknown user
                # or group, E0000022 for an unknown endpoint); anything else is not Okta's API.
                return WrongOktaUrl(f"{self._where} answered 404: is the subdomain right?")
            return OktaNotFound(f"Okta answered {call} with 404 {summary}")
        return OktaApiError(f"Okta answered {call} with {status} {summary}")

    def _html_answer(self, status: int) -> WrongOktaUrl:
        if status == 404:
            return WrongOktaUrl(f"{self._where} answered 404: is the subdomain right?")
        answered = "answered" if 200 <= status < 300 else f"answered {status}"
        return WrongOktaUrl(
            f"{self._where} {answered} with an HTML page, not Okta's API: is the subdomain right?"
        )

    def _redirect_target(self, response: httpx.Response) -> str:
        """Where a redirect points, as far as a message may say: the path on Okta's own origin,
        only ``scheme://host`` of another (a path or query may echo the token)."""
        try:
            location = response.request.url.join(response.headers.get("location", ""))
        except httpx.InvalidURL:
            return "an invalid URL"
        if not location.host:
            return "nowhere"
        if same_origin(location, self._base):
            return _one_line(self._redact(location.path), 100)
        scheme, host, port = origin(location)
        default = {"http": 80, "https": 443}.get(scheme)
        shown = f"{scheme}://{host}" + (f":{port}" if port != default else "")
        return _one_line(self._redact(shown), 100)

    def _redact(self, text: str) -> str:
        # Whatever a server or a library puts in a message, the token must not reach a log: as
        # sent, URL-encoded, base64-encoded, in any case (hosts come back lowercased).
        return self._auth.redact(text)

    @contextlib.contextmanager
    def _secrets_kept_out(self) -> Iterator[None]:
        """Redact the token from an OktaError's message on its way out, wherever its text came
        from (a next link, a user id, a server's answer)."""
        try:
            yield
        except OktaError as error:
            error.args = tuple(
                self._redact(arg) if isinstance(arg, str) else arg for arg in error.args
            )
            raise

    # Management calls (H4: the Event Hooks API) -----------------------------------------------

    async def send(
        self, method: str, path: str, json: Any = None, *, idempotent: bool | None = None
    ) -> Any:
        """One management call that is not a listing (``POST /api/v1/eventHooks``, ``PUT``,
        ``DELETE``, a ``lifecycle`` action): Okta's JSON answer, or None for an empty one (204).

        The same token, rate-limit budget, concurrency cap and error mapping as the reads. A 429
        is always retried (Okta refused the call, it applied nothing); a 5xx or a lost answer
        only when the call is ``idempotent`` (default: PUT and DELETE): a create Okta may have
        applied before its answer was lost is not sent twice, the caller looks first.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE")
        with self._secrets_kept_out():
            return await self._send_retrying(method, path, json, idempotent)

    async def _send_retrying(self, method: str, path: str, json: Any, idempotent: bool) -> Any:
        call = f"{method} {path}"
        url = self._url(path, {})
        bucket = bucket_for_path(path)
        budget = self._budgets[bucket]
        for attempt in range(self._max_retries + 1):
            await self._acquire(budget, bucket, path)
            response, error, date, _ = await self._attempt(method, url, json, budget, bucket)
            problem = self._transport_problem(error) if error is not None else ""
            retry = idempotent
            if response is not None:
                status = response.status_code
                if 200 <= status < 300 and not _is_html(response):
                    if not response.content.strip():
                        return None
                    try:
                        return _json_body(response)
                    except ValueError:
                        raise OktaApiError(
                            f"Okta answered {call} with a body that is not JSON"
                        ) from None
                if status == 429:
                    self.stats.rate_limited += 1
                    retry = True
                elif _is_html(response):
                    raise self._html_answer(status)
                elif status < 500:
                    raise self._client_error(response, call)
                problem = f"{status} {self._error_summary(response)}"
            if not retry or attempt == self._max_retries:
                break
            self.stats.retries += 1
            if response is not None and response.status_code == 429:
                delay, _ = self._rate_limited_delay(
                    response, budget, date, time.monotonic(), attempt
                )
            else:
                delay = self._backoff(attempt)
            log.warning("%s at %s failed (%s); retry in %.2fs", call, self._where, problem, delay)
            await asyncio.sleep(delay)
        raise OktaUnavailable(f"Okta at {self._where} failed {call}: {problem}")


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return "html" in content_type or response.content[:512].lstrip().startswith(b"<")


def _json_body(response: httpx.Response) -> Any:
    """The answer's JSON; ValueError for anything else."""
    return _json_loads(response.content)


def _json_loads(body: bytes) -> Any:
    """``body`` as JSON, read as leniently as the standard library does (NaN, huge numbers,
    lone surrogates); ValueError for anything else, also for nesting too deep to decode
    (``[[[[...`` a hundred thousand deep)."""
    try:
        return json.loads(body, parse_int=_okta_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_list(body: bytes, path: str) -> list[Any]:
    data = _json_loads(body)
    if not isinstance(data, list):
        raise OktaApiError(f"Okta answered GET {path} with {type(data).__name__}, not a list")
    return data


def _parse(model: type[ModelT], item: Any, path: str, index: int) -> ModelT:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        problems = validation_problems(exc, "item")
        raise OktaApiError(
            f"Okta answered GET {path} with an unexpected {model.__name__} "
            f"(item {index}): {problems}"
        ) from None


class _PageReader(Protocol[ItemT]):
    """How the items of a listing are read from a page's bytes, and what messages call one."""

    kind: str

    def read(self, body: bytes, path: str) -> list[ItemT]:
        """The page's items; ValueError when it is not JSON (retried), OktaApiError when it is
        not a list of such items."""
        ...


class _ModelPages(Generic[ModelT]):
    """Items validated by a pydantic model, every field kept: the small listings (groups,
    System Log events) and whole users."""

    def __init__(self, model: type[ModelT]) -> None:
        self.model = model
        self.kind = model.__name__

    def read(self, body: bytes, path: str) -> list[ModelT]:
        items = _json_list(body, path)
        return [_parse(self.model, item, path, index) for index, item in enumerate(items)]


class _StructPages(Generic[StructT]):
    """Items decoded by msgspec straight from the bytes into a struct of the fields a sync
    keeps: every other field is skipped without building it, and no model is validated."""

    def __init__(self, struct: type[StructT], kind: str) -> None:
        self.kind = kind
        self._type = list[struct]  # type: ignore[valid-type]
        self._decoder = msgspec.json.Decoder(self._type)

    def read(self, body: bytes, path: str) -> list[StructT]:
        try:
            return cast(list[StructT], self._decoder.decode(body))
        except (msgspec.DecodeError, RecursionError):
            # msgspec refuses what the standard library reads: NaN, a number of 5,000 digits
            # or beyond a double's range, a lone surrogate, deep nesting, anywhere in the page.
            # One user's absurd value must not fail everyone's sync (the mapping cleans it), so
            # such a page is read the lenient way; one of the wrong shape is reported as such.
            pass
        items = _json_list(body, path)
        try:
            return cast(list[StructT], msgspec.convert(items, self._type))
        except msgspec.ValidationError as exc:
            # msgspec names where and what it expected (``$[3].lastUpdated``), not the values.
            raise OktaApiError(
                f"Okta answered GET {path} with an unexpected {self.kind}: {_one_line(str(exc))}"
            ) from None


_USER_FIELD_PAGES = _StructPages(OktaUserFields, "OktaUser")
_MEMBER_PAGES = _StructPages(OktaMember, "OktaUser")


def _members_path(group_id: str) -> str:
    return f"/api/v1/groups/{quote(group_id, safe='')}/users"


def _okta_int(text: str) -> int | None:
    # Python refuses to read an integer of more than 4,300 digits, which would make the whole
    # page "not JSON": one user's absurd profile number must not fail everyone's sync, so it
    # is read as null (no attribute we keep is such a number).
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else None


def _is_okta_error(response: httpx.Response) -> bool:
    """Whether the body is Okta's error object (``errorCode`` ``E0000...``)."""
    try:
        body = _json_body(response)
    except ValueError:
        return False
    code = body.get("errorCode") if isinstance(body, dict) else None
    return isinstance(code, str) and code.startswith("E0")


def _user_key(user: OktaUser | OktaUserFields | OktaMember) -> str:
    return user.id


def _group_key(group: OktaGroup) -> str:
    return group.id


def _event_key(event: LogEvent) -> str:
    return event.uuid


def _cursor(url: httpx.URL) -> str:
    """What identifies a page: Okta's ``after`` cursor (other parameters, such as a
    cache-buster, do not make an old cursor new), or the whole URL of a link without one."""
    after = url.params.get("after")
    return f"after={after}" if after is not None else str(url)


def _clock_skew(date: datetime) -> timedelta:
    return abs(date - datetime.now(UTC))


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.days:,} days"
    return f"{delta.total_seconds() / 3600:.0f} hours"


def _utc_text(epoch: int) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "a time out of range"


def _secret_pattern(secret: str) -> re.Pattern[str]:
    """Every form of ``secret`` a server may echo: as is, URL-encoded, and base64-encoded
    (standard and URL-safe alphabets) at each of the three byte alignments, so that it is found
    inside a longer encoded value such as ``SSWS <token>`` too."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        # Only the characters that encode the secret's bits alone.
        start, end = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
        forms.add(encoded[start:end])
        forms.add(encoded[start:end].translate(str.maketrans("+/", "-_")))
    # A short encoded fragment would match ordinary text; real tokens are 40-odd characters.
    alternatives = sorted(
        (form for form in forms if form == secret or len(form) >= 8), key=len, reverse=True
    )
    return re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)


def _one_line(text: str, limit: int = MAX_OKTA_TEXT) -> str:
    """Text from a server as one printable line of at most ``limit`` characters."""
    return one_line(text, limit)

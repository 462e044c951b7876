"""The HTTP endpoint Okta's Event Hooks call (SPEC §11): ``/hooks/okta/<namespace>/<name>``.

``GET`` with ``X-Okta-Verification-Challenge`` is Okta's one-time verification: the value is
echoed back as JSON. ``POST`` is a delivery: the Authorization header is compared in constant
time with the integration's Secret value before the body is read, the body is bounded, parsed
(``domain.events.parse_hook_delivery``) and handed to the ``HookTarget``; the answer is 200 at
once, since Okta gives up after 3 seconds and the sync runs off the request path. A target whose
queue is full gets 503 with ``Retry-After``: Okta retries a 5xx once, and the periodic sync
heals whatever is still missed.

Nothing of the Authorization value, nor of an event's payload, is ever logged; event ids are
logged at DEBUG only. The port is reachable by whoever can reach the Ingress, so a client gets
``REQUEST_DEADLINE_SECONDS`` to send a whole request (head and body: Okta sends one in
milliseconds) before its connection is closed, malformed HTTP is one line at DEBUG rather than
aiohttp's traceback, and refusals are logged at most once a minute per integration and reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from okta_hris.domain.events import HookEvent, parse_hook_delivery
from okta_hris.errors import ConfigError
from okta_hris.resource.spec import NAMESPACE_PATTERN, OBJECT_NAME_PATTERN

logger = logging.getLogger(__name__)

HOOK_PATH = "/hooks/okta/{namespace}/{name}"
VERIFICATION_HEADER = "X-Okta-Verification-Challenge"
DEFAULT_HOOKS_ADDRESS = "0.0.0.0:8081"
# Okta's deliveries batch a few hundred System Log events of a few KiB each.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
# Okta's challenge is a short random token; anything longer is not Okta.
MAX_CHALLENGE_LENGTH = 512
_CHALLENGE = re.compile(r"[\x21-\x7e]+")
# Seconds a refused delivery is asked to wait: about one debounce and targeted sync.
RETRY_AFTER_SECONDS = 5
# Okta gives up on a delivery after 3 s: a client still sending a request after this long (a
# slow header or body, "slowloris") is not Okta, and its connection is closed.
REQUEST_DEADLINE_SECONDS = 10.0
# How often a refusal of one kind is logged per integration: anyone may send bad requests.
REFUSAL_LOG_INTERVAL_SECONDS = 60.0

_NAMESPACE = re.compile(NAMESPACE_PATTERN)
_NAME = re.compile(OBJECT_NAME_PATTERN)
_ADDRESS = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})"
)


class HookTarget(Protocol):
    """Where the receiver hands deliveries: the operator's integrations, or ``sync --watch``."""

    async def authorization(self, integration: str) -> str | None:
        """The Authorization value expected for integration "ns/name"; None: no such
        integration or its hooks are off (answer 404)."""

    def offer(self, integration: str, events: Sequence[HookEvent]) -> bool:
        """Hand over a delivery's events; False when that integration's queue is full
        (answer 503 with Retry-After, Okta retries)."""


def parse_hooks_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of ``HRIS_HOOKS_ADDRESS``: ``0.0.0.0:8081``, ``[::]:8081``,
    ``127.0.0.1:0`` (any free port). Raises ``ConfigError`` with one line."""
    match = _ADDRESS.fullmatch(text.strip())
    port = int(match["port"]) if match else -1
    if match is None or not 0 <= port <= 65535:
        shown = text if len(text) <= 80 and text.isprintable() else "the value"
        raise ConfigError(
            f"HRIS_HOOKS_ADDRESS: {shown!r} is not HOST:PORT like 0.0.0.0:8081 or [::]:8081"
        )
    return match["ipv6"] or match["host"], port


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class _OneLine(logging.Filter):
    """aiohttp logs a malformed request (a header line too long, a client gone mid-body) with
    its traceback at ERROR: from a port anyone may reach, that is one line at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = "Refused a malformed event hook request: %s"
            record.args = (type(error).__name__,)
            record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logger.isEnabledFor(logging.DEBUG)


_protocol_logger = logging.getLogger(f"{__name__}.http")
_protocol_logger.addFilter(_OneLine())


class _Deadline(asyncio.Protocol):
    """An aiohttp connection that must deliver each request within ``seconds``: from when it
    opens, or from the last answer on it, until its handler has read the body. aiohttp itself
    waits for ever for a request head sent a byte at a time."""

    def __init__(self, inner: Any, seconds: float, open_connections: set[_Deadline]) -> None:
        self._inner = inner
        self._seconds = seconds
        self._open = open_connections
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    def arm(self) -> None:
        self.disarm()
        self._timer = asyncio.get_running_loop().call_later(self._seconds, self._expire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._open.add(self)
        _connections[transport] = self
        self.arm()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        self._open.discard(self)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


# A request's connection, found from its transport by the middleware that re-arms the deadline.
_connections: weakref.WeakKeyDictionary[asyncio.BaseTransport, _Deadline] = (
    weakref.WeakKeyDictionary()
)


@web.middleware
async def _rearm_deadline(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The head has arrived: the body gets what is left of the deadline (the handler reads it
    within it); once answered, the next request on the connection gets a deadline of its own."""
    connection = _connections.get(request.transport) if request.transport else None
    try:
        return await handler(request)
    finally:
        if connection is not None:
            connection.arm()


class EventHookReceiver:
    """The event hook endpoint, served from the caller's event loop."""

    def __init__(
        self,
        target: HookTarget,
        host: str,
        port: int,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_refused(integration, reason)`` is told of each delivery refused before the
        target saw it: ``unauthorized`` (401) or ``malformed`` (400, 413), for metrics."""
        self._on_refused = on_refused
        self._target = target
        self._host = host
        self._port = port
        self._max_body_bytes = max_body_bytes
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._open: set[_Deadline] = set()
        self._refusals: dict[tuple[str, str], tuple[float, int]] = {}

    async def start(self) -> None:
        app = web.Application(client_max_size=self._max_body_bytes, middlewares=[_rearm_deadline])
        app.router.add_get(HOOK_PATH, self._verify, allow_head=False)
        app.router.add_post(HOOK_PATH, self._deliver)
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=1.0,
            logger=_protocol_logger,
            # An idle keep-alive connection is closed soon: Okta opens new ones as it needs.
            keepalive_timeout=REQUEST_DEADLINE_SECONDS,
        )
        await runner.setup()
        server = runner.server
        assert server is not None

        def connection() -> _Deadline:
            return _Deadline(server(), REQUEST_DEADLINE_SECONDS, self._open)

        try:
            self._server = await asyncio.get_running_loop().create_server(
                connection, self._host, self._port, reuse_address=True
            )
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot listen for Okta event hooks on {self._host}:{self._port}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        self._runner = runner

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._open):
                connection._expire()
            await self._server.wait_closed()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        """The port actually bound (port 0 picks a free one)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the event hook receiver is not running")
        return int(self._server.sockets[0].getsockname()[1])

    async def _integration(self, request: web.Request) -> tuple[str, str] | None:
        """The integration key and its Authorization value, or None (answer 404)."""
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        if not _NAMESPACE.fullmatch(namespace) or not _NAME.fullmatch(name) or len(name) > 253:
            return None
        integration = f"{namespace}/{name}"
        expected = await self._target.authorization(integration)
        return None if expected is None else (integration, expected)

    async def _verify(self, request: web.Request) -> web.Response:
        known = await self._integration(request)
        if known is None:
            return _error(404, "no integration with event hooks enabled at this path")
        challenge = request.headers.get(VERIFICATION_HEADER)
        if (
            challenge is None
            or len(challenge) > MAX_CHALLENGE_LENGTH
            or not _CHALLENGE.fullmatch(challenge)
        ):
            return _error(400, f"a verification request needs a valid {VERIFICATION_HEADER}")
        logger.info("Answered Okta's event hook verification for %s", known[0])
        return web.json_response({"verification": challenge})

    def _refused(self, integration: str, reason: str, message: str) -> None:
        """A delivery refused before the target saw it: told to ``on_refused``, and logged."""
        if self._on_refused is not None:
            self._on_refused(integration, reason)
        self._log_refusal(integration, reason, message)

    def _log_refusal(self, integration: str, reason: str, message: str) -> None:
        """At most once a minute per integration and reason: anyone may send bad requests."""
        now = time.monotonic()
        logged_at, unlogged = self._refusals.get((integration, reason), (-1e9, 0))
        if now - logged_at < REFUSAL_LOG_INTERVAL_SECONDS:
            self._refusals[(integration, reason)] = (logged_at, unlogged + 1)
            return
        self._refusals[(integration, reason)] = (now, 0)
        more = f" ({unlogged} more since the last such line)" if unlogged else ""
        logger.warning("Refused an event hook delivery for %s: %s%s", integration, message, more)

    async def _deliver(self, request: web.Request) -> web.Response:
        known = await self._integration(request)
        if known is None:
            return _error(404, "no integration with event hooks enabled at this path")
        integration, expected = known
        # Bytes as they came: a header byte that is not UTF-8 arrives as a lone surrogate.
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected.encode()):
            self._refused(
                integration, "unauthorized", f"wrong or missing Authorization ({request.remote})"
            )
            return _error(401, "wrong or missing Authorization")
        too_large = f"the body is larger than {self._max_body_bytes} bytes"
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            self._refused(integration, "malformed", too_large)
            return _error(413, too_large)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._refused(integration, "malformed", too_large)
            return _error(413, too_large)
        try:
            events = _not_after(parse_hook_delivery(body), datetime.now(UTC))
        except ValueError as exc:
            self._refused(integration, "malformed", str(exc))
            return _error(400, str(exc))
        if not self._target.offer(integration, events):
            # The target counted them (it knows how many were new).
            self._log_refusal(integration, "full", f"{len(events)} events: its queue is full")
            return _error(
                503,
                "too many events waiting; retry later",
                **{"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        logger.debug(
            "Event hook delivery for %s: %s",
            integration,
            json.dumps([event.uuid for event in events]),
        )
        return web.json_response({})


def _not_after(events: list[HookEvent], now: datetime) -> list[HookEvent]:
    """A ``published`` time in the future is not trusted past now: it would pin
    ``status.eventHooks.lastEventTime`` (and an alert on its metric going quiet) in the future."""
    return [
        dataclasses.replace(event, published=now)
        if event.published is not None and event.published > now
        else event
        for event in events
    ]

"""The HTTP endpoint Okta's Event Hooks call (SPEC §11): ``/hooks/okta/<namespace>/<name>``.

``GET`` with ``X-Okta-Verification-Challenge`` is Okta's one-time verification: the value is
echoed back as JSON. ``POST`` is a delivery: the Authorization header is compared in constant
time with the integration's Secret value before the body is read, the body is bounded, parsed
(``domain.events.parse_hook_delivery``) and handed to the ``HookTarget``; the answer is 200 at
once, since Okta gives up after 3 seconds and the sync runs off the request path. A target whose
queue is full gets 503 with ``Retry-After``: Okta retries a 5xx once, and the periodic sync
heals whatever is still missed.

Nothing of the Authorization value, nor of an event's payload, is ever logged; event ids are
logged at DEBUG only.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Protocol

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

    async def start(self) -> None:
        app = web.Application(client_max_size=self._max_body_bytes)
        app.router.add_get(HOOK_PATH, self._verify, allow_head=False)
        app.router.add_post(HOOK_PATH, self._deliver)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot listen for Okta event hooks on {self._host}:{self._port}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        """The port actually bound (port 0 picks a free one)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the event hook receiver is not running")
        return int(self._runner.addresses[0][1])

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

    def _refused(self, integration: str, reason: str) -> None:
        if self._on_refused is not None:
            self._on_refused(integration, reason)

    async def _deliver(self, request: web.Request) -> web.Response:
        known = await self._integration(request)
        if known is None:
            return _error(404, "no integration with event hooks enabled at this path")
        integration, expected = known
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            logger.warning(
                "Refused an event hook delivery for %s from %s: wrong or missing Authorization",
                integration,
                request.remote,
            )
            self._refused(integration, "unauthorized")
            return _error(401, "wrong or missing Authorization")
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            self._refused(integration, "malformed")
            return _error(413, f"the body is larger than {self._max_body_bytes} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._refused(integration, "malformed")
            return _error(413, f"the body is larger than {self._max_body_bytes} bytes")
        try:
            events = parse_hook_delivery(body)
        except ValueError as exc:
            logger.warning("Refused an event hook delivery for %s: %s", integration, exc)
            self._refused(integration, "malformed")
            return _error(400, str(exc))
        if not self._target.offer(integration, events):
            logger.warning(
                "Refused an event hook delivery of %d events for %s: its queue is full",
                len(events),
                integration,
            )
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

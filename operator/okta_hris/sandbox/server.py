"""The sandbox server: what every request goes through before and after its endpoint.

In order: count and record it; refuse it past the concurrency cap (429 with
``X-Rate-Limit-Limit: 0``); apply an injected fault; add latency; check the SSWS token (401
E0000011) or the OAuth access token and its scope (401, 403: ``sandbox/oauth.py``); count it against its rate-limit bucket (429 E0000047); run the endpoint; stamp
``X-Okta-Request-Id``, ``Date`` and ``X-Rate-Limit-*`` on the response.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from aiohttp import web

from okta_hris.sandbox import errors
from okta_hris.sandbox.api import (
    API,
    HOOK_DISPATCHER,
    REQUEST_ID,
    ApiState,
    add_routes,
    json_response,
)
from okta_hris.sandbox.clock import Clock
from okta_hris.sandbox.config import Fault, FaultKind, RateLimitConfig, SandboxConfig
from okta_hris.sandbox.faults import FaultInjector
from okta_hris.sandbox.generator import generate_org
from okta_hris.sandbox.hookconfig import HookFault
from okta_hris.sandbox.hookdelivery import HookDelivery, HookDispatcher, HookFaultPlan
from okta_hris.sandbox.model import Org
from okta_hris.sandbox.oauth import TOKEN_PATH, OAuthServer
from okta_hris.sandbox.ratelimit import RateLimiter, RateLimitState, bucket_for

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_FAULTS: dict[FaultKind, Callable[[], errors.ApiError]] = {
    FaultKind.UNAUTHORIZED: errors.invalid_token,
    FaultKind.FORBIDDEN: errors.forbidden,
    FaultKind.RATE_LIMITED: errors.rate_limited,
    FaultKind.SERVER_ERROR: errors.server_error,
    FaultKind.BAD_GATEWAY: errors.bad_gateway,
    FaultKind.UNAVAILABLE: errors.unavailable,
    FaultKind.GATEWAY_TIMEOUT: errors.gateway_timeout,
}
_REQUEST_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox answered. ``status`` is 0 when a fault dropped the connection
    without a response."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    bucket: str


class _Dropped(Exception):
    pass


@dataclass
class _Runtime:
    """The mutable state behind one running sandbox."""

    token: str
    oauth: OAuthServer
    limiter: RateLimiter
    faults: FaultInjector
    latency: float
    keep_requests: int
    clock: Clock  # the org's: its Date headers and its timestamps are one clock, as Okta's
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0

    def record(self, request: RecordedRequest) -> None:
        requests, keep = self.requests, self.keep_requests
        if keep == 0:
            return
        if len(requests) >= keep:
            # Trim in place (callers hold on to this very list), a tenth at a time.
            del requests[: len(requests) - keep + max(1, keep // 10)]
        requests.append(request)


RUNTIME = web.AppKey("sandbox_runtime", _Runtime)
RATE_STATE = web.RequestKey("rate_state", RateLimitState)


def _request_id() -> str:
    return "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(27))


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, credential = header[:4], header[4:]
    # The official SDK has sent both "SSWS <token>" and "SSWS<token>"; Okta takes both.
    if scheme.upper() != "SSWS":
        return False
    return hmac.compare_digest(credential.strip().encode(), token.encode())


def _authorization_refusal(request: web.Request, runtime: _Runtime) -> web.Response | None:
    """None when the request may proceed: an SSWS token, or an OAuth access token with the
    endpoint's scope; else Okta's 401 (or 403 for a missing scope)."""
    if request.path == TOKEN_PATH:
        return None  # a service app authenticates there with its assertion, in the form
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return runtime.oauth.refusal(header[7:].strip(), request)
    if not _authorized(request, runtime.token):
        return _error_response(errors.invalid_token())
    return None


def _error_response(error: errors.ApiError) -> web.Response:
    return json_response(error.body(), status=error.status)


def _drop_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 makes close() send a TCP reset, like a load balancer killing the connection.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@web.middleware
async def _pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    path = request.path
    bucket = bucket_for(path)
    request_id = _request_id()
    request[REQUEST_ID] = request_id
    response: web.StreamResponse | None = None
    try:
        limiter = runtime.limiter
        if runtime.in_flight >= limiter.config.concurrency and limiter.config.enabled:
            response = _error_response(errors.concurrency_limited())
            _stamp(response, limiter.concurrency_refusal(), request_id, runtime.clock)
            return response
        runtime.in_flight += 1
        try:
            response = await _serve(request, handler, runtime, bucket)
            _stamp(response, _response_rate(request), request_id, runtime.clock)
            return response
        finally:
            runtime.in_flight -= 1
    except _Dropped:
        # Raising CancelledError is how aiohttp learns that the client went away; the
        # transport is already closed, so there is nothing left to answer.
        raise asyncio.CancelledError() from None
    finally:
        runtime.record(
            RecordedRequest(
                method=request.method,
                path=path,
                query=dict(request.query),
                status=response.status if response is not None else 0,
                bucket=bucket,
            )
        )


def _response_rate(request: web.Request) -> RateLimitState:
    if RATE_STATE in request:
        return request[RATE_STATE]
    return request.app[RUNTIME].limiter.peek(bucket_for(request.path))


async def _serve(
    request: web.Request, handler: Handler, runtime: _Runtime, bucket: str
) -> web.StreamResponse:
    fault = runtime.faults.pick(request.path)
    if fault is not None:
        if fault.kind is FaultKind.DROP:
            _drop_connection(request)
            raise _Dropped()
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(fault.delay)
        else:
            return _fault_response(request, runtime, fault, bucket)
    if runtime.latency > 0:
        await asyncio.sleep(runtime.latency)
    unauthorized = _authorization_refusal(request, runtime)
    if unauthorized is not None:
        return unauthorized
    rate = runtime.limiter.acquire(bucket)
    request[RATE_STATE] = rate
    if not rate.allowed:
        return _error_response(errors.rate_limited())
    try:
        return await handler(request)
    except errors.ApiError as error:
        return _error_response(error)
    except web.HTTPMethodNotAllowed as refusal:
        response = _error_response(errors.method_not_allowed())
        response.headers["Allow"] = ", ".join(sorted(refusal.allowed_methods))
        return response
    except web.HTTPNotFound:
        return _error_response(errors.path_not_found())
    except Exception:
        log.exception("sandbox endpoint %s %s failed", request.method, request.path)
        return _error_response(errors.server_error())


def _fault_response(
    request: web.Request, runtime: _Runtime, fault: Fault, bucket: str
) -> web.Response:
    if fault.kind is FaultKind.RATE_LIMITED:
        request[RATE_STATE] = runtime.limiter.burst_refusal(bucket)
    return _error_response(_STATUS_FAULTS[fault.kind]())


def _stamp(
    response: web.StreamResponse, rate: RateLimitState, request_id: str, clock: Clock
) -> None:
    headers = response.headers
    for name, value in rate.headers().items():
        headers[name] = value
    headers["X-Okta-Request-Id"] = request_id
    # The org's clock, not the wall's: it stamps each change a millisecond after the last, so
    # under a burst of writes it runs ahead of the wall, and a Date from the wall put the
    # latest events past a client's ``until`` (a sync right after relisted their groups).
    headers["Date"] = formatdate(clock.peek().timestamp(), usegmt=True)


class Sandbox:
    """A running sandbox. Create it with ``start_sandbox`` (in a running event loop) or
    ``run_sandbox`` (in its own thread); the methods below may be called from any thread."""

    def __init__(
        self, config: SandboxConfig, org: Org, runtime: _Runtime, runner: web.AppRunner
    ) -> None:
        self.config = config
        self._org = org
        self._runtime = runtime
        self._runner = runner
        self._hooks = runner.app[HOOK_DISPATCHER]
        self.url = ""
        self.port = 0

    @property
    def token(self) -> str:
        return self._runtime.token

    @property
    def oauth_tokens_issued(self) -> int:
        """Access tokens the token endpoint has issued so far."""
        return self._runtime.oauth.issued

    @property
    def oauth_access_tokens(self) -> tuple[str, ...]:
        """The access tokens issued, for tests that check none leaked into a log or status."""
        return self._runtime.oauth.access_tokens

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first (clear it with ``requests.clear()``)."""
        return self._runtime.requests

    def set_rate_limits(self, limits: RateLimitConfig) -> None:
        """Replace the limits; every bucket starts a fresh window."""
        self._runtime.limiter = RateLimiter(limits)

    def add_fault(self, fault: Fault) -> None:
        self._runtime.faults.add(fault)

    def clear_faults(self) -> None:
        self._runtime.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return self._runtime.faults.faults

    def set_latency(self, seconds: float) -> None:
        self._runtime.latency = max(0.0, seconds)

    @property
    def hook_deliveries(self) -> list[HookDelivery]:
        """Every event hook delivery attempted so far (dropped ones included), oldest first."""
        return self._hooks.deliveries

    def set_hook_faults(self, faults: Sequence[HookFault], seed: int | None = None) -> None:
        """Replace the faults on event hook deliveries (and their seed, if given)."""
        self._hooks.faults.replace(faults, seed)

    async def stop(self) -> None:
        await self._runner.cleanup()
        await self._hooks.stop()


def _display_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def start_sandbox(config: SandboxConfig) -> Sandbox:
    """Generate the org and start serving it in the running event loop."""
    clock = Clock()
    org = generate_org(
        users=config.users,
        groups=config.groups,
        seed=config.seed,
        clock=clock,
        custom_attributes=config.custom_attributes,
    )
    runtime = _Runtime(
        token=config.token,
        oauth=OAuthServer(config.oauth_clients, config.oauth_token_ttl),
        limiter=RateLimiter(config.rate_limits),
        faults=FaultInjector(config.faults, config.fault_seed),
        latency=config.latency,
        keep_requests=config.recorded_requests,
        clock=clock,
    )
    app = web.Application(middlewares=[_pipeline], client_max_size=4 * 1024 * 1024)
    app[API] = api = ApiState.for_org(org)
    app[RUNTIME] = runtime
    hook_faults = HookFaultPlan(config.hook_faults, config.hook_fault_seed)
    app[HOOK_DISPATCHER] = hooks = HookDispatcher(
        api.event_hooks, config.hook_delivery, hook_faults, clock, keep=config.recorded_requests
    )
    org.log.subscribers.append(hooks.publish)
    add_routes(app)
    runtime.oauth.add_routes(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    sandbox = Sandbox(config, org, runtime, runner)
    addresses: list[Any] = list(runner.addresses)
    sandbox.port = int(addresses[0][1]) if addresses else config.port
    sandbox.url = f"http://{_display_host(config.host)}:{sandbox.port}"
    await hooks.start(sandbox.url)
    return sandbox


@contextlib.contextmanager
def run_sandbox(config: SandboxConfig | None = None) -> Iterator[Sandbox]:
    """Run a sandbox in its own thread and event loop for the duration of the block. Works
    from synchronous code and from inside another event loop (an async test)."""
    config = config or SandboxConfig()
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            started["sandbox"] = loop.run_until_complete(start_sandbox(config))
        except BaseException as problem:  # handed to the caller's thread below
            started["error"] = problem
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        # Requests still held (a slow fault, a client that went away) end with the sandbox.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=serve, name=f"okta-sandbox-{config.port}", daemon=True)
    thread.start()
    ready.wait()
    if "error" in started:
        thread.join()
        raise started["error"]
    sandbox: Sandbox = started["sandbox"]
    try:
        yield sandbox
    finally:
        stopping = asyncio.run_coroutine_threadsafe(sandbox.stop(), loop)
        try:
            stopping.result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)

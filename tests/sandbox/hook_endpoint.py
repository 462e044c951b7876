"""A real HTTP endpoint for the sandbox's event hooks to call: it records every request and
answers as a test tells it to (echo the verification challenge or not, a status, a stall)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PATH = "/okta/events"


@dataclass(frozen=True)
class Received:
    method: str
    headers: dict[str, str]
    body: Any


@dataclass
class HookEndpoint:
    """``answers`` are popped one per POST (a status, or ``"stall"`` to answer 200 only after
    ``release()``), then 200. ``verification`` is ``"echo"``, ``"wrong"`` or ``"stall"``."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[int | str] = field(default_factory=list)
    verification: str = "echo"
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def posts(self) -> list[Received]:
        return [r for r in list(self.received) if r.method == "POST"]

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event of every POST, in the order they arrived."""
        return [event for post in self.posts for event in post.body["data"]["events"]]

    def release(self) -> None:
        self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def wait_for(self, done: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out; received {len(self.received)}"
            time.sleep(0.02)

    async def _stall(self) -> None:
        await asyncio.to_thread(self._released.wait)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.received.append(Received(request.method, dict(request.headers), body))
        if request.method == "GET":
            challenge = request.headers.get("X-Okta-Verification-Challenge", "")
            if self.verification == "stall":
                await self._stall()
            echoed = challenge if self.verification == "echo" else "not-it"
            return web.json_response({"verification": echoed})
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "stall":
            await self._stall()
            answer = 200
        return web.Response(status=int(answer))


def unused_url() -> str:
    """A loopback URL nothing listens on (a port the system just handed out and took back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{PATH}"


@contextmanager
def hook_endpoint() -> Iterator[HookEndpoint]:
    """Serve a ``HookEndpoint`` on 127.0.0.1 in its own thread for the block."""
    endpoint = HookEndpoint()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", PATH, endpoint.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        endpoint.url = f"http://127.0.0.1:{port}{PATH}"

    thread = threading.Thread(target=loop.run_forever, name="hook-endpoint", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield endpoint
    finally:
        endpoint.release()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

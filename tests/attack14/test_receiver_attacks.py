"""Red team on issue 14 (R2): the event hook receiver over real HTTP, raw sockets where a
well-behaved client could not send the attack. Each test is a bug found; it fails until fixed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from okta_hris.eventhooks import EventHookReceiver
from tests.eventhooks.okta_bodies import delivery, log_event
from tests.eventhooks.test_receiver import PATH, SECRET, Integrations

# Okta gives up on a delivery after 3 s; a receiver holding a connection for many times that
# only serves someone who is not Okta.
SLOW_CLIENT_BOUND_S = 15.0


@pytest.fixture
async def port() -> AsyncIterator[int]:
    receiver = EventHookReceiver(Integrations(), "127.0.0.1", 0, max_body_bytes=64 * 1024)
    await receiver.start()
    try:
        yield receiver.port
    finally:
        await receiver.stop()


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


def post(authorization: bytes, body: bytes) -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: hooks\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n".encode()
        + b"Authorization: "
        + authorization
        + b"\r\n\r\n"
        + body
    )


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info is not None]


async def test_a_non_ascii_authorization_is_401_not_a_500_with_a_traceback(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # receiver.py _deliver: given.encode() raises UnicodeEncodeError on the surrogates aiohttp
    # decodes a non-UTF-8 header byte into: 500 and aiohttp's ERROR traceback, unauthenticated.
    caplog.set_level(logging.DEBUG)
    body = delivery(log_event("user.account.update_profile", users=("00u1",)))
    answer = await exchange(port, post(b"Bearer \xff\xfe", body))
    assert answer.startswith(b"HTTP/1.1 401"), answer[:80]
    assert tracebacks(caplog) == []


async def test_a_malformed_http_request_logs_no_traceback(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Anyone who can reach the port makes the operator log an ERROR with a traceback per
    # request (aiohttp.server "Error handling request"): a header longer than 8190 bytes.
    caplog.set_level(logging.DEBUG)
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: hooks\r\nX-Okta-Verification-Challenge: {'x' * 9000}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = await exchange(port, request)
    assert answer.split(b" ")[1].startswith(b"4"), answer[:80]  # aiohttp answers HTTP/1.0 400
    assert tracebacks(caplog) == []


async def cut_off_within(port: int, opening: bytes, trickle: bytes, bound: float) -> bool:
    """Whether the receiver answers or closes a client that sends ``opening`` and then one
    ``trickle`` a second, within ``bound`` seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        writer.write(opening)
        while loop.time() - started < bound:
            try:
                writer.write(trickle)
                await writer.drain()
                await asyncio.wait_for(reader.read(1024), timeout=1.0)
                return True  # an answer (400, 408) or the connection closed
            except TimeoutError:
                continue
            except ConnectionError:
                return True
        return False
    finally:
        writer.close()


@pytest.mark.slow
async def test_a_slowloris_client_is_cut_off(port: int) -> None:
    # No read timeout on the request head: a client trickling a header line a second keeps
    # its connection (a file descriptor the operator shares with its Okta client and its
    # database) for ever, before any Authorization is checked; enough of them and nothing else
    # can connect. Behind an nginx Ingress its timeouts cover this; `sync --watch`, a
    # port-forward or an in-cluster client are not behind one.
    opening = f"POST {PATH} HTTP/1.1\r\nHost: hooks\r\n".encode()
    assert await cut_off_within(port, opening, b"X-Slow: 1\r\n", SLOW_CLIENT_BOUND_S)


@pytest.mark.slow
async def test_a_slow_authorized_body_is_cut_off(port: int) -> None:
    # The same with a body: Content-Length 1000 sent a byte a second; request.read() waits.
    opening = (
        f"POST {PATH} HTTP/1.1\r\nHost: hooks\r\nAuthorization: {SECRET}\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode()
    assert await cut_off_within(port, opening, b" ", SLOW_CLIENT_BOUND_S)

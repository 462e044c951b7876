"""A hostile Okta org over real HTTP: whatever users, groups and members a test writes, served as
Okta would list them (tests/okta/hostile_okta.py attacks the transport instead).

The sandbox refuses what a real org could never hold (a lone surrogate, an id of 65 characters,
a status Okta does not have), so the tests of such values serve them from here instead. JSON
is written with ``ensure_ascii``: a lone surrogate or a NUL travels as its ``\\u`` escape, as a
compromised or buggy Okta (or a proxy) could send it. It runs in a thread of its own, so the
CLI (which runs its own event loop) and async tests can both use it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

UPDATED = "2026-01-05T09:00:00.000Z"


def okta_user(okta_id: str, status: str = "ACTIVE", **profile: Any) -> dict[str, Any]:
    """A user as Okta lists it; ``profile`` adds to (or overrides) a complete default one."""
    base: dict[str, Any] = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"{okta_id.lower()}@acme.example",
        "login": f"{okta_id.lower()}@acme.example",
        "countryCode": "DE",
        "city": "Berlin",
        "userType": "Employee",
    }
    base.update(profile)
    return {
        "id": okta_id,
        "status": status,
        "created": UPDATED,
        "lastUpdated": UPDATED,
        "type": {"id": "oty1"},
        "profile": base,
    }


def okta_group(group_id: str, name: str, moved: str = UPDATED) -> dict[str, Any]:
    """A group as Okta lists it; ``moved`` is its lastMembershipUpdated (an incremental sync
    relists the members of a group only when that moves)."""
    return {
        "id": group_id,
        "type": "OKTA_GROUP",
        "created": UPDATED,
        "lastUpdated": UPDATED,
        "lastMembershipUpdated": moved,
        "profile": {"name": name, "description": None},
    }


@dataclass
class HostileOrg:
    """What the server answers; a test may change it between syncs (under ``lock``)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)  # group id -> user ids
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    # Applied to each JSON body before it is sent: for what json.dumps cannot write (a number
    # of 5,000 digits) or will not (invalid JSON).
    rewrite: Callable[[str], str] | None = None

    def answer(self, path: str) -> Any:
        with self.lock:
            if path == "/api/v1/users":
                return self.users
            if path == "/api/v1/groups":
                return self.groups
            if path.startswith("/api/v1/groups/") and path.endswith("/users"):
                group_id = path.split("/")[4]
                ids = self.members.get(group_id, [])
                known = {user["id"]: user for user in self.users}
                return [known.get(i) or okta_user(i) for i in ids]
            if path == "/api/v1/logs":
                return []
        return None


@contextmanager
def serve(org: HostileOrg) -> Iterator[HostileOrg]:
    """Serve ``org`` on 127.0.0.1 until the block ends; ``org.url`` is its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = org.answer(urlsplit(self.path).path)
            status = 200 if body is not None else 404
            payload = json.dumps(body if body is not None else {"errorCode": "E0000007"})
            if org.rewrite is not None:
                payload = org.rewrite(payload)
            data = payload.encode("ascii")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Date", datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's output is the sync's, not an access log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    org.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield org
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

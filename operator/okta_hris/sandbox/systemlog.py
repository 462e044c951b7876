"""The System Log: an append-only list of LogEvents and Okta's two ways of reading it.

A *bounded* request (``until`` given, or ``sortOrder=DESCENDING``) reads a fixed, ordered set
of events and ends with a page that has no ``next`` link. A *polling* request (ascending, no
``until``) reads an open-ended stream: every response carries a ``next`` link, empty pages
included, so a client can keep following it to receive new events.

An ``after`` cursor is ``<seq>_<log id>``: the position of the last event read, in the log that
handed it out. A cursor of another log (a sandbox since restarted) or past the last event
written is rejected with a 400 rather than silently skipping the events written later.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from okta_hris.sandbox.clock import Clock, format_time
from okta_hris.sandbox.expressions import Predicate

DEFAULT_SINCE = timedelta(days=7)


@dataclass(frozen=True)
class LogEntity:
    """The id/type/alternateId/displayName shape Okta uses for an event's actor and targets."""

    id: str
    type: str
    alternate_id: str
    display_name: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "alternateId": self.alternate_id,
            "displayName": self.display_name,
        }


@dataclass(frozen=True)
class Actor(LogEntity):
    """Who did it (an admin, or the API token's owner)."""


@dataclass(frozen=True)
class Target(LogEntity):
    """What it was done to (a user, a group)."""


@dataclass(frozen=True)
class RequestContext:
    """Who sent the API call that caused an event (the ``client``/``request`` blocks)."""

    request_id: str
    ip: str
    user_agent: str
    path: str


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    published: str
    data: dict[str, Any]
    json: bytes


@dataclass(frozen=True)
class LogPage:
    events: list[StoredEvent]
    next_after: str | None


class LogQueryError(ValueError):
    """A query the System Log cannot answer; ``parameter`` names the query parameter at fault."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


_CURSOR = re.compile(r"(\d{1,18})_([0-9a-f]+)\Z")


class SystemLog:
    def __init__(self, clock: Clock, actor: Actor, token_id: str) -> None:
        self._clock = clock
        self._actor = actor
        self._token_id = token_id
        self._events: list[StoredEvent] = []
        self._published: list[str] = []
        self._log_id = secrets.token_hex(4)  # tells this log's cursors from another one's
        # Told of every event as it is recorded (event hook delivery); must not block.
        self.subscribers: list[Callable[[StoredEvent], None]] = []

    def __len__(self) -> int:
        return len(self._events)

    def append(
        self,
        event_type: str,
        display_message: str,
        targets: list[Target],
        context: RequestContext | None,
        *,
        legacy_event_type: str | None = None,
        severity: str = "INFO",
        published: datetime | None = None,
    ) -> StoredEvent:
        moment = published or self._clock.now()
        request_id = context.request_id if context else uuid.uuid4().hex
        ip = context.ip if context else "127.0.0.1"
        data: dict[str, Any] = {
            "actor": self._actor.as_json(),
            "client": {
                "userAgent": {
                    "rawUserAgent": context.user_agent if context else "okta-hris-sandbox",
                    "os": "Unknown",
                    "browser": "UNKNOWN",
                },
                "zone": "null",
                "device": "Unknown",
                "ipAddress": ip,
            },
            "authenticationContext": {"authenticationStep": 0, "externalSessionId": "trs"},
            "displayMessage": display_message,
            "eventType": event_type,
            "outcome": {"result": "SUCCESS"},
            "published": format_time(moment),
            "securityContext": {
                "asNumber": None,
                "asOrg": None,
                "isp": None,
                "domain": None,
                "isProxy": None,
            },
            "severity": severity,
            "debugContext": {
                "debugData": {
                    "requestId": request_id,
                    "requestUri": context.path if context else "/",
                    "url": context.path if context else "/",
                }
            },
            "legacyEventType": legacy_event_type or event_type,
            "transaction": {
                "type": "WEB",
                "id": request_id,
                "detail": {"requestApiTokenId": self._token_id},
            },
            "uuid": str(uuid.uuid4()),
            "version": "0",
            "request": {"ipChain": [{"ip": ip, "version": "V4"}]},
            "target": [target.as_json() for target in targets],
        }
        event = StoredEvent(
            seq=len(self._events) + 1,
            published=data["published"],
            data=data,
            json=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        )
        self._events.append(event)
        self._published.append(event.published)
        for subscriber in self.subscribers:
            subscriber(event)
        return event

    def query(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        after: str | None,
        predicate: Predicate | None,
        keywords: list[str],
        limit: int,
        descending: bool,
    ) -> LogPage:
        bounded = until is not None or descending
        end = until or self._clock.peek()
        start = since or end - DEFAULT_SINCE
        if since is not None and until is not None and since > until:
            raise LogQueryError("since", "since must not be after until")
        start_text, end_text = format_time(start), format_time(end)
        after_seq = self._parse_cursor(after) if after is not None else None

        # Events are stored in publication order, so the time window is one slice.
        low = bisect_left(self._published, start_text)
        # ``until`` is exclusive; without it, everything written so far is in the window.
        high = bisect_left(self._published, end_text) if until else len(self._events)
        window = range(low, high)
        if descending:
            candidates = reversed(window)
            if after_seq is not None:
                candidates = reversed(range(low, min(high, after_seq - 1)))
        else:
            candidates = iter(window)
            if after_seq is not None:
                candidates = iter(range(max(low, after_seq), high))

        events: list[StoredEvent] = []
        more = False
        last_scanned: int | None = None
        for index in candidates:
            event = self._events[index]
            if not _matches(event, predicate, keywords):
                last_scanned = index
                continue
            if len(events) == limit:
                more = True
                break
            events.append(event)
            last_scanned = index

        if bounded:
            next_after = self._cursor(events[-1].seq) if more and events else None
            return LogPage(events, next_after)
        # Polling: the cursor always advances to the last event looked at, so the next
        # request starts with what is written after this one.
        if events and more:
            next_seq = events[-1].seq
        elif last_scanned is not None:
            next_seq = self._events[last_scanned].seq
        elif after_seq is not None:
            next_seq = after_seq
        else:
            next_seq = high
        return LogPage(events, self._cursor(next_seq))

    def _cursor(self, seq: int) -> str:
        return f"{seq}_{self._log_id}"

    def _parse_cursor(self, after: str) -> int:
        match = _CURSOR.match(after)
        if match is None:
            raise LogQueryError("after", f"after: invalid cursor {after!r}")
        seq, log_id = int(match.group(1)), match.group(2)
        if log_id != self._log_id:
            raise LogQueryError("after", f"after: cursor {after!r} is not from this System Log")
        if seq > len(self._events):
            raise LogQueryError("after", f"after: cursor {after!r} is past the last event")
        return seq


def _matches(event: StoredEvent, predicate: Predicate | None, keywords: list[str]) -> bool:
    if predicate is not None and not predicate(event.data):
        return False
    if keywords:
        text = event.json.decode().casefold()
        return all(keyword in text for keyword in keywords)
    return True


def event_attribute(path: str) -> Any:
    """A getter for a dotted path into a LogEvent; arrays (``target``) yield every element's
    value, so ``target.id eq "..."`` matches when any target has that id."""
    parts = path.split(".")

    def get(event: dict[str, Any]) -> Any:
        values: list[Any] = [event]
        for part in parts:
            next_values: list[Any] = []
            for value in values:
                if isinstance(value, dict):
                    child = value.get(part)
                    if isinstance(child, list):
                        next_values.extend(child)
                    elif child is not None:
                        next_values.append(child)
            values = next_values
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    return get

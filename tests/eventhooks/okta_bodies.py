"""Okta Event Hook request bodies as Okta sends them, for tests that post their own."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

_sequence = itertools.count()


def log_event(
    event_type: str,
    users: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    *,
    published: datetime | None = None,
    event_uuid: str | None = None,
) -> dict[str, Any]:
    """One System Log event, in the shape ``/api/v1/logs`` and hook deliveries carry it."""
    moment = published or datetime.now(UTC)
    return {
        "uuid": event_uuid or str(uuid.uuid4()),
        "published": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": "Test event",
        "actor": {"id": "00uadmin1", "type": "User", "alternateId": "admin@example.com"},
        "outcome": {"result": "SUCCESS"},
        "target": [
            *({"id": u, "type": "User", "alternateId": f"{u}@example.com"} for u in users),
            *({"id": g, "type": "UserGroup", "displayName": g} for g in groups),
        ],
    }


def delivery(*events: dict[str, Any]) -> bytes:
    """An Event Hook request body holding ``events``."""
    return json.dumps(
        {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://acme.okta.com/api/v1/eventHooks/who8abc",
            "eventId": f"evt{next(_sequence)}",
            "eventTime": datetime.now(UTC).isoformat(),
            "contentType": "application/json",
            "data": {"events": list(events)},
        }
    ).encode()

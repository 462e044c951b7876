"""Okta Event Hook deliveries, reduced to what a targeted sync needs (SPEC §11).

Okta POSTs ``{"eventType": "com.okta.event_hook", "data": {"events": [...]}, ...}`` where each
event is a System Log event: a ``uuid``, ``eventType``, ``published`` and ``target[]`` of
``{"id", "type"}`` (``User``, ``UserGroup``, ...). A hook body comes from the network and is
hostile until read: ``parse_hook_delivery`` bounds its counts, checks every id it keeps, skips
event types the sync does not consume, and answers anything malformed with a one-line
``ValueError`` that quotes none of the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The System Log event types a sync consumes, as Okta's event type catalog names them; a hook is
# registered for exactly these (Okta refuses to register an unknown type).
USER_EVENT_TYPES: tuple[str, ...] = (
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.delete.initiated",
    "user.account.update_profile",
)
GROUP_EVENT_TYPES: tuple[str, ...] = (
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.profile.update",
    "group.lifecycle.create",
    "group.lifecycle.delete",
)
CONSUMED_EVENT_TYPES: tuple[str, ...] = USER_EVENT_TYPES + GROUP_EVENT_TYPES
# SPEC §11 spells the rename event "group.profile.updated"; Okta's catalog says
# "group.profile.update". Registration uses Okta's name; a delivery may carry either.
_READ_EVENT_TYPES = frozenset((*CONSUMED_EVENT_TYPES, "group.profile.updated"))

USER_TARGET = "User"
GROUP_TARGET = "UserGroup"

# Okta batches at most a few hundred events into one delivery; more is not Okta.
MAX_EVENTS_PER_DELIVERY = 1000
# A membership event has two targets, a lifecycle event one; a few spare for Okta's additions.
MAX_TARGETS_PER_EVENT = 20

OKTA_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_EVENT_UUID = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class HookEvent:
    """One System Log event of a hook delivery, reduced to what a sync needs."""

    uuid: str
    event_type: str
    published: datetime | None
    user_ids: frozenset[str]
    group_ids: frozenset[str]


@dataclass(frozen=True)
class EventBatch:
    """What one targeted sync covers: the users and groups some events named."""

    user_ids: frozenset[str] = frozenset()
    group_ids: frozenset[str] = frozenset()
    events: int = 0
    last_event_time: datetime | None = None  # the newest ``published`` among them

    @classmethod
    def of(cls, events: Iterable[HookEvent]) -> EventBatch:
        batch = cls()
        for event in events:
            batch = batch.merge(
                cls(event.user_ids, event.group_ids, 1, event.published),
            )
        return batch

    def merge(self, other: EventBatch) -> EventBatch:
        times = [t for t in (self.last_event_time, other.last_event_time) if t is not None]
        return EventBatch(
            self.user_ids | other.user_ids,
            self.group_ids | other.group_ids,
            self.events + other.events,
            max(times) if times else None,
        )


def parse_hook_delivery(body: bytes) -> list[HookEvent]:
    """The consumed events of an Event Hook request body, in the order Okta sent them.

    Raises ``ValueError`` (one line, none of the body in it) when the body is not JSON, not
    Okta's shape, holds more than ``MAX_EVENTS_PER_DELIVERY`` events, or an event the sync
    consumes has a malformed uuid, time or target id. Events of other types are skipped
    unread: Okta adds fields and types over time.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the body is not JSON") from None
    except RecursionError:  # "[[[[…": nesting deeper than the parser's stack
        raise ValueError("the body is nested too deeply") from None
    data = document.get("data") if isinstance(document, dict) else None
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise ValueError("the body has no data.events list")
    if len(events) > MAX_EVENTS_PER_DELIVERY:
        raise ValueError(
            f"the body holds {len(events)} events, more than {MAX_EVENTS_PER_DELIVERY}"
        )
    parsed: list[HookEvent] = []
    for position, raw in enumerate(events):
        try:
            event = _event(raw)
        except ValueError as exc:
            raise ValueError(f"data.events[{position}]: {exc}") from None
        if event is not None:
            parsed.append(event)
    return parsed


def _event(raw: Any) -> HookEvent | None:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    event_type = raw.get("eventType")
    if not isinstance(event_type, str):
        raise ValueError("no eventType")
    if event_type not in _READ_EVENT_TYPES:
        return None
    uuid = raw.get("uuid")
    if not isinstance(uuid, str) or not _EVENT_UUID.fullmatch(uuid):
        raise ValueError("no valid uuid")
    targets = raw.get("target")
    if targets is None:  # Okta sends "target": null for events without targets
        targets = []
    if not isinstance(targets, list) or len(targets) > MAX_TARGETS_PER_EVENT:
        raise ValueError(f"target is not a list of at most {MAX_TARGETS_PER_EVENT}")
    # A user event's other targets (an app, a device) and a group event's users and groups.
    kinds = (USER_TARGET,) if event_type in USER_EVENT_TYPES else (USER_TARGET, GROUP_TARGET)
    ids: dict[str, set[str]] = {USER_TARGET: set(), GROUP_TARGET: set()}
    for target in targets:
        if not isinstance(target, dict):
            raise ValueError("a target is not an object")
        kind = target.get("type")
        if not isinstance(kind, str) or kind not in kinds:
            continue
        target_id = target.get("id")
        if not isinstance(target_id, str) or not OKTA_ID.fullmatch(target_id):
            raise ValueError(f"a {kind} target has no valid Okta id")
        ids[kind].add(target_id)
    return HookEvent(
        uuid=uuid,
        event_type=event_type,
        published=_published(raw.get("published")),
        user_ids=frozenset(ids[USER_TARGET]),
        group_ids=frozenset(ids[GROUP_TARGET]),
    )


def _published(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("published is not a time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("published is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError("published has no time zone")
    return moment

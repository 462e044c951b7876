"""Okta's Event Hooks API objects and rules: what a hook is, what may be registered, its states.

A hook is created ACTIVE and UNVERIFIED; only ACTIVE and VERIFIED hooks receive events. The
``authScheme`` value is write-only: stored for deliveries, never rendered. Changing the
channel (URI, headers, auth) makes a hook UNVERIFIED again, as in Okta.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from okta_hris.sandbox import errors
from okta_hris.sandbox.clock import Clock
from okta_hris.sandbox.model import IdFactory

# Okta's help pages: "a maximum of 25 event hooks are allowed for each org".
MAX_EVENT_HOOKS = 25
MAX_HEADERS = 20
MAX_NAME_LENGTH = 255
MAX_URI_LENGTH = 1024
MAX_HEADER_LENGTH = 4096

# Event-hook-eligible types from Okta's event type catalog: every type the sandbox writes to
# its System Log, and others an org commonly subscribes to (accepted, never delivered here).
EVENT_HOOK_ELIGIBLE_TYPES = frozenset(
    {
        "application.user_membership.add",
        "application.user_membership.remove",
        "group.lifecycle.create",
        "group.lifecycle.delete",
        "group.profile.update",
        "group.user_membership.add",
        "group.user_membership.remove",
        "user.account.lock",
        "user.account.privilege.grant",
        "user.account.privilege.revoke",
        "user.account.unlock",
        "user.account.unlock_by_admin",
        "user.account.update_profile",
        "user.lifecycle.activate",
        "user.lifecycle.create",
        "user.lifecycle.deactivate",
        "user.lifecycle.delete.completed",
        "user.lifecycle.delete.initiated",
        "user.lifecycle.password_mass_expiry",
        "user.lifecycle.reactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.session.start",
    }
)

# RFC 9110 field names; values are visible ASCII and spaces (no line breaks to smuggle headers).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*\Z")
# Set by the HTTP client, or by Okta itself for every delivery.
_RESERVED_HEADERS = frozenset({"content-length", "content-type", "host", "transfer-encoding"})


@dataclass(frozen=True)
class HookChannel:
    """Where and how deliveries go. ``auth_value`` is the write-only secret."""

    uri: str
    headers: tuple[tuple[str, str], ...]
    auth_key: str | None
    auth_value: str | None

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.auth_key is not None and self.auth_value is not None:
            headers[self.auth_key] = self.auth_value
        return headers


@dataclass
class EventHook:
    id: str
    name: str
    description: str | None
    event_types: tuple[str, ...]
    channel: HookChannel
    created: str
    created_by: str
    last_updated: str
    status: str = "ACTIVE"
    verification_status: str = "UNVERIFIED"

    @property
    def receives_events(self) -> bool:
        return self.status == "ACTIVE" and self.verification_status == "VERIFIED"


def hook_json(hook: EventHook, base: str) -> dict[str, Any]:
    href = f"{base}/api/v1/eventHooks/{hook.id}"
    post = {"hints": {"allow": ["POST"]}}
    links: dict[str, Any] = {
        "self": {"href": href},
        "verify": {"href": f"{href}/lifecycle/verify", **post},
    }
    toggle = "deactivate" if hook.status == "ACTIVE" else "activate"
    links[toggle] = {"href": f"{href}/lifecycle/{toggle}", **post}
    channel = hook.channel
    auth = None if channel.auth_key is None else {"type": "HEADER", "key": channel.auth_key}
    return {
        "id": hook.id,
        "status": hook.status,
        "verificationStatus": hook.verification_status,
        "name": hook.name,
        "description": hook.description,
        "created": hook.created,
        "createdBy": hook.created_by,
        "lastUpdated": hook.last_updated,
        "events": {"type": "EVENT_TYPE", "items": list(hook.event_types), "filter": None},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": channel.uri,
                "headers": [{"key": k, "value": v} for k, v in channel.headers],
                "method": "POST",
                "authScheme": auth,
            },
        },
        "_links": links,
    }


def _invalid(field: str, cause: str) -> errors.ApiError:
    return errors.validation_failed(field, f"{field}: {cause}")


def _text(body: dict[str, Any], name: str, *, limit: int, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if value is not None and not isinstance(value, str):
        raise _invalid(name, "must be a string")
    if value is None or (required and not value.strip()):
        raise _invalid(name, "The field cannot be left blank")
    if len(value) > limit:
        raise _invalid(name, f"size must be between 1 and {limit}")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(field, "must be an object")
    return value


def _event_types(body: dict[str, Any]) -> tuple[str, ...]:
    events = _object(body.get("events"), "events")
    if events.get("type") != "EVENT_TYPE":
        raise _invalid("events.type", "must be EVENT_TYPE")
    if events.get("filter") is not None:
        raise _invalid("events.filter", "event hook filters are not enabled in this org")
    items = events.get("items")
    if not isinstance(items, list) or not items:
        raise _invalid("events.items", "The field cannot be left blank")
    unknown = [item for item in items if item not in EVENT_HOOK_ELIGIBLE_TYPES]
    if unknown:
        causes = [f"events.items: Invalid event type: {str(item)[:100]!r}" for item in unknown]
        raise errors.validation_failed("events.items", *causes[:10])
    return tuple(dict.fromkeys(items))


def _uri(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("channel.config.uri", "The field cannot be left blank")
    if len(value) > MAX_URI_LENGTH:
        raise _invalid("channel.config.uri", f"size must be between 1 and {MAX_URI_LENGTH}")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise _invalid("channel.config.uri", "is not a valid URI") from None
    if parts.scheme not in ("https", "http") or not host or not _HEADER_VALUE.match(value):
        raise _invalid("channel.config.uri", "is not a valid URI")
    # Okta calls only HTTPS endpoints; plain http to this machine is the sandbox's test allowance.
    if parts.scheme == "http" and not _loopback(host):
        raise _invalid("channel.config.uri", "must use HTTPS")
    return value


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(key: Any, value: Any, field: str) -> tuple[str, str]:
    if not isinstance(key, str) or not _HEADER_NAME.match(key) or len(key) > 256:
        raise _invalid(field, "must be a valid HTTP header name")
    if key.lower() in _RESERVED_HEADERS or key.lower().startswith("x-okta-"):
        raise _invalid(field, f"the header {key} is reserved")
    if not isinstance(value, str) or not _HEADER_VALUE.match(value):
        raise _invalid(field, "must be printable ASCII on one line")
    if len(value) > MAX_HEADER_LENGTH:
        raise _invalid(field, f"size must be between 0 and {MAX_HEADER_LENGTH}")
    return key, value


def _channel(body: dict[str, Any], previous: HookChannel | None) -> HookChannel:
    channel = _object(body.get("channel"), "channel")
    if channel.get("type") != "HTTP":
        raise _invalid("channel.type", "must be HTTP")
    if channel.get("version") != "1.0.0":
        raise _invalid("channel.version", "the only supported version is 1.0.0")
    config = _object(channel.get("config"), "channel.config")
    headers_in = config.get("headers") or []
    if not isinstance(headers_in, list) or len(headers_in) > MAX_HEADERS:
        raise _invalid("channel.config.headers", f"must be a list of at most {MAX_HEADERS}")
    headers = tuple(
        _header(item.get("key"), item.get("value"), "channel.config.headers")
        for item in (_object(h, "channel.config.headers") for h in headers_in)
    )
    auth_key = auth_value = None
    auth = config.get("authScheme")
    if auth is not None:
        auth = _object(auth, "channel.config.authScheme")
        if auth.get("type") != "HEADER":
            raise _invalid("channel.config.authScheme.type", "must be HEADER")
        # A PUT without the (write-only) value keeps the stored one for the same header.
        value = auth.get("value")
        if value is None and previous is not None and previous.auth_key == auth.get("key"):
            value = previous.auth_value
        auth_key, auth_value = _header(auth.get("key"), value, "channel.config.authScheme")
    return HookChannel(_uri(config.get("uri")), headers, auth_key, auth_value)


class EventHookRegistry:
    """The org's event hooks. Used from the sandbox's event loop only."""

    def __init__(self, clock: Clock, ids: IdFactory, creator_id: str) -> None:
        self._clock = clock
        self._ids = ids
        self._creator_id = creator_id
        self._hooks: dict[str, EventHook] = {}

    def all(self) -> list[EventHook]:
        return list(self._hooks.values())

    def get(self, hook_id: str) -> EventHook | None:
        return self._hooks.get(hook_id)

    def find(self, hook_id: str) -> EventHook:
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise errors.not_found(hook_id, "EventHook")
        return hook

    def subscribed(self, event_type: str) -> list[EventHook]:
        """The hooks that receive an event of this type now."""
        return [
            hook
            for hook in self._hooks.values()
            if hook.receives_events and event_type in hook.event_types
        ]

    def create(self, body: dict[str, Any]) -> EventHook:
        name = _text(body, "name", limit=MAX_NAME_LENGTH, required=True)
        description = _text(body, "description", limit=MAX_NAME_LENGTH, required=False)
        event_types = _event_types(body)
        channel = _channel(body, None)
        if len(self._hooks) >= MAX_EVENT_HOOKS:
            raise errors.validation_failed(
                "eventHook", f"An org may have at most {MAX_EVENT_HOOKS} event hooks."
            )
        now = self._clock.now_text()
        hook = EventHook(
            id=self._ids.new("who"),
            name=str(name),
            description=description,
            event_types=event_types,
            channel=channel,
            created=now,
            created_by=self._creator_id,
            last_updated=now,
        )
        self._hooks[hook.id] = hook
        return hook

    def replace(self, hook: EventHook, body: dict[str, Any]) -> EventHook:
        name = _text(body, "name", limit=MAX_NAME_LENGTH, required=True)
        description = _text(body, "description", limit=MAX_NAME_LENGTH, required=False)
        event_types = _event_types(body)
        channel = _channel(body, hook.channel)
        if channel != hook.channel:
            hook.verification_status = "UNVERIFIED"
        hook.name, hook.description = str(name), description
        hook.event_types, hook.channel = event_types, channel
        hook.last_updated = self._clock.now_text()
        return hook

    def set_status(self, hook: EventHook, status: str) -> EventHook:
        if hook.status != status:
            hook.status = status
            hook.last_updated = self._clock.now_text()
        return hook

    def mark_verified(self, hook: EventHook) -> EventHook:
        hook.verification_status = "VERIFIED"
        hook.last_updated = self._clock.now_text()
        return hook

    def delete(self, hook: EventHook) -> None:
        if hook.status == "ACTIVE":
            raise errors.validation_failed(
                "eventHook", "Event hook must be deactivated before it can be deleted."
            )
        del self._hooks[hook.id]

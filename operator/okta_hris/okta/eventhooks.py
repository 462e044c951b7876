"""Okta's Event Hooks management API (``/api/v1/eventHooks``), over ``OktaClient.send``.

What ``okta-hris hooks register|list|delete`` needs: create a hook that POSTs the event types
we consume to our receiver with the shared ``Authorization`` value, verify it (Okta then sends
the one-time ``X-Okta-Verification-Challenge`` GET to the receiver), activate, list, replace,
deactivate and delete. The shapes are Okta's (``EventHook`` in the Management API's OpenAPI
description): ``events {type: EVENT_TYPE, items}``, ``channel {type: HTTP, version: 1.0.0,
config {uri, authScheme {type: HEADER, key: Authorization, value}}}``. The auth value is
write-only at Okta (never returned) and is never kept in an ``EventHook`` here either.

Errors are those of ``OktaClient``: ``OktaUnauthorized``, ``OktaForbidden`` (the token's admin
may not manage hooks), ``OktaNotFound`` (no such hook), ``OktaApiError`` (Okta refused the hook,
e.g. a verification that failed), ``OktaUnavailable``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from okta_hris.errors import ConfigError, OktaApiError
from okta_hris.okta.client import OktaClient
from okta_hris.okta.models import validation_problems

EVENT_HOOKS_PATH = "/api/v1/eventHooks"
# Okta's ids are alphanumeric ("who8vt36qfNpCGz9H1e6"); anything else cannot name a hook and
# must not reach a URL path.
_HOOK_ID = re.compile(r"[A-Za-z0-9]{1,64}")
AUTH_HEADER = "Authorization"
# Okta's limit on an event hook's name.
MAX_NAME_LENGTH = 255


# A header value Okta can send: visible ASCII and spaces, no line breaks (RFC 9110 field-value).
_HEADER_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
MAX_AUTHORIZATION_LENGTH = 1024


def authorization_value(raw: str, where: str) -> str:
    """The Authorization value a hook Secret holds (``where`` names the Secret and key), or a
    one-line ``ConfigError`` that never quotes it. Surrounding whitespace (the newline of a
    Secret made from a file) is not part of it, for the CLI and the receiver alike."""
    value = raw.strip()
    if not value:
        raise ConfigError(f"{where} is empty")
    if len(value) > MAX_AUTHORIZATION_LENGTH or not _HEADER_VALUE.fullmatch(value):
        raise ConfigError(
            f"{where} is not a usable Authorization header value (printable ASCII, at most "
            f"{MAX_AUTHORIZATION_LENGTH} characters, no line breaks)"
        )
    return value


def check_hook_id(hook_id: str) -> str:
    """An Okta event hook id as given on a command line, or a one-line ``ConfigError``."""
    if not _HOOK_ID.fullmatch(hook_id):
        raise ConfigError(
            "an event hook id is 1 to 64 letters and digits (see okta-hris hooks list)"
        )
    return hook_id


class _OktaShape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _Subscriptions(_OktaShape):
    type: str = "EVENT_TYPE"
    items: list[str] = Field(default_factory=list)


class _ChannelConfig(_OktaShape):
    uri: str


class _Channel(_OktaShape):
    type: str = "HTTP"
    config: _ChannelConfig


class EventHook(_OktaShape):
    """An event hook as Okta returns it (without the auth value, which Okta never returns)."""

    id: str
    name: str
    status: Literal["ACTIVE", "INACTIVE"] | str
    verification_status: str | None = None
    events: _Subscriptions = Field(default_factory=_Subscriptions)
    channel: _Channel
    created: datetime | None = None
    last_updated: datetime | None = None

    @property
    def uri(self) -> str:
        return self.channel.config.uri

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self.events.items)

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"

    @property
    def verified(self) -> bool:
        return self.verification_status == "VERIFIED"


def hook_body(
    name: str, uri: str, event_types: Sequence[str], authorization: str
) -> dict[str, Any]:
    """The ``EventHook`` object Okta is sent to create or replace a hook."""
    return {
        "name": name[:MAX_NAME_LENGTH],
        "events": {"type": "EVENT_TYPE", "items": list(event_types)},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": uri,
                "authScheme": {"type": "HEADER", "key": AUTH_HEADER, "value": authorization},
            },
        },
    }


class EventHooksApi:
    """The Event Hooks API of one Okta org, through its ``OktaClient``."""

    def __init__(self, client: OktaClient) -> None:
        self._client = client

    async def list(self) -> list[EventHook]:
        """Every event hook of the org (Okta does not page this listing)."""
        data = await self._client.send("GET", EVENT_HOOKS_PATH)
        if not isinstance(data, list):
            raise OktaApiError(f"Okta answered GET {EVENT_HOOKS_PATH} with something not a list")
        return [_hook(item, f"GET {EVENT_HOOKS_PATH}") for item in data]

    async def get(self, hook_id: str) -> EventHook:
        return await self._call("GET", hook_id)

    async def create(
        self, name: str, uri: str, event_types: Sequence[str], authorization: str
    ) -> EventHook:
        """A new hook (Okta creates it ACTIVE and UNVERIFIED: it delivers once verified)."""
        body = hook_body(name, uri, event_types, authorization)
        # Not retried after a lost answer (a POST): the caller lists the hooks before a retry.
        data = await self._client.send("POST", EVENT_HOOKS_PATH, json=body)
        return _hook(data, f"POST {EVENT_HOOKS_PATH}")

    async def replace(
        self, hook_id: str, name: str, uri: str, event_types: Sequence[str], authorization: str
    ) -> EventHook:
        """Replace a hook's name, events and channel (Okta asks for a new verification)."""
        return await self._call(
            "PUT", hook_id, json=hook_body(name, uri, event_types, authorization)
        )

    async def verify(self, hook_id: str) -> EventHook:
        """Okta's one-time verification GET to the hook's URI; ``OktaApiError`` when the
        receiver did not answer it (within Okta's 3 seconds, one retry)."""
        return await self._call("POST", hook_id, "verify")

    async def activate(self, hook_id: str) -> EventHook:
        return await self._call("POST", hook_id, "activate")

    async def deactivate(self, hook_id: str) -> EventHook:
        return await self._call("POST", hook_id, "deactivate")

    async def delete(self, hook_id: str) -> None:
        """Okta deletes only an INACTIVE hook: ``deactivate`` first."""
        await self._client.send("DELETE", _hook_path(hook_id))

    async def _call(
        self, method: str, hook_id: str, lifecycle: str | None = None, json: Any = None
    ) -> EventHook:
        path = _hook_path(hook_id)
        if lifecycle is not None:
            path += f"/lifecycle/{lifecycle}"
        # Lifecycle actions are idempotent: activating an active hook changes nothing.
        data = await self._client.send(method, path, json=json, idempotent=True)
        return _hook(data, f"{method} {path}")


def _hook_path(hook_id: str) -> str:
    return f"{EVENT_HOOKS_PATH}/{quote(check_hook_id(hook_id), safe='')}"


def _hook(data: Any, call: str) -> EventHook:
    try:
        return EventHook.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, "hook")
        raise OktaApiError(
            f"Okta answered {call} with an unexpected event hook: {problems}"
        ) from None

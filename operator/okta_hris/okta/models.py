"""Models of the Okta objects the sync reads.

Okta's JSON is camelCase (``lastUpdated``, ``statusChanged``, ``eventType``) with dates as
``YYYY-MM-DDTHH:mm:ss.SSSZ``; the models expose snake_case attributes and timezone-aware
datetimes. The pydantic models keep unknown fields (``extra="allow"``): Okta adds fields over
time and orgs add custom profile attributes, and neither may break a sync.

The two msgspec structs are what a sync keeps of the bulk listings, the users and every group's
members (hundreds of MiB of JSON at 100,000 users): decoded straight from the page's bytes,
every other field skipped without being built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel


class OktaModel(BaseModel):
    """Base of the Okta models: camelCase aliases, unknown fields kept, aware datetimes."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
    )

    @field_validator("*", mode="after")
    @classmethod
    def _require_aware(cls, value: Any) -> Any:
        # Okta always sends UTC ("...Z"); a naive datetime means a malformed answer, and comparing
        # it with the aware watermarks of the engine would raise far away from the cause.
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("datetime without a time zone")
        return value


class OktaUser(OktaModel):
    """An Okta user (``GET /api/v1/users``). ``profile`` holds every profile attribute as sent."""

    id: str
    status: str
    created: datetime | None = None
    activated: datetime | None = None
    status_changed: datetime | None = None
    last_login: datetime | None = None
    last_updated: datetime
    password_changed: datetime | None = None
    profile: dict[str, Any] = Field(default_factory=dict)


class OktaUserFields(msgspec.Struct, rename="camel", gc=False):
    """What a sync keeps of an Okta user: id, status, ``lastUpdated`` and the profile as sent.

    ``gc=False``: nothing refers back to one, so the collector need not track 100,000 of them.
    """

    id: str
    status: str
    # Okta always sends UTC ("...Z"); a naive time is a malformed answer (as for OktaModel).
    last_updated: Annotated[datetime, msgspec.Meta(tz=True)]
    profile: dict[str, Any] = msgspec.field(default_factory=dict)


class OktaMember(msgspec.Struct, gc=False):
    """A group member as a sync keeps it: the user's id, the rest of the user object unread."""

    id: str


class OktaGroupProfile(OktaModel):
    name: str
    description: str | None = None


class OktaGroupStats(OktaModel):
    users_count: int | None = None


class OktaGroupEmbedded(OktaModel):
    stats: OktaGroupStats | None = None


class OktaGroup(OktaModel):
    """An Okta group (``GET /api/v1/groups``); ``type`` is OKTA_GROUP, APP_GROUP or BUILT_IN."""

    id: str
    type: str
    created: datetime | None = None
    last_updated: datetime
    last_membership_updated: datetime | None = None
    profile: OktaGroupProfile
    # Present only with ``expand=stats``.
    embedded: OktaGroupEmbedded | None = Field(default=None, alias="_embedded")

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def description(self) -> str | None:
        return self.profile.description

    @property
    def users_count(self) -> int | None:
        """``_embedded.stats.usersCount`` when listed with ``expand_stats=True``, else None."""
        if self.embedded is None or self.embedded.stats is None:
            return None
        return self.embedded.stats.users_count


class LogTarget(OktaModel):
    """One target of a System Log event; for user events ``type`` is ``User``."""

    id: str
    type: str | None = None
    alternate_id: str | None = None
    display_name: str | None = None


class LogEvent(OktaModel):
    """A System Log event (``GET /api/v1/logs``)."""

    uuid: str
    published: datetime
    event_type: str
    display_message: str | None = None
    target: list[LogTarget] = Field(default_factory=list)

    @field_validator("target", mode="before")
    @classmethod
    def _null_target(cls, value: Any) -> Any:
        # Okta sends "target": null for events without targets.
        return [] if value is None else value


def validation_problems(exc: ValidationError, what: str) -> str:
    """The first three problems of an Okta object that did not validate, by field, without the
    input values (they are personal data, and hostile)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or what}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)[:3]
    )

"""Which attributes and operators each Okta query parameter accepts.

- ``/api/v1/users?search=``: any profile attribute (``co`` only on names, email and login),
  ``id``, ``status``, ``type.id`` and the top-level timestamps; values are case-insensitive.
- ``/api/v1/users?filter=``: only ``status``, ``id``, ``lastUpdated`` and
  ``profile.login/email/firstName/lastName``; only ``eq``, except ``lastUpdated`` which also
  takes ``gt/ge/lt/le``; values are case-sensitive.
- ``/api/v1/groups?filter=``: ``id``, ``type``, ``lastUpdated``, ``lastMembershipUpdated``.
- ``/api/v1/groups?search=``: any group profile attribute and the top-level properties.
- ``/api/v1/logs?filter=``: any LogEvent attribute path, every operator, and ``not`` (Okta:
  "all operators except [ ] are supported").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okta_hris.sandbox.expressions import ORDERING, AttributeRule, Grammar
from okta_hris.sandbox.model import GroupRecord, UserRecord
from okta_hris.sandbox.systemlog import event_attribute

_EQ = frozenset({"eq"})
_SEARCH_STRING = frozenset({"eq", "sw", "gt", "ge", "lt", "le", "pr"})
_SEARCH_CONTAINS = _SEARCH_STRING | {"co"}
_DATES = ORDERING
_ALL = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "sw", "ew", "co", "pr"})

_USER_TOP_LEVEL: dict[str, Callable[[UserRecord], Any]] = {
    "id": lambda u: u.id,
    "status": lambda u: u.status,
    "type.id": lambda u: u.type_id,
    "created": lambda u: u.created,
    "activated": lambda u: u.activated,
    "statusChanged": lambda u: u.status_changed,
    "lastUpdated": lambda u: u.last_updated,
    "lastLogin": lambda u: u.last_login,
    "passwordChanged": lambda u: u.password_changed,
}
_USER_DATES = frozenset(
    {"created", "activated", "statusChanged", "lastUpdated", "lastLogin", "passwordChanged"}
)
_CONTAINS_ALLOWED = frozenset({"firstName", "lastName", "email", "login"})


def _profile_getter(name: str) -> Callable[[Any], Any]:
    return lambda record: record.profile.get(name)


def user_search_grammar(profile_attributes: frozenset[str]) -> Grammar:
    def resolve(attribute: str) -> AttributeRule | None:
        if attribute in _USER_DATES:
            return AttributeRule(_USER_TOP_LEVEL[attribute], _DATES | {"pr"}, "date")
        if attribute in _USER_TOP_LEVEL:
            operators = _EQ if attribute == "type.id" else _SEARCH_STRING
            return AttributeRule(_USER_TOP_LEVEL[attribute], operators)
        if attribute.startswith("profile."):
            name = attribute.removeprefix("profile.")
            if name not in profile_attributes:
                return None
            operators = _SEARCH_CONTAINS if name in _CONTAINS_ALLOWED else _SEARCH_STRING
            return AttributeRule(_profile_getter(name), operators)
        return None

    return Grammar("search", resolve, case_sensitive=False)


_USER_FILTER_PROFILE = frozenset({"login", "email", "firstName", "lastName"})


def user_filter_grammar() -> Grammar:
    def resolve(attribute: str) -> AttributeRule | None:
        if attribute == "lastUpdated":
            return AttributeRule(_USER_TOP_LEVEL[attribute], _DATES, "date")
        if attribute in ("id", "status"):
            return AttributeRule(_USER_TOP_LEVEL[attribute], _EQ)
        name = attribute.removeprefix("profile.")
        if attribute.startswith("profile.") and name in _USER_FILTER_PROFILE:
            return AttributeRule(_profile_getter(name), _EQ)
        return None

    return Grammar("filter", resolve, case_sensitive=True)


_GROUP_TOP_LEVEL: dict[str, Callable[[GroupRecord], Any]] = {
    "id": lambda g: g.id,
    "type": lambda g: g.type,
    "created": lambda g: g.created,
    "lastUpdated": lambda g: g.last_updated,
    "lastMembershipUpdated": lambda g: g.last_membership_updated,
    "source.id": lambda g: g.source_app_id,
}
_GROUP_DATES = frozenset({"created", "lastUpdated", "lastMembershipUpdated"})


def group_filter_grammar() -> Grammar:
    def resolve(attribute: str) -> AttributeRule | None:
        if attribute in ("lastUpdated", "lastMembershipUpdated"):
            return AttributeRule(_GROUP_TOP_LEVEL[attribute], _DATES, "date")
        if attribute in ("id", "type"):
            return AttributeRule(_GROUP_TOP_LEVEL[attribute], _EQ)
        return None

    return Grammar("filter", resolve, case_sensitive=True)


def group_search_grammar() -> Grammar:
    def resolve(attribute: str) -> AttributeRule | None:
        if attribute in _GROUP_DATES:
            return AttributeRule(_GROUP_TOP_LEVEL[attribute], _DATES, "date")
        if attribute in _GROUP_TOP_LEVEL:
            operators = _SEARCH_STRING if attribute == "id" else _EQ
            return AttributeRule(_GROUP_TOP_LEVEL[attribute], operators)
        if attribute.startswith("profile."):
            name = attribute.removeprefix("profile.")
            operators = _SEARCH_CONTAINS if name in ("name", "description") else _SEARCH_STRING
            return AttributeRule(_profile_getter(name), operators)
        return None

    return Grammar("search", resolve, case_sensitive=False)


def log_filter_grammar() -> Grammar:
    def resolve(attribute: str) -> AttributeRule | None:
        if attribute == "published":
            return AttributeRule(event_attribute(attribute), _DATES, "date")
        return AttributeRule(event_attribute(attribute), _ALL)

    return Grammar("filter", resolve, case_sensitive=False, logical=frozenset({"and", "or", "not"}))

"""The in-memory org: users, groups, memberships and the System Log, with Okta's write rules.

Every write goes through ``Org`` so that it updates ``lastUpdated``/``statusChanged``, the
groups' ``lastMembershipUpdated``, drops the user's cached JSON and appends the System Log
events Okta writes for it.
"""

from __future__ import annotations

import json
import random
import string
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from okta_hris.sandbox import errors
from okta_hris.sandbox.clock import Clock
from okta_hris.sandbox.systemlog import Actor, RequestContext, SystemLog, Target

# The default user profile (UserProfile in Okta's OpenAPI spec). Anything else must be a
# custom attribute declared in the org's schema, or Okta rejects it.
BASE_PROFILE_ATTRIBUTES = frozenset(
    {
        "city",
        "costCenter",
        "countryCode",
        "department",
        "displayName",
        "division",
        "email",
        "employeeNumber",
        "firstName",
        "honorificPrefix",
        "honorificSuffix",
        "lastName",
        "locale",
        "login",
        "manager",
        "managerId",
        "middleName",
        "mobilePhone",
        "nickName",
        "organization",
        "postalAddress",
        "preferredLanguage",
        "primaryPhone",
        "profileUrl",
        "secondEmail",
        "state",
        "streetAddress",
        "timezone",
        "title",
        "userType",
        "zipCode",
    }
)
REQUIRED_PROFILE_ATTRIBUTES = ("login", "email", "firstName", "lastName")
# Okta always returns these two, as null when unset.
ALWAYS_PRESENT_ATTRIBUTES = ("mobilePhone", "secondEmail")
MAX_LENGTHS = {
    "login": 100,
    "email": 100,
    "secondEmail": 100,
    "firstName": 50,
    "lastName": 50,
    "countryCode": 2,
    "city": 128,
    "state": 128,
    "zipCode": 50,
    "streetAddress": 1024,
    "mobilePhone": 100,
    "primaryPhone": 100,
    "postalAddress": 4096,
}
USER_STATUSES = (
    "ACTIVE",
    "DEPROVISIONED",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "PROVISIONED",
    "RECOVERY",
    "STAGED",
    "SUSPENDED",
)
GROUP_TYPES = ("APP_GROUP", "BUILT_IN", "OKTA_GROUP")

_ID_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    """Okta ids: a 3-character type prefix (``00u`` users, ``00g`` groups, ...) and 17
    characters, 20 in all."""

    def __init__(self, rng: random.Random, issued: set[str] | None = None) -> None:
        self._rng = rng
        self.issued: set[str] = issued if issued is not None else set()

    def new(self, prefix: str) -> str:
        while True:
            candidate = prefix + "".join(self._rng.choices(_ID_ALPHABET, k=20 - len(prefix)))
            if candidate not in self.issued:
                self.issued.add(candidate)
                return candidate


@dataclass(slots=True, eq=False)
class UserRecord:
    id: str
    status: str
    created: str
    activated: str | None
    status_changed: str | None
    last_login: str | None
    last_updated: str
    password_changed: str | None
    profile: dict[str, Any]
    type_id: str
    provider: str = "OKTA"
    has_password: bool = True
    recovery_question: str | None = None
    group_ids: set[str] = field(default_factory=set)
    cache: tuple[str, bytes] | None = None  # (base URL, list-form JSON)

    @property
    def login(self) -> str:
        return str(self.profile.get("login") or "")

    @property
    def full_name(self) -> str:
        parts = (self.profile.get("firstName"), self.profile.get("lastName"))
        return " ".join(str(p) for p in parts if p)


@dataclass(slots=True, eq=False)
class GroupRecord:
    id: str
    type: str
    created: str
    last_updated: str
    last_membership_updated: str
    profile: dict[str, Any]
    object_class: str = "okta:user_group"
    source_app_id: str | None = None
    member_ids: list[str] = field(default_factory=list)  # sorted
    cache: tuple[str, bytes] | None = None

    @property
    def name(self) -> str:
        return str(self.profile.get("name") or "")

    def has_member(self, user_id: str) -> bool:
        index = bisect_left(self.member_ids, user_id)
        return index < len(self.member_ids) and self.member_ids[index] == user_id

    def add(self, user_id: str) -> bool:
        if self.has_member(user_id):
            return False
        insort(self.member_ids, user_id)
        return True

    def discard(self, user_id: str) -> bool:
        index = bisect_left(self.member_ids, user_id)
        if index < len(self.member_ids) and self.member_ids[index] == user_id:
            del self.member_ids[index]
            return True
        return False

    def members_after(self, after: str | None) -> list[str]:
        start = 0 if after is None else bisect_right(self.member_ids, after)
        return self.member_ids[start:]


# --- JSON rendering ----------------------------------------------------------------------------

_POST = "POST"
# The lifecycle operations each status allows, as Okta lists them in a user's ``_links``. Okta
# also links the password, recovery-question and factor operations; the sandbox does not serve
# those, so it does not advertise them either (nor the schema and type metadata links).
_USER_LINKS: dict[str, tuple[str, ...]] = {
    "STAGED": ("activate", "deactivate"),
    "PROVISIONED": ("reactivate", "deactivate"),
    "ACTIVE": ("suspend", "deactivate"),
    "RECOVERY": ("deactivate", "reactivate"),
    "PASSWORD_EXPIRED": ("deactivate",),
    "LOCKED_OUT": ("unlock", "deactivate"),
    "SUSPENDED": ("unsuspend", "deactivate"),
    "DEPROVISIONED": ("activate",),
}
_LINK_PATHS = {
    "activate": "lifecycle/activate",
    "reactivate": "lifecycle/reactivate",
    "deactivate": "lifecycle/deactivate",
    "suspend": "lifecycle/suspend",
    "unsuspend": "lifecycle/unsuspend",
    "unlock": "lifecycle/unlock",
}


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def user_json(user: UserRecord, base: str, *, full: bool) -> dict[str, Any]:
    """A User as Okta returns it: ``full`` for a single user (a link for every lifecycle
    operation the status allows that the sandbox serves), otherwise the collection form, whose
    ``_links`` holds only ``self``."""
    profile = dict(user.profile)
    for name in ALWAYS_PRESENT_ATTRIBUTES:
        profile.setdefault(name, None)
    credentials: dict[str, Any] = {}
    if user.has_password:
        credentials["password"] = {}
    if user.recovery_question:
        credentials["recovery_question"] = {"question": user.recovery_question}
    credentials["provider"] = {"type": user.provider, "name": user.provider}
    href = f"{base}/api/v1/users/{user.id}"
    links: dict[str, Any] = {}
    if full:
        for name in _USER_LINKS.get(user.status, ()):
            links[name] = {"href": f"{href}/{_LINK_PATHS[name]}", "method": _POST}
    links["self"] = {"href": href}
    return {
        "id": user.id,
        "status": user.status,
        "created": user.created,
        "activated": user.activated,
        "statusChanged": user.status_changed,
        "lastLogin": user.last_login,
        "lastUpdated": user.last_updated,
        "passwordChanged": user.password_changed,
        "type": {"id": user.type_id},
        "profile": profile,
        "credentials": credentials,
        "_links": links,
    }


def user_list_bytes(user: UserRecord, base: str) -> bytes:
    """The collection form, cached until the user changes: a page is a join of these."""
    cached = user.cache
    if cached is not None and cached[0] == base:
        return cached[1]
    encoded = dumps(user_json(user, base, full=False))
    user.cache = (base, encoded)
    return encoded


def group_json(group: GroupRecord, base: str) -> dict[str, Any]:
    href = f"{base}/api/v1/groups/{group.id}"
    links: dict[str, Any] = {
        "logo": [
            {
                "name": "medium",
                "href": f"{base}/assets/img/logos/groups/okta-medium.png",
                "type": "image/png",
            },
            {
                "name": "large",
                "href": f"{base}/assets/img/logos/groups/okta-large.png",
                "type": "image/png",
            },
        ],
        "users": {"href": f"{href}/users"},
        "apps": {"href": f"{href}/apps"},
    }
    if group.source_app_id:
        links["source"] = {"href": f"{base}/api/v1/apps/{group.source_app_id}"}
    return {
        "id": group.id,
        "created": group.created,
        "lastUpdated": group.last_updated,
        "lastMembershipUpdated": group.last_membership_updated,
        "objectClass": [group.object_class],
        "type": group.type,
        "profile": dict(group.profile),
        "_links": links,
    }


def group_bytes(group: GroupRecord, base: str, *, stats: bool) -> bytes:
    if stats:
        data = group_json(group, base)
        data["_embedded"] = {
            "stats": {
                "usersCount": len(group.member_ids),
                "appsCount": 0,
                "groupPushMappingsCount": 0,
            }
        }
        return dumps(data)
    cached = group.cache
    if cached is not None and cached[0] == base:
        return cached[1]
    encoded = dumps(group_json(group, base))
    group.cache = (base, encoded)
    return encoded


def join_array(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


# --- the org -----------------------------------------------------------------------------------


def _user_target(user: UserRecord) -> Target:
    return Target(user.id, "User", user.login, user.full_name)


def _group_target(group: GroupRecord) -> Target:
    return Target(group.id, "UserGroup", "unknown", group.name)


class Org:
    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdFactory,
        user_type_id: str,
        admin: Actor,
        token_id: str,
        custom_attributes: tuple[str, ...],
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.user_type_id = user_type_id
        self.admin = admin
        self.profile_attributes = BASE_PROFILE_ATTRIBUTES | frozenset(custom_attributes)
        self.log = SystemLog(clock, admin, token_id)
        self.users: dict[str, UserRecord] = {}
        self.groups: dict[str, GroupRecord] = {}
        self._user_order: list[str] = []
        self._group_order: list[str] = []
        self._logins: dict[str, str] = {}
        self.everyone_id = ""
        self.version = 0  # bumped by every write; keys caches of sorted search results

    # -- loading (the generator) and lookups ---------------------------------------------------

    def insert_user(self, user: UserRecord) -> None:
        self.users[user.id] = user
        insort(self._user_order, user.id)
        self._logins[user.login.casefold()] = user.id

    def insert_group(self, group: GroupRecord) -> None:
        self.groups[group.id] = group
        insort(self._group_order, group.id)
        if group.type == "BUILT_IN" and group.name == "Everyone":
            self.everyone_id = group.id
        for user_id in group.member_ids:
            self.users[user_id].group_ids.add(group.id)

    def find_user(self, id_or_login: str) -> UserRecord:
        user = self.users.get(id_or_login)
        if user is None:
            user_id = self._logins.get(id_or_login.casefold())
            user = self.users.get(user_id) if user_id else None
        if user is None:
            raise errors.not_found(id_or_login, "User")
        return user

    def find_group(self, group_id: str) -> GroupRecord:
        group = self.groups.get(group_id)
        if group is None:
            raise errors.not_found(group_id, "UserGroup")
        return group

    def users_after(self, after: str | None) -> Iterator[UserRecord]:
        """Users in id order, after the cursor (the last id of the previous page)."""
        order, users = self._user_order, self.users
        start = 0 if after is None else bisect_right(order, after)
        for index in range(start, len(order)):
            yield users[order[index]]

    def all_users(self) -> list[UserRecord]:
        return [self.users[user_id] for user_id in self._user_order]

    def all_groups(self) -> list[GroupRecord]:
        return [self.groups[group_id] for group_id in self._group_order]

    def groups_after(self, after: str | None) -> Iterator[GroupRecord]:
        start = 0 if after is None else bisect_right(self._group_order, after)
        for group_id in self._group_order[start:]:
            yield self.groups[group_id]

    def groups_of(self, user: UserRecord) -> list[GroupRecord]:
        return [self.groups[group_id] for group_id in sorted(user.group_ids)]

    # -- profile validation ---------------------------------------------------------------------

    def _check_profile(self, profile: Any, *, complete: bool) -> dict[str, Any]:
        if not isinstance(profile, dict):
            raise errors.validation_failed("profile", "profile: must be an object")
        causes: list[tuple[str, str]] = []
        for name, value in profile.items():
            if name not in self.profile_attributes:
                causes.append((name, f"Property name '{name}' is not defined in the schema"))
                continue
            if value is not None and not isinstance(value, str | int | float | bool | list):
                causes.append((name, f"{name}: has an invalid type"))
                continue
            limit = MAX_LENGTHS.get(name)
            if limit is not None and isinstance(value, str) and len(value) > limit:
                causes.append((name, f"{name}: size must be between 0 and {limit}"))
        for name in REQUIRED_PROFILE_ATTRIBUTES:
            if name in profile or complete:
                value = profile.get(name)
                if value is None or (isinstance(value, str) and not value.strip()):
                    causes.append((name, f"{name}: The field cannot be left blank"))
        for name in ("login", "email", "secondEmail"):
            value = profile.get(name)
            if isinstance(value, str) and value and "@" not in value:
                causes.append((name, f"{name}: Does not match required pattern"))
        if causes:
            raise errors.validation_failed(causes[0][0], *(text for _, text in causes))
        return dict(profile)

    def _check_login_free(self, login: str, user_id: str | None) -> None:
        owner = self._logins.get(login.casefold())
        if owner is not None and owner != user_id:
            raise errors.validation_failed(
                "login",
                "login: An object with this field already exists in the current organization",
            )

    # -- user writes ----------------------------------------------------------------------------

    def _touch(self, user: UserRecord) -> str:
        now = self.clock.now_text()
        user.last_updated = now
        user.cache = None
        self.version += 1
        return now

    def _set_status(self, user: UserRecord, status: str) -> str:
        now = self._touch(user)
        if status != user.status:
            user.status = status
            user.status_changed = now
        return now

    def create_user(
        self,
        body: dict[str, Any],
        *,
        activate: bool,
        context: RequestContext | None,
    ) -> UserRecord:
        profile = self._check_profile(body.get("profile"), complete=True)
        self._check_login_free(str(profile["login"]), None)
        credentials = body.get("credentials") or {}
        if not isinstance(credentials, dict):
            raise errors.validation_failed("credentials", "credentials: must be an object")
        password = credentials.get("password") or {}
        has_password = isinstance(password, dict) and bool(
            password.get("value") or password.get("hash")
        )
        question = credentials.get("recovery_question") or {}
        group_ids = body.get("groupIds") or []
        if not isinstance(group_ids, list):
            raise errors.validation_failed("groupIds", "groupIds: must be a list")
        groups = [self.find_group(str(group_id)) for group_id in group_ids]
        for group in groups:
            if group.type != "OKTA_GROUP":
                raise errors.forbidden()
        type_id = (body.get("type") or {}).get("id") or self.user_type_id
        if type_id != self.user_type_id:
            raise errors.validation_failed("type", f"type: unknown user type {type_id}")

        now = self.clock.now_text()
        user = UserRecord(
            id=self.ids.new("00u"),
            status="STAGED",
            created=now,
            activated=None,
            status_changed=None,
            last_login=None,
            last_updated=now,
            password_changed=now if has_password else None,
            profile=profile,
            type_id=type_id,
            has_password=has_password,
            recovery_question=question.get("question") if isinstance(question, dict) else None,
        )
        self.insert_user(user)
        self.version += 1
        self.log.append(
            "user.lifecycle.create",
            "Create Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_creation.success",
        )
        everyone = self.groups.get(self.everyone_id)
        if everyone is not None and everyone.add(user.id):
            user.group_ids.add(everyone.id)
            self._membership_changed(everyone)
        for group in groups:
            self._add_member(group, user, context)
        if activate:
            self._activate(user, context)
        return user

    def update_user(
        self,
        user: UserRecord,
        body: dict[str, Any],
        *,
        replace: bool,
        context: RequestContext | None,
    ) -> UserRecord:
        if "profile" not in body and "credentials" not in body:
            raise errors.validation_failed("user", "profile: is required")
        if user.status == "DEPROVISIONED":
            # Okta keeps deactivated profiles read-only unless an org setting allows edits.
            raise errors.wrong_status()
        if "profile" in body:
            if replace:
                profile = self._check_profile(body["profile"], complete=True)
            else:
                patch = self._check_profile(body["profile"], complete=False)
                profile = {**user.profile, **patch}
            new_login = str(profile.get("login") or user.login)
            self._check_login_free(new_login, user.id)
            if new_login.casefold() != user.login.casefold():
                del self._logins[user.login.casefold()]
                self._logins[new_login.casefold()] = user.id
            user.profile = profile
        credentials = body.get("credentials") or {}
        now = self._touch(user)
        password = credentials.get("password") if isinstance(credentials, dict) else None
        if isinstance(password, dict) and password.get("value"):
            user.has_password = True
            user.password_changed = now
        if "profile" in body:
            self.log.append(
                "user.account.update_profile",
                "Update user profile for Okta",
                [_user_target(user)],
                context,
                legacy_event_type="core.user.config.profile_update.success",
            )
        return user

    def _activate(self, user: UserRecord, context: RequestContext | None) -> None:
        # Without a password the user has to finish the activation e-mail flow first.
        status = "ACTIVE" if user.has_password else "PROVISIONED"
        now = self._set_status(user, status)
        if status == "ACTIVE":
            user.activated = now
        self.log.append(
            "user.lifecycle.activate",
            "Activate Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_activated",
        )

    def activate(self, user: UserRecord, context: RequestContext | None) -> None:
        if user.status == "ACTIVE":
            raise errors.already_active()
        if user.status not in ("STAGED", "DEPROVISIONED"):
            raise errors.wrong_status()
        self._activate(user, context)

    def reactivate(self, user: UserRecord, context: RequestContext | None) -> None:
        if user.status not in ("PROVISIONED", "RECOVERY"):
            raise errors.wrong_status()
        self._set_status(user, "PROVISIONED")
        self.log.append(
            "user.lifecycle.reactivate",
            "Reactivate Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_reactivated",
        )

    def deactivate(self, user: UserRecord, context: RequestContext | None) -> None:
        if user.status == "DEPROVISIONED":
            raise errors.wrong_status()
        self._set_status(user, "DEPROVISIONED")
        # Deactivation wipes credentials: a reactivated user goes through activation again.
        user.has_password = False
        user.recovery_question = None
        self.log.append(
            "user.lifecycle.deactivate",
            "Deactivate Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_deactivated",
        )

    def suspend(self, user: UserRecord, context: RequestContext | None) -> None:
        if user.status != "ACTIVE":
            raise errors.precondition_failed(
                "suspendUser", "Cannot suspend a user that is not active"
            )
        self._set_status(user, "SUSPENDED")
        self.log.append(
            "user.lifecycle.suspend",
            "Suspend Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_status.suspended",
        )

    def unsuspend(self, user: UserRecord, context: RequestContext | None) -> None:
        if user.status != "SUSPENDED":
            raise errors.precondition_failed(
                "unsuspendUser", "Cannot unsuspend a user that is not suspended"
            )
        self._set_status(user, "ACTIVE")
        self.log.append(
            "user.lifecycle.unsuspend",
            "Unsuspend Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_status.unsuspended",
        )

    def unlock(self, user: UserRecord, context: RequestContext | None) -> None:
        if user.status != "LOCKED_OUT":
            raise errors.unlock_not_allowed()
        self._set_status(user, "ACTIVE")
        self.log.append(
            "user.account.unlock_by_admin",
            "Unlock user account by admin",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_status.account_unlock",
        )

    def delete_user(self, user: UserRecord, context: RequestContext | None) -> bool:
        """Okta's DELETE: deactivates a user that is not yet deprovisioned (returns False), and
        deletes one that is (returns True)."""
        if user.status != "DEPROVISIONED":
            self.deactivate(user, context)
            return False
        self.log.append(
            "user.lifecycle.delete.initiated",
            "Delete Okta user",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_deleted",
        )
        for group_id in sorted(user.group_ids):
            group = self.groups[group_id]
            if group.discard(user.id):
                self._membership_changed(group)
        del self.users[user.id]
        self._user_order.pop(bisect_left(self._user_order, user.id))
        self._logins.pop(user.login.casefold(), None)
        self.version += 1
        self.log.append(
            "user.lifecycle.delete.completed",
            "Delete Okta user completed",
            [_user_target(user)],
            context,
            legacy_event_type="core.user.config.user_deleted",
        )
        return True

    # -- group writes ---------------------------------------------------------------------------

    def _check_group_profile(self, profile: Any, group_id: str | None) -> dict[str, Any]:
        if not isinstance(profile, dict):
            raise errors.validation_failed("profile", "profile: must be an object")
        name = profile.get("name")
        if not isinstance(name, str) or not name.strip():
            raise errors.validation_failed("name", "name: The field cannot be left blank")
        description = profile.get("description")
        if description is not None and not isinstance(description, str):
            raise errors.validation_failed("description", "description: must be a string")
        for other in self.groups.values():
            if other.id != group_id and other.name.casefold() == name.casefold():
                raise errors.validation_failed(
                    "name",
                    "name: An object with this field already exists in the current organization",
                )
        return dict(profile)

    def create_group(self, body: dict[str, Any], context: RequestContext | None) -> GroupRecord:
        profile = self._check_group_profile(body.get("profile"), None)
        now = self.clock.now_text()
        group = GroupRecord(
            id=self.ids.new("00g"),
            type="OKTA_GROUP",
            created=now,
            last_updated=now,
            last_membership_updated=now,
            profile=profile,
        )
        self.insert_group(group)
        self.version += 1
        self.log.append(
            "group.lifecycle.create",
            "Create okta group",
            [_group_target(group)],
            context,
            legacy_event_type="core.user_group.created",
        )
        return group

    def replace_group(
        self, group: GroupRecord, body: dict[str, Any], context: RequestContext | None
    ) -> GroupRecord:
        if group.type != "OKTA_GROUP":
            raise errors.forbidden()
        group.profile = self._check_group_profile(body.get("profile"), group.id)
        group.last_updated = self.clock.now_text()
        group.cache = None
        self.version += 1
        self.log.append(
            "group.profile.update",
            "Update group profile",
            [_group_target(group)],
            context,
            legacy_event_type="core.user_group.profile_updated",
        )
        return group

    def delete_group(self, group: GroupRecord, context: RequestContext | None) -> None:
        # Okta owns BUILT_IN groups and the source app owns APP_GROUPs.
        if group.type != "OKTA_GROUP":
            raise errors.forbidden()
        for user_id in group.member_ids:
            self.users[user_id].group_ids.discard(group.id)
        del self.groups[group.id]
        self._group_order.pop(bisect_left(self._group_order, group.id))
        self.version += 1
        self.log.append(
            "group.lifecycle.delete",
            "Delete okta group",
            [_group_target(group)],
            context,
            legacy_event_type="core.user_group.deleted",
        )

    def _membership_changed(self, group: GroupRecord) -> None:
        group.last_membership_updated = self.clock.now_text()
        group.cache = None
        self.version += 1

    def _add_member(
        self, group: GroupRecord, user: UserRecord, context: RequestContext | None
    ) -> None:
        if not group.add(user.id):
            return
        user.group_ids.add(group.id)
        self._membership_changed(group)
        self.log.append(
            "group.user_membership.add",
            "Add user to group membership",
            [_user_target(user), _group_target(group)],
            context,
            legacy_event_type="core.user_group_member.user_add",
        )

    def add_member(
        self, group: GroupRecord, user: UserRecord, context: RequestContext | None
    ) -> None:
        if group.type != "OKTA_GROUP":
            raise errors.forbidden()
        self._add_member(group, user, context)

    def remove_member(
        self, group: GroupRecord, user: UserRecord, context: RequestContext | None
    ) -> None:
        if group.type != "OKTA_GROUP":
            raise errors.forbidden()
        if not group.discard(user.id):
            return
        user.group_ids.discard(group.id)
        self._membership_changed(group)
        self.log.append(
            "group.user_membership.remove",
            "Remove user from group membership",
            [_user_target(user), _group_target(group)],
            context,
            legacy_event_type="core.user_group_member.user_remove",
        )

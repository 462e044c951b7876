"""The org generator: deterministic for a seed, realistic, and messy on purpose."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import phonenumbers
import pytest

from okta_hris.sandbox import Sandbox
from okta_hris.sandbox.clock import Clock
from okta_hris.sandbox.generator import generate_org
from okta_hris.sandbox.model import group_json, user_json

from .sandbox_http import OKTA_TIME, client_for, every_user, list_all

User = dict[str, Any]
CORE = [
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "People Ops",
    "Support",
    "Interns",
    "Design",
]


def snapshot(users: int, groups: int, seed: int) -> list[Any]:
    org = generate_org(
        users=users, groups=groups, seed=seed, clock=Clock(), custom_attributes=("employeeType",)
    )
    return [user_json(u, "http://sandbox", full=True) for u in org.all_users()] + [
        {**group_json(g, "http://sandbox"), "members": g.member_ids} for g in org.all_groups()
    ]


def test_the_same_seed_gives_the_same_org() -> None:
    assert snapshot(300, 25, seed=7) == snapshot(300, 25, seed=7)
    assert snapshot(300, 25, seed=7) != snapshot(300, 25, seed=8)
    assert snapshot(50, 9, seed=3) == snapshot(50, 9, seed=3)


def test_the_same_seed_serves_the_same_org_over_http(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    def listing(sandbox: Sandbox) -> list[Any]:
        with client_for(sandbox) as client:
            users = every_user(client)
            groups = list_all(client, "/api/v1/groups", {"expand": "stats"})
        text = repr((users, groups))
        return [text.replace(sandbox.url, "URL")]

    first = sandbox_factory(users=120, groups=12, seed=99)
    second = sandbox_factory(users=120, groups=12, seed=99)
    assert first.url != second.url
    assert listing(first) == listing(second)


@pytest.fixture(scope="module")
def org(shared_sandbox: Sandbox) -> Any:
    """A bigger org than the shared one, so every kind of mess is present."""
    return generate_org(
        users=1000, groups=50, seed=7, clock=Clock(), custom_attributes=("employeeType",)
    )


@pytest.fixture(scope="module")
def users(org: Any) -> list[User]:
    return [user_json(u, "http://sandbox", full=False) for u in org.all_users()]


def profiles(users: list[User], name: str) -> list[Any]:
    return [u["profile"].get(name) for u in users]


def test_names_are_unicode_long_and_punctuated(users: list[User]) -> None:
    first = profiles(users, "firstName")
    last = profiles(users, "lastName")
    names = first + last
    assert all(1 <= len(n) <= 50 for n in names)
    assert sum(not n.isascii() for n in names) > 100
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", n) for n in names)  # CJK
    assert any("'" in n for n in names) and any("-" in n for n in names)
    assert any(len(n) >= 30 for n in last) and any(len(n) == 50 for n in last)
    assert all(u["profile"]["login"].isascii() for u in users)
    assert len({u["profile"]["login"].casefold() for u in users}) == len(users)


def test_optional_fields_are_sometimes_missing(users: list[User]) -> None:
    def share_missing(name: str) -> float:
        return sum(not value for value in profiles(users, name)) / len(users)

    assert 0.15 < share_missing("displayName") < 0.45
    assert 0.15 < share_missing("mobilePhone") < 0.4
    assert 0.1 < share_missing("streetAddress") < 0.3
    assert 0.5 < share_missing("secondEmail") < 0.85
    # Okta returns these two even when unset.
    assert all("mobilePhone" in u["profile"] and "secondEmail" in u["profile"] for u in users)


def test_countries_with_matching_places(users: list[User]) -> None:
    codes = Counter(profiles(users, "countryCode"))
    upper = {c for c in codes if c and c.isupper()}
    assert {"US", "DE", "GB", "FR", "IN", "JP", "BR", "CA", "ES", "NL"} <= upper
    assert any(c and c.islower() for c in codes) and "" in codes and None in codes
    patterns = {
        "US": r"\d{5}",
        "DE": r"\d{5}",
        "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}",
        "CA": r"[A-Z]\d[A-Z] \d[A-Z]\d",
        "NL": r"\d{4} [A-Z]{2}",
        "JP": r"\d{3}-\d{4}",
        "BR": r"\d{5}-\d{3}",
        "IN": r"\d{6}",
    }
    checked = 0
    for user in users:
        profile = user["profile"]
        code = (profile.get("countryCode") or "").upper()
        if code in patterns and profile.get("zipCode"):
            assert re.fullmatch(patterns[code], profile["zipCode"]), profile
            checked += 1
    assert checked > 300
    us_states = {p.get("state") for p in (u["profile"] for u in users)
                 if p.get("countryCode") == "US" and p.get("state")}  # fmt: skip
    assert us_states & {"CA", "California"} and us_states <= {
        "CA", "California", "Ca", "NY", "New York", "TX", "Texas", "WA", "Washington", "IL",
        "Illinois", "MA", "Massachusetts", "CO", "Colorado", "GA", "Georgia",
    }  # fmt: skip


def test_phone_numbers_are_messy(users: list[User]) -> None:
    phones = [p for p in profiles(users, "mobilePhone") if p]
    parsed = 0
    for phone in phones:
        try:
            phonenumbers.parse(phone, "US")
            parsed += 1
        except phonenumbers.NumberParseException:
            pass
    assert 0.8 * len(phones) < parsed < len(phones)  # most parse, some never will
    shapes = {re.sub(r"\d", "9", p) for p in phones}
    assert len(shapes) > 30
    assert any(p.startswith("+") for p in phones) and any(p.startswith("0") for p in phones)
    assert any("(" in p for p in phones) and any("." in p for p in phones)


def test_employment_types_in_mixed_case(users: list[User]) -> None:
    user_types = Counter(profiles(users, "userType"))
    assert {"Full-time", "full-time", "FULL-TIME", "Contractor", "Part-time", "Intern"} <= set(
        user_types
    )
    assert user_types[None] > 20
    values = profiles(users, "employeeType")
    employee_types = Counter(v for v in values if not isinstance(v, list))
    assert employee_types["Contractor"] > 20 and employee_types[None] > 20
    assert any(isinstance(v, list) for v in values)  # Okta allows array attributes (SPEC §9)


def test_every_status_is_present_mostly_active(users: list[User]) -> None:
    statuses = Counter(u["status"] for u in users)
    assert set(statuses) == {
        "ACTIVE", "PROVISIONED", "STAGED", "SUSPENDED", "LOCKED_OUT", "PASSWORD_EXPIRED",
        "RECOVERY", "DEPROVISIONED",
    }  # fmt: skip
    assert statuses["ACTIVE"] / len(users) > 0.7


def test_timestamps_are_consistent_and_in_the_past(users: list[User]) -> None:
    now = datetime.now(UTC).isoformat()
    for user in users:
        stamps = [user[k] for k in ("created", "activated", "statusChanged", "lastUpdated",
                                    "passwordChanged") if user[k]]  # fmt: skip
        assert all(OKTA_TIME.match(s) for s in stamps)
        assert all(user["created"] <= s <= user["lastUpdated"] for s in stamps)
        # Signing in is not an update: lastLogin may come after lastUpdated.
        assert user["lastLogin"] is None or user["created"] <= user["lastLogin"] < now
        assert user["lastUpdated"] < now
        if user["status"] == "STAGED":
            assert user["activated"] is None and user["lastLogin"] is None
    years = {u["created"][:4] for u in users}
    assert len(years) >= 5


def test_core_teams_come_first(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=40, groups=8, seed=1)
    with client_for(sandbox) as client:
        groups = client.get("/api/v1/groups").json()
    assert sorted(g["profile"]["name"] for g in groups) == sorted([*CORE, "Everyone"])
    assert {g["type"] for g in groups if g["profile"]["name"] != "Everyone"} == {"OKTA_GROUP"}


def test_group_sizes_and_memberships(org: Any) -> None:
    groups = org.all_groups()
    everyone = next(g for g in groups if g.type == "BUILT_IN")
    assert everyone.name == "Everyone" and len(everyone.member_ids) == 1000
    others = [g for g in groups if g.type != "BUILT_IN"]
    assert len(others) == 50
    assert {g.name for g in others} >= {*CORE, "Platform", "Data", "Security", "Legal"}
    assert sum(g.type == "APP_GROUP" for g in others) >= 3
    sizes = sorted((len(g.member_ids) for g in others), reverse=True)
    # Power law: a few big groups, a long tail of small ones.
    assert sizes[0] > 5 * statistics.median(sizes)
    memberships = Counter(uid for g in others for uid in g.member_ids)
    in_none = [u for u in org.all_users() if u.id not in memberships]
    assert 20 < len(in_none) < 150
    assert max(memberships.values()) >= 8


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("groups", "app_groups"), [(8, 0), (9, 1), (20, 2), (50, 6)])
def test_app_groups_are_a_quota_not_a_coin_flip(seed: int, groups: int, app_groups: int) -> None:
    org = generate_org(users=60, groups=groups, seed=seed, clock=Clock(), custom_attributes=())
    others = [g for g in org.all_groups() if g.type != "BUILT_IN"]
    assert sum(g.type == "APP_GROUP" for g in others) == app_groups
    # The core teams keep their names, whatever comes after them.
    assert {*CORE[: min(groups, 8)]} <= {g.name for g in others}


def test_the_shared_org_has_an_app_group(http: httpx.Client) -> None:
    groups = http.get("/api/v1/groups", params={"filter": 'type eq "APP_GROUP"'}).json()
    assert len(groups) == 2 and all(g["profile"]["name"].startswith("AD: ") for g in groups)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("users", [50, 200, 1000])
def test_some_surname_is_exactly_at_the_limit(seed: int, users: int) -> None:
    org = generate_org(users=users, groups=0, seed=seed, clock=Clock(), custom_attributes=())
    at_limit = [u for u in org.all_users() if len(u.profile["lastName"]) == 50]
    assert at_limit
    for user in at_limit:
        assert len(user.profile["login"]) <= 100 and len(user.profile["email"]) <= 100
    small = generate_org(users=49, groups=0, seed=seed, clock=Clock(), custom_attributes=())
    assert all(len(u.profile["lastName"]) <= 50 for u in small.all_users())


def test_shared_org_is_the_documented_size(http: httpx.Client) -> None:
    assert len(every_user(http)) == 200
    assert len(http.get("/api/v1/groups").json()) == 21

"""Group listings: filter, search, q, expand=stats, membership listings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .sandbox_http import every_user, list_all

Group = dict[str, Any]


@pytest.fixture(scope="module")
def groups(http: httpx.Client) -> list[Group]:
    return list_all(http, "/api/v1/groups")


def names(groups: list[Group]) -> set[str]:
    return {g["profile"]["name"] for g in groups}


@pytest.mark.parametrize("kind", ["OKTA_GROUP", "APP_GROUP", "BUILT_IN"])
def test_filter_by_type(http: httpx.Client, groups: list[Group], kind: str) -> None:
    got = list_all(http, "/api/v1/groups", {"filter": f'type eq "{kind}"'})
    wanted = {g["id"] for g in groups if g["type"] == kind}
    assert wanted and {g["id"] for g in got} == wanted
    if kind == "BUILT_IN":
        assert names(got) == {"Everyone"}


@pytest.mark.parametrize("attribute", ["lastUpdated", "lastMembershipUpdated"])
def test_filter_by_timestamps_with_and_or(
    http: httpx.Client, groups: list[Group], attribute: str
) -> None:
    pivot = sorted(g[attribute] for g in groups)[10]
    got = list_all(
        http, "/api/v1/groups", {"filter": f'type eq "OKTA_GROUP" and {attribute} gt "{pivot}"'}
    )
    wanted = {g["id"] for g in groups if g["type"] == "OKTA_GROUP" and g[attribute] > pivot}
    assert wanted and {g["id"] for g in got} == wanted
    either = (
        f'(lastUpdated lt "{pivot}" or lastMembershipUpdated lt "{pivot}") and type eq "APP_GROUP"'
    )
    got = list_all(http, "/api/v1/groups", {"filter": either})
    wanted = {
        g["id"]
        for g in groups
        if g["type"] == "APP_GROUP"
        and (g["lastUpdated"] < pivot or g["lastMembershipUpdated"] < pivot)
    }
    assert {g["id"] for g in got} == wanted


@pytest.mark.parametrize(
    "expression", ['profile.name eq "Sales"', 'type sw "OKTA"', 'created gt "2020-01-01"']
)
def test_filter_rejects_what_okta_does_not_filter_on(http: httpx.Client, expression: str) -> None:
    response = http.get("/api/v1/groups", params={"filter": expression})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000031"


def test_search_on_profile_and_type(http: httpx.Client, groups: list[Group]) -> None:
    got = list_all(http, "/api/v1/groups", {"search": 'profile.name sw "s"'})
    assert names(got) == {n for n in names(groups) if n.casefold().startswith("s")}
    got = list_all(http, "/api/v1/groups", {"search": 'profile.name co "office"'})
    assert names(got) == {n for n in names(groups) if "office" in n.casefold()}


def test_q_is_a_case_insensitive_name_prefix(http: httpx.Client, groups: list[Group]) -> None:
    got = http.get("/api/v1/groups", params={"q": "eng"}).json()
    assert names(got) == {n for n in names(groups) if n.casefold().startswith("eng")}
    assert "Engineering" in names(got)
    assert len(http.get("/api/v1/groups", params={"q": "", "limit": 3}).json()) == 3


def test_expand_stats_counts_the_members(http: httpx.Client, groups: list[Group]) -> None:
    plain = http.get("/api/v1/groups").json()
    assert all("_embedded" not in g for g in plain)
    with_stats = http.get("/api/v1/groups", params={"expand": "stats"}).json()
    for group in with_stats:
        members = list_all(http, f"/api/v1/groups/{group['id']}/users")
        assert group["_embedded"]["stats"]["usersCount"] == len(members), group["profile"]["name"]
    single = http.get(f"/api/v1/groups/{groups[0]['id']}", params={"expand": "stats"}).json()
    assert "usersCount" in single["_embedded"]["stats"]


def test_get_one_group_and_its_links(http: httpx.Client, groups: list[Group]) -> None:
    group = next(g for g in groups if g["type"] == "OKTA_GROUP")
    got = http.get(f"/api/v1/groups/{group['id']}").json()
    assert got == group
    assert got["_links"]["users"]["href"].endswith(f"/api/v1/groups/{group['id']}/users")
    assert got["objectClass"] == ["okta:user_group"]
    missing = http.get("/api/v1/groups/00gdoesnotexist00000")
    assert missing.status_code == 404 and missing.json()["errorCode"] == "E0000007"


def test_user_groups_agree_with_group_members(http: httpx.Client, groups: list[Group]) -> None:
    members = {
        g["id"]: {u["id"] for u in list_all(http, f"/api/v1/groups/{g['id']}/users")}
        for g in groups
    }
    for user in every_user(http)[:40]:
        listed = {g["id"] for g in http.get(f"/api/v1/users/{user['id']}/groups").json()}
        assert listed == {gid for gid, ids in members.items() if user["id"] in ids}


def test_group_members_include_deprovisioned_users(http: httpx.Client, groups: list[Group]) -> None:
    everyone = next(g for g in groups if g["type"] == "BUILT_IN")
    statuses = {u["status"] for u in list_all(http, f"/api/v1/groups/{everyone['id']}/users")}
    assert "DEPROVISIONED" in statuses

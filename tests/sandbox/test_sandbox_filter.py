"""The ``filter`` grammar of /api/v1/users: Okta's narrower, case-sensitive one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .sandbox_http import every_user, list_all

User = dict[str, Any]


def filtered(http: httpx.Client, expression: str) -> set[str]:
    return {u["id"] for u in list_all(http, "/api/v1/users", {"filter": expression, "limit": 60})}


@pytest.fixture(scope="module")
def users(http: httpx.Client) -> list[User]:
    return every_user(http)


def test_status_eq_includes_deprovisioned(http: httpx.Client, users: list[User]) -> None:
    wanted = {u["id"] for u in users if u["status"] == "DEPROVISIONED"}
    assert wanted and filtered(http, 'status eq "DEPROVISIONED"') == wanted


def test_values_are_case_sensitive(http: httpx.Client, users: list[User]) -> None:
    assert filtered(http, 'status eq "active"') == set()
    login = users[5]["profile"]["login"]
    assert filtered(http, f'profile.login eq "{login}"') == {users[5]["id"]}
    assert filtered(http, f'profile.login eq "{login.upper()}"') == set()


@pytest.mark.parametrize("name", ["login", "email", "firstName", "lastName"])
def test_profile_attributes_the_filter_supports(
    http: httpx.Client, users: list[User], name: str
) -> None:
    value = users[9]["profile"][name]
    wanted = {u["id"] for u in users if u["profile"].get(name) == value}
    assert filtered(http, f'profile.{name} eq "{value}"') == wanted


@pytest.mark.parametrize("operator", ["eq", "gt", "ge", "lt", "le"])
def test_last_updated_takes_every_comparison(
    http: httpx.Client, users: list[User], operator: str
) -> None:
    pivot = sorted(u["lastUpdated"] for u in users)[120]
    compare = {
        "eq": pivot.__eq__,
        "gt": pivot.__lt__,
        "ge": pivot.__le__,
        "lt": pivot.__gt__,
        "le": pivot.__ge__,
    }[operator]
    wanted = {u["id"] for u in users if compare(u["lastUpdated"])}
    assert wanted and filtered(http, f'lastUpdated {operator} "{pivot}"') == wanted


def test_and_or_with_parentheses(http: httpx.Client, users: list[User]) -> None:
    start, end = "2024-01-01T00:00:00.000Z", "2025-07-01T00:00:00.000Z"
    wanted = {
        u["id"]
        for u in users
        if start < u["lastUpdated"] < end and u["status"] in ("SUSPENDED", "LOCKED_OUT")
    }
    text = (
        f'lastUpdated gt "{start}" and lastUpdated lt "{end}" '
        'and (status eq "SUSPENDED" or status eq "LOCKED_OUT")'
    )
    assert filtered(http, text) == wanted
    ids = [users[0]["id"], users[1]["id"]]
    assert filtered(http, f'id eq "{ids[0]}" or id eq "{ids[1]}"') == set(ids)


@pytest.mark.parametrize(
    "expression",
    [
        'profile.city eq "Berlin"',  # search-only attribute
        'status sw "ACT"',  # eq only
        'profile.login co "example"',  # eq only
        'created gt "2020-01-01T00:00:00.000Z"',  # only lastUpdated takes dates
        'status gt "A"',  # comparisons only on lastUpdated
        'not status eq "ACTIVE"',
        'not (status eq "ACTIVE")',  # Okta's user filter has no not; only the System Log's does
        "status eq",
    ],
)
def test_what_search_accepts_but_filter_does_not(http: httpx.Client, expression: str) -> None:
    response = http.get("/api/v1/users", params={"filter": expression})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000031"

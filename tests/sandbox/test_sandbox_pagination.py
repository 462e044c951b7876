"""Cursor pagination and Okta's Link headers."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from okta_hris.sandbox import Sandbox

from .sandbox_http import ALL_USERS, client_for, every_user, links, list_all, pages


def test_plain_listing_pages_every_non_deprovisioned_user_once(http: httpx.Client) -> None:
    everyone = every_user(http)
    responses = pages(http, "/api/v1/users", {"limit": 7})
    ids = [user["id"] for response in responses for user in response.json()]
    assert len(ids) == len(set(ids))
    expected = {u["id"] for u in everyone if u["status"] != "DEPROVISIONED"}
    assert set(ids) == expected
    assert any(u["status"] == "DEPROVISIONED" for u in everyone)
    # Every page but the last is full, and only the last lacks a next link.
    assert all(len(r.json()) == 7 for r in responses[:-1])
    assert "next" not in links(responses[-1])


def test_link_headers_are_separate_lines_self_then_next(http: httpx.Client) -> None:
    response = http.get("/api/v1/users", params={"limit": 5})
    lines = response.headers.get_list("link")
    assert len(lines) == 2
    assert lines[0].endswith('rel="self"') and lines[1].endswith('rel="next"')
    self_url, next_url = links(response)["self"], links(response)["next"]
    assert parse_qs(urlsplit(self_url).query) == {"limit": ["5"]}
    next_query = parse_qs(urlsplit(next_url).query)
    assert next_query["limit"] == ["5"]
    # Users' cursor is the last user's id on the page.
    assert next_query["after"] == [response.json()[-1]["id"]]
    # The links point where the client connected.
    assert next_url.startswith(str(http.base_url).rstrip("/") + "/api/v1/users?")


def test_next_link_keeps_the_search_and_sort(http: httpx.Client) -> None:
    params: dict[str, str | int] = {
        "search": 'status eq "ACTIVE"',
        "sortBy": "profile.lastName",
        "limit": 9,
    }
    first = http.get("/api/v1/users", params=params)
    query = parse_qs(urlsplit(links(first)["next"]).query)
    assert query["search"] == ['status eq "ACTIVE"']
    assert query["sortBy"] == ["profile.lastName"]
    assert query["limit"] == ["9"] and query["after"]


def test_limit_defaults_to_200_and_is_capped_at_200(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(users=450, groups=2, seed=3)
    with client_for(sandbox) as client:
        default = client.get("/api/v1/users", params={"search": ALL_USERS})
        capped = client.get("/api/v1/users", params={"search": ALL_USERS, "limit": 500})
        assert len(default.json()) == 200 and len(capped.json()) == 200
        assert "next" in links(capped)
        assert len(list_all(client, "/api/v1/users", {"search": ALL_USERS, "limit": 500})) == 450


@pytest.mark.parametrize("limit", ["abc", "0", "-3"])
def test_a_bad_limit_is_a_validation_error(http: httpx.Client, limit: str) -> None:
    response = http.get("/api/v1/users", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000001"


def test_the_cursor_survives_writes_between_pages(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=60, groups=2, seed=11)
    with client_for(sandbox) as client:
        before = {u["id"] for u in every_user(client)}
        first = client.get("/api/v1/users", params={"search": ALL_USERS, "limit": 20})
        seen = [u["id"] for u in first.json()]
        # A new user and a deleted one between pages: no user already seen comes back, and
        # every user that existed throughout is still listed exactly once.
        created = client.post(
            "/api/v1/users",
            params={"activate": "false"},
            json={
                "profile": {
                    "firstName": "N",
                    "lastName": "Ew",
                    "login": "new@example.com",
                    "email": "new@example.com",
                }
            },
        ).json()
        doomed = next(u for u in every_user(client) if u["id"] not in seen)
        client.delete(f"/api/v1/users/{doomed['id']}")
        client.delete(f"/api/v1/users/{doomed['id']}")
        url: str | None = links(first).get("next")
        while url:
            response = client.get(url)
            seen += [u["id"] for u in response.json()]
            url = links(response).get("next")
    assert len(seen) == len(set(seen))
    assert before - {doomed["id"]} <= set(seen)
    assert doomed["id"] not in seen
    assert set(seen) <= before | {created["id"]}


def test_group_members_default_to_pages_of_1000(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=1050, groups=1, seed=5)
    with client_for(sandbox) as client:
        everyone = client.get("/api/v1/groups", params={"q": "Everyone"}).json()[0]
        path = f"/api/v1/groups/{everyone['id']}/users"
        first = client.get(path)
        assert len(first.json()) == 1000 and "next" in links(first)
        members = list_all(client, path)
        assert len(members) == len({m["id"] for m in members}) == 1050
        small = pages(client, path, {"limit": 300})
        assert [len(r.json()) for r in small] == [300, 300, 300, 150]
        assert [m["id"] for r in small for m in r.json()] == [m["id"] for m in members]


def test_groups_page_with_limit_and_after(http: httpx.Client) -> None:
    everything = http.get("/api/v1/groups").json()
    assert len(everything) == 21  # 20 generated and Everyone
    paged = list_all(http, "/api/v1/groups", {"limit": 4})
    assert [g["id"] for g in paged] == [g["id"] for g in everything]


def test_search_results_sorted_by_an_attribute_page_without_gaps(http: httpx.Client) -> None:
    everyone = every_user(http)
    expected = sorted(
        everyone, key=lambda u: ((u["profile"].get("city") or "").casefold(), u["id"])
    )
    for order, ordered in (("asc", expected), ("desc", expected[::-1])):
        got = list_all(
            http,
            "/api/v1/users",
            {"search": ALL_USERS, "sortBy": "profile.city", "sortOrder": order, "limit": 13},
        )
        assert [u["id"] for u in got] == [u["id"] for u in ordered], order

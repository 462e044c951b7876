"""The ``search`` grammar of /api/v1/users, checked against the full listing."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from okta_hris.sandbox.expressions import Comparison, ExpressionError, Logical, parse

from .sandbox_http import every_user, list_all

User = dict[str, Any]


def search(http: httpx.Client, expression: str, **params: Any) -> list[User]:
    return list_all(http, "/api/v1/users", {"search": expression, "limit": 50, **params})


def ids(users: list[User]) -> set[str]:
    return {user["id"] for user in users}


@pytest.fixture(scope="module")
def users(http: httpx.Client) -> list[User]:
    return every_user(http)


def expect(users: list[User], keep: Callable[[User], bool]) -> set[str]:
    matched = ids([u for u in users if keep(u)])
    assert matched, "the seeded org should have matches for every case here"
    return matched


def profile(user: User, name: str) -> str:
    return str(user["profile"].get(name) or "")


# --- the parser ---------------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    tree = parse('a eq "1" or b eq "2" and c eq "3"')
    assert tree == Logical(
        "or",
        (
            Comparison("a", "eq", "1"),
            Logical("and", (Comparison("b", "eq", "2"), Comparison("c", "eq", "3"))),
        ),
    )


def test_parentheses_group_and_operators_are_case_insensitive() -> None:
    tree = parse('(a EQ "1" OR b Eq "2") AND c pr')
    assert tree == Logical(
        "and",
        (
            Logical("or", (Comparison("a", "eq", "1"), Comparison("b", "eq", "2"))),
            Comparison("c", "pr"),
        ),
    )


def test_strings_keep_escaped_quotes_and_unicode() -> None:
    assert parse(r'profile.lastName eq "O\"Brien-Müller"') == Comparison(
        "profile.lastName", "eq", 'O"Brien-Müller'
    )
    assert parse("x eq true") == Comparison("x", "eq", True)
    assert parse("x gt 42") == Comparison("x", "gt", 42)


@pytest.mark.parametrize(
    "text",
    [
        "",
        'status eq "ACTIVE" and',
        '(status eq "ACTIVE"',
        'status eq "ACTIVE")',
        "status eq ACTIVE",
        'status is "ACTIVE"',
        '"ACTIVE" eq status',
        'status eq "ACTIVE',
        'emails[type eq "work"]',
    ],
)
def test_malformed_expressions_are_rejected(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse(text)


# --- over HTTP ------------------------------------------------------------------------------------


def test_eq_is_case_insensitive_on_values(http: httpx.Client, users: list[User]) -> None:
    city = next(profile(u, "city") for u in users if profile(u, "city"))
    wanted = expect(users, lambda u: profile(u, "city").casefold() == city.casefold())
    assert ids(search(http, f'profile.city eq "{city.upper()}"')) == wanted


@pytest.mark.parametrize("status", ["DEPROVISIONED", "STAGED", "SUSPENDED", "ACTIVE"])
def test_status_eq_includes_deprovisioned_users(
    http: httpx.Client, users: list[User], status: str
) -> None:
    wanted = expect(users, lambda u: u["status"] == status)
    assert ids(search(http, f'status eq "{status}"')) == wanted


def test_sw_matches_prefixes(http: httpx.Client, users: list[User]) -> None:
    wanted = expect(users, lambda u: profile(u, "lastName").casefold().startswith("m"))
    assert ids(search(http, 'profile.lastName sw "M"')) == wanted


def test_co_matches_substrings_of_names_email_and_login(
    http: httpx.Client, users: list[User]
) -> None:
    wanted = expect(users, lambda u: "an" in profile(u, "firstName").casefold())
    assert ids(search(http, 'profile.firstName co "AN"')) == wanted
    wanted = expect(users, lambda u: "son@" in profile(u, "email").casefold())
    assert ids(search(http, 'profile.email co "son@"')) == wanted


def test_unicode_values_match_with_their_diacritics(http: httpx.Client, users: list[User]) -> None:
    accented = next(u for u in users if not profile(u, "lastName").isascii())
    name = profile(accented, "lastName")
    wanted = expect(users, lambda u: profile(u, "lastName").casefold() == name.casefold())
    assert ids(search(http, f'profile.lastName eq "{name}"')) == wanted
    # Diacritics are significant: the ASCII spelling is a different value.
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    if folded != name:
        assert accented["id"] not in ids(search(http, f'profile.lastName eq "{folded}"'))


@pytest.mark.parametrize("operator", ["gt", "ge", "lt", "le"])
def test_date_comparisons(http: httpx.Client, users: list[User], operator: str) -> None:
    pivot = sorted(u["created"] for u in users)[len(users) // 2]
    compare: Callable[[str], bool] = {
        "gt": pivot.__lt__,
        "ge": pivot.__le__,
        "lt": pivot.__gt__,
        "le": pivot.__ge__,
    }[operator]
    wanted = expect(users, lambda u: compare(u["created"]))
    assert ids(search(http, f'created {operator} "{pivot}"')) == wanted


def test_dates_in_other_offsets_and_precisions_are_accepted(
    http: httpx.Client, users: list[User]
) -> None:
    wanted = expect(users, lambda u: u["lastUpdated"] > "2025-06-01T00:00:00.000Z")
    assert ids(search(http, 'lastUpdated gt "2025-06-01T02:00:00+02:00"')) == wanted
    assert ids(search(http, 'lastUpdated gt "2025-06-01T00:00:00Z"')) == wanted


@pytest.mark.parametrize("attribute", ["statusChanged", "lastUpdated", "activated"])
def test_other_top_level_dates_are_searchable(
    http: httpx.Client, users: list[User], attribute: str
) -> None:
    wanted = expect(users, lambda u: (u[attribute] or "") >= "2024-01-01T00:00:00.000Z")
    assert ids(search(http, f'{attribute} ge "2024-01-01T00:00:00.000Z"')) == wanted


def test_and_or_and_parentheses(http: httpx.Client, users: list[User]) -> None:
    def country(u: User) -> str:
        return profile(u, "countryCode").upper()  # search values are case-insensitive

    def keep(u: User) -> bool:
        return country(u) in ("DE", "FR") and u["status"] == "ACTIVE"

    wanted = expect(users, keep)
    text = '(profile.countryCode eq "DE" or profile.countryCode eq "FR") and status eq "ACTIVE"'
    assert ids(search(http, text)) == wanted
    # Without the parentheses, ``and`` binds first and the result differs.
    loose = 'profile.countryCode eq "DE" or profile.countryCode eq "FR" and status eq "ACTIVE"'
    assert ids(search(http, loose)) == expect(
        users,
        lambda u: country(u) == "DE" or (country(u) == "FR" and u["status"] == "ACTIVE"),
    )


def test_any_profile_attribute_including_custom_ones(http: httpx.Client, users: list[User]) -> None:
    def employee_types(u: User) -> list[str]:  # an array attribute matches by any element
        value = u["profile"].get("employeeType")
        return [str(v) for v in value] if isinstance(value, list) else [profile(u, "employeeType")]

    wanted = expect(users, lambda u: "contractor" in [t.casefold() for t in employee_types(u)])
    assert ids(search(http, 'profile.employeeType eq "Contractor"')) == wanted
    wanted = expect(users, lambda u: profile(u, "userType").casefold() == "full-time")
    assert ids(search(http, 'profile.userType eq "full-time"')) == wanted
    wanted = expect(users, lambda u: bool(profile(u, "secondEmail")))
    assert ids(search(http, "profile.secondEmail pr")) == wanted


def test_id_eq_and_type_id(http: httpx.Client, users: list[User]) -> None:
    target = users[17]
    assert ids(search(http, f'id eq "{target["id"]}"')) == {target["id"]}
    assert len(search(http, f'type.id eq "{target["type"]["id"]}"')) == len(users)


def test_lt_or_gt_stands_in_for_ne(http: httpx.Client, users: list[User]) -> None:
    wanted = expect(users, lambda u: u["status"] != "STAGED")
    assert ids(search(http, '(status lt "STAGED" or status gt "STAGED")')) == wanted


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ('profile.city co "Ber"', "co only on names, email and login"),
        ('status ne "ACTIVE"', "no ne"),
        ('not (status eq "ACTIVE")', "no not"),
        ('profile.favouriteColour eq "blue"', "not in the profile schema"),
        ('nickname eq "x"', "not an attribute"),
        ('status eq "ACTIVE" and', "syntax"),
    ],
)
def test_invalid_searches_are_400_e0000031(http: httpx.Client, expression: str, why: str) -> None:
    response = http.get("/api/v1/users", params={"search": expression})
    assert response.status_code == 400, why
    body = response.json()
    assert body["errorCode"] == "E0000031"
    assert body["errorSummary"] == "Invalid search criteria."
    assert body["errorCauses"], why


@pytest.mark.parametrize(
    "expression",
    [
        'lastUpdated gt "yesterday"',
        'created lt "2024-02-30T00:00:00.000Z"',
        "lastUpdated gt 20240101",
        'status eq "ACTIVE" and lastLogin ge "soon"',
    ],
)
def test_invalid_dates_are_400_e0000030(http: httpx.Client, expression: str) -> None:
    response = http.get("/api/v1/users", params={"search": expression})
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "E0000030"
    assert body["errorSummary"] == (
        "Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00."
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/users", {"filter": 'lastUpdated gt "yesterday"'}),
        ("/api/v1/groups", {"filter": 'lastMembershipUpdated gt "2026-01-01T25:00:00Z"'}),
        ("/api/v1/groups", {"search": 'created gt "last year"'}),
    ],
)
def test_invalid_dates_in_filters_are_e0000030_too(
    http: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = http.get(path, params=params)
    assert (response.status_code, response.json()["errorCode"]) == (400, "E0000030")


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/groups"])
@pytest.mark.parametrize(
    "params",
    [
        {"search": 'status eq "ACTIVE"', "filter": 'status eq "ACTIVE"'},
        {"search": 'status eq "ACTIVE"', "q": "a"},
        {"filter": 'id eq "x"', "q": "a"},
        {"search": "", "filter": ""},
    ],
)
def test_search_filter_and_q_exclude_each_other(
    http: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = http.get(path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "E0000033"
    assert body["errorSummary"] == "Cannot specify a search query and filter in the same request."


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/groups"])
@pytest.mark.parametrize("name", ["search", "filter"])
@pytest.mark.parametrize("value", ["", " ", "%20"])
def test_an_empty_expression_is_400_however_it_is_spelled(
    http: httpx.Client, path: str, name: str, value: str
) -> None:
    # httpx encodes "%20" as "%2520"; send the query string as it is instead.
    query = f"{name}={value}" if value == "%20" else None
    response = http.get(f"{path}?{query}") if query else http.get(path, params={name: value})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000031"


def test_q_is_a_prefix_lookup_without_deprovisioned_users(
    http: httpx.Client, users: list[User]
) -> None:
    prefix = profile(users[3], "firstName")[:2]
    found = http.get("/api/v1/users", params={"q": prefix, "limit": 200}).json()
    wanted = expect(
        users,
        lambda u: (
            u["status"] != "DEPROVISIONED"
            and any(
                profile(u, name).casefold().startswith(prefix.casefold())
                for name in ("firstName", "lastName", "email")
            )
        ),
    )
    assert ids(found) == wanted
    assert len(http.get("/api/v1/users", params={"q": prefix}).json()) <= 10

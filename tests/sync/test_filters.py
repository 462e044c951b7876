"""The filters of SPEC §2, alone and combined."""

from __future__ import annotations

from typing import Any

import pytest

from okta_hris.sync.filters import in_scope, matches_filters

from .helpers import employee, make_spec


def filtered(**filters: Any) -> Any:
    return make_spec(sync={"scope": "Filtered"}, filters=filters)


@pytest.mark.parametrize(
    ("country", "include", "exclude", "expected"),
    [
        ("US", ["US", "DE"], [], True),
        ("FR", ["US", "DE"], [], False),
        (None, ["US"], [], False),  # no value never matches a non-empty include
        (None, [], ["US"], True),
        ("US", [], ["US"], False),
        ("US", ["US"], ["US"], False),  # exclude wins
        ("DE", [], [], True),
    ],
)
def test_country_filter(
    country: str | None, include: list[str], exclude: list[str], expected: bool
) -> None:
    spec = filtered(countries={"include": include, "exclude": exclude})
    assert matches_filters(employee(country_code=country), spec.filters) is expected


@pytest.mark.parametrize(
    ("teams", "include", "exclude", "expected"),
    [
        (("Engineering",), ["Engineering"], [], True),
        (("Engineering", "Interns"), ["Engineering"], ["Interns"], False),
        (("Sales", "Engineering"), ["Engineering"], [], True),  # any team counts for include
        (("Sales",), ["Engineering"], [], False),
        ((), ["Engineering"], [], False),
        ((), [], ["Interns"], True),
        (("Design",), [], ["Interns"], True),
    ],
)
def test_teams_filter(
    teams: tuple[str, ...], include: list[str], exclude: list[str], expected: bool
) -> None:
    spec = filtered(teams={"include": include, "exclude": exclude})
    assert matches_filters(employee(teams=teams), spec.filters) is expected


@pytest.mark.parametrize(
    ("status", "include", "expected"),
    [
        ("ACTIVE", ["Active"], True),
        ("LOCKED_OUT", ["Active"], True),
        ("PASSWORD_EXPIRED", ["Active"], True),
        ("SUSPENDED", ["Active"], False),
        ("STAGED", ["Inactive"], True),
        ("DEPROVISIONED", ["Inactive"], True),
        ("ACTIVE", ["Inactive"], False),
        ("SUSPENDED", [], True),
    ],
)
def test_status_filter(status: str, include: list[str], expected: bool) -> None:
    spec = filtered(status={"include": include})
    assert matches_filters(employee(okta_status=status), spec.filters) is expected


@pytest.mark.parametrize(
    ("value", "include", "exclude", "expected"),
    [
        ("Full-time", ["Full-time"], [], True),
        ("FULL-TIME", ["full-time"], [], True),  # case-insensitive
        ("contractor", ["Full-time", "Contractor"], [], True),
        ("Intern", ["Full-time"], [], False),
        (None, ["Full-time"], [], False),
        ("Intern", [], ["intern"], False),
    ],
)
def test_employment_filter(
    value: str | None, include: list[str], exclude: list[str], expected: bool
) -> None:
    spec = filtered(employment={"include": include, "exclude": exclude})
    assert matches_filters(employee(employment_status=value), spec.filters) is expected


def test_filters_are_anded() -> None:
    spec = filtered(
        countries={"include": ["US", "DE"]},
        teams={"include": ["Engineering"], "exclude": ["Interns"]},
        status={"include": ["Active"]},
        employment={"include": ["Full-time", "Contractor"]},
    )
    good = employee(country_code="DE", teams=("Engineering",), employment_status="full-time")
    assert matches_filters(good, spec.filters)
    for bad in (
        good.model_copy(update={"country_code": "FR"}),
        good.model_copy(update={"teams": ("Engineering", "Interns")}),
        good.model_copy(update={"okta_status": "SUSPENDED"}),
        good.model_copy(update={"employment_status": "Intern"}),
    ):
        assert not matches_filters(bad, spec.filters)


def test_scope_all_ignores_filters() -> None:
    spec = make_spec(sync={"scope": "All"}, filters={"countries": {"include": ["US"]}})
    assert in_scope(employee(country_code="FR"), spec)
    spec = make_spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}})
    assert not in_scope(employee(country_code="FR"), spec)

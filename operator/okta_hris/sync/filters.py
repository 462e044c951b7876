"""The filters of SPEC §2 as pure predicates over a mapped employee.

Within one filter a user matches when (include is empty or the value is in include) and the
value is not in exclude; a user with no value does not match a non-empty include. Filters are
ANDed. Teams match when any of the user's teams is listed; employment compares case-insensitively.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from okta_hris.domain.employees import Employee
from okta_hris.domain.okta import ACTIVE_OKTA_STATUSES
from okta_hris.resource.spec import Filters, OktaIntegrationSpec


def _matches_values(
    values: Collection[str], include: Iterable[str], exclude: Iterable[str]
) -> bool:
    include_set, exclude_set = set(include), set(exclude)
    if include_set and not include_set.intersection(values):
        return False
    return not exclude_set.intersection(values)


def matches_country(employee: Employee, filters: Filters) -> bool:
    values = [employee.country_code] if employee.country_code else []
    return _matches_values(values, filters.countries.include, filters.countries.exclude)


def matches_teams(employee: Employee, filters: Filters) -> bool:
    return _matches_values(employee.teams, filters.teams.include, filters.teams.exclude)


def status_class(okta_status: str) -> str:
    """Active or Inactive, the two values the status filter speaks of."""
    return "Active" if okta_status in ACTIVE_OKTA_STATUSES else "Inactive"


def matches_status(employee: Employee, filters: Filters) -> bool:
    values = [status_class(employee.okta_status)]
    return _matches_values(values, filters.status.include, filters.status.exclude)


def matches_employment(employee: Employee, filters: Filters) -> bool:
    values = [employee.employment_status.casefold()] if employee.employment_status else []
    include = (v.strip().casefold() for v in filters.employment.include)
    exclude = (v.strip().casefold() for v in filters.employment.exclude)
    return _matches_values(values, include, exclude)


def matches_filters(employee: Employee, filters: Filters) -> bool:
    return (
        matches_country(employee, filters)
        and matches_teams(employee, filters)
        and matches_status(employee, filters)
        and matches_employment(employee, filters)
    )


def in_scope(employee: Employee, spec: OktaIntegrationSpec) -> bool:
    """Scope All takes every user; scope Filtered only those the filters match."""
    return spec.sync.scope == "All" or matches_filters(employee, spec.filters)

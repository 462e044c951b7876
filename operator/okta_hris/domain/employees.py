"""An employee and a team as the directory holds them (SPEC §1, §6)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

# Plain frozen dataclasses with slots, not pydantic models: a sync holds one of each per user
# (100,000 and more), and a model keeps a dict of its values and a set of the fields given
# (1.7 kB for an employee; 0.3 kB with slots). Every value is the engine's own, made by the
# mapping or read from the directory: there is nothing to validate.


@dataclass(frozen=True, slots=True, kw_only=True)
class Employee:
    """The synced fields of one directory row (SPEC §1), as the engine wants them now."""

    okta_id: str
    okta_status: str
    active: bool
    display_name: str
    first_name: str | None = None
    last_name: str | None = None
    work_email: str | None = None  # lower-case
    personal_email: str | None = None  # profile.secondEmail, lower-case
    employment_status: str | None = None  # one spelling per value (spec.mapping.employmentValues)
    title: str | None = None
    department: str | None = None
    employee_number: str | None = None
    manager: str | None = None  # profile.manager, as Okta holds it (a name or an id)
    mobile_phone: str | None = None
    mobile_phone_e164: str | None = None
    street_address: str | None = None  # lines trimmed, blank lines removed
    country_code: str | None = None  # a real ISO 3166-1 alpha-2 code, else None
    state: str | None = None
    state_code: str | None = None  # ISO 3166-2 (US-CA, DE-BY) when state resolves
    city: str | None = None
    zip_code: str | None = None
    teams: tuple[str, ...] = ()  # sorted team (group) names
    okta_last_updated: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeRow(Employee):
    """A directory row: the synced fields plus bookkeeping."""

    integration: str
    first_synced_at: datetime
    last_synced_at: datetime
    deactivated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Team:
    okta_group_id: str
    name: str
    description: str | None = None


def field_values(record: Employee | Team) -> dict[str, Any]:
    """The record's fields by name: ``dataclasses.asdict`` without its deep copy (a row's
    values are all immutable)."""
    cls = type(record)
    found = _GETTERS.get(cls)
    if found is None:
        names = tuple(f.name for f in fields(cls))
        found = _GETTERS[cls] = (names, operator.attrgetter(*names))
    names, values = found
    return dict(zip(names, values(record), strict=True))


_GETTERS: dict[type[Any], tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}

"""An employee and a team as the directory holds them (SPEC §1, §6)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Employee(BaseModel):
    """The synced fields of one directory row (SPEC §1), as the engine wants them now."""

    model_config = ConfigDict(frozen=True)

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


class EmployeeRow(Employee):
    """A directory row: the synced fields plus bookkeeping."""

    integration: str
    first_synced_at: datetime
    last_synced_at: datetime
    deactivated_at: datetime | None = None


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    okta_group_id: str
    name: str
    description: str | None = None

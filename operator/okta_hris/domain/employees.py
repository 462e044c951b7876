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
    work_email: str | None = None
    employment_status: str | None = None
    mobile_phone: str | None = None
    mobile_phone_e164: str | None = None
    street_address: str | None = None
    country_code: str | None = None
    state: str | None = None
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

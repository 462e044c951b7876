"""Builders of directory rows and a whole-database snapshot, shared by the directory tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select

from okta_hris.directory.schema import metadata
from okta_hris.domain.changes import DirectoryChanges
from okta_hris.domain.employees import EmployeeRow

INTEGRATION = "people-ops/acme"
T0 = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
# Written with an offset on purpose: the directory must hand back the same instant in UTC.
BERLIN = timezone(timedelta(hours=1))


def employee(okta_id: str, **fields: Any) -> EmployeeRow:
    """A fully populated row; ``fields`` override any column."""
    values: dict[str, Any] = {
        "integration": INTEGRATION,
        "okta_id": okta_id,
        "okta_status": "ACTIVE",
        "active": True,
        "display_name": f"Employee {okta_id}",
        "first_name": "Employee",
        "last_name": okta_id,
        "work_email": f"{okta_id}@example.com",
        "personal_email": f"{okta_id}@home.example",
        "employment_status": "Full-time",
        "title": "Engineer",
        "department": "R&D",
        "employee_number": "E-1001",
        "manager": "00u-boss",
        "mobile_phone": "+1 (415) 555-0100",
        "mobile_phone_e164": "+14155550100",
        "street_address": "1 Market St",
        "country_code": "US",
        "state": "CA",
        "state_code": "US-CA",
        "city": "San Francisco",
        "zip_code": "94105",
        "teams": ("Engineering",),
        "okta_last_updated": T0 - timedelta(days=3),
        "first_synced_at": T0,
        "last_synced_at": T0,
        "deactivated_at": None,
    }
    values.update(fields)
    return EmployeeRow(**values)


def changes(
    synced_at: datetime = T0, integration: str = INTEGRATION, **fields: Any
) -> DirectoryChanges:
    frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    return DirectoryChanges(integration=integration, synced_at=synced_at, **frozen)


def table_contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal before and after means untouched."""
    contents: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            contents[table.name] = [tuple(row) for row in connection.execute(query)]
    return contents

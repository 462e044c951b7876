"""Builders for the pure engine tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from okta_hris.domain.changes import OktaGroupRecord, OktaUserRecord
from okta_hris.domain.employees import Employee
from okta_hris.resource.spec import OktaIntegrationSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_spec(**overrides: Any) -> OktaIntegrationSpec:
    body: dict[str, Any] = {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
    body.update(overrides)
    return OktaIntegrationSpec.model_validate(body)


def user(uid: str, status: str = "ACTIVE", **profile: Any) -> OktaUserRecord:
    base = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"{uid}@example.com",
        "login": f"{uid}@example.com",
    }
    base.update(profile)
    return OktaUserRecord(id=uid, status=status, last_updated=T0, profile=base)


def group(gid: str, name: str, type_: str = "OKTA_GROUP") -> OktaGroupRecord:
    return OktaGroupRecord(
        id=gid, type=type_, name=name, last_updated=T0, last_membership_updated=T0
    )


def employee(**fields: Any) -> Employee:
    base: dict[str, Any] = {
        "okta_id": "00u1",
        "okta_status": "ACTIVE",
        "active": True,
        "display_name": "Ada Lovelace",
        "okta_last_updated": T0,
    }
    base.update(fields)
    return Employee(**base)

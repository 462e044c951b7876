"""Okta's vocabulary: user statuses and the domains Okta orgs live on."""

from __future__ import annotations

# SPEC §2: the statuses a status filter of Active or Inactive keeps.
ACTIVE_OKTA_STATUSES = frozenset(
    {"ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"}
)
INACTIVE_OKTA_STATUSES = frozenset({"STAGED", "SUSPENDED", "DEPROVISIONED"})
ALL_OKTA_STATUSES: tuple[str, ...] = (
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "PASSWORD_EXPIRED",
    "LOCKED_OUT",
    "SUSPENDED",
    "DEPROVISIONED",
)

# okta_status of a row whose user no longer exists in Okta (Okta itself has no such status).
DELETED_STATUS = "DELETED"

# The domains every Okta org is reachable on; HRIS_ALLOWED_DOMAINS adds to them.
DEFAULT_OKTA_DOMAINS: tuple[str, ...] = ("okta.com", "oktapreview.com", "okta-emea.com")

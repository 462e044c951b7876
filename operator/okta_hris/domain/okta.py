"""Okta's vocabulary: user statuses, the domains Okta orgs live on, API tokens as pasted."""

from __future__ import annotations

import re

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

# "SSWS" is the scheme of Okta's Authorization header, not part of the token; people paste the
# whole header value into a Secret.
_SSWS_PREFIX = re.compile(r"SSWS(?:[ \t]+|$)", re.IGNORECASE)


def bare_api_token(value: str) -> str:
    """The API token in ``value`` as people paste it: without surrounding whitespace (a
    Secret's trailing newline) and without a leading ``SSWS `` (SPEC §9). Empty when nothing
    else is there; the caller says so without the value."""
    token = value.strip()
    if prefix := _SSWS_PREFIX.match(token):
        token = token[prefix.end() :].strip()
    return token

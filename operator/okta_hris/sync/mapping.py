"""Okta user -> directory employee (SPEC §1). Pure functions, no I/O."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import phonenumbers
import pycountry

from okta_hris.domain.changes import OktaUserRecord
from okta_hris.domain.countries import COUNTRY_ALIASES
from okta_hris.domain.employees import Employee
from okta_hris.domain.okta import ACTIVE_OKTA_STATUSES
from okta_hris.resource.spec import OktaIntegrationSpec


def _text(profile: dict[str, Any], attribute: str) -> str | None:
    """A profile attribute as stripped text; Okta sends absent, null and "" interchangeably."""
    value = profile.get(attribute)
    if value is None:
        return None
    if isinstance(value, list):  # Okta allows array attributes; employment may be one
        value = ", ".join(str(v) for v in value if v is not None)
    text = str(value).strip()
    return text or None


@functools.lru_cache(maxsize=4096)
def normalise_country(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2, upper-case. Okta accepts any two characters in countryCode, so
    lower-case codes, "UK" and names occur in real orgs: codes are upper-cased (and the common
    aliases mapped), names looked up, and what is neither is dropped."""
    if not value or not value.strip():
        return None
    text = value.strip()
    code = COUNTRY_ALIASES.get(text.upper(), text.upper())
    if len(code) == 2 and code.isalpha():
        # Also user-assigned codes such as XK (Kosovo), which pycountry does not list.
        return code
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


# Parsing is the costliest step of mapping a user; the operator re-maps the same numbers every
# hour, so a process-wide cache makes incremental syncs cheap.
@functools.lru_cache(maxsize=131072)
def normalise_phone(raw: str | None, country_code: str | None) -> str | None:
    """E.164 when the number parses and is valid, using the user's country for local numbers."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, country_code)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def display_name(profile: dict[str, Any]) -> str:
    name = _text(profile, "displayName")
    if name:
        return name
    parts = [p for p in (_text(profile, "firstName"), _text(profile, "lastName")) if p]
    if parts:
        return " ".join(parts)
    return _text(profile, "login") or _text(profile, "email") or ""


def work_email(profile: dict[str, Any], email_source: str) -> str | None:
    if email_source == "Personal":
        return _text(profile, "secondEmail") or _text(profile, "email")
    return _text(profile, "email")


def map_user(
    user: OktaUserRecord,
    team_names: Iterable[str],
    spec: OktaIntegrationSpec,
) -> Employee:
    """The employee a user becomes when in scope: ``active`` follows the Okta status only."""
    profile = user.profile
    country = normalise_country(_text(profile, "countryCode"))
    phone = _text(profile, "mobilePhone")
    return Employee(
        okta_id=user.id,
        okta_status=user.status,
        active=user.status in ACTIVE_OKTA_STATUSES,
        display_name=display_name(profile),
        work_email=work_email(profile, spec.sync.email_source),
        employment_status=_text(profile, spec.mapping.employment_attribute),
        mobile_phone=phone,
        mobile_phone_e164=normalise_phone(phone, country),
        street_address=_text(profile, "streetAddress"),
        country_code=country,
        state=_text(profile, "state"),
        city=_text(profile, "city"),
        zip_code=_text(profile, "zipCode"),
        teams=tuple(sorted(set(team_names))),
        okta_last_updated=user.last_updated,
    )

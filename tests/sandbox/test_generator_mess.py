"""The mess of HR imports in the generated org (SPEC §9), and that mapping copes with all of it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from okta_hris.domain.changes import DataQuality, OktaUserRecord
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import data
from okta_hris.sandbox.clock import Clock
from okta_hris.sandbox.generator import generate_org
from okta_hris.sandbox.model import Org, user_json
from okta_hris.sync.mapping import map_user, normalise_country, quality_of

Profile = dict[str, Any]


def org_for(seed: int, users: int = 1000) -> Org:
    return generate_org(
        users=users, groups=20, seed=seed, clock=Clock(), custom_attributes=("employeeType",)
    )


@pytest.fixture(scope="module")
def org() -> Org:
    return org_for(42)


@pytest.fixture(scope="module")
def profiles(org: Org) -> list[Profile]:
    return [user_json(u, "http://sandbox", full=False)["profile"] for u in org.all_users()]


def records(org: Org) -> list[OktaUserRecord]:
    return [
        OktaUserRecord(
            id=u.id,
            status=u.status,
            last_updated=datetime.fromisoformat(u.last_updated),
            profile=user_json(u, "http://sandbox", full=False)["profile"],
        )
        for u in org.all_users()
    ]


def test_some_employee_types_are_lists(profiles: list[Profile]) -> None:
    lists = [p["employeeType"] for p in profiles if isinstance(p.get("employeeType"), list)]
    assert 0.01 <= len(lists) / len(profiles) <= 0.05
    assert all(len(v) >= 2 and all(isinstance(e, str) for e in v) for v in lists)
    assert any(len({e.strip().casefold() for e in v}) < len(v) for v in lists)  # repeats


def test_states_in_several_languages(profiles: list[Profile]) -> None:
    # The spellings the base data never uses: other languages (and cases) of the same region.
    usual = {s for c in data.COUNTRIES for city in c.cities for s in city.states}
    foreign = [p["state"] for p in profiles if p.get("state") and p["state"] not in usual]
    assert 5 <= len(foreign) <= 0.05 * len(profiles)
    every = {s for groups in data.STATE_SPELLINGS.values() for g in groups for s in g}
    assert set(foreign) <= every
    assert {"Bayern", "BY"} <= {p.get("state") for p in profiles if p.get("countryCode") == "DE"}


def test_mixed_case_and_padded_emails(profiles: list[Profile]) -> None:
    emails = [p["email"] for p in profiles]
    upper = [e for e in emails if e.isupper()]
    padded = [e for e in emails if e != e.strip()]
    assert 0.005 <= len(upper) / len(emails) <= 0.05
    assert 0.005 <= len(padded) / len(emails) <= 0.05
    assert all(len(e) <= 100 for e in emails)
    seconds = [p["secondEmail"] for p in profiles if p.get("secondEmail")]
    assert any(s != s.lower() or s != s.strip() for s in seconds)


def test_multi_line_street_addresses_with_blank_lines_and_padding(
    profiles: list[Profile],
) -> None:
    messy = [
        s
        for p in profiles
        if (s := p.get("streetAddress"))
        and any(line != line.strip() or not line for line in s.replace("\r\n", "\n").split("\n"))
    ]
    assert 0.01 <= len(messy) / len(profiles) <= 0.05
    assert any("\r\n" in s for s in messy) and any("\n\n" in s for s in messy)


def test_country_codes_that_are_no_country(profiles: list[Profile]) -> None:
    codes = Counter(p.get("countryCode") for p in profiles)
    invalid = {c for c in codes if c and normalise_country(c) is None}
    assert invalid and invalid <= set(data.INVALID_COUNTRY_CODES)
    assert 0.01 <= sum(codes[c] for c in invalid) / len(profiles) <= 0.05
    # Okta limits countryCode to two characters, so the mess never writes names there.
    assert all(len(c) <= 2 for c in codes if c)


def test_phones_that_are_no_number(profiles: list[Profile]) -> None:
    phones = Counter(p.get("mobilePhone") for p in profiles)
    assert sum(phones[m] for m in data.MESSY_PHONES) >= 5


def test_padded_cities_and_titles(profiles: list[Profile]) -> None:
    for attribute in ("city", "title"):
        values = [p[attribute] for p in profiles if p.get(attribute)]
        assert 0 < sum(v != v.strip() for v in values) <= 0.05 * len(values)


def test_the_mess_is_deterministic_for_a_seed() -> None:
    def messy(org: Org) -> list[Profile]:
        return [u.profile for u in org.all_users()]

    assert messy(org_for(42, 300)) == messy(org_for(42, 300))
    assert messy(org_for(42, 300)) != messy(org_for(43, 300))


@pytest.mark.parametrize(
    "spec",
    [
        OktaIntegrationSpec.model_validate(
            {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}, **extra}
        )
        for extra in (
            {},
            {"mapping": {"employmentAttribute": "employeeType"}},
            {"sync": {"emailSource": "Personal"}},
        )
    ],
    ids=["default", "employeeType", "personal-email"],
)
def test_mapping_the_messy_org_never_raises_and_cleans_it(
    org: Org, spec: OktaIntegrationSpec
) -> None:
    quality = DataQuality()
    employees = []
    for record in records(org):
        employee = map_user(record, [], spec)
        quality = quality + quality_of(record, employee)
        employees.append(employee)
    emails = [e.work_email for e in employees if e.work_email]
    assert all(e == e.strip().lower() for e in emails)
    streets = [e.street_address for e in employees if e.street_address]
    assert all(line and line == line.strip() for s in streets for line in s.split("\n"))
    assert all(e.city == e.city.strip() for e in employees if e.city)
    codes = {e.country_code for e in employees if e.country_code}
    assert codes <= {"US", "DE", "GB", "FR", "IN", "JP", "BR", "CA", "ES", "NL", "SE", "PL", "AU"}
    assert quality.invalid_phones > 0 and quality.unknown_countries > 0
    assert quality.incomplete_addresses > 0
    # Foreign spellings of a state resolve to the same ISO 3166-2 code.
    bavaria = {e.state for e in employees if e.state_code == "DE-BY"}
    assert len(bavaria) >= 3 and {"Bayern", "BY"} <= bavaria
    if spec.mapping.employment_attribute == "employeeType":
        statuses = Counter(e.employment_status for e in employees)
        assert any(s and ", " in s for s in statuses)
        assert all(not s or s.strip() == s for s in statuses)

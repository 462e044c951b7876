"""Every synced field of SPEC §1."""

from __future__ import annotations

import pytest

from okta_hris.sync.mapping import SHARED_MAX, map_user, normalise_country, normalise_phone

from .helpers import make_spec, user


def test_every_field_maps_from_the_default_profile() -> None:
    record = user(
        "00u1",
        displayName="Ada King",
        email="ada@work.example",
        secondEmail="ada@home.example",
        userType="Full-time",
        mobilePhone="+1 (415) 555-0134",
        streetAddress="1 Market St",
        countryCode="us",
        state="CA",
        city="San Francisco",
        zipCode="94105",
    )
    employee = map_user(record, ["Sales", "Engineering", "Sales"], make_spec())
    assert employee.display_name == "Ada King"
    assert employee.work_email == "ada@work.example"
    assert employee.personal_email == "ada@home.example"
    assert employee.employment_status == "Full-time"
    assert employee.mobile_phone == "+1 (415) 555-0134"
    assert employee.mobile_phone_e164 == "+14155550134"
    assert employee.street_address == "1 Market St"
    assert employee.country_code == "US"
    assert (employee.state, employee.city, employee.zip_code) == ("CA", "San Francisco", "94105")
    assert employee.state_code == "US-CA"
    assert (employee.first_name, employee.last_name) == ("Ada", "Lovelace")
    assert employee.teams == ("Engineering", "Sales")
    assert employee.okta_status == "ACTIVE" and employee.active


def test_display_name_falls_back_to_first_and_last_name() -> None:
    assert map_user(user("00u1", displayName="  "), [], make_spec()).display_name == "Ada Lovelace"
    assert (
        map_user(user("00u1", displayName=None, firstName="Zoë"), [], make_spec()).display_name
        == "Zoë Lovelace"
    )


@pytest.mark.parametrize(
    ("source", "profile", "expected"),
    [
        ("Work", {"email": "w@x.io", "secondEmail": "p@x.io"}, "w@x.io"),
        ("Personal", {"email": "w@x.io", "secondEmail": "p@x.io"}, "p@x.io"),
        ("Personal", {"email": "w@x.io", "secondEmail": ""}, "w@x.io"),
        ("Personal", {"email": "w@x.io", "secondEmail": None}, "w@x.io"),
    ],
)
def test_email_source(source: str, profile: dict[str, str | None], expected: str) -> None:
    spec = make_spec(sync={"emailSource": source})
    assert map_user(user("00u1", **profile), [], spec).work_email == expected


def test_employment_attribute_is_configurable() -> None:
    spec = make_spec(mapping={"employmentAttribute": "employeeType"})
    record = user("00u1", userType="Full-time", employeeType="Contractor")
    assert map_user(record, [], spec).employment_status == "Contractor"
    assert map_user(user("00u1"), [], spec).employment_status is None


def test_inactive_statuses_map_to_inactive() -> None:
    for status in ("STAGED", "SUSPENDED", "DEPROVISIONED"):
        assert not map_user(user("00u1", status=status), [], make_spec()).active
    for status in ("ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"):
        assert map_user(user("00u1", status=status), [], make_spec()).active


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("0151 23456789", "DE", "+4915123456789"),
        ("415.555.0199", "US", "+14155550199"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("call me maybe", "US", None),
        ("12", "US", None),
        (None, "US", None),
    ],
)
def test_phone_normalised_to_e164_where_it_parses(
    raw: str | None, country: str | None, expected: str | None
) -> None:
    assert normalise_phone(raw, country) == expected


def test_raw_phone_is_kept_when_it_does_not_parse() -> None:
    employee = map_user(user("00u1", mobilePhone="ext. 42"), [], make_spec())
    assert employee.mobile_phone == "ext. 42"
    assert employee.mobile_phone_e164 is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("de", "DE"),
        (" US ", "US"),
        ("Germany", "DE"),
        ("uk", "GB"),
        ("England", "GB"),
        ("xk", None),  # user-assigned (Kosovo): no ISO 3166-1 country (SPEC §9)
        ("XX", None),
        ("", None),
        ("  ", None),
        ("Atlantis", None),
        (None, None),
    ],
)
def test_country_normalised(raw: str | None, expected: str | None) -> None:
    assert normalise_country(raw) == expected


def test_missing_optional_fields_are_none() -> None:
    employee = map_user(user("00u1"), [], make_spec())
    assert employee.mobile_phone is None
    assert employee.country_code is None
    assert employee.street_address is None
    assert employee.state_code is None
    assert (employee.title, employee.department, employee.employee_number) == (None, None, None)
    assert employee.manager is None and employee.personal_email is None
    assert employee.teams == ()


def test_values_many_people_share_are_one_string_and_unique_ones_stay_their_own() -> None:
    # Each record decodes its profile anew, so equal values start as strings of their own.
    spec = make_spec()
    long_title = "Principal " * (SHARED_MAX // 10 + 1)
    shared_values = {"title": "Engineer", "department": "R&D", "city": "Oslo", "state": "Oslo"}
    profiles = [{**shared_values, "manager": "Grace Hopper", "employeeType": "x"}] * 2
    first, second = (
        map_user(user(f"00u{n}", userType="Full-time", **p), [], spec)
        for n, p in enumerate(profiles)
    )
    for name in ("title", "department", "city", "state", "manager", "first_name", "last_name",
                 "employment_status", "okta_status"):  # fmt: skip
        assert getattr(first, name) is getattr(second, name), name
    assert first.work_email != second.work_email
    longer = [map_user(user(f"00u{n}", title=long_title), [], spec) for n in range(2)]
    assert longer[0].title == longer[1].title == long_title.strip()
    assert longer[0].title is not longer[1].title

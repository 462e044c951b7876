"""Cleaner values in the directory (SPEC §9), and mapping that no profile value can break."""

from __future__ import annotations

import dataclasses
import unicodedata
from typing import Any

import pytest

from okta_hris.domain.changes import DataQuality
from okta_hris.domain.employees import Employee
from okta_hris.sync.mapping import (
    MAX_LINE,
    MAX_STREET,
    employment_values,
    loose_key,
    map_user,
    normalise_country,
    normalise_state,
    quality_of,
)

from .helpers import make_spec, user


def mapped(**profile: Any) -> Employee:
    return map_user(user("00u1", **profile), [], make_spec())


# -- e-mail -------------------------------------------------------------------------------------


def test_emails_are_lower_case_and_trimmed() -> None:
    employee = mapped(email="  Ada.King@Work.EXAMPLE ", secondEmail="\tADA@HOME.example\n")
    assert employee.work_email == "ada.king@work.example"
    assert employee.personal_email == "ada@home.example"


@pytest.mark.parametrize(
    ("source", "second", "work", "personal"),
    [
        ("Work", " P@X.io ", "w@x.io", "p@x.io"),
        ("Personal", " P@X.io ", "p@x.io", "p@x.io"),
        ("Personal", "   ", "w@x.io", None),  # falls back to email; personal stays empty
        ("Personal", None, "w@x.io", None),
        ("Work", None, "w@x.io", None),
    ],
)
def test_personal_email_is_always_second_email(
    source: str, second: str | None, work: str, personal: str | None
) -> None:
    spec = make_spec(sync={"emailSource": source})
    employee = map_user(user("00u1", email="W@x.io", secondEmail=second), [], spec)
    assert (employee.work_email, employee.personal_email) == (work, personal)


# -- text fields --------------------------------------------------------------------------------

TEXT_FIELDS = [
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("title", "title"),
    ("department", "department"),
    ("employeeNumber", "employee_number"),
    ("manager", "manager"),
    ("city", "city"),
    ("zipCode", "zip_code"),
    ("state", "state"),
]


@pytest.mark.parametrize(("attribute", "field"), TEXT_FIELDS)
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Staff Engineer \t", "Staff Engineer"),
        ("Zoë Müller-Lüdenscheid", "Zoë Müller-Lüdenscheid"),
        ("", None),
        ("   ", None),
        ("\u3000\xa0", None),  # ideographic and no-break spaces are blank too
        (None, None),
        (12345, "12345"),
        (12345.0, "12345"),  # HR exports that write numbers as floats
        (1.5, "1.5"),
        (0, "0"),
        (True, None),
        (False, None),
        ({"name": "Ada"}, None),
        ({}, None),
        (["Engineering", " Platform "], "Engineering, Platform"),
        ([None, True, {"a": 1}, ["x"]], None),
        ([], None),
        (float("nan"), None),
        (float("inf"), None),
        pytest.param(10**5000, None, id="int-of-5000-digits"),  # more than str(int) writes
        ("a\tb", "a b"),
        ("line one\nline two", "line one line two"),
        ("\x00Ada\x00", "Ada"),
        ("A\x07d\x1ba\x7f", "Ada"),
        ("Ad\x85a", "Ad a"),  # NEL is a line break
        ("Ad\x9ba", "Ada"),  # C1 control
        ("Ad\ud800a", "Ada"),  # a lone surrogate: no database encoding takes it
    ],
)
def test_text_fields_are_clean_trimmed_text(
    attribute: str, field: str, raw: Any, expected: str | None
) -> None:
    assert getattr(mapped(**{attribute: raw}), field) == expected


@pytest.mark.parametrize(("attribute", "field"), TEXT_FIELDS)
def test_long_text_is_cut_at_the_bound(attribute: str, field: str) -> None:
    value = getattr(mapped(**{attribute: "x" * 1_000_000}), field)
    assert value == "x" * MAX_LINE
    padded = getattr(mapped(**{attribute: "y" * (MAX_LINE - 1) + " tail"}), field)
    assert padded == "y" * (MAX_LINE - 1)  # no trailing space where the cut fell


def test_manager_is_profile_manager_as_okta_holds_it() -> None:
    employee = mapped(manager=" Grace Hopper ", managerId="00u0")
    assert employee.manager == "Grace Hopper"


def test_display_name_is_clean_too() -> None:
    assert mapped(displayName=" Ada\x00 King\n").display_name == "Ada King"
    assert mapped(displayName={"x": 1}).display_name == "Ada Lovelace"
    assert mapped(displayName=None, firstName=None, lastName=7).display_name == "7"


# -- employment ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Full-time", "fulltime"),
        ("Full Time", "fulltime"),
        ("FULL_TIME", "fulltime"),
        (" full\t-\u00a0time ", "fulltime"),
        ("Straße", "strasse"),  # casefold
        ("", ""),
        ("- _ ", ""),
    ],
)
def test_loose_key_ignores_case_spaces_hyphens_underscores(text: str, key: str) -> None:
    assert loose_key(text) == key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Contractor ", ("Contractor",)),
        (["Contractor", " Part-time", "", None, "  "], ("Contractor", "Part-time")),
        ([7, True, {"a": 1}, "Intern"], ("7", "Intern")),
        ("", ()),
        ("   ", ()),
        (None, ()),
        ({"type": "Contractor"}, ()),
        (False, ()),
    ],
)
def test_employment_values_are_the_raw_trimmed_elements(
    value: Any, expected: tuple[str, ...]
) -> None:
    assert employment_values({"employeeType": value}, "employeeType") == expected


def test_employment_values_of_an_absent_attribute() -> None:
    assert employment_values({}, "employeeType") == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Full-time", "Full-time"),
        ("full time", "Full-time"),
        ("FULL_TIME", "Full-time"),
        ("  Full-Time ", "Full-time"),
        ("part_time", "Part-time"),
        ("contractor", "Contractor"),
        ("INTERN", "Intern"),
        ("temporary", "Temporary"),
        ("  Working Student ", "Working Student"),  # no configured spelling: as given, trimmed
        ("-", "-"),
        (["Contractor", "part time"], "Contractor, Part-time"),
        (["contractor", "CONTRACTOR", " Contractor "], "Contractor"),
        (["Working Student", "working student", "Intern"], "Working Student, Intern"),
        ([], None),
        ("", None),
        (None, None),
        (42, "42"),
        ({"a": "Full-time"}, None),
    ],
)
def test_employment_status_has_one_spelling_per_value(raw: Any, expected: str | None) -> None:
    assert mapped(userType=raw).employment_status == expected


def test_employment_spellings_come_from_the_spec_first_match_wins() -> None:
    spec = make_spec(
        mapping={
            "employmentAttribute": "employeeType",
            "employmentValues": ["FULL TIME", "Full-time", "Working student"],
        }
    )
    record = user("00u1", userType="Contractor", employeeType=["full-time", "WORKING_STUDENT"])
    assert map_user(record, [], spec).employment_status == "FULL TIME, Working student"
    # Values not configured any more keep their own spelling.
    assert map_user(user("00u1", employeeType="Intern"), [], spec).employment_status == "Intern"


# -- country and state --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE", "DE"),
        (" de ", "DE"),
        ("uk", "GB"),
        ("UK", "GB"),
        ("EL", "GR"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("Deutschland", "DE"),  # names in other languages, pycountry's own translations
        ("Allemagne", "DE"),
        ("United States", "US"),
        ("DEU", "DE"),
        ("England", "GB"),
        ("XX", None),
        ("ZZ", None),
        ("XK", None),
        ("QQ", None),
        ("AA", None),
        ("D", None),
        ("Atlantis", None),
        ("", None),
        (None, None),
        (49, None),
        (True, None),
        ({"code": "DE"}, None),
        ("D\x00E", "DE"),
        ("\ud800", None),
        ("x" * 1_000_000, None),
    ],
)
def test_country_code_is_a_real_iso_code_or_none(raw: Any, expected: str | None) -> None:
    assert normalise_country(raw) == expected
    assert mapped(countryCode=raw).country_code == expected


@pytest.mark.parametrize(
    ("state", "country", "expected"),
    [
        ("BY", "DE", "DE-BY"),
        ("by", "DE", "DE-BY"),
        ("DE-BY", "DE", "DE-BY"),
        ("de-by", "DE", "DE-BY"),
        ("Bayern", "DE", "DE-BY"),
        ("Bavaria", "DE", "DE-BY"),
        ("Bavière", "DE", "DE-BY"),
        ("baviere", "DE", "DE-BY"),
        ("BAYERN", "DE", "DE-BY"),
        ("Baviera", "DE", "DE-BY"),
        ("Beieren", "DE", "DE-BY"),
        ("Baden-Wurttemberg", "DE", "DE-BW"),
        ("CA", "US", "US-CA"),
        ("Ca", "US", "US-CA"),
        ("us-ca", "US", "US-CA"),
        ("California", "US", "US-CA"),
        ("Kalifornien", "US", "US-CA"),
        ("Californie", "US", "US-CA"),
        ("new york", "US", "US-NY"),
        ("Ile de France", "FR", "FR-IDF"),
        ("Provence-Alpes-Côte d'Azur", "FR", "FR-PAC"),
        ("Comunidad de Madrid", "ES", "ES-MD"),  # ISO writes "Madrid, Comunidad de"
        ("Andalusien", "ES", "ES-AN"),
        ("Scotland", "GB", "GB-SCT"),
        ("Cymru", "GB", "GB-WLS"),  # ISO's "Wales [Cymru GB-CYM]"
        ("Québec", "CA", "CA-QC"),
        ("Quebec", "CA", "CA-QC"),
        ("São Paulo", "BR", "BR-SP"),
        ("Nordholland", "NL", "NL-NH"),
        ("東京", "JP", "JP-13"),  # pycountry's Japanese catalogue
        ("Tokyo", "JP", "JP-13"),
        ("Bayern", "US", None),  # not a state of that country
        ("US-CA", "DE", None),
        ("CA", None, None),  # no country, no state code
        ("Narnia", "DE", None),
        ("NRW", "DE", None),
        ("", "DE", None),
        (None, "DE", None),
        ("-", "DE", None),
    ],
)
def test_state_code_by_code_or_name(
    state: str | None, country: str | None, expected: str | None
) -> None:
    assert normalise_state(state, country) == expected


def test_state_code_needs_the_users_country_and_state_stays_as_given() -> None:
    employee = mapped(state=" Bavière ", countryCode="de")
    assert (employee.state, employee.state_code, employee.country_code) == (
        "Bavière",
        "DE-BY",
        "DE",
    )
    assert mapped(state="Bayern").state_code is None
    assert mapped(state="Bayern", countryCode="XX").state_code is None
    assert mapped(state="Kalifornien", countryCode="United States").state_code == "US-CA"


# -- street address -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 Market St", "1 Market St"),
        ("  1 Market St  \n\n  Suite 400 \n", "1 Market St\nSuite 400"),
        ("1 Market St\r\nSuite 400\r\n\r\n", "1 Market St\nSuite 400"),
        ("1 Market St\rSuite 400", "1 Market St\nSuite 400"),
        ("\n \r\n\t\n", None),
        ("", None),
        (None, None),
        ("1\tMarket\x00 St\x0b", "1 Market St"),
        (["1 Market St", " Suite 400 ", ""], "1 Market St\nSuite 400"),
        ({"street": "1 Market St"}, None),
        (221, "221"),
        ("Baker\ud800 Street\u2028221b", "Baker Street\n221b"),
    ],
)
def test_street_lines_trimmed_blank_lines_removed(raw: Any, expected: str | None) -> None:
    assert mapped(streetAddress=raw).street_address == expected


def test_long_street_is_cut_at_the_bound() -> None:
    street = mapped(streetAddress=("x" * 100 + "\n") * 10_000).street_address
    assert street is not None and len(street) <= MAX_STREET
    assert set(street) == {"x", "\n"} and not street.endswith("\n")


# -- phones -------------------------------------------------------------------------------------


def test_phone_kept_as_given_but_clean_and_normalised_with_the_country() -> None:
    employee = mapped(mobilePhone=" 0151 23456789\x00 ", countryCode="Deutschland")
    assert employee.mobile_phone == "0151 23456789"
    assert employee.mobile_phone_e164 == "+4915123456789"
    employee = mapped(mobilePhone=4155550134, countryCode="US")
    assert (employee.mobile_phone, employee.mobile_phone_e164) == ("4155550134", "+14155550134")
    long_number = mapped(mobilePhone="+1 415 555 0134" + " " * 300 + "1", countryCode="US")
    assert long_number.mobile_phone_e164 is None


# -- data quality -------------------------------------------------------------------------------

COMPLETE: dict[str, Any] = {
    "streetAddress": "1 Market St",
    "city": "San Francisco",
    "zipCode": "94105",
    "countryCode": "US",
    "mobilePhone": "+1 415 555 0134",
}


def quality(**profile: Any) -> DataQuality:
    record = user("00u1", **profile)
    return quality_of(record, map_user(record, [], make_spec()))


def test_quality_of_a_complete_employee_is_zero() -> None:
    assert quality(**COMPLETE) == DataQuality(0, 0, 0)
    # No phone at all is not an invalid phone.
    assert quality(**{**COMPLETE, "mobilePhone": None}) == DataQuality(0, 0, 0)


@pytest.mark.parametrize("phone", ["n/a", "12", "+1 (415) 555-01", "call me"])
def test_invalid_phone_counts(phone: str) -> None:
    assert quality(**{**COMPLETE, "mobilePhone": phone}) == DataQuality(1, 0, 0)


@pytest.mark.parametrize("code", ["XX", "XK", "Atlantis", 49, {"x": 1}, "\x00?"])
def test_unknown_country_counts_and_makes_the_address_incomplete(code: Any) -> None:
    assert quality(**{**COMPLETE, "countryCode": code}) == DataQuality(0, 1, 1)


# A record holds its profile as the mirror stores it, NUL removed: "\x00" is "".
@pytest.mark.parametrize("code", [None, "", "  ", "\x00"])
def test_missing_country_is_not_unknown_but_incomplete(code: Any) -> None:
    assert quality(**{**COMPLETE, "countryCode": code}) == DataQuality(0, 0, 1)


@pytest.mark.parametrize("attribute", ["streetAddress", "city", "zipCode"])
@pytest.mark.parametrize("value", [None, "", " \n "])
def test_incomplete_address_counts(attribute: str, value: Any) -> None:
    assert quality(**{**COMPLETE, attribute: value}) == DataQuality(0, 0, 1)


def test_quality_adds_up_over_employees() -> None:
    total = sum(
        (
            quality(**COMPLETE),
            quality(**{**COMPLETE, "mobilePhone": "n/a"}),
            quality(**{**COMPLETE, "countryCode": "ZZ", "mobilePhone": "x"}),
            quality(),
        ),
        DataQuality(),
    )
    assert total == DataQuality(invalid_phones=2, unknown_countries=1, incomplete_addresses=2)


def test_quality_does_not_look_at_status() -> None:
    record = user("00u1", status="DEPROVISIONED", mobilePhone="n/a")
    assert quality_of(record, map_user(record, [], make_spec())).invalid_phones == 1


# -- hostile values -----------------------------------------------------------------------------

ATTRIBUTES = [
    "displayName", "firstName", "lastName", "email", "secondEmail", "login", "userType",
    "employeeType", "title", "department", "employeeNumber", "manager", "mobilePhone",
    "streetAddress", "countryCode", "state", "city", "zipCode",
]  # fmt: skip
HOSTILE: list[Any] = [
    "\x00",
    "\x00" * 10_000,
    "\ud800",
    "\udfff\ud800",
    "x" * 1_000_000,
    "\n" * 1_000_000,
    " " * 1_000_000,
    "".join(chr(c) for c in range(32)),
    "\u202e\u200b\ufeff",  # bidi override, zero-width space, BOM
    "🧑‍💻" * 1000,
    10**5000,
    -1,
    2**63,
    1e308,
    float("nan"),
    float("-inf"),
    True,
    {},
    {"nested": {"deeper": ["x"]}},
    [],
    [[["x"]]],
    ["x"] * 100_000,
    [None, "\x00", 3.5, {"a": 1}],
]


@pytest.mark.parametrize("attribute", ATTRIBUTES)
@pytest.mark.parametrize(
    "value", HOSTILE, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(HOSTILE)]
)
def test_no_value_makes_mapping_raise(attribute: str, value: Any) -> None:
    for spec in (
        make_spec(),
        make_spec(sync={"emailSource": "Personal"}, mapping={"employmentAttribute": attribute}),
    ):
        record = user("00u1", **{attribute: value, "countryCode": "DE", "state": "BY"})
        employee = map_user(record, ["Sales"], spec)
        quality_of(record, employee)
        for field, text in dataclasses.asdict(employee).items():
            if isinstance(text, str):
                limit = MAX_STREET if field == "street_address" else MAX_LINE
                assert len(text) <= limit, field
                # No control characters (but line breaks in a street) and no surrogates.
                assert not any(
                    unicodedata.category(c) in ("Cc", "Cs") and c != "\n" for c in text
                ), field
                assert "\n" not in text or field == "street_address", field
                assert text == text.strip(), field

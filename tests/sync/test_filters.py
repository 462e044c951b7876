"""The filters of SPEC §2 and §9, alone and combined, resolved against the org's groups."""

from __future__ import annotations

from typing import Any

import pytest

from okta_hris.domain.changes import OktaGroupRecord, OktaUserRecord
from okta_hris.errors import UnknownTeam
from okta_hris.sync.filters import ResolvedFilters, resolve_filters

from .helpers import group, make_spec, user

GROUPS = {
    g.id: g
    for g in (
        group("00gENG", "Engineering"),
        group("00gINT", "Interns"),
        group("00gSAL", "Sales"),
        group("00gDES", "Design"),
        group("00gAPP", "Engineering", "APP_GROUP"),  # same name, other type
    )
}
BY_NAME = {"Engineering": "00gENG", "Interns": "00gINT", "Sales": "00gSAL", "Design": "00gDES"}


def filtered(groups: dict[str, OktaGroupRecord] | None = None, **filters: Any) -> ResolvedFilters:
    spec = make_spec(sync={"scope": "Filtered"}, filters=filters)
    return resolve_filters(spec, GROUPS if groups is None else groups)


def keeps(filters: ResolvedFilters, record: OktaUserRecord, teams: tuple[str, ...] = ()) -> bool:
    return filters.keeps(filters.facts(record, [BY_NAME[t] for t in teams]))


@pytest.mark.parametrize(
    ("country", "include", "exclude", "expected"),
    [
        ("US", ["US", "DE"], [], True),
        ("us", ["US"], [], True),  # Okta accepts any case
        ("FR", ["US", "DE"], [], False),
        (None, ["US"], [], False),  # no value never matches a non-empty include
        ("XX", ["US"], [], False),  # not a country: no value
        (None, [], ["US"], True),
        ("US", [], ["US"], False),
        ("US", ["US"], ["US"], False),  # exclude wins
        ("DE", [], [], True),
    ],
)
def test_country_filter(
    country: str | None, include: list[str], exclude: list[str], expected: bool
) -> None:
    filters = filtered(countries={"include": include, "exclude": exclude})
    assert keeps(filters, user("00u1", countryCode=country)) is expected


@pytest.mark.parametrize(
    ("teams", "include", "exclude", "expected"),
    [
        (("Engineering",), ["Engineering"], [], True),
        (("Engineering", "Interns"), ["Engineering"], ["Interns"], False),
        (("Sales", "Engineering"), ["Engineering"], [], True),  # any team counts for include
        (("Sales",), ["Engineering"], [], False),
        ((), ["Engineering"], [], False),
        ((), [], ["Interns"], True),
        (("Design",), [], ["Interns"], True),
        (("Engineering",), ["engineering"], [], True),  # names ignore case
        (("Engineering",), ["  ENGINEERING "], [], True),
        (("Engineering",), ["id:00gENG"], [], True),  # by id
        (("Interns",), [], ["id:00gINT"], False),
    ],
)
def test_teams_filter(
    teams: tuple[str, ...], include: list[str], exclude: list[str], expected: bool
) -> None:
    filters = filtered(teams={"include": include, "exclude": exclude})
    assert keeps(filters, user("00u1"), teams) is expected


def test_a_name_means_every_group_of_the_configured_types_with_it() -> None:
    spec = make_spec(
        sync={"scope": "Filtered"},
        filters={"teams": {"include": ["Engineering"]}},
        mapping={"teamGroupTypes": ["OKTA_GROUP", "APP_GROUP"]},
    )
    filters = resolve_filters(spec, GROUPS)
    assert filters.teams_include == {"00gENG", "00gAPP"}
    [entry] = filters.team_entries
    assert (entry.side, entry.entry, entry.group_ids) == (
        "include",
        "Engineering",
        ("00gAPP", "00gENG"),
    )


def test_an_id_entry_survives_a_rename() -> None:
    renamed = dict(GROUPS) | {"00gENG": group("00gENG", "Platform Engineering")}
    filters = filtered(renamed, teams={"include": ["id:00gENG"]})
    assert filters.teams_include == {"00gENG"}
    assert filters.team_entries[0].names == ("Platform Engineering",)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("Enginering", "is named 'Enginering'; did you mean 'Engineering'?"),
        ("Intern", "did you mean 'Interns'?"),
        ("Everyone", "Everyone is Okta's BUILT_IN group and never a team"),
        ("id:00gNOPE", "no Okta group of type OKTA_GROUP has id '00gNOPE'"),
        ("Finance", "no Okta group of type OKTA_GROUP is named 'Finance' (the org has 5 such"),
    ],
)
def test_an_entry_naming_no_group_fails_with_a_did_you_mean(entry: str, expected: str) -> None:
    with pytest.raises(UnknownTeam) as caught:
        filtered(teams={"include": ["Sales", entry]})
    message = str(caught.value)
    assert message.startswith("spec.filters.teams.include[1]: no Okta group of type OKTA_GROUP")
    assert expected in message
    assert caught.value.reason == "UnknownTeam" and caught.value.permanent


def test_a_renamed_group_fails_rather_than_matching_nobody() -> None:
    renamed = dict(GROUPS) | {"00gINT": group("00gINT", "Working Students")}
    with pytest.raises(UnknownTeam, match=r"spec\.filters\.teams\.exclude\[0\]: .*'Interns'"):
        filtered(renamed, teams={"exclude": ["Interns"]})


def test_every_unknown_entry_is_named_on_one_line() -> None:
    with pytest.raises(UnknownTeam) as caught:
        filtered(teams={"include": ["Nope"], "exclude": ["Neither"]})
    message = str(caught.value)
    assert "\n" not in message
    assert "include[0]" in message and "exclude[0]" in message


def test_hostile_group_names_are_quoted_in_the_message() -> None:
    hostile = {"00gX": group("00gX", "Engineerin\x1b[2J\ng")}
    with pytest.raises(UnknownTeam) as caught:
        filtered(hostile, teams={"include": ["Engineering"]})
    message = str(caught.value)
    assert "\x1b" not in message and "\n" not in message
    assert "did you mean 'Engineerin\\x1b[2J\\ng'?" in message


def test_scope_all_resolves_nothing_and_keeps_everyone() -> None:
    filters = resolve_filters(make_spec(), {})
    assert filters.scope_all
    assert keeps(filters, user("00u1", status="DEPROVISIONED"))


@pytest.mark.parametrize(
    ("status", "include", "expected"),
    [
        ("ACTIVE", ["Active"], True),
        ("LOCKED_OUT", ["Active"], True),
        ("PASSWORD_EXPIRED", ["Active"], True),
        ("SUSPENDED", ["Active"], False),
        ("STAGED", ["Inactive"], True),
        ("DEPROVISIONED", ["Inactive"], True),
        ("ACTIVE", ["Inactive"], False),
        ("SUSPENDED", [], True),
    ],
)
def test_status_filter(status: str, include: list[str], expected: bool) -> None:
    filters = filtered(status={"include": include})
    assert keeps(filters, user("00u1", status=status)) is expected


@pytest.mark.parametrize(
    ("value", "include", "exclude", "expected"),
    [
        ("Full-time", ["Full-time"], [], True),
        ("FULL-TIME", ["full-time"], [], True),  # case
        ("Full Time", ["Full-time"], [], True),  # spaces and hyphens
        ("FULL_TIME", ["full time"], [], True),  # underscores
        ("  fulltime ", ["Full-time"], [], True),
        ("contractor", ["Full-time", "Contractor"], [], True),
        ("Intern", ["Full-time"], [], False),
        (None, ["Full-time"], [], False),
        ("", ["Full-time"], [], False),
        ("Intern", [], ["intern"], False),
        (["Contractor", "Part-time"], ["part time"], [], True),  # a list: any element
        (["Contractor", "Part-time"], ["Full-time"], [], False),
        (["Contractor", "Part-time"], [], ["CONTRACTOR"], False),
        ([], ["Full-time"], [], False),
    ],
)
def test_employment_filter(
    value: Any, include: list[str], exclude: list[str], expected: bool
) -> None:
    filters = filtered(employment={"include": include, "exclude": exclude})
    assert keeps(filters, user("00u1", userType=value)) is expected


def test_employment_reads_the_configured_attribute() -> None:
    spec = make_spec(
        sync={"scope": "Filtered"},
        filters={"employment": {"include": ["Contractor"]}},
        mapping={"employmentAttribute": "employeeType"},
    )
    filters = resolve_filters(spec, GROUPS)
    assert keeps(filters, user("00u1", employeeType="contractor", userType="Employee"))
    assert not keeps(filters, user("00u2", userType="Contractor"))


def test_filters_are_anded() -> None:
    filters = filtered(
        countries={"include": ["US", "DE"]},
        teams={"include": ["Engineering"], "exclude": ["Interns"]},
        status={"include": ["Active"]},
        employment={"include": ["Full-time", "Contractor"]},
    )
    good = {"countryCode": "DE", "userType": "full-time"}
    assert keeps(filters, user("00u1", **good), ("Engineering",))
    assert not keeps(filters, user("00u1", **(good | {"countryCode": "FR"})), ("Engineering",))
    assert not keeps(filters, user("00u1", **good), ("Engineering", "Interns"))
    assert not keeps(filters, user("00u1", "SUSPENDED", **good), ("Engineering",))
    assert not keeps(filters, user("00u1", **(good | {"userType": "Intern"})), ("Engineering",))


def test_a_minimal_mirror_record_decides_scope_as_the_whole_profile_does() -> None:
    # SPEC §9: the mirror keeps only these values of users never in scope.
    filters = filtered(countries={"include": ["DE"]}, employment={"include": ["Intern"]})
    whole = user("00u1", countryCode="de", userType="INTERN", city="Berlin")
    minimal = OktaUserRecord(
        id="00u1",
        status="ACTIVE",
        last_updated=whole.last_updated,
        profile={"countryCode": "de", "userType": "INTERN"},
    )
    assert filters.facts(whole, ["00gENG"]) == filters.facts(minimal, ["00gENG"])


def test_a_renamed_group_is_named_with_its_new_name_and_id() -> None:
    renamed = dict(GROUPS) | {"00gINT": group("00gINT", "Internship Program")}
    spec = make_spec(sync={"scope": "Filtered"}, filters={"teams": {"exclude": ["Interns"]}})
    with pytest.raises(UnknownTeam) as caught:
        resolve_filters(spec, renamed, previous=GROUPS)
    assert str(caught.value) == (
        "spec.filters.teams.exclude[0]: no Okta group of type OKTA_GROUP is named 'Interns': "
        "group 00gINT was renamed to 'Internship Program' in Okta; write that name, or "
        "id:00gINT, which survives renames"
    )


def test_names_compare_in_one_unicode_composition() -> None:
    groups = {"00gEQ": group("00gEQ", "\u00c9quipe Paris")}  # composed É
    filters = filtered(groups, teams={"include": ["E\u0301quipe paris"]})  # decomposed
    assert filters.teams_include == {"00gEQ"}

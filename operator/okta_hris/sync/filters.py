"""The filters of SPEC §2 and §9, resolved against the org and applied as pure predicates.

``resolve_filters`` turns the spec's filters into what a sync compares: team entries become
Okta group ids (by name, ignoring case, or ``id:<group id>``), employment values loose keys.
An entry that names no current group raises ``UnknownTeam`` before anything is planned, so a
typo or a group renamed in Okta never silently empties the directory.

Within one filter a user matches when (include is empty or the value is in include) and the
value is not in exclude; a user with no value does not match a non-empty include. Filters are
ANDed. Teams match when any of the user's groups is listed; employment matches when any of the
attribute's values does, ignoring case, spaces, hyphens and underscores.

The predicates read only what SPEC §9 lets the mirror keep for users never in scope (status,
country, employment value, group ids), so a minimised mirror record decides scope as well as a
whole profile does.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from types import EllipsisType

from okta_hris.domain.changes import OktaGroupRecord, OktaUserRecord
from okta_hris.domain.okta import ACTIVE_OKTA_STATUSES
from okta_hris.errors import UnknownTeam
from okta_hris.resource.spec import TEAM_ID_PREFIX, OktaIntegrationSpec
from okta_hris.resource.validation import describe_value
from okta_hris.sync.mapping import employment_values, loose_key, normalise_country


def status_class(okta_status: str) -> str:
    """Active or Inactive, the two values the status filter speaks of."""
    return "Active" if okta_status in ACTIVE_OKTA_STATUSES else "Inactive"


@dataclass(frozen=True)
class TeamEntry:
    """One ``spec.filters.teams`` entry and the groups it resolved to."""

    side: str  # "include" | "exclude"
    entry: str  # as written in the spec
    group_ids: tuple[str, ...]
    names: tuple[str, ...]  # the groups' current names, for plan


@dataclass(frozen=True)
class ScopeFacts:
    """What the filters look at for one user."""

    status: str  # Active | Inactive
    country: str | None
    employment: frozenset[str]  # loose keys of the employment attribute's values
    group_ids: frozenset[str]


def _matches(values: Collection[str], include: Collection[str], exclude: Collection[str]) -> bool:
    if include and not any(v in include for v in values):
        return False
    return not any(v in exclude for v in values)


@dataclass(frozen=True)
class ResolvedFilters:
    """The spec's filters as ids and keys; ``scope_all`` keeps everyone."""

    scope_all: bool
    countries_include: frozenset[str] = frozenset()
    countries_exclude: frozenset[str] = frozenset()
    teams_include: frozenset[str] = frozenset()  # group ids
    teams_exclude: frozenset[str] = frozenset()
    status_include: frozenset[str] = frozenset()
    status_exclude: frozenset[str] = frozenset()
    employment_include: frozenset[str] = frozenset()  # loose keys
    employment_exclude: frozenset[str] = frozenset()
    employment_attribute: str = "userType"
    team_entries: tuple[TeamEntry, ...] = ()

    def facts(
        self,
        user: OktaUserRecord,
        group_ids: Iterable[str],
        employment: tuple[str, ...] | None = None,
        country: str | EllipsisType | None = ...,
    ) -> ScopeFacts:
        """``employment``: ``employment_values`` of the user's ``employment_attribute``, and
        ``country``: ``normalise_country`` of their ``countryCode`` (what ``map_profile``
        made of it), when the caller has read them already; else read from the profile."""
        if employment is None:
            employment = employment_values(user.profile, self.employment_attribute)
        if country is ...:
            country = normalise_country(user.profile.get("countryCode"))  # as map_user reads it
        return ScopeFacts(
            status=status_class(user.status),
            country=country,
            employment=frozenset(loose_key(v) for v in employment),
            group_ids=frozenset(group_ids),
        )

    def keeps_country(self, facts: ScopeFacts) -> bool:
        values = [facts.country] if facts.country else []
        return _matches(values, self.countries_include, self.countries_exclude)

    def keeps_teams(self, facts: ScopeFacts) -> bool:
        return _matches(facts.group_ids, self.teams_include, self.teams_exclude)

    def keeps_status(self, facts: ScopeFacts) -> bool:
        return _matches([facts.status], self.status_include, self.status_exclude)

    def keeps_employment(self, facts: ScopeFacts) -> bool:
        return _matches(facts.employment, self.employment_include, self.employment_exclude)

    def keeps(self, facts: ScopeFacts) -> bool:
        """Scope All takes every user; scope Filtered only those every filter keeps."""
        return self.scope_all or (
            self.keeps_country(facts)
            and self.keeps_teams(facts)
            and self.keeps_status(facts)
            and self.keeps_employment(facts)
        )


def resolve_filters(
    spec: OktaIntegrationSpec,
    groups: Mapping[str, OktaGroupRecord],
    previous: Mapping[str, OktaGroupRecord] | None = None,
) -> ResolvedFilters:
    """The spec's filters against the org's current team groups.

    Raises ``UnknownTeam`` naming every entry that matches no group, with a did-you-mean;
    ``previous`` (the groups the last sync saw) tells a group renamed since.
    """
    filters = spec.filters
    attribute = spec.mapping.employment_attribute
    if spec.sync.scope == "All":
        return ResolvedFilters(scope_all=True, employment_attribute=attribute)
    by_name: dict[str, list[OktaGroupRecord]] = {}
    for group in groups.values():
        by_name.setdefault(_name_key(group.name), []).append(group)
    entries: list[TeamEntry] = []
    unknown: list[str] = []
    for side, values in (("include", filters.teams.include), ("exclude", filters.teams.exclude)):
        for index, entry in enumerate(values):
            found = _resolve_entry(entry, groups, by_name)
            if not found:
                where = f"spec.filters.teams.{side}[{index}]"
                problem = _unknown_team(entry, groups, by_name, spec, previous or {})
                unknown.append(f"{where}: {problem}")
                continue
            ordered = sorted(found, key=lambda g: (g.name, g.id))
            entries.append(
                TeamEntry(
                    side,
                    entry,
                    tuple(g.id for g in ordered),
                    tuple(g.name for g in ordered),
                )
            )
    if unknown:
        raise UnknownTeam("; ".join(unknown))
    return ResolvedFilters(
        scope_all=False,
        countries_include=frozenset(filters.countries.include),
        countries_exclude=frozenset(filters.countries.exclude),
        teams_include=frozenset(g for e in entries if e.side == "include" for g in e.group_ids),
        teams_exclude=frozenset(g for e in entries if e.side == "exclude" for g in e.group_ids),
        status_include=frozenset(filters.status.include),
        status_exclude=frozenset(filters.status.exclude),
        employment_include=frozenset(loose_key(v) for v in filters.employment.include),
        employment_exclude=frozenset(loose_key(v) for v in filters.employment.exclude),
        employment_attribute=attribute,
        team_entries=tuple(entries),
    )


def _resolve_entry(
    entry: str,
    groups: Mapping[str, OktaGroupRecord],
    by_name: Mapping[str, list[OktaGroupRecord]],
) -> list[OktaGroupRecord]:
    if entry.startswith(TEAM_ID_PREFIX):
        group = groups.get(entry.removeprefix(TEAM_ID_PREFIX))
        return [group] if group is not None else []
    return list(by_name.get(_name_key(entry), ()))


def _name_key(name: str) -> str:
    """Group names compare ignoring case, surrounding spaces and Unicode composition."""
    return unicodedata.normalize("NFC", name).strip().casefold()


def _unknown_team(
    entry: str,
    groups: Mapping[str, OktaGroupRecord],
    by_name: Mapping[str, list[OktaGroupRecord]],
    spec: OktaIntegrationSpec,
    previous: Mapping[str, OktaGroupRecord],
) -> str:
    types = ", ".join(spec.mapping.team_group_types)
    if entry.startswith(TEAM_ID_PREFIX):
        return f"no Okta group of type {types} has id {describe_value(entry.removeprefix(TEAM_ID_PREFIX))}"
    message = f"no Okta group of type {types} is named {describe_value(entry)}"
    renamed = sorted(
        (groups[g.id].name, g.id)
        for g in previous.values()
        if _name_key(g.name) == _name_key(entry) and g.id in groups
    )
    if renamed:
        name, group_id = renamed[0]
        return (
            f"{message}: group {group_id} was renamed to {describe_value(name)} in Okta; write that "
            f"name, or id:{group_id}, which survives renames"
        )
    if entry.casefold() == "everyone":
        return (
            f"{message}: Everyone is Okta's BUILT_IN group and never a team; to keep every "
            "user, leave spec.filters.teams.include empty"
        )
    close = difflib.get_close_matches(_name_key(entry), list(by_name), n=3, cutoff=0.6)
    if close:
        names = sorted({g.name for key in close for g in by_name[key]})
        return f"{message}; did you mean {' or '.join(describe_value(n) for n in names)}?"
    if groups:
        return f"{message} (the org has {len(groups)} such groups)"
    return f"{message} (the org has no such groups)"

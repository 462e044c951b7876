"""Okta user -> directory employee (SPEC §1, §9 "Cleaner values"). Pure functions, no I/O.

Okta profiles are typed only loosely: custom attributes may hold numbers, lists or objects, and
imports from HR systems bring control characters, padding and very long values. Mapping must
never fail a sync over one user's profile, so every value goes through the same rules:

- Text is ``str``; an ``int`` or ``float`` becomes its text (``12345.0`` -> ``"12345"``; NaN,
  infinities and integers too long for ``str`` -> None). ``bool`` and ``dict`` are no text and
  become None. A list becomes its text elements joined with ", " (a street address: with line
  breaks), ignoring elements that are no text; at most ``MAX_ELEMENTS`` elements are read.
- NUL and the other C0 and C1 control characters, DEL and lone surrogates (which no database
  encoding accepts) are removed. Tabs, and in single-line fields also line breaks, become spaces.
- Then the value is trimmed (Unicode whitespace); blank is None.
- Single-line text is cut at ``MAX_LINE`` characters, a street address at ``MAX_STREET``; no
  more than the first ``MAX_READ`` characters of a value are read at all.
- E-mail addresses are lower-cased after that; emailSource semantics are those of SPEC §1.

Ids and statuses are never cleaned or cut: a changed id could be another user's, a cut status
another status. A user whose id the directory cannot store (empty, longer than
``OKTA_ID_LENGTH``, or holding a control character or a lone surrogate) or whose status is no
Okta status is *unstorable*: the sync leaves that one user out (plan.py), and a group whose id
cannot be stored likewise. Every other value fits its column by the rules above.

The mirror keeps profiles as JSON (``storable_json``, domain/profiles.py): what no JSON column
takes is changed there, the same on SQLite and PostgreSQL.

Country and state codes come from pycountry (ISO 3166-1 and 3166-2), names also in the
languages of ``LANGUAGES`` through pycountry's gettext catalogues, matched ignoring case,
accents, spaces and punctuation. The indexes are built on first use and cached; so are parsed
phone numbers, because the operator re-maps the same values for every user on every sync.
"""

from __future__ import annotations

import dataclasses
import functools
import gettext
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, overload

import phonenumbers
import pycountry

from okta_hris.directory.schema import OKTA_ID_LENGTH
from okta_hris.domain.changes import DataQuality, OktaUserRecord
from okta_hris.domain.countries import COUNTRY_ALIASES
from okta_hris.domain.employees import Employee
from okta_hris.domain.okta import ACTIVE_OKTA_STATUSES, ALL_OKTA_STATUSES
from okta_hris.resource.spec import OktaIntegrationSpec

MAX_LINE = 1024  # characters of a single-line value
MAX_STREET = 4096  # characters of a street address, line breaks included (Okta's postalAddress)
MAX_ELEMENTS = 100  # elements read from a list-valued attribute
MAX_READ = 65536  # characters read of any one value: bounds the work a hostile value costs
# The languages in which state and country names are recognised, besides ISO's own spelling.
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "ja")

# Removed from all text: C0 and C1 controls (but the ones below), DEL, lone surrogates.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
# Become a space in single-line text: tab, line and page breaks, the separators of str.splitlines.
_BREAKS = re.compile("[\t\n\x0b\x0c\r\x1c-\x1f\x85\u2028\u2029]")
# What no database's JSON text may hold: NUL (PostgreSQL) and lone surrogates (no UTF-8).
# Codes in pycountry's subdivision names, as in "Wales [Cymru GB-CYM]".
_CODE_IN_NAME = re.compile(r"\b[A-Z]{2}-[A-Z0-9]{1,3}\b")


# -- text ---------------------------------------------------------------------------------------


def _scalar_text(value: Any) -> str | None:
    """A JSON scalar as raw text; None for null, booleans, objects and arrays."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        # Some HR exports write employee numbers as floats.
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    return None


def _line(raw: str, limit: int = MAX_LINE) -> str | None:
    """One line of clean text: no control characters, trimmed, at most ``limit`` characters."""
    if len(raw) > MAX_READ:
        raw = raw[:MAX_READ]
    if not raw.isprintable():
        raw = _INVISIBLE.sub("", _BREAKS.sub(" ", raw))
    text = raw.strip()
    if len(text) > limit:
        text = text[:limit].rstrip()
    return text or None


def _elements(value: Any) -> Iterator[str]:
    """The raw text of a value, or of each element of a list value."""
    items = value[:MAX_ELEMENTS] if isinstance(value, list) else (value,)
    for item in items:
        raw = _scalar_text(item)
        if raw is not None:
            yield raw


def clean_text(value: Any, limit: int = MAX_LINE) -> str | None:
    """Any JSON value as one line of clean text (module docstring), None when there is none."""
    if isinstance(value, str):  # the common case first
        return _line(value, limit)
    lines = [t for t in (_line(raw, limit) for raw in _elements(value)) if t]
    return _line(", ".join(lines), limit) if lines else None


def clean_street(value: Any) -> str | None:
    """A street address: each line clean and trimmed, blank lines dropped, joined with \\n."""
    lines = [
        text
        for raw in _elements(value)
        for part in raw[:MAX_READ].splitlines()  # \n, \r\n, \r and the other line boundaries
        if (text := _line(part, MAX_STREET))
    ]
    if not lines:
        return None
    street = "\n".join(lines)
    if len(street) > MAX_STREET:
        street = street[:MAX_STREET].rstrip()
    return street


def _text(profile: Mapping[str, Any], attribute: str) -> str | None:
    return clean_text(profile.get(attribute))


# A sync maps every user (100,000 and more), and each decoded profile gives each value as a
# string of its own: 100,000 employees would hold 100,000 copies of their few departments,
# titles, cities and first names (40 MB at 100k). The values that repeat across people are
# interned, so each is one string however many hold it (not a name, e-mail or phone: those
# are mostly one person's). A value this long or longer is left as it is: it rarely repeats.
SHARED_MAX = 100


@overload
def shared(text: str) -> str: ...
@overload
def shared(text: None) -> None: ...
def shared(text: str | None) -> str | None:
    """``text`` as the one string every equal short value is (``SHARED_MAX``)."""
    return sys.intern(text) if text is not None and len(text) < SHARED_MAX else text


def _shared_text(profile: Mapping[str, Any], attribute: str) -> str | None:
    return shared(_text(profile, attribute))


def _email(profile: Mapping[str, Any], attribute: str) -> str | None:
    text = _text(profile, attribute)
    return text.lower() if text else None


def _given(value: Any) -> bool:
    """Whether Okta holds anything in an attribute: Okta sends absent, null and "" alike."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return any(_given(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


# -- ids and statuses ---------------------------------------------------------------------------

# How much of an unstorable id a warning shows: enough to find the user in Okta's admin console.
SHOWN_ID = 40


def storable_id(okta_id: str) -> bool:
    """Whether the directory can key a row by this Okta user or group id, exactly as given."""
    return 0 < len(okta_id) <= OKTA_ID_LENGTH and okta_id.isprintable()


def unstorable(user: OktaUserRecord) -> str | None:
    """Why the directory cannot hold this user as Okta sent them (for a warning), or None."""
    if not storable_id(user.id):
        return "its id cannot be stored"
    if user.status not in ALL_OKTA_STATUSES:
        return "its status is no Okta user status"
    return None


def shown_id(okta_id: str) -> str:
    """An Okta id as a message may show it: one line, no control characters, cut."""
    text = "".join(c if c.isprintable() else "\ufffd" for c in okta_id[: SHOWN_ID + 1])
    if len(text) > SHOWN_ID:
        return text[:SHOWN_ID] + "…"
    return text or "(an empty id)"


# -- employment ---------------------------------------------------------------------------------


def loose_key(text: str) -> str:
    """What employment values are compared by: case, whitespace, '-' and '_' do not count
    (``Full Time`` = ``full-time`` = ``FULL_TIME``)."""
    return "".join(text.casefold().split()).replace("-", "").replace("_", "")


def employment_values(profile: Mapping[str, Any], attribute: str) -> tuple[str, ...]:
    """The attribute's values, trimmed, as given: each element of a list, or the one value;
    () when absent or blank."""
    return tuple(t for t in (_line(raw) for raw in _elements(profile.get(attribute))) if t)


@functools.lru_cache(maxsize=64)
def _spellings(values: tuple[str, ...]) -> dict[str, str]:
    """loose key -> the first spelling of spec.mapping.employmentValues with that key."""
    spellings: dict[str, str] = {}
    for value in values:
        key = loose_key(value)
        if key:
            spellings.setdefault(key, value)
    return spellings


def employment_status(
    profile: Mapping[str, Any], attribute: str, spellings: Iterable[str]
) -> str | None:
    """One spelling per value: the configured spelling that matches loosely, else the value as
    given (the first spelling seen, for a list). A list gives its values joined with ", "."""
    canonical = _spellings(tuple(spellings))
    seen: dict[str, str] = {}
    for value in employment_values(profile, attribute):
        key = loose_key(value)
        seen.setdefault(key or value, canonical.get(key, value) if key else value)
    if not seen:
        return None
    return _line(", ".join(seen.values()))


# -- places -------------------------------------------------------------------------------------


def _place_key(text: str) -> str:
    """What place names are compared by: letters and digits, without case or accents."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


@functools.lru_cache(maxsize=4)
def _catalogues(domain: str) -> tuple[gettext.NullTranslations, ...]:
    catalogues: list[gettext.NullTranslations] = []
    for language in LANGUAGES:
        try:
            catalogues.append(
                gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language])
            )
        except OSError:  # a pycountry build without that language
            continue
    return tuple(catalogues)


def _translations(domain: str, name: str) -> Iterator[str]:
    for catalogue in _catalogues(domain):
        translated = catalogue.gettext(name)
        if translated != name:
            yield translated


class _PlaceIndex:
    """place key -> code. A key claimed by two codes goes to the better rank (lower number);
    on a tie it is ambiguous and resolves to nothing."""

    def __init__(self) -> None:
        self._best: dict[str, tuple[int, str | None]] = {}

    def add(self, rank: int, name: str, code: str) -> None:
        key = _place_key(name)
        if not key:
            return
        held = self._best.get(key)
        if held is None or rank < held[0]:
            self._best[key] = (rank, code)
        elif rank == held[0] and held[1] != code:
            self._best[key] = (rank, None)

    def result(self) -> dict[str, str]:
        return {key: code for key, (_, code) in self._best.items() if code is not None}


def _name_variants(name: str) -> Iterator[str]:
    """The spellings in one pycountry name: "Madrid, Comunidad de" is also "Comunidad de
    Madrid", "Valencia / València" two names, "Wales [Cymru GB-CYM]" Wales and Cymru."""
    base, _, bracket = name.partition("[")
    aside = _CODE_IN_NAME.sub("", bracket.rstrip("]")).strip()
    for part in [*base.split(" / "), *([aside] if aside else [])]:
        part = part.strip()
        if not part:
            continue
        yield part
        head, comma, tail = part.partition(", ")
        if comma and tail:
            yield f"{tail} {head}"


@functools.lru_cache(maxsize=1)
def _alpha_2_codes() -> frozenset[str]:
    return frozenset(str(c.alpha_2) for c in pycountry.countries)


@functools.lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Country names, official and common names, also translated, -> alpha-2."""
    index = _PlaceIndex()
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if not name:
                continue
            for variant in _name_variants(name):
                index.add(0, variant, code)
            for translated in _translations("iso3166-1", name):
                for variant in _name_variants(translated):
                    index.add(1, variant, code)
    return index.result()


@functools.lru_cache(maxsize=16384)
def _country_code(text: str) -> str | None:
    upper = text.upper()
    code = COUNTRY_ALIASES.get(upper, upper)
    if len(code) == 2:
        # Only assigned codes: Okta accepts any two characters, so XX, ZZ and the
        # user-assigned XK occur, and none of them is a country a parcel can go to.
        return code if code in _alpha_2_codes() else None
    try:
        return str(pycountry.countries.lookup(text).alpha_2)  # alpha-3, numeric, English name
    except LookupError:
        return _country_names().get(_place_key(text))


def normalise_country(value: Any) -> str | None:
    """A real ISO 3166-1 alpha-2 code, upper-case, or None. Codes are upper-cased (and the
    aliases of domain/countries.py mapped, UK -> GB), names looked up (also in the languages of
    ``LANGUAGES``); unassigned codes (XX, ZZ, XK) and anything else give None."""
    text = clean_text(value)
    return _country_code(text) if text else None


@functools.lru_cache(maxsize=1)
def _subdivisions_by_country() -> dict[str, list[Any]]:
    by_country: dict[str, list[Any]] = {}
    for subdivision in pycountry.subdivisions:
        by_country.setdefault(str(subdivision.country_code), []).append(subdivision)
    return by_country


@functools.lru_cache(maxsize=512)
def _subdivisions(country: str) -> tuple[frozenset[str], dict[str, str]]:
    """A country's ISO 3166-2 codes and its name index. Top-level subdivisions (states, Länder,
    regions) win over the ones below them (counties, departments, provinces) when their names
    collide, and ISO's own spelling over a translation."""
    entries = _subdivisions_by_country().get(country, [])
    index = _PlaceIndex()
    for subdivision in entries:
        code = str(subdivision.code)
        level = 0 if getattr(subdivision, "parent_code", None) is None else 2
        name = str(subdivision.name)
        for variant in _name_variants(name):
            index.add(level, variant, code)
        for translated in _translations("iso3166-2", name):
            for variant in _name_variants(translated):
                index.add(level + 1, variant, code)
    return frozenset(str(s.code) for s in entries), index.result()


@functools.lru_cache(maxsize=16384)
def normalise_state(state: str | None, country_code: str | None) -> str | None:
    """The ISO 3166-2 code of ``state`` within ``country_code``, by code (``CA``, ``us-ca``)
    or by name (``Bayern``, ``Bavaria``, ``Bavière``), else None."""
    if not state or not country_code:
        return None
    codes, names = _subdivisions(country_code)
    if not codes:
        return None
    upper = state.strip().upper()
    for code in (upper, f"{country_code}-{upper}"):
        if code in codes:
            return code
    return names.get(_place_key(state))


# -- phones -------------------------------------------------------------------------------------

# phonenumbers refuses longer input anyway; the check keeps such values out of the cache.
_MAX_PHONE = 250


# Parsing is the costliest step of mapping a user; the operator re-maps the same numbers every
# hour, so a process-wide cache makes incremental syncs cheap.
@functools.lru_cache(maxsize=131072)
def _e164(raw: str, country_code: str | None) -> str | None:
    try:
        number = phonenumbers.parse(raw, country_code)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_phone(raw: str | None, country_code: str | None) -> str | None:
    """E.164 when the number parses and is valid, using the user's country for local numbers."""
    if not raw or len(raw) > _MAX_PHONE:
        return None
    return _e164(raw, country_code)


# -- the employee -------------------------------------------------------------------------------


def display_name(profile: Mapping[str, Any]) -> str:
    name = _text(profile, "displayName")
    if name:
        return name
    parts = [p for p in (_text(profile, "firstName"), _text(profile, "lastName")) if p]
    if parts:
        return _line(" ".join(parts)) or ""
    return _text(profile, "login") or _text(profile, "email") or ""


def work_email(profile: Mapping[str, Any], email_source: str) -> str | None:
    """Lower-case and trimmed: ``email``, or for ``Personal`` ``secondEmail`` else ``email``."""
    if email_source == "Personal":
        return _email(profile, "secondEmail") or _email(profile, "email")
    return _email(profile, "email")


def map_user(
    user: OktaUserRecord,
    team_names: Iterable[str],
    spec: OktaIntegrationSpec,
) -> Employee:
    """The employee a user becomes when in scope: ``active`` follows the Okta status only."""
    return with_teams(map_profile(user, spec), team_names)


def with_teams(employee: Employee, team_names: Iterable[str]) -> Employee:
    """``employee`` (of ``map_profile``) in the teams named."""
    return dataclasses.replace(employee, teams=tuple(sorted(set(team_names))))


def map_profile(user: OktaUserRecord, spec: OktaIntegrationSpec) -> Employee:
    """``map_user`` but for the teams (none): all that the user's record alone decides, and
    nearly all the time of mapping (the phone, country and state), so that a sync can map
    users while it still lists group members."""
    profile = user.profile
    country = normalise_country(profile.get("countryCode"))
    state = _shared_text(profile, "state")
    phone = _text(profile, "mobilePhone")
    mapping = spec.mapping
    return Employee(
        okta_id=user.id,
        okta_status=user.status,
        active=user.status in ACTIVE_OKTA_STATUSES,
        display_name=display_name(profile),
        first_name=_shared_text(profile, "firstName"),
        last_name=_shared_text(profile, "lastName"),
        work_email=work_email(profile, spec.sync.email_source),
        personal_email=_email(profile, "secondEmail"),
        employment_status=shared(
            employment_status(profile, mapping.employment_attribute, mapping.employment_values)
        ),
        title=_shared_text(profile, "title"),
        department=_shared_text(profile, "department"),
        employee_number=_text(profile, "employeeNumber"),
        manager=_shared_text(profile, "manager"),
        mobile_phone=phone,
        mobile_phone_e164=normalise_phone(phone, country),
        street_address=clean_street(profile.get("streetAddress")),
        country_code=country,
        state=state,
        state_code=normalise_state(state, country),
        city=_shared_text(profile, "city"),
        zip_code=_text(profile, "zipCode"),
        okta_last_updated=user.last_updated,
    )


def quality_of(user: OktaUserRecord, employee: Employee) -> DataQuality:
    """What this one employee lacks (SPEC §9), each 0 or 1; the caller decides who counts."""
    return DataQuality(
        invalid_phones=int(
            employee.mobile_phone is not None and employee.mobile_phone_e164 is None
        ),
        unknown_countries=int(
            # The profile read only when the country did not resolve: it is on disk at scale.
            employee.country_code is None and _given(user.profile.get("countryCode"))
        ),
        incomplete_addresses=int(
            employee.street_address is None
            or employee.city is None
            or employee.zip_code is None
            or employee.country_code is None
        ),
    )

"""A deterministic, realistic and messy Okta org.

The same (users, groups, seed) always gives the same org, byte for byte: every random choice
comes from one ``random.Random(seed)`` and every timestamp from a fixed base date, never from
the clock, so all generated timestamps lie in the past and anything written through the API
later is newer than all of them.

The mess is deliberate, because the sync must cope with it: unicode and very long names (in
orgs of 50 users or more, at least one surname of exactly Okta's 50-character limit),
missing display names, phones and addresses, phone numbers in a dozen national formats
(some unparseable), lower-case and blank country codes, ``userType`` in mixed case, a custom
``employeeType``, every user status, users in many groups and in none, power-law group sizes,
APP_GROUPs imported from Active Directory (about 15% of the groups after the first eight, at
least one) and the BUILT_IN Everyone group.

On top of that, a few percent of users each get the mess of HR imports (``MESS_SHARES``): a
list-valued ``employeeType``, a state spelled in another language or as a code, e-mail
addresses in upper case or padded with spaces, multi-line street addresses with blank lines
and padding, countryCodes that are no country (``XX``, ``XK``, ``UK``), phones that are no
number, and padded cities and titles. These draws come from a stream of their own, so the
rest of the org is exactly what it was before they were added. Country names such as
``Germany`` are not among them: Okta limits countryCode to two characters.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from okta_hris.sandbox import data
from okta_hris.sandbox.clock import Clock, format_time
from okta_hris.sandbox.model import GroupRecord, IdFactory, Org, UserRecord
from okta_hris.sandbox.systemlog import Actor

BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
ORG_CREATED = BASE_DATE - timedelta(days=8 * 365)
EMAIL_DOMAIN = "example.com"
PERSONAL_DOMAINS = ("example.net", "example.org", "mail.example.net")

STATUS_SHARES: tuple[tuple[str, float], ...] = (
    ("ACTIVE", 0.76),
    ("PROVISIONED", 0.04),
    ("STAGED", 0.03),
    ("SUSPENDED", 0.03),
    ("LOCKED_OUT", 0.02),
    ("PASSWORD_EXPIRED", 0.02),
    ("RECOVERY", 0.02),
    ("DEPROVISIONED", 0.08),
)
GROUPLESS_SHARE = 0.06  # users in no group but Everyone
APP_GROUP_SHARE = 0.15  # of the groups after the first eight (at least one, if there are any)
MAX_NAME = 50  # Okta's limit on firstName and lastName
MAX_EMAIL = 100  # Okta's limit on email and secondEmail
# Each a share of all users (of those who have the value, where one is needed).
MESS_SHARES = {
    "employment_list": 0.04,
    "state_spelling": 0.15,  # of the users whose state is in data.STATE_SPELLINGS
    "email_upper": 0.02,
    "email_padded": 0.02,
    "second_email_messy": 0.03,
    "street_lines": 0.04,
    "country_code": 0.03,
    "phone": 0.02,
    "padded_text": 0.02,
}

_ASCII = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l",
     "Ł": "L", "đ": "d", "Đ": "D", "ı": "i", "þ": "th"}  # noqa: RUF001 (Turkish dotless i)
)  # fmt: skip


def ascii_fold(text: str) -> str:
    """What an IT department makes of a name when it builds a login from it."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c.isascii())


@dataclass(frozen=True)
class _Name:
    display: str
    ascii: str


def _name(entry: str) -> _Name:
    display, _, spelled = entry.partition("|")
    return _Name(display, spelled or ascii_fold(display))


def _quota(rng: random.Random, count: int, shares: list[tuple[str, float]]) -> list[str]:
    """Exactly proportional labels (every label at least once in orgs of 50 or more), in a
    random order: the mix does not depend on the luck of the seed."""
    labels: list[str] = []
    for label, share in shares:
        labels.extend([label] * max(round(count * share), 1 if count >= 50 else 0))
    while len(labels) < count:
        labels.append(shares[0][0])
    labels = labels[:count]
    rng.shuffle(labels)
    return labels


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    span = (end - start).total_seconds()
    moment = start + timedelta(seconds=rng.random() * span)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _fill(rng: random.Random, pattern: str, **values: str) -> str:
    text = pattern.format(**values) if values else pattern
    out = []
    for char in text:
        if char == "#":
            out.append(rng.choice("0123456789"))
        elif char == "@":
            out.append(rng.choice("ABCEGHJKLMNPRSTVWXYZ"))
        else:
            out.append(char)
    return "".join(out)


def _weighted(rng: random.Random, options: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(options, weights=weights, k=1)[0]


@dataclass
class _Person:
    user: UserRecord
    country: str
    employment: str
    groupless: bool
    department: str | None = None


class OrgGenerator:
    def __init__(self, *, users: int, groups: int, seed: int) -> None:
        self.user_count = users
        self.group_count = groups
        self.rng = random.Random(seed)
        # The surname at the length limit draws from its own stream, so that it leaves the
        # rest of the org as the main stream makes it.
        self.long_name_rng = random.Random(f"{seed}/long-name")
        self.ids = IdFactory(random.Random(f"{seed}/ids"))
        # The mess of HR imports, likewise: added later, it must not change the rest.
        self.mess_rng = random.Random(f"{seed}/mess")
        self._emails: set[str] = set()
        self._ad_app_id: str | None = None

    def build(self, org: Org) -> None:
        statuses = _quota(self.rng, self.user_count, list(STATUS_SHARES))
        employment = _quota(
            self.rng, self.user_count, [(e[0], e[1] / 100) for e in data.EMPLOYMENT]
        )
        long_name_at = (
            self.long_name_rng.randrange(self.user_count) if self.user_count >= 50 else None
        )
        people = [
            self._person(status, kind, long_name=index == long_name_at)
            for index, (status, kind) in enumerate(zip(statuses, employment, strict=True))
        ]
        for person in people:
            org.insert_user(person.user)
        self._assign_managers(people)
        for group in self._groups(people):
            org.insert_group(group)
        for person in people:
            self._mess(person)

    # -- users ----------------------------------------------------------------------------------

    def _person(self, status: str, employment: str, *, long_name: bool = False) -> _Person:
        rng = self.rng
        country = _weighted(rng, list(data.COUNTRIES), [c.weight for c in data.COUNTRIES])
        # Big offices are multicultural: one in five draws a name from another country.
        name_source = country
        if rng.random() < 0.2:
            name_source = rng.choice(data.COUNTRIES)
        first, last = self._names(name_source)
        if long_name:
            last = self._surname_at_limit(name_source)
        profile = self._profile(country, first, last, employment, name_source.code == "JP")
        user = self._user(status, profile)
        return _Person(user, country.code, employment, rng.random() < GROUPLESS_SHARE)

    def _names(self, country: data.Country) -> tuple[_Name, _Name]:
        rng = self.rng
        first = _name(rng.choice(country.first_names))
        last = _name(rng.choice(country.last_names))
        roll = rng.random()
        if roll < 0.03:
            # Double-barrelled surnames that run right up to Okta's 50-character limit.
            second = _name(rng.choice(country.last_names))
            joined = f"{last.display}-{second.display}"
            if len(joined) <= MAX_NAME:
                last = _Name(joined, f"{last.ascii}-{second.ascii}")
        elif roll < 0.05:
            second = _name(rng.choice(country.first_names))
            joined = f"{first.display} {second.display}"
            if len(joined) <= MAX_NAME:
                first = _Name(joined, f"{first.ascii} {second.ascii}")
        return first, last

    def _surname_at_limit(self, country: data.Country) -> _Name:
        """A multi-barrelled surname of exactly ``MAX_NAME`` characters, from the country's
        surnames where they can make one, else from another country's."""
        rng = self.long_name_rng
        others = [c for c in data.COUNTRIES if c is not country and c.code != "JP"]
        rng.shuffle(others)
        for source in [country, *others]:
            names = [_name(entry) for entry in source.last_names]
            for _ in range(200):
                parts = [rng.choice(names)]
                while True:
                    room = MAX_NAME - len("-".join(p.display for p in parts)) - 1
                    unused = [n for n in names if n not in parts]
                    fits = [n for n in unused if len(n.display) == room]
                    if fits:
                        parts.append(rng.choice(fits))
                        return _Name(
                            "-".join(p.display for p in parts), "-".join(p.ascii for p in parts)
                        )
                    shorter = [n for n in unused if len(n.display) < room]
                    if not shorter:
                        break
                    # Long parts first: three or four barrels, not seven short ones.
                    weights = [len(n.display) ** 2 for n in shorter]
                    parts.append(rng.choices(shorter, weights=weights, k=1)[0])
        # Not reached with the reference data; an HR import would truncate at the limit.
        surnames = [_name(entry) for source in others for entry in source.last_names]
        return _Name(
            "-".join(n.display for n in surnames)[:MAX_NAME],
            "-".join(n.ascii for n in surnames)[:MAX_NAME],
        )

    def _email(self, first: _Name, last: _Name) -> str:
        def clean(text: str) -> str:
            return "".join(c for c in text.lower() if c.isalnum() or c in "-.")

        local = f"{clean(first.ascii)}.{clean(last.ascii)}".strip(".") or "user"
        candidate, number = local, 1
        while f"{candidate}@{EMAIL_DOMAIN}" in self._emails:
            number += 1
            candidate = f"{local}{number}"
        email = f"{candidate}@{EMAIL_DOMAIN}"
        self._emails.add(email)
        return email

    def _profile(
        self,
        country: data.Country,
        first: _Name,
        last: _Name,
        employment: str,
        japanese_name: bool,
    ) -> dict[str, Any]:
        rng = self.rng
        email = self._email(first, last)
        login = email
        if rng.random() < 0.05:
            # Legacy accounts: a short login that is not the e-mail address.
            login = f"{ascii_fold(first.ascii)[:1].lower()}{ascii_fold(last.ascii).lower()}"
            login = "".join(c for c in login if c.isalnum()) or "user"
            login = f"{login}{rng.randint(1, 99)}@corp.{EMAIL_DOMAIN}"
            if login in self._emails:
                login = email
            self._emails.add(login)
        if rng.random() < 0.03:
            email = email.replace(email[0], email[0].upper(), 1)
        profile: dict[str, Any] = {
            "firstName": first.display,
            "lastName": last.display,
            "login": login,
            "email": email,
        }
        roll = rng.random()
        if roll < 0.62:
            # Japanese display names put the family name first.
            if japanese_name:
                profile["displayName"] = f"{last.display} {first.display}"
            else:
                profile["displayName"] = f"{first.display} {last.display}"
        elif roll < 0.72:
            profile["displayName"] = rng.choice(
                [
                    f"{last.display}, {first.display}",
                    f"{first.display.split()[0]} {last.display[:1]}.",
                    f"{first.ascii} {last.ascii}",
                ]
            )
        # else: no displayName at all (about a quarter of users)

        if rng.random() < 0.3:
            local = "".join(c for c in ascii_fold(first.ascii).lower() if c.isalnum()) or "me"
            profile["secondEmail"] = f"{local}{rng.randint(1, 999)}@{rng.choice(PERSONAL_DOMAINS)}"
        phone = self._phone(country)
        if phone is not None:
            profile["mobilePhone"] = phone
        if rng.random() < 0.1:
            profile["primaryPhone"] = self._phone(country) or "n/a"

        city = rng.choice(country.cities)
        address_roll = rng.random()
        if address_roll < 0.82:
            street = _fill(
                rng,
                rng.choice(country.streets),
                n=str(rng.randint(1, 480)),
                s=str(rng.randint(1, 40)),
            )
            profile["streetAddress"] = street
            profile["city"] = _weighted(rng, list(city.names), [6] + [1] * (len(city.names) - 1))
            if city.states:
                state = _weighted(rng, list(city.states), [6] + [2] * (len(city.states) - 1))
                # Where nobody fills the state in, it is blank or absent, about half each.
                if state or rng.random() < 0.5:
                    profile["state"] = state
            if rng.random() < 0.93:
                profile["zipCode"] = _fill(rng, city.zip_pattern)
            elif rng.random() < 0.5:
                profile["zipCode"] = ""
        elif address_roll < 0.9:
            profile["city"] = city.names[0]  # city only, no street
        code_roll = rng.random()
        if code_roll < 0.9:
            profile["countryCode"] = country.code
        elif code_roll < 0.95:
            profile["countryCode"] = country.code.lower()
        elif code_roll < 0.98:
            profile["countryCode"] = ""
        # else: no countryCode

        category = next(e for e in data.EMPLOYMENT if e[0] == employment)
        user_types, employee_types = category[2], category[3]
        if user_types:
            profile["userType"] = rng.choice(user_types)
        if employee_types and rng.random() < 0.88:
            spelled = rng.choice(employee_types)
            profile["employeeType"] = spelled.lower() if rng.random() < 0.1 else spelled
        elif not employee_types and rng.random() < 0.3:
            profile["employeeType"] = rng.choice(["", "Unknown", "TBD"])

        if rng.random() < 0.85:
            profile["employeeNumber"] = f"{rng.randint(1, 99999):0{rng.choice([5, 6])}d}"
        profile["locale"] = country.locale
        if rng.random() < 0.7:
            profile["preferredLanguage"] = country.language
        if rng.random() < 0.8:
            profile["timezone"] = country.timezone
        if rng.random() < 0.6:
            profile["organization"] = rng.choice(["Acme Corp", "ACME", "Acme Corporation"])
        if rng.random() < 0.25:
            profile["costCenter"] = f"CC-{rng.randint(100, 999)}"
        return profile

    def _phone(self, country: data.Country) -> str | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return None
        if roll < 0.28:
            return rng.choice(data.UNPARSEABLE_PHONES)
        city = rng.choice(country.cities)
        return _fill(rng, rng.choice(country.phones), a=city.area)

    def _user(self, status: str, profile: dict[str, Any]) -> UserRecord:
        rng = self.rng
        # More people were hired recently than long ago.
        age_days = 3 + (7 * 365 - 3) * rng.random() ** 1.4
        created = BASE_DATE - timedelta(days=age_days, seconds=rng.randint(0, 86399))
        created = created.replace(microsecond=rng.randint(0, 999) * 1000)
        end = BASE_DATE - timedelta(seconds=1)
        activated: datetime | None = None
        status_changed: datetime | None = None
        last_login: datetime | None = None
        password_changed: datetime | None = None
        has_password = True
        if status == "STAGED":
            has_password = False
        elif status == "PROVISIONED":
            status_changed = created + timedelta(minutes=rng.randint(1, 30))
            has_password = False
        else:
            activated = created + timedelta(minutes=rng.randint(1, 14 * 24 * 60))
            activated = min(activated, end)
            password_changed = _between(rng, activated, end)
            status_changed = activated
            if status != "ACTIVE":
                status_changed = _between(rng, activated, end)
                password_changed = min(password_changed, status_changed)
            if rng.random() < 0.93:
                last_login = _between(rng, password_changed, status_changed or end)
                if status == "ACTIVE":
                    last_login = _between(rng, password_changed, end)
            if status == "DEPROVISIONED":
                has_password = False
        # A sign-in sets lastLogin but is not an update of the user; a password change is.
        changes = (created, activated, status_changed, password_changed if has_password else None)
        latest = max(t for t in changes if t)
        last_updated = _between(rng, latest, end) if rng.random() < 0.6 else latest
        return UserRecord(
            id=self.ids.new("00u"),
            status=status,
            created=format_time(created),
            activated=format_time(activated) if activated else None,
            status_changed=format_time(status_changed) if status_changed else None,
            last_login=format_time(last_login) if last_login else None,
            last_updated=format_time(last_updated),
            password_changed=(
                format_time(password_changed) if password_changed and has_password else None
            ),
            profile=profile,
            type_id="",  # set by generate_org once the org's user type exists
            has_password=has_password,
            recovery_question=(
                "What is the food you least liked as a child?" if has_password else None
            ),
        )

    def _assign_managers(self, people: list[_Person]) -> None:
        rng = self.rng
        if len(people) < 10:
            return
        managers = [p for p in people[: max(2, len(people) // 12)] if p.user.status == "ACTIVE"]
        manager_ids = {p.user.id for p in managers}
        for person in people:
            if managers and person.user.id not in manager_ids and rng.random() < 0.7:
                manager = rng.choice(managers).user
                person.user.profile["managerId"] = manager.id
                display = manager.profile.get("displayName") or manager.full_name
                person.user.profile["manager"] = display

    # -- the mess of HR imports ------------------------------------------------------------------

    def _mess(self, person: _Person) -> None:
        """Some of the mess of ``MESS_SHARES`` for one user, from ``mess_rng`` only. Only the
        values the sync maps change; login stays, so sign-in and the login index are as before."""
        rng = self.mess_rng
        profile = person.user.profile
        rolls = {kind: rng.random() for kind in MESS_SHARES}

        def happens(kind: str) -> bool:
            return rolls[kind] < MESS_SHARES[kind]

        employment = profile.get("employeeType")
        if happens("employment_list") and isinstance(employment, str) and employment:
            values: list[str] = [employment, rng.choice(data.EMPLOYMENT_EXTRAS)]
            if rng.random() < 0.3:
                values.append(f" {employment.upper()} ")  # the same value again, spelled anew
            profile["employeeType"] = values

        state = profile.get("state")
        spellings = next(
            (g for g in data.STATE_SPELLINGS.get(person.country, ()) if state in g), None
        )
        if spellings and happens("state_spelling"):
            profile["state"] = rng.choice([s for s in spellings if s != state])

        email = profile["email"]
        if happens("email_upper"):
            profile["email"] = email.upper()
        elif happens("email_padded") and len(email) + 2 <= MAX_EMAIL:
            profile["email"] = rng.choice([f" {email}", f"{email} ", f" {email} "])
        second = profile.get("secondEmail")
        if second and happens("second_email_messy") and len(second) + 1 <= MAX_EMAIL:
            profile["secondEmail"] = rng.choice([second.upper(), f"{second} ", second.title()])

        street = profile.get("streetAddress")
        if street and happens("street_lines"):
            lines = [f"  {line} " for line in street.split("\n")]
            if rng.random() < 0.5:
                lines.append(rng.choice(data.ADDRESS_LINES))
            separator = rng.choice(["\n", "\r\n", "\n\n", "\r\n \r\n", "\n  \n"])
            profile["streetAddress"] = separator.join(lines) + rng.choice(["", "\n", " \r\n"])

        if profile.get("countryCode") and happens("country_code"):
            aliases = data.COUNTRY_CODE_ALIASES.get(person.country, ())
            profile["countryCode"] = rng.choice([*data.INVALID_COUNTRY_CODES, *aliases])

        if happens("phone"):
            profile["mobilePhone"] = rng.choice(data.MESSY_PHONES)

        if happens("padded_text"):
            for attribute in ("city", "title", "department"):
                value = profile.get(attribute)
                if isinstance(value, str) and value:
                    profile[attribute] = rng.choice([f" {value}", f"{value}  ", f"\t{value} "])

    # -- groups ---------------------------------------------------------------------------------

    def _group_specs(self) -> list[tuple[str, str, str]]:
        """(name, description, kind) for each group besides Everyone, in generation order."""
        rng = self.rng
        specs: list[tuple[str, str, str]] = list(data.CORE_GROUPS[: self.group_count])
        extra = self.group_count - len(specs)
        # A quota, not a coin flip per group: every org with groups beyond the core teams has
        # an APP_GROUP, whatever the seed.
        app_count = min(len(data.APP_GROUPS), max(round(extra * APP_GROUP_SHARE), min(extra, 1)))
        app_slots = set(rng.sample(range(extra), app_count))
        more = list(data.MORE_GROUPS)
        apps = list(data.APP_GROUPS)
        serial = 0
        for slot in range(extra):
            if slot in app_slots:
                name, description = apps.pop(0)
                specs.append((name, description, "app"))
            elif more:
                specs.append(more.pop(0))
            else:
                serial += 1
                codename = data.CODENAMES[serial % len(data.CODENAMES)]
                specs.append((f"Project {codename} {serial}", "Project team", "team"))
        return specs

    def _groups(self, people: list[_Person]) -> list[GroupRecord]:
        rng = self.rng
        end = BASE_DATE - timedelta(seconds=1)
        everyone = GroupRecord(
            id=self.ids.new("00g"),
            type="BUILT_IN",
            created=format_time(ORG_CREATED),
            last_updated=format_time(ORG_CREATED),
            last_membership_updated=max(
                (p.user.created for p in people), default=format_time(ORG_CREATED)
            ),
            profile={"name": "Everyone", "description": "All users in your organization"},
            member_ids=sorted(p.user.id for p in people),
        )
        specs = self._group_specs()
        grouped = [p for p in people if not p.groupless]
        departments = [spec[0] for spec in specs if spec[2] == "department"]
        if departments:
            weights = [1 / (rank + 1) ** 1.1 for rank in range(len(departments))]
            for person in grouped:
                person.department = _weighted(rng, departments, weights)
                if rng.random() < 0.85:
                    person.user.profile["department"] = (
                        "R&D"
                        if person.department == "Engineering" and rng.random() < 0.1
                        else person.department
                    )
                titles = data.TITLES.get(person.department, data.GENERIC_TITLES)
                if rng.random() < 0.9:
                    person.user.profile["title"] = rng.choice(titles)

        groups = [everyone]
        sampled_rank = 0
        for name, description, kind in specs:
            if kind == "department":
                members = [p for p in grouped if p.department == name]
            elif kind == "interns":
                members = [
                    p
                    for p in grouped
                    if (p.employment == "intern" and rng.random() < 0.85) or rng.random() < 0.005
                ]
            elif kind.startswith("region:"):
                countries = kind.removeprefix("region:").split(",")
                members = [p for p in grouped if p.country in countries and rng.random() < 0.9]
            else:
                # Power law: the k-th sampled group holds about 35% / (k+1)^1.15 of the users.
                size = round(len(grouped) * 0.35 / (sampled_rank + 1) ** 1.15)
                sampled_rank += 1
                members = rng.sample(grouped, min(len(grouped), max(size, 1))) if grouped else []
            created = _between(rng, ORG_CREATED + timedelta(days=1), BASE_DATE - timedelta(days=60))
            group = GroupRecord(
                id=self.ids.new("00g"),
                type="APP_GROUP" if kind == "app" else "OKTA_GROUP",
                created=format_time(created),
                last_updated=format_time(_between(rng, created, end)),
                last_membership_updated=format_time(_between(rng, created, end)),
                profile={"name": name, "description": description},
                member_ids=sorted(p.user.id for p in members),
            )
            if kind == "app":
                if self._ad_app_id is None:
                    self._ad_app_id = self.ids.new("0oa")
                group.object_class = "okta:windows_security_principal"
                group.source_app_id = self._ad_app_id
                short = name.removeprefix("AD: ")
                group.profile.update(
                    {
                        "samAccountName": short.replace(" ", "_"),
                        "dn": f"CN={short},OU=Groups,DC=corp,DC=example,DC=com",
                        "windowsDomainQualifiedName": f"CORP\\{short}",
                        "groupType": "Security",
                        "groupScope": "Global",
                    }
                )
            groups.append(group)

        # A few people are in far more groups than anyone else.
        optional = [g for g in groups[1:] if g.type != "BUILT_IN"]
        if optional:
            for person in grouped:
                if rng.random() < 0.015:
                    for group in rng.sample(optional, min(8, len(optional))):
                        group.add(person.user.id)
        return groups


def generate_org(
    *,
    users: int,
    groups: int,
    seed: int,
    clock: Clock,
    custom_attributes: tuple[str, ...],
) -> Org:
    """The org for (users, groups, seed): the BUILT_IN Everyone group plus ``groups`` others."""
    generator = OrgGenerator(users=users, groups=groups, seed=seed)
    ids = generator.ids
    user_type_id = ids.new("oty")
    admin = Actor(ids.new("00u"), "User", f"okta.admin@{EMAIL_DOMAIN}", "Okta Admin")
    org = Org(
        clock=clock,
        ids=IdFactory(random.Random(f"{seed}/runtime"), issued=ids.issued),
        user_type_id=user_type_id,
        admin=admin,
        token_id=ids.new("00T"),
        custom_attributes=custom_attributes,
    )
    generator.build(org)
    for user in org.users.values():
        user.type_id = user_type_id
    return org

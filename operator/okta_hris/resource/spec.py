"""The OktaIntegration custom resource's spec (SPEC §2).

The CRD schema in ``crds/`` is generated from these models (``okta_hris.crd``), so the two
cannot drift. Field names are the public interface: camelCase in YAML, snake_case in Python.

Where the CRD can check a rule (a pattern, an enum, a length), the model checks it with the same
regular expression, so that ``kubectl apply`` and ``okta-hris sync -f`` accept the same manifests.
Patterns are given to the CRD through ``json_schema_extra`` rather than pydantic's own
``pattern`` constraint so that the model can answer with a message that says how to fix the
value. Rules the CRD cannot express (the domain allow-list, real country codes, the 1m minimum,
fields required together) are checked by the model only.

A spec from the operator's watch events enters through ``load_spec``, which turns validation
errors into one readable line; manifest files are read by ``okta_hris.cli.manifests``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from email.utils import parseaddr
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from okta_hris.domain.countries import COUNTRY_ALIASES
from okta_hris.domain.okta import DEFAULT_OKTA_DOMAINS
from okta_hris.errors import InvalidSpec
from okta_hris.resource.validation import describe_validation_error, describe_value

API_GROUP = "hris.dev"
API_VERSION = "v1alpha1"
KIND = "OktaIntegration"
PLURAL = "oktaintegrations"
SINGULAR = "oktaintegration"
SHORT_NAME = "okta"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"

RESYNC_ANNOTATION = "hris.dev/resync-requested-at"
APPROVE_DEACTIVATIONS_ANNOTATION = "hris.dev/approve-deactivations"

MIN_INTERVAL = timedelta(minutes=1)

# Patterns shared by the CRD (Go RE2, unanchored search) and the model (Python ``fullmatch``).
# They use only syntax both engines read the same way: [0-9] rather than \d and explicit
# control-character ranges rather than \s (Python's match non-ASCII digits and spaces too), and
# ^...$ anchors.
DNS_LABEL_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
DOMAIN_PATTERN = (
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
# Kubernetes object names (RFC 1123 subdomain) and namespaces (RFC 1123 label): lower case only.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
# Hours, minutes and seconds in that order, at least one of them: 30m, 1h, 1h30m, 90s.
DURATION_PATTERN = r"^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$"
COUNTRY_PATTERN = r"^[A-Za-z]{2}$"
MAX_DEACTIVATIONS_PATTERN = r"^[0-9]+%?$"
# More than any Okta org has users; fits the 32-bit integers of status and metrics readers.
MAX_DEACTIVATIONS_COUNT = 1_000_000_000
# Okta profile attribute ("variable") names: a letter, then letters, digits and underscores.
ATTRIBUTE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
# No spaces or control characters anywhere; a host before any path, query or fragment.
URL_PATTERN = r"^https?://[^\x00-\x20/?#]+[^\x00-\x20]*$"
# One line of text: no C0 or C1 control character and no Unicode line or paragraph separator
# (the e-mail package and terminals break lines at those). The separators are written as
# themselves, since Go's RE2 has no \u escape.
ONE_LINE_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f\u2028\u2029]+$"
# One header line with an address in it; CR/LF would let the value inject e-mail headers.
SENDER_PATTERN = r"^[^\r\n]*@[^\r\n]*$"

_DNS_LABEL_RE = re.compile(DNS_LABEL_PATTERN)
_DOMAIN_RE = re.compile(DOMAIN_PATTERN)
_OBJECT_NAME_RE = re.compile(OBJECT_NAME_PATTERN)
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
_SECRET_KEY_RE = re.compile(SECRET_KEY_PATTERN)
_DURATION_RE = re.compile(DURATION_PATTERN)
_DURATION_PART_RE = re.compile(r"([0-9]+)([hms])")
_COUNTRY_RE = re.compile(COUNTRY_PATTERN)
_MAX_DEACTIVATIONS_RE = re.compile(MAX_DEACTIVATIONS_PATTERN)
_ATTRIBUTE_RE = re.compile(ATTRIBUTE_PATTERN)
_URL_RE = re.compile(URL_PATTERN)
_SENDER_RE = re.compile(SENDER_PATTERN)
# One line of text: no control characters (a CR/LF would reach the Subject header).
COMPANY_NAME_PATTERN = ONE_LINE_PATTERN
_COMPANY_NAME_RE = re.compile(COMPANY_NAME_PATTERN)

_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1}
_MAX_DURATION_DIGITS = 12


def parse_duration(text: str) -> timedelta:
    """A Go-style duration of hours, minutes and seconds: ``30m``, ``1h``, ``1h30m``, ``90s``."""
    if not _DURATION_RE.fullmatch(text):
        raise ValueError(f"{describe_value(text)} is not a duration like 30m, 1h or 1h30m")
    parts = _DURATION_PART_RE.findall(text)
    # Python refuses to read a number of more than 4,300 digits; no duration needs 13.
    if any(len(number) > _MAX_DURATION_DIGITS for number, _ in parts):
        raise ValueError(f"{describe_value(text)} is too long a duration")
    seconds = sum(int(n) * _DURATION_UNITS[unit] for n, unit in parts)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{describe_value(text)} is too long a duration") from None


class _Model(BaseModel):
    # strict: a manifest's "true" (a string) must not become True, nor 1 become "1", because the
    # CRD would reject both; the model accepts exactly the types the CRD accepts.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


class SecretRef(_Model):
    """A Secret in the OktaIntegration's own namespace."""

    name: str = Field(
        max_length=253,
        description="Name of the Secret, in the OktaIntegration's own namespace.",
        json_schema_extra={"pattern": OBJECT_NAME_PATTERN},
    )

    @model_validator(mode="before")
    @classmethod
    def _no_namespace(cls, data: Any) -> Any:
        # Reading a Secret of another namespace would let anyone who may create an
        # OktaIntegration use credentials they cannot read themselves.
        if isinstance(data, Mapping) and "namespace" in data:
            raise ValueError(
                "namespace is not allowed: the Secret must be in the OktaIntegration's own "
                "namespace"
            )
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _OBJECT_NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid Secret name (lower-case letters, digits, '-' and '.')"
            )
        return value


class SecretKeyRef(SecretRef):
    """A key of a Secret in the OktaIntegration's own namespace."""

    key: str = Field(
        default="token",
        max_length=253,
        description="Key in the Secret that holds the SSWS API token.",
        json_schema_extra={"pattern": SECRET_KEY_PATTERN},
    )

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if not _SECRET_KEY_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid Secret key (letters, digits, '-', '_', '.')"
            )
        return value


def _allowed_domains(context: object) -> tuple[str, ...]:
    # The defaults are always allowed; HRIS_ALLOWED_DOMAINS only adds to them.
    extra: Iterable[str] = ()
    if isinstance(context, Mapping):
        extra = context.get("allowed_domains") or ()
    domains = list(DEFAULT_OKTA_DOMAINS)
    domains += [d.lower() for d in extra if d.lower() not in domains]
    return tuple(domains)


# Okta client ids are 20 characters (0oa...); letters, digits, '-' and '_' allow for other
# spellings without letting anything odd into a JWT claim or a message.
OAUTH_CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
# A JWK key id goes into the assertion's header: printable ASCII without spaces.
OAUTH_KEY_ID_PATTERN = r"^[!-~]{1,255}$"
# Okta's management scopes: okta.users.read, okta.eventHooks.manage, okta.serviceAccounts.okta.read.
OKTA_SCOPE_PATTERN = r"^okta\.[A-Za-z]+(\.[A-Za-z]+)*\.(read|manage)$"
DEFAULT_OAUTH_SCOPES = ("okta.users.read", "okta.groups.read", "okta.logs.read")
MAX_OAUTH_SCOPES = 32
_OAUTH_CLIENT_ID_RE = re.compile(OAUTH_CLIENT_ID_PATTERN)
_OAUTH_KEY_ID_RE = re.compile(OAUTH_KEY_ID_PATTERN)
_OKTA_SCOPE_RE = re.compile(OKTA_SCOPE_PATTERN)
ONE_CREDENTIAL = "set exactly one of tokenSecretRef (an SSWS API token) and oauth (a service app)"


class PrivateKeySecretRef(SecretKeyRef):
    """The key of a Secret, in the OktaIntegration's own namespace, that holds a PEM private key."""

    key: str = Field(
        default="private.pem",
        max_length=253,
        description="Key in the Secret that holds the PEM private key (RSA 2048+ or EC P-256).",
        json_schema_extra={"pattern": SECRET_KEY_PATTERN},
    )


def _check_scope(value: str) -> str:
    if not _OKTA_SCOPE_RE.fullmatch(value):
        raise ValueError(
            f"{describe_value(value)} is not an Okta scope like okta.users.read (one name per "
            "list item, no spaces)"
        )
    return value


OktaScope = Annotated[
    str,
    AfterValidator(_check_scope),
    Field(max_length=100, json_schema_extra={"pattern": OKTA_SCOPE_PATTERN}),
]


class OAuthSettings(_Model):
    """An Okta API service app: OAuth 2.0 client credentials with a private_key_jwt assertion,
    scoped access tokens that expire, instead of an admin's API token."""

    client_id: str = Field(
        max_length=100,
        description="The service app's client ID, e.g. 0oa1b2c3d4e5f6g7h8i9.",
        json_schema_extra={"pattern": OAUTH_CLIENT_ID_PATTERN},
    )
    private_key_secret_ref: PrivateKeySecretRef = Field(
        description="The Secret key holding the app's PEM private key, in this namespace."
    )
    key_id: str | None = Field(
        default=None,
        max_length=255,
        description="The key's ID (kid) as Okta shows it, sent in the assertion's header.",
        json_schema_extra={"pattern": OAUTH_KEY_ID_PATTERN},
    )
    scopes: list[OktaScope] = Field(
        default_factory=lambda: list(DEFAULT_OAUTH_SCOPES),
        min_length=1,
        max_length=MAX_OAUTH_SCOPES,
        description="Scopes to ask for; each must be granted to the app in Okta.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not _OAUTH_CLIENT_ID_RE.fullmatch(value):
            raise ValueError(
                f"{describe_value(value)} is not an Okta client ID (letters, digits, '-' and "
                "'_', e.g. 0oa1b2c3d4e5f6g7h8i9)"
            )
        return value

    @field_validator("key_id")
    @classmethod
    def _check_key_id(cls, value: str | None) -> str | None:
        if value is not None and not _OAUTH_KEY_ID_RE.fullmatch(value):
            raise ValueError(
                f"{describe_value(value)} is not a key ID (printable characters, no spaces)"
            )
        return value

    @field_validator("scopes")
    @classmethod
    def _unique_scopes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a scope twice")
        return value


class OktaSettings(_Model):
    """The Okta org to read: https://<subdomain>.<domain>, and how to authenticate."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "has(self.tokenSecretRef) != has(self.oauth)", "message": ONE_CREDENTIAL}
            ]
        }
    )

    subdomain: str = Field(
        description="The org's subdomain, one DNS label: 'acme' for https://acme.okta.com.",
        json_schema_extra={"pattern": DNS_LABEL_PATTERN},
    )
    domain: str = Field(
        default="okta.com",
        max_length=253,
        description=(
            "okta.com, oktapreview.com, okta-emea.com, or a domain on the operator's allow-list "
            "(HRIS_ALLOWED_DOMAINS)."
        ),
        json_schema_extra={"pattern": DOMAIN_PATTERN},
    )
    token_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "The Secret key holding the Okta API token (SSWS), in this namespace; "
            "or set oauth instead."
        ),
    )
    oauth: OAuthSettings | None = Field(
        default=None,
        description="An OAuth 2.0 service app instead of an API token (docs/OAUTH.md).",
    )

    @field_validator("subdomain")
    @classmethod
    def _check_subdomain(cls, value: str) -> str:
        if _DNS_LABEL_RE.fullmatch(value):
            # Host names are case-insensitive; one spelling keeps sync_hash and URLs stable.
            return value.lower()
        hint = ""
        host = value.split("://", 1)[-1].split("/", 1)[0]
        label, _, rest = host.partition(".")
        if rest and _DNS_LABEL_RE.fullmatch(label) and _DOMAIN_RE.fullmatch(rest):
            hint = f"; did you mean subdomain: {label.lower()} and domain: {rest.lower()}?"
        raise ValueError(
            f"{value!r} is not one DNS label (letters, digits and '-', at most 63), "
            f"e.g. 'acme' for https://acme.okta.com{hint}"
        )

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str, info: ValidationInfo) -> str:
        if not _DOMAIN_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a domain name like okta.com")
        lowered = value.lower()
        allowed = _allowed_domains(info.context)
        if lowered not in allowed:
            raise ValueError(
                f"{value!r} is not an allowed Okta domain; use one of {', '.join(allowed)} "
                "(the operator can allow more with HRIS_ALLOWED_DOMAINS)"
            )
        return lowered

    @model_validator(mode="after")
    def _one_credential(self) -> OktaSettings:
        if (self.token_secret_ref is None) == (self.oauth is None):
            raise ValueError(ONE_CREDENTIAL)
        return self

    @property
    def base_url(self) -> str:
        return f"https://{self.subdomain}.{self.domain}"


# Long enough to batch a bulk change in Okta, short enough that events still mean "seconds".
MAX_HOOK_DEBOUNCE = timedelta(minutes=5)


class HookSecretKeyRef(SecretKeyRef):
    """The Secret key holding the Authorization value Okta sends with each hook delivery."""

    key: str = Field(
        default="authorization",
        max_length=253,
        description="Key in the Secret that holds the Authorization header value Okta sends.",
        json_schema_extra={"pattern": SECRET_KEY_PATTERN},
    )


class EventHookSettings(_Model):
    """Okta Event Hooks: targeted syncs within seconds of a change (SPEC §11)."""

    enabled: bool = Field(
        default=False,
        description="Receive Okta Event Hook deliveries and sync the users they name at once.",
    )
    auth_secret_ref: HookSecretKeyRef | None = Field(
        default=None,
        description=(
            "The Secret key holding the Authorization value Okta sends with each delivery "
            "(required when enabled), in this namespace."
        ),
    )
    debounce: str = Field(
        default="2s",
        description=(
            "How long to wait after an event for more before syncing, a Go-style duration "
            "(0s syncs at once); at most 5m."
        ),
        json_schema_extra={"pattern": DURATION_PATTERN},
    )

    @field_validator("debounce")
    @classmethod
    def _check_debounce(cls, value: str) -> str:
        if parse_duration(value) > MAX_HOOK_DEBOUNCE:
            raise ValueError(f"{value!r} is longer than the maximum of 5m")
        return value

    @model_validator(mode="after")
    def _secret_when_enabled(self) -> EventHookSettings:
        # Without it anyone who can reach the receiver could make the operator call Okta.
        if self.enabled and self.auth_secret_ref is None:
            raise ValueError("enabled is true but authSecretRef not set")
        return self

    @property
    def debounce_seconds(self) -> float:
        return parse_duration(self.debounce).total_seconds()


class SyncSettings(_Model):
    """When and what to sync."""

    scope: Literal["All", "Filtered"] = Field(
        default="All",
        description="All: every Okta user; Filtered: only users matching spec.filters.",
    )
    interval: str = Field(
        default="1h",
        description="Time between scheduled syncs, a Go-style duration (30m, 1h, 1h30m); at least 1m.",
        json_schema_extra={"pattern": DURATION_PATTERN},
    )
    suspend: bool = Field(
        default=False, description="Pause scheduled and annotation-requested syncs."
    )
    email_source: Literal["Work", "Personal"] = Field(
        default="Work",
        description=(
            "Work: profile.email; Personal: profile.secondEmail, falling back to profile.email. "
            "Either is stored as the employee's work_email."
        ),
    )
    event_hooks: EventHookSettings = Field(
        default_factory=EventHookSettings,
        description="Okta Event Hooks: changes within seconds; the interval stays the safety net.",
    )

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        if parse_duration(value) < MIN_INTERVAL:
            raise ValueError(f"{value!r} is shorter than the minimum of 1m")
        return value

    @property
    def interval_timedelta(self) -> timedelta:
        return parse_duration(self.interval)


def _yaml_boolean_hint(value: Any) -> Any:
    # YAML 1.1, which both PyYAML and kubectl read, turns a bare NO (Norway) into false.
    if value is False:
        raise ValueError('false is not a country code; for Norway write "NO" in quotes')
    return value


def country_code(value: str) -> str:
    """``value`` as an ISO 3166-1 alpha-2 code (upper-case), or ValueError with a did-you-mean
    (also what ``okta-hris directory employees --country`` answers)."""
    code = value.upper()
    if _COUNTRY_RE.fullmatch(value) and pycountry.countries.get(alpha_2=code) is not None:
        return code
    suggestion = COUNTRY_ALIASES.get(code)
    if suggestion is None:
        try:
            suggestion = pycountry.countries.lookup(value).alpha_2
        except LookupError:
            suggestion = None
    hint = f"; did you mean {suggestion}?" if suggestion else ""
    raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code{hint}")


CountryCode = Annotated[
    str,
    BeforeValidator(_yaml_boolean_hint),
    AfterValidator(country_code),
    Field(json_schema_extra={"pattern": COUNTRY_PATTERN}),
]
FilterValue = Annotated[str, Field(min_length=1)]
OktaStatusClass = Literal["Active", "Inactive"]
GroupType = Literal["OKTA_GROUP", "APP_GROUP"]


class _Clause(_Model):
    """One filter: its include and exclude lists (typed by each filter)."""

    include: list[Any]
    exclude: list[Any]

    @property
    def is_set(self) -> bool:
        return bool(self.include or self.exclude)


class IncludeExclude(_Clause):
    """A user matches when include is empty or holds the value, and exclude does not."""

    include: list[FilterValue] = Field(
        default_factory=list, description="Values to keep; empty keeps every value."
    )
    exclude: list[FilterValue] = Field(
        default_factory=list, description="Values to leave out, even when included."
    )


TEAM_ID_PREFIX = "id:"
# An entry is a group name (any text but control characters) or id:<Okta group id>.
TEAM_ENTRY_PATTERN = ONE_LINE_PATTERN
_TEAM_ENTRY_RE = re.compile(TEAM_ENTRY_PATTERN)
_GROUP_ID_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")


def _check_team_entry(value: str) -> str:
    if not value.strip() or not _TEAM_ENTRY_RE.fullmatch(value):
        raise ValueError(f"{describe_value(value)} is not an Okta group name or id:<group id>")
    if value[: len(TEAM_ID_PREFIX)].lower() == TEAM_ID_PREFIX:
        group_id = value[len(TEAM_ID_PREFIX) :].strip()
        if not _GROUP_ID_RE.fullmatch(group_id):
            raise ValueError(
                f"{describe_value(value)} is not id:<Okta group id> (letters and digits, "
                "e.g. id:00g1abcdEFGH2345)"
            )
        return f"{TEAM_ID_PREFIX}{group_id}"
    return value.strip()


TeamEntry = Annotated[
    str,
    AfterValidator(_check_team_entry),
    Field(min_length=1, max_length=1024, json_schema_extra={"pattern": TEAM_ENTRY_PATTERN}),
]


class TeamFilter(_Clause):
    """Okta groups of the configured types, by name (case-insensitive) or id:<group id>
    (which survives a rename). An entry that names no current group fails the sync."""

    include: list[TeamEntry] = Field(
        default_factory=list,
        description="Groups whose members to keep (any of them); empty keeps every team.",
    )
    exclude: list[TeamEntry] = Field(
        default_factory=list, description="Groups whose members to leave out (any of them)."
    )


class CountryFilter(_Clause):
    """Countries (profile.countryCode) as ISO 3166-1 alpha-2 codes, e.g. US, DE."""

    include: list[CountryCode] = Field(
        default_factory=list, description="Country codes to keep; empty keeps every country."
    )
    exclude: list[CountryCode] = Field(
        default_factory=list, description="Country codes to leave out."
    )


class StatusFilter(_Clause):
    """Okta status: Active (ACTIVE, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT) or
    Inactive (STAGED, SUSPENDED, DEPROVISIONED)."""

    include: list[OktaStatusClass] = Field(
        default_factory=list, description="Status classes to keep; empty keeps both."
    )
    exclude: list[OktaStatusClass] = Field(
        default_factory=list, description="Status classes to leave out."
    )


class Filters(_Model):
    """Which users a Filtered sync keeps; used only when sync.scope is Filtered. Filters are
    ANDed together."""

    countries: CountryFilter = Field(
        default_factory=CountryFilter, description="Filter on the user's country."
    )
    teams: TeamFilter = Field(
        default_factory=TeamFilter,
        description=(
            "Filter on Okta groups, by name (case-insensitive) or id:<group id>: included when "
            "in any included group, left out when in any excluded group. An entry naming no "
            "current group fails the sync (UnknownTeam)."
        ),
    )
    status: StatusFilter = Field(
        default_factory=StatusFilter, description="Filter on the user's Okta status."
    )
    employment: IncludeExclude = Field(
        default_factory=IncludeExclude,
        description=(
            "Filter on the employment status, ignoring case, spaces, hyphens and underscores "
            "(Full Time = full-time); a list-valued attribute matches when any element does."
        ),
    )

    @property
    def is_set(self) -> bool:
        return any(f.is_set for f in (self.countries, self.teams, self.status, self.employment))


def _default_group_types() -> list[GroupType]:
    return ["OKTA_GROUP"]


DEFAULT_EMPLOYMENT_VALUES = ("Full-time", "Part-time", "Contractor", "Intern", "Temporary")


def _default_employment_values() -> list[str]:
    return list(DEFAULT_EMPLOYMENT_VALUES)


class MappingSettings(_Model):
    """How Okta profiles and groups map to directory columns."""

    employment_attribute: str = Field(
        default="userType",
        description="Okta profile attribute holding the employment status, e.g. employeeType.",
        json_schema_extra={"pattern": ATTRIBUTE_PATTERN},
    )
    employment_values: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=_default_employment_values,
        description=(
            "The spelling stored for each employment status: a value matching one of these "
            "loosely (ignoring case, spaces, hyphens, underscores) is stored as written here."
        ),
        json_schema_extra={"maxItems": 100},
    )
    team_group_types: list[GroupType] = Field(
        default_factory=_default_group_types,
        description="Okta group types whose groups are teams (the BUILT_IN Everyone never is).",
        json_schema_extra={"minItems": 1},
    )

    @field_validator("employment_attribute")
    @classmethod
    def _check_attribute(cls, value: str) -> str:
        if not _ATTRIBUTE_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an Okta attribute name (a letter, then letters, digits and '_')"
            )
        return value

    @field_validator("employment_values")
    @classmethod
    def _trimmed_values(cls, value: list[str]) -> list[str]:
        trimmed = [v.strip() for v in value]
        if any(not v or not _TEAM_ENTRY_RE.fullmatch(v) for v in trimmed):
            raise ValueError("entries must be non-empty text without control characters")
        return trimmed

    @field_validator("team_group_types")
    @classmethod
    def _non_empty(cls, value: list[GroupType]) -> list[GroupType]:
        if not value:
            raise ValueError("needs at least one group type: OKTA_GROUP or APP_GROUP")
        # Order and repetition carry no meaning; one spelling keeps sync_hash stable.
        return sorted(set(value))


class InvitationSettings(_Model):
    """Invitation e-mails to the employee dashboard, one per new active employee, ever."""

    enabled: bool = Field(
        default=False, description="Send each newly synced active employee one invitation."
    )
    dashboard_url: str | None = Field(
        default=None,
        description="The employee dashboard's URL, linked in the invitation.",
        json_schema_extra={"pattern": URL_PATTERN},
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        description='Sender, e.g. "People Ops <people-ops@example.com>".',
        json_schema_extra={"pattern": SENDER_PATTERN},
    )
    company_name: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "The company named in the invitation's subject and text, e.g. Acme; when unset the "
            "invitation names no company."
        ),
        json_schema_extra={"pattern": COMPANY_NAME_PATTERN},
    )
    smtp_secret_ref: SecretRef | None = Field(
        default=None,
        description=(
            "Secret with the SMTP server's host, port, username, password and security "
            "(starttls, tls or none)."
        ),
    )

    @field_validator("dashboard_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not _URL_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an http(s) URL like https://dashboard.example.com")
        return value

    @field_validator("company_name")
    @classmethod
    def _check_company(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip() or not _COMPANY_NAME_RE.fullmatch(value):
            raise ValueError(
                f"{describe_value(value)} is not a company name (one line of text, e.g. Acme)"
            )
        return value.strip()

    @field_validator("from_")
    @classmethod
    def _check_sender(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _, address = parseaddr(value)
        local, _, domain = address.rpartition("@")
        if not _SENDER_RE.fullmatch(value) or not local or "." not in domain:
            raise ValueError(
                f"{value!r} is not a sender address like 'People Ops <people-ops@example.com>'"
            )
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> InvitationSettings:
        if self.enabled:
            missing = [
                name
                for name, value in (
                    ("dashboardUrl", self.dashboard_url),
                    ("from", self.from_),
                    ("smtpSecretRef", self.smtp_secret_ref),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"enabled is true but {', '.join(missing)} not set")
        return self


def _check_max_deactivations(value: Any) -> str:
    # An int-or-string, as Kubernetes' maxUnavailable: 25 and "25" mean the same count.
    problem = f"must be a count (e.g. 25) or a percentage (e.g. '20%'), not {describe_value(value)}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(problem)
    if isinstance(value, int) and value > MAX_DEACTIVATIONS_COUNT:
        raise ValueError(_too_many_deactivations(value))
    text = str(value)
    if not _MAX_DEACTIVATIONS_RE.fullmatch(text):
        raise ValueError(problem)
    digits = text.removesuffix("%")
    # A bound here, or 5,000 digits would pass and then fail every sync that reads them.
    if len(digits) > len(str(MAX_DEACTIVATIONS_COUNT)) or int(digits) > MAX_DEACTIVATIONS_COUNT:
        raise ValueError(_too_many_deactivations(value))
    if text.endswith("%") and int(digits) > 100:
        raise ValueError(f"{value!r} is more than 100%")
    return text


def _too_many_deactivations(value: Any) -> str:
    return f"must be at most {MAX_DEACTIVATIONS_COUNT:,} (or a percentage), not {describe_value(value)}"


MaxDeactivations = Annotated[
    str,
    BeforeValidator(_check_max_deactivations),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "pattern": MAX_DEACTIVATIONS_PATTERN,
            "minimum": 0,
        }
    ),
]


class SafetySettings(_Model):
    """Guards against a sync that would deactivate much of the directory at once."""

    max_deactivations: MaxDeactivations = Field(
        default="20%",
        description=(
            "Most deactivations one sync may make: a count (25) or a percentage of the "
            "directory ('20%'). A sync that would make more is held until approved."
        ),
    )

    def limit(self, directory_size: int) -> int:
        """How many deactivations one sync may make in a directory of ``directory_size`` rows."""
        text = self.max_deactivations
        if text.endswith("%"):
            return directory_size * int(text[:-1]) // 100
        return int(text)


SCOPE_ALL_WITH_FILTERS = "filters are set but spec.sync.scope is All"


# The CRD's CEL rule for the same check (an x-kubernetes-validations entry on spec).
def _empty_cel(path: str) -> str:
    return "".join(
        f"(!has({path}.{side}) || size({path}.{side}) == 0)" + (" && " if side == "include" else "")
        for side in ("include", "exclude")
    )


# The CRD's CEL rule for the same check (an x-kubernetes-validations entry on spec); scope
# defaults to All, so a spec without sync.scope has scope All.
SCOPE_ALL_WITH_FILTERS_RULE = (
    "(has(self.sync) && has(self.sync.scope) && self.sync.scope == 'Filtered') || "
    "!has(self.filters) || ("
    + " && ".join(
        f"(!has(self.filters.{name}) || ({_empty_cel(f'self.filters.{name}')}))"
        for name in ("countries", "teams", "status", "employment")
    )
    + ")"
)


# How this release maps users to rows and filters them (sync/mapping.py, sync/filters.py): bump
# it when a release changes that. It is part of ``sync_hash``, so the first sync after such an
# upgrade is Full and maps every user again; incremental syncs leave the rows of users nothing
# moved under as the last sync mapped them (sync/plan.py).
MAPPING_VERSION = 3  # 3: the mirror keeps outsiders' employment values (sync/plan.py)
# Libraries whose data decides what users map to (phone numbers; countries and states): their
# versions are part of ``sync_hash`` too, so an upgrade of either maps every user again.
MAPPING_LIBRARIES = ("phonenumbers", "pycountry")


@functools.cache
def mapping_libraries() -> dict[str, str]:
    versions = {}
    for name in MAPPING_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


class OktaIntegrationSpec(_Model):
    """Which Okta org to sync into the employee directory, how often, and which users."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": SCOPE_ALL_WITH_FILTERS_RULE, "message": SCOPE_ALL_WITH_FILTERS}
            ]
        }
    )

    okta: OktaSettings = Field(description="The Okta org and its API token.")
    sync: SyncSettings = Field(default_factory=SyncSettings, description="Schedule and scope.")
    filters: Filters = Field(
        default_factory=Filters, description="Applied only when sync.scope is Filtered."
    )
    mapping: MappingSettings = Field(
        default_factory=MappingSettings, description="Okta attributes and group types to read."
    )
    invitations: InvitationSettings = Field(
        default_factory=InvitationSettings, description="Dashboard invitation e-mails."
    )
    safety: SafetySettings = Field(
        default_factory=SafetySettings, description="Hold syncs that deactivate too many."
    )

    @model_validator(mode="after")
    def _filters_need_filtered_scope(self) -> OktaIntegrationSpec:
        # Filters under scope All would be ignored without a word; the CRD has the same rule.
        if self.sync.scope == "All" and self.filters.is_set:
            raise ValueError(SCOPE_ALL_WITH_FILTERS)
        return self

    def sync_hash(self) -> str:
        """Hash of everything that decides which rows a sync produces (not interval or suspend),
        the release's ``MAPPING_VERSION`` included."""
        relevant = self.model_dump(
            mode="json",
            include={
                "okta": {"subdomain", "domain"},
                "sync": {"scope", "email_source"},
                "filters": True,
                "mapping": True,
            },
        )
        relevant["mappingVersion"] = MAPPING_VERSION
        relevant["mappingLibraries"] = mapping_libraries()
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


# --- the whole object ---------------------------------------------------------------------


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    namespace: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if len(value) > 253 or not _OBJECT_NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Kubernetes object name (lower-case letters, digits, '-', '.')"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str | None) -> str | None:
        if value is not None and not _NAMESPACE_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a namespace name (lower-case letters, digits, '-')")
        return value


class OktaIntegration(BaseModel):
    """A whole manifest, as found in a file for ``okta-hris sync`` / ``plan``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    api_version: Annotated[str, Field(alias="apiVersion")]
    kind: str
    metadata: ObjectMeta
    spec: OktaIntegrationSpec

    @property
    def integration_key(self) -> str:
        return f"{self.metadata.namespace or 'default'}/{self.metadata.name}"


def _plain(data: Any) -> Any:
    """Mappings as dicts and tuples as lists, as strict validation wants them.

    The operator hands over Kopf's mapping views and Python callers may use tuples; a
    manifest's meaning does not depend on those container types.
    """
    if isinstance(data, Mapping):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(value) for value in data]
    return data


def validation_context(allowed_domains: Iterable[str]) -> dict[str, Any]:
    return {"allowed_domains": list(allowed_domains)}


def load_spec(
    data: object, allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS
) -> OktaIntegrationSpec:
    """Validate a spec as written in a manifest (camelCase keys only).

    Raises ``InvalidSpec`` with every problem on one line:
    ``spec.filters.countries.include[0]: 'Germany' is not ... did you mean DE?; spec.x: ...``.
    """
    try:
        # by_name=False: snake_case keys are for Python code, not manifests (the CRD has none).
        return OktaIntegrationSpec.model_validate(
            _plain(data), context=validation_context(allowed_domains), by_name=False
        )
    except ValidationError as exc:
        raise InvalidSpec(
            "; ".join(describe_validation_error(exc, OktaIntegrationSpec, "spec"))
        ) from None

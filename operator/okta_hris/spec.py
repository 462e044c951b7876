"""The OktaIntegration custom resource: spec and status models (SPEC §2, §5).

The CRD schema in ``crds/`` is generated from these models (``okta_hris.crd``), so the two
cannot drift. Field names are the public interface: camelCase in YAML, snake_case in Python.

Where the CRD can check a rule (a pattern, an enum, a length), the model checks it with the same
regular expression, so that ``kubectl apply`` and ``okta-hris sync -f`` accept the same manifests.
Patterns are given to the CRD through ``json_schema_extra`` rather than pydantic's own
``pattern`` constraint so that the model can answer with a message that says how to fix the
value. Rules the CRD cannot express (the domain allow-list, real country codes, the 1m minimum,
fields required together) are checked by the model only.

User input (a manifest, the operator's watch events) enters through ``load_spec`` and
``load_manifests``, which turn validation errors into one readable line.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pycountry
import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from okta_hris.config import DEFAULT_OKTA_DOMAINS
from okta_hris.errors import ConfigError, InvalidSpec, SecretNotFound

API_GROUP = "hris.dev"
API_VERSION = "v1alpha1"
KIND = "OktaIntegration"
PLURAL = "oktaintegrations"
SINGULAR = "oktaintegration"
SHORT_NAME = "okta"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"

RESYNC_ANNOTATION = "hris.dev/resync-requested-at"
APPROVE_DEACTIVATIONS_ANNOTATION = "hris.dev/approve-deactivations"

ACTIVE_OKTA_STATUSES = frozenset(
    {"ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"}
)
INACTIVE_OKTA_STATUSES = frozenset({"STAGED", "SUSPENDED", "DEPROVISIONED"})

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
# Okta profile attribute ("variable") names: a letter, then letters, digits and underscores.
ATTRIBUTE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
# No spaces or control characters anywhere; a host before any path, query or fragment.
URL_PATTERN = r"^https?://[^\x00-\x20/?#]+[^\x00-\x20]*$"
# One header line with an address in it; CR/LF would let the value inject e-mail headers.
SENDER_PATTERN = r"^[^\r\n]*@[^\r\n]*$"
# metav1.Condition's own validation of type and reason.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

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

_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """A Go-style duration of hours, minutes and seconds: ``30m``, ``1h``, ``1h30m``, ``90s``."""
    if not _DURATION_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 1h30m")
    seconds = sum(int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART_RE.findall(text))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


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


class OktaSettings(_Model):
    """The Okta org to read: https://<subdomain>.<domain>."""

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
    token_secret_ref: SecretKeyRef = Field(
        description="The Secret key holding the Okta API token (SSWS), in this namespace."
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

    @property
    def base_url(self) -> str:
        return f"https://{self.subdomain}.{self.domain}"


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

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        if parse_duration(value) < MIN_INTERVAL:
            raise ValueError(f"{value!r} is shorter than the minimum of 1m")
        return value

    @property
    def interval_timedelta(self) -> timedelta:
        return parse_duration(self.interval)


# Codes people write that ISO 3166-1 does not have, and names pycountry does not know.
COUNTRY_ALIASES = {
    "UK": "GB",
    "EL": "GR",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "NORTHERN IRELAND": "GB",
}


def _yaml_boolean_hint(value: Any) -> Any:
    # YAML 1.1, which both PyYAML and kubectl read, turns a bare NO (Norway) into false.
    if value is False:
        raise ValueError('false is not a country code; for Norway write "NO" in quotes')
    return value


def _country_code(value: str) -> str:
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
    AfterValidator(_country_code),
    Field(json_schema_extra={"pattern": COUNTRY_PATTERN}),
]
FilterValue = Annotated[str, Field(min_length=1)]
OktaStatusClass = Literal["Active", "Inactive"]
GroupType = Literal["OKTA_GROUP", "APP_GROUP"]


class IncludeExclude(_Model):
    """A user matches when include is empty or holds the value, and exclude does not."""

    include: list[FilterValue] = Field(
        default_factory=list, description="Values to keep; empty keeps every value."
    )
    exclude: list[FilterValue] = Field(
        default_factory=list, description="Values to leave out, even when included."
    )


class CountryFilter(_Model):
    """Countries (profile.countryCode) as ISO 3166-1 alpha-2 codes, e.g. US, DE."""

    include: list[CountryCode] = Field(
        default_factory=list, description="Country codes to keep; empty keeps every country."
    )
    exclude: list[CountryCode] = Field(
        default_factory=list, description="Country codes to leave out."
    )


class StatusFilter(_Model):
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
    teams: IncludeExclude = Field(
        default_factory=IncludeExclude,
        description=(
            "Filter on Okta group names: included when in any included group, left out when in "
            "any excluded group."
        ),
    )
    status: StatusFilter = Field(
        default_factory=StatusFilter, description="Filter on the user's Okta status."
    )
    employment: IncludeExclude = Field(
        default_factory=IncludeExclude,
        description="Filter on the employment status (case-insensitive), e.g. Full-time.",
    )


def _default_group_types() -> list[GroupType]:
    return ["OKTA_GROUP"]


class MappingSettings(_Model):
    """How Okta profiles and groups map to directory columns."""

    employment_attribute: str = Field(
        default="userType",
        description="Okta profile attribute holding the employment status, e.g. employeeType.",
        json_schema_extra={"pattern": ATTRIBUTE_PATTERN},
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
    problem = f"must be a count (e.g. 25) or a percentage (e.g. '20%'), not {_describe(value)}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(problem)
    text = str(value)
    if not _MAX_DEACTIVATIONS_RE.fullmatch(text):
        raise ValueError(problem)
    if text.endswith("%") and int(text[:-1]) > 100:
        raise ValueError(f"{value!r} is more than 100%")
    return text


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


class OktaIntegrationSpec(_Model):
    """Which Okta org to sync into the employee directory, how often, and which users."""

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

    def sync_hash(self) -> str:
        """Hash of everything that decides which rows a sync produces (not interval or suspend)."""
        relevant = self.model_dump(
            mode="json",
            include={
                "okta": {"subdomain", "domain"},
                "sync": {"scope", "email_source"},
                "filters": True,
                "mapping": True,
            },
        )
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


# --- status (SPEC §5) ---------------------------------------------------------------------


def _kubernetes_time(value: datetime) -> str:
    # metav1.Time is RFC 3339 in UTC with whole seconds; the apiserver drops fractions anyway.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


KubernetesTime = Annotated[
    AwareDatetime, PlainSerializer(_kubernetes_time, return_type=str, when_used="json")
]
Count = Annotated[int, Field(ge=0)]


class _StatusModel(BaseModel):
    # Lax and tolerant: status is read back from the apiserver as JSON (times as strings), and
    # an operator must keep working when an older or newer version wrote fields it does not know.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class Condition(_StatusModel):
    """A metav1.Condition: one aspect of the integration's state."""

    # message may be empty but metav1.Condition requires the key, as does the CRD.
    model_config = ConfigDict(
        json_schema_extra={
            "required": ["type", "status", "lastTransitionTime", "reason", "message"]
        }
    )

    type: str = Field(
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
        description="Ready, Reconciling or Stalled.",
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was set from."
    )
    last_transition_time: KubernetesTime = Field(
        description="When status last changed from one value to another."
    )
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON_PATTERN,
        description="CamelCase reason, e.g. SyncSucceeded, InvalidSpec, Unauthorized.",
    )
    message: str = Field(
        default="", max_length=32768, description="Human-readable details of the transition."
    )


class SyncCounts(_StatusModel):
    """What the last sync did."""

    fetched: Count = Field(description="Okta users read.")
    matched: Count = Field(description="Users in scope.")
    created: Count = Field(description="Directory rows created.")
    updated: Count = Field(description="Directory rows changed.")
    deactivated: Count = Field(description="Directory rows set inactive.")
    unchanged: Count = Field(description="Directory rows left as they were.")
    api_requests: Count = Field(description="Okta API requests made.")


class EmployeeCounts(_StatusModel):
    """The integration's rows in the employee directory."""

    total: Count = Field(description="All rows, active or not.")
    active: Count = Field(description="Rows of active employees.")
    inactive: Count = Field(description="Rows of deactivated employees.")


class InvitationCounts(_StatusModel):
    """Dashboard invitations of this integration."""

    sent: Count = Field(description="Invitations delivered.")
    pending: Count = Field(description="Invitations waiting for delivery.")
    failed: Count = Field(description="Invitations given up on.")


class HandledApproval(_StatusModel):
    """The last approval annotation the operator acted on; each value is used once."""

    value: str = Field(description=f"The {APPROVE_DEACTIVATIONS_ANNOTATION} value.")
    deactivations: Count | None = Field(
        default=None, description="The size of the hold it answered (absent when none was held)."
    )
    result: Literal["Released", "HoldChanged", "NoMatchingHold"] = Field(
        description="Released: the held sync applied. HoldChanged: the sync would now "
        "deactivate another number, and is held again. NoMatchingHold: no hold of that size."
    )
    time: KubernetesTime = Field(description="When it was handled.")


class OktaIntegrationStatus(_StatusModel):
    """The observed state of the integration, written by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec last acted on."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Reconciling and Stalled, as metav1.Conditions.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    last_sync_time: KubernetesTime | None = Field(
        default=None, description="When the last sync attempt ended."
    )
    last_successful_sync_time: KubernetesTime | None = Field(
        default=None, description="When the last successful sync ended."
    )
    next_sync_time: KubernetesTime | None = Field(
        default=None, description="When the next scheduled sync is due."
    )
    last_sync_mode: Literal["Full", "Incremental"] | None = Field(
        default=None, description="Full or Incremental."
    )
    last_sync_duration_seconds: float | None = Field(
        default=None, ge=0, description="How long the last sync took."
    )
    last_handled_resync_at: str | None = Field(
        default=None,
        description=f"The {RESYNC_ANNOTATION} value whose sync has finished.",
    )
    last_sync: SyncCounts | None = Field(default=None, description="What the last sync did.")
    employees: EmployeeCounts | None = Field(
        default=None, description="The integration's employees in the directory."
    )
    teams: Count | None = Field(default=None, description="Teams in the directory.")
    invitations: InvitationCounts | None = Field(default=None, description="Dashboard invitations.")
    held_deactivations: int | None = Field(
        default=None,
        ge=0,
        description=f"Deactivations the safety hold is holding; {APPROVE_DEACTIVATIONS_ANNOTATION} "
        "with this count releases it.",
    )
    last_handled_invite_all_pending: str | None = Field(
        default=None,
        description="The hris.dev/invite-all-pending value whose invitations have been queued.",
    )
    last_handled_approval: HandledApproval | None = Field(
        default=None,
        description=f"The last {APPROVE_DEACTIVATIONS_ANNOTATION} value handled, and the hold "
        "it answered: an approval is never used twice.",
    )

    def condition(self, type_: str) -> Condition | None:
        """The condition of that type, if set."""
        return next((c for c in self.conditions if c.type == type_), None)


# --- manifests ----------------------------------------------------------------------------


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


# --- turning validation errors into one line ----------------------------------------------

_SHOULD_RE = re.compile(r"^(?:Input|String|List|Value|Dictionary|Tuple|Set) should ")
_TYPE_NAMES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _field_names_at(root: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The camelCase field names of the object at ``path`` (for "did you mean")."""
    annotation: Any = root
    for part in path:
        annotation = _unwrap_optional(annotation)
        if isinstance(part, int):
            args = get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = annotation.model_fields
            found = next((f for n, f in fields.items() if (f.alias or n) == part), None)
            annotation = found.annotation if found else None
        else:
            return []
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _did_you_mean(unknown: str, known: list[str]) -> str:
    def squash(name: str) -> str:
        return name.replace("_", "").replace("-", "").lower()

    # token_secret_ref for tokenSecretRef, or a typo like intervall for interval.
    exact = [k for k in known if squash(k) == squash(unknown)]
    close = exact or difflib.get_close_matches(unknown, known, n=1, cutoff=0.7)
    return f"; did you mean {close[0]}?" if close else ""


def _path(prefix: str, loc: Sequence[str | int]) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(document)"


def describe_validation_error(
    exc: ValidationError, root: type[BaseModel], prefix: str = ""
) -> list[str]:
    """One ``path: problem`` line per error, with camelCase paths and no pydantic URLs."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc: tuple[str | int, ...] = tuple(error["loc"])
        kind = error["type"]
        value = error.get("input")
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            unknown = str(loc[-1]) if loc else ""
            message = "unknown field" + _did_you_mean(unknown, _field_names_at(root, loc[:-1]))
        elif kind in ("value_error", "assertion_error"):
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        elif kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = f"must be {expected}, not {_describe(value)}"
        elif kind in _TYPE_NAMES:
            message = f"must be {_TYPE_NAMES[kind]}, not {_describe(value)}"
        else:
            message = _SHOULD_RE.sub("must ", error["msg"])
        problems.append(f"{_path(prefix, loc)}: {message}")
    return problems


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


def _validation_context(allowed_domains: Iterable[str]) -> dict[str, Any]:
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
            _plain(data), context=_validation_context(allowed_domains), by_name=False
        )
    except ValidationError as exc:
        raise InvalidSpec(
            "; ".join(describe_validation_error(exc, OktaIntegrationSpec, "spec"))
        ) from None


# --- multi-document manifest files (okta-hris sync -f FILE) -------------------------------


def _same_namespace(secret: str | None, integration: str | None) -> bool:
    # A Secret without a namespace lands wherever the integration does. An integration without
    # one is "default" for a sync without a cluster (its key is default/<name>), so a Secret
    # named into another namespace is not its Secret: the same file must fail in a cluster too.
    return secret is None or secret == (integration or "default")


@dataclass(frozen=True)
class SecretManifest:
    """A v1 Secret from a manifest file, its values decoded to text."""

    name: str
    namespace: str | None
    # Left out of repr so that logging a SecretManifest never prints a token or password.
    data: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Manifests:
    """The OktaIntegration of a manifest file and the Secrets found with it."""

    integration: OktaIntegration
    secrets: tuple[SecretManifest, ...]
    source: str = "<input>"

    def secret(self, name: str) -> SecretManifest | None:
        """The Secret ``name`` in the integration's namespace, if the file has it."""
        namespace = self.integration.metadata.namespace
        return next(
            (s for s in self.secrets if s.name == name and _same_namespace(s.namespace, namespace)),
            None,
        )

    def secret_value(self, name: str, key: str) -> str:
        """One value of a Secret in the file; ``SecretNotFound`` names what is missing."""
        secret = self.secret(name)
        if secret is None:
            raise SecretNotFound(
                f"{self.source} has no Secret {name!r} for OktaIntegration "
                f"{self.integration.metadata.name!r}"
            )
        if key not in secret.data:
            keys = ", ".join(sorted(secret.data)) or "none"
            raise SecretNotFound(
                f"Secret {name!r} in {self.source} has no key {key!r} (keys: {keys})"
            )
        return secret.data[key]


class _ManifestLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, as kubectl does, instead of keeping the last."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_ManifestLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _yaml_documents(text: str, source: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_ManifestLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        # An unclosed [ or { is only noticed far below it; say where it was opened.
        opened = exc.context_mark
        if exc.problem and exc.context and opened and (not mark or opened.line != mark.line):
            problem += f" ({exc.context} at line {opened.line + 1})"
        raise ConfigError(f"{source}: YAML syntax error{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None


def _objects(documents: list[Any], source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, object) for every Kubernetes object, expanding ``kind: List`` as kubectl does."""
    for number, document in enumerate(documents, start=1):
        label = f"document {number}"
        if document is None:  # an empty document, e.g. after a trailing ---
            continue
        if not isinstance(document, dict):
            raise ConfigError(
                f"{source}: {label} is {_describe(document)}, not a Kubernetes object "
                "(a mapping with apiVersion and kind)"
            )
        if document.get("apiVersion") == "v1" and document.get("kind") == "List":
            items = document.get("items") or []
            if not isinstance(items, list):
                raise ConfigError(f"{source}: {label} is a List whose items are not a list")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ConfigError(f"{source}: {label}, item {index} is not a mapping")
                yield f"{label}, item {index}", item
        else:
            yield label, document


def _secret_from(obj: dict[str, Any], label: str, source: str) -> SecretManifest:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: {label}: Secret has no metadata.name")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if namespace is not None and not isinstance(namespace, str):
        raise ConfigError(f"{source}: Secret {name!r}: metadata.namespace must be a string")
    where = f"{source}: Secret {name!r}"
    values: dict[str, str] = {}
    encoded = obj.get("data") or {}
    plain = obj.get("stringData") or {}
    if not isinstance(encoded, dict) or not isinstance(plain, dict):
        raise ConfigError(f"{where}: data and stringData must be mappings")
    # Error messages name keys, never values: these are tokens and passwords.
    for key, value in encoded.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: data.{key} must be a base64 string")
        # Kubernetes' decoder skips line breaks: block scalars and 76-column wrapping are fine.
        unwrapped = value.replace("\r", "").replace("\n", "")
        try:
            values[str(key)] = base64.b64decode(unwrapped, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"{where}: data.{key} is not valid base64 text (use stringData for plain text)"
            ) from None
    for key, value in plain.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: stringData.{key} must be a string (quote it in YAML)")
        values[str(key)] = value  # stringData wins over data, as in Kubernetes
    return SecretManifest(name=name, namespace=namespace, data=values)


def _integration_from(
    obj: dict[str, Any], label: str, source: str, allowed_domains: Iterable[str]
) -> OktaIntegration:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    what = f"OktaIntegration {name!r}" if isinstance(name, str) else f"{label} (OktaIntegration)"
    try:
        return OktaIntegration.model_validate(
            obj, context=_validation_context(allowed_domains), by_name=False
        )
    except ValidationError as exc:
        problems = describe_validation_error(exc, OktaIntegration)
        raise InvalidSpec(f"{source}: {what} is invalid: {'; '.join(problems)}") from None


def _kind_problem(obj: dict[str, Any]) -> str | None:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return "has no kind"
    if not isinstance(api_version, str) or not api_version:
        return f"({kind}) has no apiVersion"
    if kind == KIND and api_version != GROUP_VERSION:
        return f"has apiVersion {api_version!r}; an OktaIntegration is {GROUP_VERSION}"
    if api_version.split("/")[0] == API_GROUP and kind != KIND:
        return f"has kind {kind!r}; the kind of {GROUP_VERSION} is {KIND}"
    if kind == "Secret" and api_version != "v1":
        return f"has apiVersion {api_version!r}; a Secret is v1"
    return None


def load_manifests(
    text: str,
    name: str | None = None,
    *,
    allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS,
    source: str = "<input>",
) -> Manifests:
    """Read a multi-document YAML file as ``kubectl apply -f`` does.

    Finds the OktaIntegration (``name`` or ``namespace/name`` picks one when there are several)
    and the v1 Secrets. Objects of other kinds are ignored. Raises ``ConfigError`` (for a bad
    spec its subclass ``InvalidSpec``) with one line naming ``source`` and the problem.
    """
    allowed = tuple(allowed_domains)
    integrations: list[OktaIntegration] = []
    secrets: list[SecretManifest] = []
    for label, obj in _objects(_yaml_documents(text, source), source):
        problem = _kind_problem(obj)
        if problem is not None:
            raise ConfigError(f"{source}: {label} {problem}")
        if obj["kind"] == KIND:
            integrations.append(_integration_from(obj, label, source, allowed))
        elif obj["kind"] == "Secret":
            secrets.append(_secret_from(obj, label, source))
    integration = _select(integrations, name, source)
    namespace = integration.metadata.namespace
    usable = [s.name for s in secrets if _same_namespace(s.namespace, namespace)]
    duplicates = sorted({n for n in usable if usable.count(n) > 1})
    if duplicates:
        # kubectl would apply both, the last one winning; a file this ambiguous is a mistake.
        raise ConfigError(f"{source} has more than one Secret named {duplicates[0]!r}")
    return Manifests(integration=integration, secrets=tuple(secrets), source=source)


def _select(integrations: list[OktaIntegration], name: str | None, source: str) -> OktaIntegration:
    found = ", ".join(i.metadata.name for i in integrations)
    if name is not None:
        namespace, _, bare = name.rpartition("/")
        chosen = [
            i
            for i in integrations
            if i.metadata.name == bare and (not namespace or i.metadata.namespace == namespace)
        ]
        if not chosen:
            raise ConfigError(
                f"{source} has no OktaIntegration named {name!r} (found: {found or 'none'})"
            )
        if len(chosen) > 1:
            raise ConfigError(
                f"{source} has several OktaIntegrations named {name!r}; use namespace/name"
            )
        return chosen[0]
    if not integrations:
        raise ConfigError(f"{source} has no OktaIntegration (apiVersion {GROUP_VERSION})")
    if len(integrations) > 1:
        raise ConfigError(
            f"{source} has {len(integrations)} OktaIntegrations ({found}); choose one"
        )
    return integrations[0]


def load_manifest_file(
    path: str | Path,
    name: str | None = None,
    *,
    allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS,
) -> Manifests:
    """``load_manifests`` of a file; an unreadable file is a ``ConfigError`` too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read {path}: it is not UTF-8 text") from None
    return load_manifests(text, name, allowed_domains=allowed_domains, source=str(path))

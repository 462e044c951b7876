"""The OktaIntegration custom resource: spec and status models (SPEC §2, §5).

The CRD schema in ``crds/`` is generated from these models (``okta_hris.crd``), so the two
cannot drift. Field names are the public interface: camelCase in YAML, snake_case in Python.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from okta_hris.config import DEFAULT_OKTA_DOMAINS

API_GROUP = "hris.dev"
API_VERSION = "v1alpha1"
KIND = "OktaIntegration"
PLURAL = "oktaintegrations"

RESYNC_ANNOTATION = "hris.dev/resync-requested-at"
APPROVE_DEACTIVATIONS_ANNOTATION = "hris.dev/approve-deactivations"

ACTIVE_OKTA_STATUSES = frozenset(
    {"ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"}
)
INACTIVE_OKTA_STATUSES = frozenset({"STAGED", "SUSPENDED", "DEPROVISIONED"})

MIN_INTERVAL = timedelta(minutes=1)
_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SECRET_NAME_RE = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")


def parse_duration(text: str) -> timedelta:
    """A Go-style duration of hours, minutes and seconds: ``30m``, ``1h``, ``1h30m``, ``90s``."""
    match = _DURATION_RE.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class SecretKeyRef(_Model):
    """A key of a Secret in the OktaIntegration's own namespace (no ``namespace`` field)."""

    name: str = Field(description="Name of the Secret, in the resource's own namespace.")
    key: str = Field(default="token", description="Key in the Secret holding the value.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _SECRET_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a valid Secret name")
        return value


class SecretRef(_Model):
    """A whole Secret in the OktaIntegration's own namespace."""

    name: str = Field(description="Name of the Secret, in the resource's own namespace.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _SECRET_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a valid Secret name")
        return value


class OktaSettings(_Model):
    subdomain: str = Field(description="The org's subdomain, one DNS label: https://<subdomain>.<domain>.")
    domain: str = Field(default="okta.com", description="okta.com, oktapreview.com, okta-emea.com, or a domain on the operator's allow-list.")
    token_secret_ref: SecretKeyRef = Field(description="Secret holding the SSWS API token.")

    @field_validator("subdomain")
    @classmethod
    def _check_subdomain(cls, value: str) -> str:
        lowered = value.lower()
        if not _DNS_LABEL_RE.match(lowered):
            raise ValueError(
                f"subdomain {value!r} must be one DNS label (letters, digits and '-'), "
                "e.g. 'acme' for https://acme.okta.com"
            )
        return lowered

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str, info: ValidationInfo) -> str:
        lowered = value.lower().rstrip(".")
        context = info.context if isinstance(info.context, dict) else {}
        allowed = tuple(context.get("allowed_domains") or DEFAULT_OKTA_DOMAINS)
        if lowered not in allowed:
            raise ValueError(
                f"domain {value!r} is not allowed; use one of {', '.join(allowed)} "
                "(operators can allow more with HRIS_ALLOWED_DOMAINS)"
            )
        return lowered

    @property
    def base_url(self) -> str:
        return f"https://{self.subdomain}.{self.domain}"


class SyncSettings(_Model):
    scope: Literal["All", "Filtered"] = Field(default="All", description="All: every Okta user; Filtered: users matching spec.filters.")
    interval: str = Field(default="1h", description="Go-style duration between syncs (30m, 1h, 1h30m); at least 1m.")
    suspend: bool = Field(default=False, description="Pause scheduled and annotation-requested syncs.")
    email_source: Literal["Work", "Personal"] = Field(default="Work", description="Work: profile.email; Personal: profile.secondEmail, falling back to email.")

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        if parse_duration(value) < MIN_INTERVAL:
            raise ValueError(f"interval {value!r} is shorter than the minimum of 1m")
        return value

    @property
    def interval_timedelta(self) -> timedelta:
        return parse_duration(self.interval)


class IncludeExclude(_Model):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


def _country_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None:
        return code
    hint = ""
    try:
        match = pycountry.countries.lookup(value.strip())
        hint = f"; did you mean {match.alpha_2}?"
    except LookupError:
        pass
    raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code{hint}")


class CountryFilter(IncludeExclude):
    @field_validator("include", "exclude")
    @classmethod
    def _normalise(cls, values: list[str]) -> list[str]:
        return [_country_code(v) for v in values]


class StatusFilter(_Model):
    include: list[Literal["Active", "Inactive"]] = Field(default_factory=list)
    exclude: list[Literal["Active", "Inactive"]] = Field(default_factory=list)


class Filters(_Model):
    countries: CountryFilter = Field(default_factory=CountryFilter)
    teams: IncludeExclude = Field(default_factory=IncludeExclude)
    status: StatusFilter = Field(default_factory=StatusFilter)
    employment: IncludeExclude = Field(default_factory=IncludeExclude)


GroupType = Literal["OKTA_GROUP", "APP_GROUP"]


class MappingSettings(_Model):
    employment_attribute: str = Field(default="userType", description="Okta profile attribute holding the employment status.")
    team_group_types: list[GroupType] = Field(default_factory=lambda: ["OKTA_GROUP"], description="Okta group types whose groups are teams.")

    @field_validator("team_group_types")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("teamGroupTypes needs at least one group type")
        return sorted(set(value))


class InvitationSettings(_Model):
    enabled: bool = False
    dashboard_url: str | None = Field(default=None, description="The employee dashboard's URL, linked in the invitation.")
    from_: str | None = Field(default=None, alias="from", description='Sender, e.g. "People Ops <people-ops@example.com>".')
    smtp_secret_ref: SecretRef | None = Field(default=None, description="Secret with keys host, port, username, password, security.")

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
                if not value
            ]
            if missing:
                raise ValueError(f"invitations are enabled but {', '.join(missing)} not set")
        return self


_MAX_DEACTIVATIONS_RE = re.compile(r"^(\d+)(%?)$")


class SafetySettings(_Model):
    max_deactivations: str = Field(default="20%", description="Absolute count or percentage of the directory; a sync deactivating more is held.")

    @field_validator("max_deactivations", mode="before")
    @classmethod
    def _check(cls, value: Any) -> str:
        text = str(value).strip()
        match = _MAX_DEACTIVATIONS_RE.match(text)
        if match is None:
            raise ValueError(f"maxDeactivations {value!r} must be a count (e.g. 25) or a percentage (e.g. 20%)")
        if match.group(2) and int(match.group(1)) > 100:
            raise ValueError(f"maxDeactivations {value!r} is more than 100%")
        return text

    def limit(self, directory_size: int) -> int:
        """How many deactivations one sync may make in a directory of ``directory_size`` active rows."""
        text = self.max_deactivations
        if text.endswith("%"):
            return directory_size * int(text[:-1]) // 100
        return int(text)


class OktaIntegrationSpec(_Model):
    okta: OktaSettings
    sync: SyncSettings = Field(default_factory=SyncSettings)
    filters: Filters = Field(default_factory=Filters)
    mapping: MappingSettings = Field(default_factory=MappingSettings)
    invitations: InvitationSettings = Field(default_factory=InvitationSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)

    def sync_hash(self) -> str:
        """Hash of everything that decides which rows a sync produces (not interval or suspend)."""
        relevant = self.model_dump(
            mode="json",
            include={"okta": {"subdomain", "domain"}, "sync": {"scope", "email_source"}, "filters": True, "mapping": True},
        )
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    namespace: str | None = None


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

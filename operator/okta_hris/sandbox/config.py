"""Configuration of the Okta sandbox: the org to generate, rate limits, latency and faults."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from okta_hris.sandbox.hookconfig import HookDeliveryConfig, HookFault
from okta_hris.sandbox.oauth import DEFAULT_TOKEN_TTL, OAuthClientConfig

DEFAULT_TOKEN = "sandbox-token"

# The default user profile has no employeeType; many orgs add it as a custom attribute.
DEFAULT_CUSTOM_ATTRIBUTES: tuple[str, ...] = ("employeeType",)


class RateLimitConfig(BaseModel):
    """Requests allowed per bucket and window, and the org-wide concurrency cap.

    The defaults are Okta's last published per-minute limits. ``window`` is configurable so a
    benchmark or a test can run Okta's ratios in seconds instead of minutes.

    ``token_share`` is the share of each bucket the (single) API token may use. Okta's default
    for a token is 0.5 (half of each org-wide limit); the sandbox defaults to 1.0, the whole
    bucket, and reports the token's limit in ``X-Rate-Limit-Limit`` when a share is set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    users: int = Field(default=600, ge=1, description="/api/v1/users*")
    groups: int = Field(default=500, ge=1, description="/api/v1/groups*")
    logs: int = Field(default=120, ge=1, description="/api/v1/logs")
    other: int = Field(default=600, ge=1, description="every other path")
    window: float = Field(default=60.0, gt=0, description="seconds")
    concurrency: int = Field(default=75, ge=1, description="requests in flight per org")
    token_share: float = Field(
        default=1.0, gt=0.0, le=1.0, description="share of each bucket one token may use"
    )

    def limit_for(self, bucket: str) -> int:
        """The requests per window the token may make in the bucket (at least one)."""
        limit: int = getattr(self, bucket)
        return max(1, math.floor(limit * self.token_share))


class FaultKind(StrEnum):
    """What an injected fault does to the request it hits."""

    UNAUTHORIZED = "401"
    FORBIDDEN = "403"
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    BAD_GATEWAY = "502"
    UNAVAILABLE = "503"
    GATEWAY_TIMEOUT = "504"
    SLOW = "slow"  # answer normally after ``delay`` seconds (a client timeout, if it is short)
    DROP = "drop"  # reset the connection without sending a response


class Fault(BaseModel):
    """A deterministic fault.

    Which requests it hits: the ``on_request``-th request matching ``path_prefix`` (counted from
    when the fault is installed, so faults given in ``SandboxConfig`` count from start-up) and
    the ``count - 1`` matching requests after it; or, with ``probability``, each matching request
    with that probability, decided by a hash of (``fault_seed``, the fault's position, the
    request's number), so a given seed always hits the same requests; or, with neither, every
    matching request (an outage, until ``clear_faults``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    on_request: int | None = Field(default=None, ge=1)
    count: int = Field(default=1, ge=1)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    path_prefix: str | None = None
    delay: float = Field(default=5.0, ge=0.0, description="seconds, for kind 'slow'")

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if self.on_request is not None and self.probability is not None:
            raise ValueError("a fault takes on_request or probability, not both")
        return self

    def matches_path(self, path: str) -> bool:
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse the command line form: ``KIND[,on=N][,count=N][,p=X][,path=/api/...][,delay=S]``.

        Examples: ``503,on=5``; ``429,on=10,count=3,path=/api/v1/users``; ``drop,p=0.05``;
        ``slow,on=2,delay=30``.
        """
        aliases = {
            "on": "on_request",
            "n": "on_request",
            "p": "probability",
            "path": "path_prefix",
            "prefix": "path_prefix",
        }
        fields: dict[str, str] = {}
        for index, part in enumerate(p.strip() for p in spec.split(",")):
            if not part:
                continue
            if "=" not in part:
                if index != 0:
                    raise ValueError(f"fault {spec!r}: expected key=value, got {part!r}")
                fields["kind"] = part
                continue
            key, value = (s.strip() for s in part.split("=", 1))
            fields[aliases.get(key, key)] = value
        if "kind" not in fields:
            kinds = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"fault {spec!r} names no kind (one of {kinds})")
        return cls.model_validate(fields)


class SandboxConfig(BaseModel):
    """Everything a sandbox is started with. ``users=0, groups=0`` gives an empty org that
    holds only the built-in Everyone group, for tests that build exact scenarios."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(default=1000, ge=0)
    groups: int = Field(default=50, ge=0, description="groups besides Everyone")
    seed: int = 7
    token: str = DEFAULT_TOKEN
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    rate_limits: RateLimitConfig = RateLimitConfig()
    latency: float = Field(default=0.0, ge=0.0, description="seconds added to every request")
    faults: tuple[Fault, ...] = ()
    fault_seed: int = 0
    custom_attributes: tuple[str, ...] = DEFAULT_CUSTOM_ATTRIBUTES
    recorded_requests: int = Field(
        default=100_000, ge=0, description="how many of the latest requests to keep in requests"
    )
    oauth_clients: tuple[OAuthClientConfig, ...] = Field(
        default=(), description="OAuth service apps that may get access tokens (SPEC §10)"
    )
    oauth_token_ttl: int = Field(
        default=DEFAULT_TOKEN_TTL, ge=1, le=86_400, description="access token lifetime, seconds"
    )
    hook_delivery: HookDeliveryConfig = HookDeliveryConfig()
    hook_faults: tuple[HookFault, ...] = ()
    hook_fault_seed: int = 0

"""The operator's own knobs: scheduling and retry timing, and how it was launched.

``Settings`` (``okta_hris.settings``) holds what every command shares; ``ControllerConfig`` holds
what only the long-running operator needs. Both are read once, at start-up, from the same
environment. The timing knobs exist so a platform team can tune them and so tests run in
seconds instead of hours; the defaults are what production wants.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from okta_hris.controller.sharding import ShardSelector
from okta_hris.errors import ConfigError
from okta_hris.eventhooks import DEFAULT_HOOKS_ADDRESS, parse_hooks_address
from okta_hris.resource.spec import MIN_INTERVAL, parse_duration

# Longer than any sensible delay, short enough that now + it is always a valid time.
MAX_DURATION = timedelta(days=365)


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A Go-style duration (``90s``, ``5m``, ``1h``) or a plain number of seconds (``0.5``)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    problem = f"{name} must be a duration like 30s, 5m or 1h, or a number of seconds, not {raw!r}"
    try:
        seconds = float(raw)
    except ValueError:
        try:
            value = parse_duration(raw)
        except (ValueError, OverflowError):
            raise ConfigError(problem) from None
    else:
        if not math.isfinite(seconds):
            raise ConfigError(problem)
        if abs(seconds) > MAX_DURATION.total_seconds():
            raise ConfigError(f"{name} must not be longer than {MAX_DURATION.days} days")
        value = timedelta(seconds=seconds)
    if value < timedelta(0):
        raise ConfigError(f"{name} must not be negative")
    if value > MAX_DURATION:
        raise ConfigError(f"{name} must not be longer than {MAX_DURATION.days} days")
    return value


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1, not {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be between 0 and 1, not {raw!r}")
    return value


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class ControllerConfig:
    """Scheduling and retry timing of the operator."""

    # The shortest interval the operator honours, whatever spec.sync.interval says.
    min_interval: timedelta = MIN_INTERVAL
    # A random delay of up to this fraction of the interval (capped by max_jitter) is added to
    # every scheduled sync, so that integrations created together drift apart.
    jitter: float = 0.1
    max_jitter: timedelta = timedelta(minutes=5)
    # Syncs that fell due while no operator was running are spread over this window on start.
    restart_spread: timedelta = timedelta(minutes=1)
    # Transient failures (Okta unavailable, database errors) retry after this, doubling each
    # time up to retry_backoff_max (and never later than the next scheduled sync).
    retry_backoff: timedelta = timedelta(seconds=30)
    retry_backoff_max: timedelta = timedelta(minutes=15)
    # Permanent failures (401, 403, missing Secret) retry only on a spec or Secret change, or
    # after this long (or the interval, if that is longer): no retry storm against Okta.
    stalled_retry: timedelta = timedelta(hours=6)
    # An integration stalled on its token Secret reads it again this often (Secrets are not
    # watched); only a token other than the failing one retries the sync.
    secret_retry: timedelta = timedelta(seconds=30)
    # Refuse an SQLite directory that is not on persistent storage (an emptyDir, tmpfs, the
    # container's own file system): a restart would forget whom it invited.
    require_persistent_db: bool = False
    # Where the Okta Event Hooks receiver listens (HRIS_HOOKS_ADDRESS): plain HTTP behind the
    # cluster's TLS Ingress. Port 0 picks a free one (tests).
    hooks_address: tuple[str, int] = parse_hooks_address(DEFAULT_HOOKS_ADDRESS)
    # The OktaIntegrations this deployment owns (HRIS_SHARD_SELECTOR, ``--selector``): a label
    # selector sent to the API server with every list and watch. Empty: all of them.
    shard: ShardSelector = field(default_factory=ShardSelector)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ControllerConfig:
        env = os.environ if environ is None else environ
        defaults = cls()
        config = cls(
            min_interval=_duration(env, "HRIS_MIN_SYNC_INTERVAL", defaults.min_interval),
            jitter=_fraction(env, "HRIS_SYNC_JITTER", defaults.jitter),
            max_jitter=_duration(env, "HRIS_SYNC_MAX_JITTER", defaults.max_jitter),
            restart_spread=_duration(env, "HRIS_RESTART_SPREAD", defaults.restart_spread),
            retry_backoff=_duration(env, "HRIS_RETRY_BACKOFF", defaults.retry_backoff),
            retry_backoff_max=_duration(env, "HRIS_RETRY_BACKOFF_MAX", defaults.retry_backoff_max),
            stalled_retry=_duration(env, "HRIS_STALLED_RETRY", defaults.stalled_retry),
            secret_retry=_duration(env, "HRIS_SECRET_RETRY", defaults.secret_retry),
            require_persistent_db=_flag(
                env, "HRIS_REQUIRE_PERSISTENT_DB", defaults.require_persistent_db
            ),
            hooks_address=parse_hooks_address(
                env.get("HRIS_HOOKS_ADDRESS", "").strip() or DEFAULT_HOOKS_ADDRESS
            ),
            shard=ShardSelector.parse(
                env.get("HRIS_SHARD_SELECTOR"), source="HRIS_SHARD_SELECTOR (--selector)"
            ),
        )
        if config.min_interval <= timedelta(0):
            raise ConfigError("HRIS_MIN_SYNC_INTERVAL must be longer than zero")
        if config.retry_backoff <= timedelta(0):
            raise ConfigError("HRIS_RETRY_BACKOFF must be longer than zero")
        if config.secret_retry <= timedelta(0):
            raise ConfigError("HRIS_SECRET_RETRY must be longer than zero")
        if config.retry_backoff_max < config.retry_backoff:
            raise ConfigError("HRIS_RETRY_BACKOFF_MAX must not be shorter than HRIS_RETRY_BACKOFF")
        return config

    def check_ports(self, launch: LaunchOptions) -> None:
        """The hooks receiver cannot share a port with the liveness probe or the metrics."""
        port = self.hooks_address[1]
        for name, other in (
            ("--metrics-port", launch.metrics_port),
            ("--liveness-port", launch.liveness_port),
        ):
            if port and port == other:
                raise ConfigError(
                    f"HRIS_HOOKS_ADDRESS uses port {port}, as {name} does: they must differ"
                )


@dataclass(frozen=True)
class LaunchOptions:
    """How ``okta-hris run`` (or a test) started the operator; read by the start-up handler.

    ``kopf run -m okta_hris.controller.handlers`` passes none: the defaults apply.
    """

    metrics_host: str = "0.0.0.0"  # a pod serves metrics on all its interfaces
    metrics_port: int | None = 9090  # None: no metrics endpoint
    liveness_port: int | None = None  # Kopf's /healthz, when served (only to check for clashes)
    kubeconfig: str | None = None  # None: in-cluster, else $KUBECONFIG, else ~/.kube/config
    kube_context: str | None = None
    # The environment to read Settings and ControllerConfig from (None: the process's own).
    environ: Mapping[str, str] | None = field(default=None, repr=False)

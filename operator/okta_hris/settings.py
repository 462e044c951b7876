"""Operator settings, read once from the environment and validated (SPEC §7)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from okta_hris.domain.okta import DEFAULT_OKTA_DOMAINS
from okta_hris.errors import ConfigError


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "okta-hris"


def default_database_url() -> str:
    """The embedded SQLite directory: ``$HRIS_DATA_DIR/directory.db``."""
    data_dir = Path(os.environ.get("HRIS_DATA_DIR") or default_data_dir())
    return f"sqlite:///{data_dir / 'directory.db'}"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _without_credentials(url: str) -> str:
    """``url`` as it may appear in a message: a user or password in it is masked."""
    return re.sub(r"(//)[^/?#]*@", r"\1***@", url)


# An org's base URL is a host and perhaps a short path; httpx refuses URLs past 65,536.
MAX_OKTA_URL_LENGTH = 2048


def check_okta_url_override(url: str) -> str:
    """A base URL replacing ``https://<subdomain>.<domain>``: https anywhere, http only on loopback.

    Surrounding whitespace (a line break from ``$(cat file)``) is dropped; anything else that
    is no URL is one ``ConfigError`` line quoting it without a password.
    """
    url = url.strip()
    if len(url) > MAX_OKTA_URL_LENGTH:
        raise ConfigError(f"the Okta URL is longer than {MAX_OKTA_URL_LENGTH} characters")
    shown = repr(_without_credentials(url))
    if not url.isprintable() or " " in url:
        raise ConfigError(f"Okta URL {shown} must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: "http://[::1"
        raise ConfigError(f"Okta URL {shown} is not a valid URL") from None
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"Okta URL {shown} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Okta URL {shown} must be an absolute http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"Okta URL {shown} uses plain http; plain http is allowed only for loopback addresses"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"Okta URL {shown} must not carry credentials, a query or a fragment")
    return url.rstrip("/")


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    allowed_domains: tuple[str, ...] = DEFAULT_OKTA_DOMAINS
    okta_url: str | None = None
    # Each concurrent sync holds its org in memory (~250 MiB per 10k users) and they share one
    # process's CPU: bench/operator_memory.py measured 2 as the default worth its memory.
    max_concurrent_syncs: int = 2
    okta_max_retries: int = 6  # retries of one Okta request (429, 5xx, timeouts) before giving up
    # How long a sync's lease on its integration lasts unless renewed (renewed every quarter
    # of it): a sync killed without releasing it blocks the next one at most this long.
    sync_lease_seconds: int = 120

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, okta: bool = True) -> Settings:
        """The settings of ``environ`` (default: the process's), each checked.

        ``okta=False`` for commands that never call Okta (``okta-hris directory``): then
        ``HRIS_OKTA_URL`` is neither read nor checked, and a bad one cannot break them.
        """
        env = os.environ if environ is None else environ
        extra = [d.strip().lower() for d in env.get("HRIS_ALLOWED_DOMAINS", "").split(",")]
        domains = DEFAULT_OKTA_DOMAINS + tuple(
            d for d in extra if d and d not in DEFAULT_OKTA_DOMAINS
        )
        okta_url = (env.get("HRIS_OKTA_URL") or "").strip() if okta else ""
        if okta_url:
            okta_url = check_okta_url_override(okta_url)
        max_syncs = _whole_number(
            env, "HRIS_MAX_CONCURRENT_SYNCS", cls.max_concurrent_syncs, minimum=1, maximum=64
        )
        retries = _whole_number(env, "HRIS_OKTA_MAX_RETRIES", 6, minimum=0, maximum=100)
        lease = _whole_number(env, "HRIS_SYNC_LEASE_SECONDS", 120, minimum=1, maximum=86400)
        return cls(
            database_url=env.get("HRIS_DATABASE_URL") or default_database_url(),
            allowed_domains=domains,
            okta_url=okta_url or None,
            max_concurrent_syncs=max_syncs,
            okta_max_retries=retries,
            sync_lease_seconds=lease,
        )


def _whole_number(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int
) -> int:
    raw = env.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value

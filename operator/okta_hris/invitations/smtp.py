"""SMTP relay settings, read from the Secret named by ``spec.invitations.smtpSecretRef``.

The Secret's keys are ``host``, ``port``, ``username``, ``password`` and ``security``
(``starttls`` | ``tls`` | ``none``), plus an optional ``ca.crt`` (PEM) for relays whose
certificate is signed by a private CA (the key name cert-manager uses). The password never
appears in a repr, a log line or an error message: a relay may echo what it was sent (``535
bad credentials <password>``), so every relay text goes through :meth:`SmtpSettings.redact`.
"""

from __future__ import annotations

import base64
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import aiosmtplib

from okta_hris.errors import ConfigError, SecretNotFound

Security = Literal["starttls", "tls", "none"]
SECURITY_MODES: tuple[Security, ...] = get_args(Security)

# The ports that go with each mode when the Secret names none (RFC 8314 and RFC 6409).
DEFAULT_PORTS: dict[Security, int] = {"starttls": 587, "tls": 465, "none": 25}

# Each SMTP command (connect, MAIL, RCPT, DATA) gets this long to answer.
DEFAULT_TIMEOUT_S = 30.0
# What stands for the password in a relay's text; no markup (the CLI prints these lines).
REDACTED = "***"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit invitations. Build it with :meth:`from_secret_data`."""

    host: str
    port: int
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certificate: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_secret_data(
        cls, data: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> SmtpSettings:
        """Validate the (already base64-decoded) data of the SMTP Secret."""
        host = (data.get("host") or "").strip()
        if not host:
            raise SecretNotFound("the SMTP Secret has no 'host' key (the relay's host name)")
        if any(c.isspace() for c in host) or "/" in host:
            raise ConfigError(f"the SMTP Secret's 'host' {host!r} is not a host name")

        raw_security = (data.get("security") or "starttls").strip().lower()
        if raw_security not in SECURITY_MODES:
            raise ConfigError(
                f"the SMTP Secret's 'security' is {raw_security!r}; "
                f"use one of {', '.join(SECURITY_MODES)}"
            )
        security: Security = raw_security

        raw_port = (data.get("port") or "").strip()
        if not raw_port:
            port = DEFAULT_PORTS[security]
        else:
            try:
                port = int(raw_port)
            except ValueError:
                port = 0
            if not 1 <= port <= 65535:
                raise ConfigError(
                    f"the SMTP Secret's 'port' must be a port number (1-65535), not {raw_port!r}"
                )

        username = (data.get("username") or "").strip() or None
        # Taken as is: a password may legitimately start or end with a space.
        password = data.get("password") or None
        if password is not None and username is None:
            raise ConfigError("the SMTP Secret has a 'password' but no 'username'")
        if username is not None and password is None:
            raise SecretNotFound(
                f"the SMTP Secret has a 'username' ({username!r}) but no 'password'"
            )

        ca_certificate = (data.get("ca.crt") or "").strip() or None
        settings = cls(
            host=host,
            port=port,
            security=security,
            username=username,
            password=password,
            ca_certificate=ca_certificate,
            timeout=timeout,
        )
        if ca_certificate is not None:
            settings.tls_context()  # fail now, with a clear message, rather than at first send
        return settings

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verification on, trusting ``ca.crt`` when given."""
        try:
            return ssl.create_default_context(cadata=self.ca_certificate)
        except (ssl.SSLError, ValueError):
            raise ConfigError("the SMTP Secret's 'ca.crt' is not a PEM certificate") from None

    def client(self) -> aiosmtplib.SMTP:
        """An unconnected client; ``connect()`` negotiates TLS and logs in."""
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            # False, not None: None would upgrade only "if the server offers it", so a relay
            # that hides STARTTLS (or an attacker stripping it) would get the password in clear.
            start_tls=self.security == "starttls",
            tls_context=self.tls_context() if self.security != "none" else None,
            timeout=self.timeout,
        )

    def redact(self, text: str) -> str:
        """``text`` from the relay without the password in any form the client sent it in:
        as is, base64 (AUTH LOGIN) and the base64 AUTH PLAIN string with the username."""
        if not self.password:
            return text
        secrets = {self.password, _b64(self.password)}
        if self.username is not None:
            secrets |= {
                _b64(f"\0{self.username}\0{self.password}"),
                _b64(f"{self.username}\0{self.username}\0{self.password}"),
            }
        # Without padding too: a relay may quote the base64 without its trailing "=".
        forms = secrets | {bare for secret in secrets if (bare := secret.rstrip("="))}
        # Longest first: the AUTH PLAIN string may hold the plain password's own base64. In any
        # case: a relay may answer in capitals.
        pattern = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
        return re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)

    def describe(self) -> str:
        """The relay as it may appear in messages: no credentials."""
        return f"{self.host}:{self.port} ({self.security})"

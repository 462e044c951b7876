"""The invitation e-mail: a plain-text and an HTML part from the templates in ``templates/``.

Every value rendered into the HTML part is escaped with ``html.escape``: display names come
from Okta, where any admin or self-service profile edit can put markup in them. Header values
are made single-line before they reach a header, so a display name cannot add headers.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from functools import cache
from importlib import resources
from string import Template
from urllib.parse import urlsplit

from okta_hris.errors import ConfigError
from okta_hris.resource.spec import InvitationSettings

SUBJECT = Template("You're invited to the $company employee dashboard")

# Used only when the sender's domain cannot be written in ASCII (see invitation_message_id).
_FALLBACK_MESSAGE_ID_DOMAIN = "okta-hris.invalid"
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# RFC 5322 dot-atom, with any non-ASCII character allowed as atext (RFC 6532).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u00a0-\U0010ffff-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


class InvalidRecipient(ValueError):
    """The employee's work e-mail cannot be written as an address; retrying cannot help."""


@cache
def _template(name: str) -> Template:
    text = resources.files("okta_hris.invitations").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def _one_line(text: str) -> str:
    return " ".join(_CONTROL_CHARACTERS.sub(" ", text).split())


def _ascii_domain(domain: str) -> str:
    """The IDNA (punycode) form, so an internationalised domain needs no SMTPUTF8 relay."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def parse_address(text: str, display_name: str = "") -> Address:
    """``local@domain`` as an Address, the domain in IDNA form; raises ValueError.

    Python's own parser refuses non-ASCII local parts, which RFC 6531 allows (they need a
    relay with SMTPUTF8); quoted local parts and address literals are not accepted.
    """
    local, at, domain = text.strip().rpartition("@")
    ascii_domain = _ascii_domain(domain)
    if not at or not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(ascii_domain):
        raise ValueError(f"{text!r} is not an e-mail address")
    return Address(display_name=_one_line(display_name), username=local, domain=ascii_domain)


def parse_sender(text: str) -> Address:
    """``spec.invitations.from``, e.g. ``People Ops <people-ops@example.com>``."""
    header = default_policy.header_factory("From", text)
    addresses: tuple[Address, ...] = tuple(getattr(header, "addresses", ()))
    if (
        header.defects
        or len(addresses) != 1
        or not addresses[0].username
        or not addresses[0].domain
    ):
        raise ConfigError(
            f"spec.invitations.from {text!r} is not one address like "
            '"People Ops <people-ops@example.com>"'
        )
    sender = addresses[0]
    try:
        return parse_address(sender.addr_spec, sender.display_name)
    except ValueError:
        raise ConfigError(f"spec.invitations.from {text!r} is not a valid address") from None


def check_dashboard_url(url: str | None) -> str:
    """An absolute http(s) URL: anything else (``javascript:``) must never become a link."""
    text = url or ""
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or _CONTROL_CHARACTERS.search(text)
        or " " in text
    ):
        raise ConfigError(f"spec.invitations.dashboardUrl {url!r} must be an absolute http(s) URL")
    return text


def invitation_message_id(integration: str, okta_id: str, sender_domain: str) -> str:
    """The one Message-ID every attempt at this employee's invitation carries.

    A resend after a crash between the SMTP transaction and recording it then looks like the
    same message to mail systems that de-duplicate by Message-ID (docs/INVITATIONS.md).
    """
    digest = hashlib.sha256(f"{integration}/{okta_id}".encode()).hexdigest()[:32]
    domain = _ascii_domain(sender_domain.strip().lower())
    if not domain.isascii() or not domain:
        domain = _FALLBACK_MESSAGE_ID_DOMAIN
    return f"<invitation.{digest}@{domain}>"


@dataclass(frozen=True)
class InvitationComposer:
    """The validated, per-integration part of every invitation; builds one message per employee."""

    integration: str
    company: str
    sender: Address
    dashboard_url: str

    @classmethod
    def from_settings(
        cls, settings: InvitationSettings, *, integration: str, company: str
    ) -> InvitationComposer:
        """Raises ConfigError when ``from`` or ``dashboardUrl`` is missing or malformed."""
        if not settings.from_:
            raise ConfigError("spec.invitations.from is not set")
        company_name = _one_line(company)
        if not company_name:
            raise ConfigError("the company name of the invitation is empty")
        return cls(
            integration=integration,
            company=company_name,
            sender=parse_sender(settings.from_),
            dashboard_url=check_dashboard_url(settings.dashboard_url),
        )

    def subject(self) -> str:
        return SUBJECT.substitute(company=self.company)

    def message_id(self, okta_id: str) -> str:
        return invitation_message_id(self.integration, okta_id, self.sender.domain)

    def render(
        self, *, okta_id: str, display_name: str, email: str, date: datetime | None = None
    ) -> EmailMessage:
        """The message for one employee; raises InvalidRecipient for an unusable address."""
        try:
            recipient = parse_address(email, display_name)
        except ValueError as exc:
            raise InvalidRecipient(str(exc)) from None
        greeting = _one_line(display_name) or recipient.addr_spec
        subject = self.subject()
        values = {
            "display_name": greeting,
            "company": self.company,
            "dashboard_url": self.dashboard_url,
            "subject": subject,
        }

        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sender
        message["To"] = recipient
        message["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
        message["Message-ID"] = self.message_id(okta_id)
        # RFC 3834: tells vacation responders and ticket systems not to answer automatically.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(_template("invitation.txt").substitute(values), charset="utf-8")
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        message.add_alternative(
            _template("invitation.html").substitute(escaped), subtype="html", charset="utf-8"
        )
        return message


def render_invitation(
    settings: InvitationSettings,
    *,
    integration: str,
    company: str,
    okta_id: str,
    display_name: str,
    email: str,
    date: datetime | None = None,
) -> EmailMessage:
    """One employee's invitation (multipart/alternative: text/plain and text/html).

    Raises ConfigError for a bad ``from`` or ``dashboardUrl`` and InvalidRecipient for a
    work e-mail that is not an address.
    """
    composer = InvitationComposer.from_settings(settings, integration=integration, company=company)
    return composer.render(okta_id=okta_id, display_name=display_name, email=email, date=date)

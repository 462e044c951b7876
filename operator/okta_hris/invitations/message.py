"""The invitation e-mail: a plain-text and an HTML part from the templates in ``templates/``.

Every value rendered into the HTML part is escaped with ``html.escape``: display names come
from Okta, where any admin or self-service profile edit can put markup in them. Header values
are made single-line before they reach a header, and a display name holding an RFC 2047
encoded word travels encoded itself (``_set_address``), so a display name cannot add headers.

The company the e-mail names is ``spec.invitations.companyName`` and nothing else (SPEC §9):
without it the text names no company, never the resource's name or namespace, which are an
operator's identifiers and not what an employee knows the company by.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import base64mime
from email.header import Header
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
SUBJECT_WITHOUT_COMPANY = "You're invited to your employee dashboard"

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


@dataclass(frozen=True)
class InvitationWording:
    """The sentences of the e-mail that name the company, or name none."""

    subject: str
    invitation: str  # followed by ", where you can access product updates ..."
    directory: str  # after "because you were added to"

    @classmethod
    def for_company(cls, company: str | None) -> InvitationWording:
        if not company:
            return cls(
                subject=SUBJECT_WITHOUT_COMPANY,
                invitation="You have been invited to your employee dashboard",
                directory="the employee directory",
            )
        return cls(
            subject=SUBJECT.substitute(company=company),
            invitation=f"{company} has invited you to its employee dashboard",
            directory=f"the {company} employee directory",
        )


# Display names in From/To: longer ones are cut; plain ones up to this length go in as they
# are, longer ones are folded as encoded words (a plain one is one line: it must fit 998).
MAX_DISPLAY_NAME = 200
PLAIN_DISPLAY_NAME = 60
ENCODED_WORD_BYTES = 45
MAX_HEADER_LINE = 78  # email.policy.SMTP refolds (re-parses) a raw header with longer lines


@cache
def _template(name: str) -> Template:
    text = resources.files("okta_hris.invitations").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def _one_line(text: str) -> str:
    return " ".join(_CONTROL_CHARACTERS.sub(" ", text).split())


def _set_subject(message: EmailMessage, subject: str) -> None:
    """``Subject``, to be read as written.

    Text like ``=?utf-8?q?x?=`` is an RFC 2047 encoded word to every mail reader, and Python's
    email package both decodes it when the header is set and writes it out as it is. Such a
    subject therefore travels encoded itself (already folded), and decodes back to the literal.
    """
    if "=?" not in subject:
        message["Subject"] = subject
        return
    encoded = Header(subject, "utf-8", header_name="Subject").encode()
    message.set_raw("Subject", encoded)


def _set_address(message: EmailMessage, name: str, address: Address) -> None:
    """``From``/``To`` with the display name read as written, on lines a relay accepts.

    Plain text goes in as it is (Python quotes what needs quoting). A name that holds an RFC
    2047 encoded word (``=?utf-8?q?Ops=0D=0AReply-To=3A...?=``) would be decoded by the
    email package and every mail reader, into new header lines: such a name, and a long one,
    travels encoded itself, folded into words of at most 72 characters. A name longer than
    ``MAX_DISPLAY_NAME`` is cut: no address book needs more.
    """
    display = address.display_name
    if len(display) > MAX_DISPLAY_NAME:
        display = display[: MAX_DISPLAY_NAME - 1] + "…"
    if "=?" not in display and len(display) <= PLAIN_DISPLAY_NAME:
        message[name] = Address(display, address.username, address.domain)
        return
    angle_addr = f"<{address.addr_spec}>"
    if len(angle_addr) + 1 > MAX_HEADER_LINE:
        # A relay's policy would refold (and so decode) the header: the address alone.
        message[name] = Address("", address.username, address.domain)
        return
    # One word or the address per line, each within the line length the SMTP policy keeps
    # as it is (a longer line would be refolded from the decoded text).
    message.set_raw(name, "\n ".join([*_encoded_words(display), angle_addr]))


def _encoded_words(text: str) -> list[str]:
    """``text`` as base64 encoded words, each whole characters of at most 45 bytes (72
    characters encoded: ``From: `` and one fit a 78-character line).

    Not ``email.header.Header``: it leaves ASCII runs unencoded, encoded words in them too.
    """
    words: list[str] = []
    chunk = ""
    for char in text:
        if len((chunk + char).encode()) > ENCODED_WORD_BYTES:
            words.append(base64mime.header_encode(chunk, "utf-8"))
            chunk = ""
        chunk += char
    if chunk:
        words.append(base64mime.header_encode(chunk, "utf-8"))
    return words


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
    try:
        header = default_policy.header_factory("From", text)
    except ValueError:  # an encoded word that decodes to a line break, say
        header = None
    addresses: tuple[Address, ...] = tuple(getattr(header, "addresses", ()))
    if (
        header is None
        or header.defects
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
    wording: InvitationWording
    sender: Address
    dashboard_url: str

    @classmethod
    def from_settings(cls, settings: InvitationSettings, *, integration: str) -> InvitationComposer:
        """Raises ConfigError when ``from`` or ``dashboardUrl`` is missing or malformed.

        ``integration`` (``namespace/name``) only keys the Message-ID; it is never shown.
        """
        if not settings.from_:
            raise ConfigError("spec.invitations.from is not set")
        # The spec model already allows one line only; checked again, as for the other values.
        company = _one_line(settings.company_name or "") or None
        return cls(
            integration=integration,
            wording=InvitationWording.for_company(company),
            sender=parse_sender(settings.from_),
            dashboard_url=check_dashboard_url(settings.dashboard_url),
        )

    def subject(self) -> str:
        return self.wording.subject

    def message_id(self, okta_id: str) -> str:
        return invitation_message_id(self.integration, okta_id, self.sender.domain)

    def render(
        self, *, okta_id: str, display_name: str, email: str, date: datetime | None = None
    ) -> EmailMessage:
        """The message for one employee; raises InvalidRecipient for an unusable address."""
        # A lone surrogate cannot be encoded in any header or part: it becomes "?".
        display_name = display_name.encode(errors="replace").decode()
        try:
            recipient = parse_address(email, display_name)
        except ValueError as exc:
            raise InvalidRecipient(str(exc)) from None
        greeting = _one_line(display_name) or recipient.addr_spec
        subject = self.subject()
        values = {
            "display_name": greeting,
            "invitation": self.wording.invitation,
            "directory": self.wording.directory,
            "dashboard_url": self.dashboard_url,
            "subject": subject,
        }

        message = EmailMessage()
        _set_subject(message, subject)
        _set_address(message, "From", self.sender)
        _set_address(message, "To", recipient)
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
    okta_id: str,
    display_name: str,
    email: str,
    date: datetime | None = None,
) -> EmailMessage:
    """One employee's invitation (multipart/alternative: text/plain and text/html).

    Raises ConfigError for a bad ``from`` or ``dashboardUrl`` and InvalidRecipient for a
    work e-mail that is not an address.
    """
    composer = InvitationComposer.from_settings(settings, integration=integration)
    return composer.render(okta_id=okta_id, display_name=display_name, email=email, date=date)

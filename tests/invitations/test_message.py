"""render_invitation: the e-mail itself (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8, Policy
from email.policy import default as default_policy
from html import escape

import pytest

from okta_hris.errors import ConfigError
from okta_hris.invitations import InvalidRecipient, invitation_message_id, render_invitation
from okta_hris.resource.spec import InvitationSettings

from .support import DASHBOARD_URL, INTEGRATION, settings

DATE = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def render(
    display_name: str = "Ada Lovelace",
    email: str = "ada@acme.example",
    *,
    invitation_settings: InvitationSettings | None = None,
) -> EmailMessage:
    return render_invitation(
        invitation_settings or settings(),
        integration=INTEGRATION,
        okta_id="00u1",
        display_name=display_name,
        email=email,
        date=DATE,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_headers_and_both_parts() -> None:
    message = render()
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "You're invited to the Acme employee dashboard"
    assert str(message["From"]) == "People Ops <people-ops@acme.example>"
    assert str(message["To"]) == "Ada Lovelace <ada@acme.example>"
    assert message["Date"] == "Mon, 05 Jan 2026 09:30:00 +0000"
    assert message["Message-ID"] == invitation_message_id(INTEGRATION, "00u1", "acme.example")
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    assert "Hello Ada Lovelace," in text
    assert "Acme has invited you to its employee dashboard, where you can\naccess" in text
    assert "access product updates and confirm package deliveries" in text
    assert "added to\nthe Acme employee directory." in text
    assert DASHBOARD_URL in text
    assert f'<a href="{DASHBOARD_URL}"' in html
    assert "Hello Ada Lovelace," in html
    assert "<title>You&#x27;re invited to the Acme employee dashboard</title>" in html
    assert "Acme has invited you to its employee dashboard, where you can access" in html
    assert "the Acme employee directory." in html


def test_message_id_is_stable_per_employee_and_distinct_between_them() -> None:
    first = invitation_message_id(INTEGRATION, "00u1", "acme.example")
    assert first == invitation_message_id(INTEGRATION, "00u1", "acme.example")
    assert first != invitation_message_id(INTEGRATION, "00u2", "acme.example")
    assert first != invitation_message_id("other/acme", "00u1", "acme.example")
    assert first.startswith("<invitation.") and first.endswith("@acme.example>")
    assert render()["Message-ID"] == render()["Message-ID"]


def test_display_names_are_escaped_in_html() -> None:
    name = '<script>alert("x")</script> & <b>Bob</b>'
    company = "Smith & <i>Sons</i>"
    url = 'https://dashboard.example/?a=1&b="2"'
    message = render(name, invitation_settings=settings(dashboardUrl=url, companyName=company))
    text, html = parts(message)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Bob&lt;/b&gt;" in html
    assert "Smith &amp; &lt;i&gt;Sons&lt;/i&gt;" in html
    assert 'href="https://dashboard.example/?a=1&amp;b=&quot;2&quot;"' in html
    # The plain-text part is text: shown as written.
    assert f"Hello {name}," in text


def test_without_a_company_name_the_e_mail_names_no_company() -> None:
    """Not the resource's name or namespace either: they are the operator's identifiers."""
    message = render_invitation(
        settings(companyName=None),
        integration="people-ops/initech-hr",
        okta_id="00u1",
        display_name="Ada Lovelace",
        email="ada@acme.example",
        date=DATE,
    )
    subject = message["Subject"]
    assert subject == "You're invited to your employee dashboard"
    text, html = parts(message)
    assert "You have been invited to your employee dashboard, where you can\naccess" in text
    assert "added to\nthe employee directory." in text
    assert "You have been invited to your employee dashboard, where you can access" in html
    assert "<title>You&#x27;re invited to your employee dashboard</title>" in html
    for shown in (subject, text, html):
        assert "initech" not in shown.lower() and "people-ops" not in shown
        assert "Acme" not in shown


def sent_form(message: EmailMessage, policy: Policy = SMTP) -> tuple[bytes, EmailMessage]:
    """The header block as it goes on the wire, and the message as a mail reader parses it."""
    flat = message.as_bytes(policy=policy)
    return flat.split(b"\r\n\r\n", 1)[0], message_from_bytes(flat, policy=default_policy)


@pytest.mark.parametrize(
    "company",
    ["=?utf-8?q?x?=", "=?utf-8?b?QWNtZQ==?= Ltd", "Zoë =?iso-8859-1?q?=E9?= & Co", "Acme =? Inc"],
)
@pytest.mark.parametrize("policy", [SMTP, SMTPUTF8], ids=["ascii", "smtputf8"])
def test_an_encoded_word_in_the_company_name_is_sent_literally(
    company: str, policy: Policy
) -> None:
    """Written out as is, ``=?utf-8?q?x?=`` would be decoded by every mail reader."""
    message = render(invitation_settings=settings(companyName=company))
    subject = f"You're invited to the {company} employee dashboard"
    assert message["Subject"] == subject
    headers, received = sent_form(message, policy)
    assert company.encode() not in headers
    assert received["Subject"] == subject
    assert list(received.keys()) == list(render().keys())
    text, html = parts(received)
    assert f"{company} has invited you to its employee dashboard" in text
    assert f"{escape(company)} has invited you to its employee dashboard" in html
    assert f"<title>{escape(subject)}</title>" in html


def test_markup_in_the_company_name_is_escaped_in_html() -> None:
    message = render(invitation_settings=settings(companyName="<b>Acme</b>"))
    assert message["Subject"] == "You're invited to the <b>Acme</b> employee dashboard"
    text, html = parts(message)
    assert "<b>" not in html
    assert "&lt;b&gt;Acme&lt;/b&gt; has invited you to its employee dashboard" in html
    assert "the &lt;b&gt;Acme&lt;/b&gt; employee directory." in html
    assert (
        "<title>You&#x27;re invited to the &lt;b&gt;Acme&lt;/b&gt; employee dashboard</title>"
        in (html)
    )
    assert "<b>Acme</b> has invited you to its employee dashboard" in text  # text shows it as is


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\r\n", "\n", "\t"])
def test_a_company_name_cannot_add_headers(separator: str) -> None:
    """The model allows one line only, but U+2028 and U+0085 are line breaks to Python's
    email package; whatever reaches the composer is made one line again."""
    company = f"Acme{separator}Bcc: everyone@acme.example"
    unchecked = InvitationSettings.model_construct(
        enabled=True,
        dashboard_url=DASHBOARD_URL,
        from_="People Ops <people-ops@acme.example>",
        company_name=company,
    )
    message = render(invitation_settings=unchecked)
    assert message["Subject"] == (
        "You're invited to the Acme Bcc: everyone@acme.example employee dashboard"
    )
    headers, received = sent_form(message)
    assert received["Bcc"] is None
    assert not any(line.startswith(b"Bcc") for line in headers.split(b"\r\n"))


def test_the_company_name_is_trimmed_and_a_blank_one_names_no_company() -> None:
    assert render(invitation_settings=settings(companyName="  Acme   Corp  "))["Subject"] == (
        "You're invited to the Acme Corp employee dashboard"
    )
    blank = InvitationSettings.model_construct(
        enabled=True,
        dashboard_url=DASHBOARD_URL,
        from_="People Ops <people-ops@acme.example>",
        company_name=" \u2028 ",
    )
    assert render(invitation_settings=blank)["Subject"] == (
        "You're invited to your employee dashboard"
    )


def test_utf8_display_names_are_encoded_in_headers() -> None:
    message = render("Zoë Ångström 山田")
    flat = message.as_bytes(policy=SMTP)
    headers = flat.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert b"To: =?utf-8?" in headers
    parsed = message_from_bytes(flat, policy=default_policy)
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Ångström 山田", "ada@acme.example")
    assert "Hello Zoë Ångström 山田," in parts(parsed)[0]


def test_a_display_name_cannot_add_headers() -> None:
    message = render("Eve\r\nBcc: everyone@acme.example")
    assert message["Bcc"] is None
    assert message["To"].addresses[0].display_name == "Eve Bcc: everyone@acme.example"


def test_an_empty_display_name_greets_the_address() -> None:
    assert "Hello ada@acme.example," in parts(render(""))[0]


def test_internationalised_domains_use_idna() -> None:
    assert render(email="anna@bücher.example")["To"].addresses[0].domain == (
        "xn--bcher-kva.example"
    )


@pytest.mark.parametrize("email", ["", "ada", "ada@", "a b@acme.example", '"x"@acme.example'])
def test_an_unusable_work_email_is_refused(email: str) -> None:
    with pytest.raises(InvalidRecipient):
        render(email=email)


@pytest.mark.parametrize(
    ("dashboard_url", "sender", "problem"),
    [
        ("javascript:alert(1)", None, "dashboardUrl"),
        ("/relative", None, "dashboardUrl"),
        ("https://x.example/\nBcc: y", None, "dashboardUrl"),
        (None, "not an address", "from"),
        (None, "a@x.example, b@x.example", "from"),
    ],
)
def test_bad_settings_are_config_errors(
    dashboard_url: str | None, sender: str | None, problem: str
) -> None:
    """Checked again at render time, whatever validated (or did not validate) the spec."""
    unchecked = InvitationSettings.model_construct(
        enabled=True,
        dashboard_url=dashboard_url or DASHBOARD_URL,
        from_=sender or "People Ops <people-ops@acme.example>",
    )
    with pytest.raises(ConfigError, match=f"spec.invitations.{problem}"):
        render(invitation_settings=unchecked)


def test_a_lone_surrogate_in_a_display_name_becomes_a_question_mark() -> None:
    _, received = sent_form(render("Bad \ud800 name"))
    assert received["To"].addresses[0].display_name == "Bad ? name"
    assert "Hello Bad ? name," in parts(received)[0]


@pytest.mark.parametrize(
    "sender",
    [
        "=?utf-8?q?Ops=0D=0ABcc=3A_everyone=40acme.example?= <ops@acme.example>",
        "=?utf-8?q?Ops?= <ops@acme.example>, =?utf-8?q?x?= <x@evil.example>",
    ],
)
def test_a_sender_whose_name_decodes_to_more_is_refused_in_one_line(sender: str) -> None:
    """``spec.invitations.from`` is a manifest value: as hostile as an Okta name."""
    with pytest.raises(ConfigError, match=r"spec\.invitations\.from") as refused:
        render(invitation_settings=settings(**{"from": sender}))
    assert "\n" not in str(refused.value)

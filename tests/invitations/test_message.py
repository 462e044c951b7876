"""render_invitation: the e-mail itself (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.policy import default as default_policy

import pytest

from okta_hris.errors import ConfigError
from okta_hris.invitations import InvalidRecipient, invitation_message_id, render_invitation
from okta_hris.resource.spec import InvitationSettings

from .support import COMPANY, DASHBOARD_URL, INTEGRATION, settings

DATE = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def render(
    display_name: str = "Ada Lovelace",
    email: str = "ada@acme.example",
    *,
    company: str = COMPANY,
    invitation_settings: InvitationSettings | None = None,
) -> EmailMessage:
    return render_invitation(
        invitation_settings or settings(),
        integration=INTEGRATION,
        company=company,
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
    assert "access product updates and confirm package deliveries" in text
    assert DASHBOARD_URL in text
    assert f'<a href="{DASHBOARD_URL}"' in html
    assert "Hello Ada Lovelace," in html


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
    message = render(name, company=company, invitation_settings=settings(dashboardUrl=url))
    text, html = parts(message)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Bob&lt;/b&gt;" in html
    assert "Smith &amp; &lt;i&gt;Sons&lt;/i&gt;" in html
    assert 'href="https://dashboard.example/?a=1&amp;b=&quot;2&quot;"' in html
    # The plain-text part is text: shown as written.
    assert f"Hello {name}," in text


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

"""A relay that echoes the SMTP password (issue 13, item 5c): in no form does it reach
``invitations.last_error``, a log record, the delivery report or the line the CLI prints.

The relay is aiosmtpd on 127.0.0.1; the directory SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import logging
from collections import deque
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.invitations import deliver_pending
from okta_hris.invitations.delivery import describe_delivery

from .support import (
    INTEGRATION,
    Clock,
    Mailbox,
    employee,
    seed,
    settings,
    smtp_relay,
    smtp_settings,
)

USERNAME = "mailer"
PASSWORD = "Pa55-w0rd!x"  # its base64 ends in "=": the bare form is tried too


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Every form a relay could have been sent the password in (AUTH PLAIN, AUTH LOGIN), and so echo.
FORMS = {
    "plain": PASSWORD,
    "base64": _b64(PASSWORD),
    "base64 unpadded": _b64(PASSWORD).rstrip("="),
    "AUTH PLAIN": _b64(f"\0{USERNAME}\0{PASSWORD}"),
    "AUTH PLAIN with authzid": _b64(f"{USERNAME}\0{USERNAME}\0{PASSWORD}"),
}


def stored_errors(directory: Directory) -> list[str]:
    with directory.engine.connect() as connection:
        return [
            error
            for error in connection.execute(sa.select(schema.invitations.c.last_error)).scalars()
            if error is not None
        ]


def leaked(text: str) -> list[str]:
    return [name for name, form in FORMS.items() if form in text]


@pytest.mark.parametrize("form", list(FORMS))
async def test_a_login_refusal_echoing_the_password_is_redacted(
    directory: Directory,
    mailbox: Mailbox,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    form: str,
) -> None:
    seed(directory, [employee("00u1")])

    def echoing(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        return AuthResult(
            success=False,
            handled=False,
            message=f"535 5.7.8 {mechanism} credentials {FORMS[form]} for {USERNAME} invalid",
        )

    caplog.set_level(logging.DEBUG, logger="okta_hris")
    async with smtp_relay(
        mailbox, authenticator=echoing, auth_required=True, auth_require_tls=False
    ) as port:
        smtp = smtp_settings(port, username=USERNAME, password=PASSWORD)
        report = await deliver_pending(
            directory.outbox, INTEGRATION, settings(), smtp, now=clock, backoff_base=0.0
        )

    assert report.deferred == 1 and report.last_error is not None
    assert "refused the login: 535 5.7.8" in report.last_error and "***" in report.last_error
    assert f"for {USERNAME} invalid" in report.last_error  # the rest of the reply is kept
    everything = "\n".join(
        [
            *stored_errors(directory),
            *(record.getMessage() for record in caplog.records),
            repr(report),
            describe_delivery(report),
        ]
    )
    assert leaked(everything) == []


async def test_recipient_and_data_replies_echoing_the_password_are_redacted(
    directory: Directory, mailbox: Mailbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    mailbox.credentials = (USERNAME, PASSWORD)
    mailbox.rcpt_replies["00u1@acme.example"] = deque([f"451 4.3.0 try later, {PASSWORD}"])
    mailbox.data_replies.append(f"554 5.6.0 rejected ({FORMS['AUTH PLAIN']})")

    caplog.set_level(logging.DEBUG, logger="okta_hris")
    async with smtp_relay(mailbox, auth_require_tls=False) as port:
        smtp = smtp_settings(port, username=USERNAME, password=PASSWORD)
        report = await deliver_pending(
            directory.outbox, INTEGRATION, settings(), smtp, now=clock, backoff_base=60.0
        )

    assert (report.sent, report.failed, report.deferred) == (0, 1, 1)
    errors = stored_errors(directory)
    assert sorted(errors) == [
        "554 5.6.0 rejected (***)",
        "recipient refused: 451 4.3.0 try later, ***",
    ]
    logged = [record.getMessage() for record in caplog.records]
    assert leaked("\n".join([*errors, *logged, repr(report)])) == []

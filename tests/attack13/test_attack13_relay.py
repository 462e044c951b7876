"""Red team R1 on issue 13: a hostile SMTP relay's replies (aiosmtpd on 127.0.0.1, the directory
on SQLite and PostgreSQL).

Each test reproduces one finding and fails until it is fixed:
- a relay that upper-cases its reply carries the password past the (case-sensitive) redaction
  into ``invitations.last_error`` and the log;
- a relay's multi-line reply with terminal escapes is stored and logged as sent: several lines,
  ESC and BEL included, thousands of characters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from tests.invitations.support import (
    INTEGRATION,
    Clock,
    Mailbox,
    employee,
    seed,
    settings,
    smtp_relay,
    smtp_settings,
)

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.invitations import deliver_pending

USERNAME = "mailer"
PASSWORD = "Pa55-w0rd!x"


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def _stored_errors(directory: Directory) -> list[str]:
    with directory.engine.connect() as connection:
        column = schema.invitations.c.last_error
        return [e for e in connection.execute(sa.select(column)).scalars() if e is not None]


async def _refused_login(directory: Directory, reply: str, caplog: pytest.LogCaptureFixture) -> str:
    """Deliver one invitation through a relay refusing the login with ``reply``: everything
    the operator kept of it (stored error, log records), joined."""
    seed(directory, [employee("00u1")])

    def refusing(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        return AuthResult(success=False, handled=False, message=reply)

    caplog.set_level(logging.DEBUG, logger="okta_hris")
    async with smtp_relay(
        Mailbox(), authenticator=refusing, auth_required=True, auth_require_tls=False
    ) as port:
        smtp = smtp_settings(port, username=USERNAME, password=PASSWORD)
        report = await deliver_pending(
            directory.outbox, INTEGRATION, settings(), smtp, now=Clock(), backoff_base=0.0
        )
    assert report.deferred == 1
    return "\n".join([*_stored_errors(directory), *(r.getMessage() for r in caplog.records)])


async def test_a_relay_upper_casing_the_password_does_not_leak_it(
    directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    kept = await _refused_login(
        directory, f"535 5.7.8 AUTH FAILED FOR {USERNAME.upper()}/{PASSWORD.upper()}", caplog
    )
    assert "AUTH FAILED FOR" in kept
    assert PASSWORD.upper() not in kept.upper()


async def test_a_relay_reply_is_kept_as_one_bounded_line(
    directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    # aiosmtpd sends each "\r\n"-separated part as a line of a multi-line 535 reply.
    reply = (
        "535-5.7.8 no\x1b[2J\x1b]0;pwned\x07\r\n535-[/x] X-Injected: 1\r\n535 5.7.8 " + "A" * 5000
    )
    kept = await _refused_login(directory, reply, caplog)
    assert "\x1b" not in kept and "\x07" not in kept  # the log records too
    for error in _stored_errors(directory):
        assert "\n" not in error and "\r" not in error
        assert len(error) < 1000

"""Delivery end to end: the directory on SQLite and PostgreSQL, an aiosmtpd relay on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from dataclasses import asdict
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.outbox import Outbox
from okta_hris.directory.store import Directory
from okta_hris.errors import DirectoryError
from okta_hris.invitations import (
    DeliveryReport,
    deliver_pending,
    invitation_message_id,
)
from okta_hris.invitations.delivery import describe_delivery

from .support import (
    DASHBOARD_URL,
    INTEGRATION,
    Clock,
    Mailbox,
    employee,
    seed,
    settings,
    smtp_relay,
    smtp_settings,
    update_employees,
)


def rows(directory: Directory) -> dict[str, Any]:
    with directory.engine.connect() as conn:
        result = conn.execute(
            sa.select(schema.invitations).where(schema.invitations.c.integration == INTEGRATION)
        )
        return {row.okta_id: row for row in result}


async def deliver(directory: Directory, port: int, clock: Clock, **options: Any) -> DeliveryReport:
    options.setdefault("backoff_base", 0.0)
    return await deliver_pending(
        directory.outbox,
        INTEGRATION,
        settings(),
        smtp_settings(port),
        now=clock,
        **options,
    )


async def test_one_mail_per_queued_employee_and_none_on_the_next_run(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(
        directory,
        [
            employee("00u1", "Zoë Ångström-Núñez", "zoe@acme.example"),
            employee("00u2", "山田 太郎", "taro@acme.example"),
            employee("00u3", "Grace Hopper", "grace@acme.example"),
        ],
    )
    async with smtp_relay(mailbox) as port:
        report = await deliver(directory, port, clock)
        sent_at = clock.current
        clock.advance(days=1)
        again = await deliver(directory, port, clock)

    assert report == DeliveryReport(sent=3)
    assert again == DeliveryReport()
    assert mailbox.recipients() == ["grace@acme.example", "taro@acme.example", "zoe@acme.example"]
    assert mailbox.connections == 1  # one connection for the batch
    by_recipient = {item.rcpt_tos[0]: item for item in mailbox.received}
    zoe = by_recipient["zoe@acme.example"]
    assert zoe.mail_from == "people-ops@acme.example"
    message = zoe.message
    assert message["Subject"] == "You're invited to the Acme employee dashboard"
    assert message["To"].addresses[0].display_name == "Zoë Ångström-Núñez"
    assert message["To"].addresses[0].addr_spec == "zoe@acme.example"
    assert message["From"].addresses[0].display_name == "People Ops"
    assert message["Date"] is not None
    # The relay offers no SMTPUTF8 here: the UTF-8 name travels RFC 2047-encoded.
    assert b"=?utf-8?" in zoe.raw
    headers = zoe.raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Hello Zoë Ångström-Núñez," in text.get_content()
    assert DASHBOARD_URL in text.get_content()
    assert f'href="{DASHBOARD_URL}"' in html.get_content()
    taro = by_recipient["taro@acme.example"].message.get_body(("plain",))
    assert taro is not None and "Hello 山田 太郎," in taro.get_content()

    recorded = rows(directory)
    assert {r.status for r in recorded.values()} == {"sent"}
    assert recorded["00u1"].message_id == zoe.message_id
    assert recorded["00u1"].message_id == invitation_message_id(INTEGRATION, "00u1", "acme.example")
    assert recorded["00u1"].attempts == 1
    assert recorded["00u1"].sent_at == sent_at
    assert asdict(directory.outbox.counts(INTEGRATION)) == {
        "sent": 3,
        "pending": 0,
        "failed": 0,
    }


async def test_a_relay_that_is_down_is_logged_once_and_the_pending_counted(
    directory: Directory, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    seed(directory, [employee(f"00u{i:02}") for i in range(60)])
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="okta_hris.invitations")
    report = await deliver(directory, port, clock)

    # One batch was tried (its size aside), and every invitation is still pending.
    assert (report.sent, report.failed, report.pending) == (0, 0, 60)
    assert report.deferred > 0 and report.last_error is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"{report.deferred} invitations of {INTEGRATION} deferred: {report.last_error}"
    ]
    assert describe_delivery(report) == (
        f"0 sent, 0 failed, {report.deferred} to retry; 60 pending, next attempt after "
        f"{report.next_attempt_at:%Y-%m-%d %H:%M:%SZ}; last error: {report.last_error}"
    )


async def test_inactive_employees_are_not_mailed_until_they_return(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    update_employees(directory, [employee("00u2", active=False)], clock.current)
    async with smtp_relay(mailbox) as port:
        first = await deliver(directory, port, clock)
        update_employees(directory, [employee("00u2")], clock.current)
        second = await deliver(directory, port, clock)

    assert (first.sent, second.sent) == (1, 1)
    assert mailbox.recipients() == ["00u1@acme.example", "00u2@acme.example"]


async def test_transient_refusal_is_retried_with_backoff_then_sent(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    mailbox.rcpt_replies["00u1@acme.example"] = deque(["451 4.3.0 greylisted, try again later"])
    async with smtp_relay(mailbox) as port:
        first = await deliver(directory, port, clock, backoff_base=30.0)
        retry_at = clock.current + timedelta(seconds=30)
        early = await deliver(directory, port, clock, backoff_base=30.0)
        clock.advance(seconds=30)
        later = await deliver(directory, port, clock, backoff_base=30.0)

    assert first == DeliveryReport(
        sent=1,
        deferred=1,
        next_attempt_at=retry_at,
        last_error="recipient refused: 451 4.3.0 greylisted, try again later",
    )
    # Not due yet: nothing tried, and the report says why the invitation waits, and until when.
    assert early == DeliveryReport(
        next_attempt_at=retry_at,
        last_error="recipient refused: 451 4.3.0 greylisted, try again later",
    )
    assert early.pending == 1
    assert later == DeliveryReport(sent=1)
    assert mailbox.recipients() == ["00u1@acme.example", "00u2@acme.example"]
    recorded = rows(directory)["00u1"]
    assert (recorded.status, recorded.attempts, recorded.last_error) == ("sent", 2, None)


async def test_transient_failures_give_up_after_max_attempts(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1")])
    mailbox.rcpt_replies["00u1@acme.example"] = deque(["452 4.2.2 mailbox full"] * 10)
    async with smtp_relay(mailbox) as port:
        # A zero backoff makes each retry due at once, so one run goes through all attempts.
        report = await deliver(directory, port, clock, max_attempts=3)

    assert (report.sent, report.deferred, report.failed) == (0, 2, 1)
    recorded = rows(directory)["00u1"]
    assert recorded.status == "failed"
    assert recorded.attempts == 3
    assert recorded.last_error.startswith("recipient refused: 452 4.2.2 mailbox full")
    assert "gave up after 3 attempts" in recorded.last_error
    assert mailbox.received == []


async def test_permanent_refusal_fails_only_that_invitation(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1"), employee("00u2"), employee("00u3")])
    mailbox.refuse["00u2@acme.example"] = "550 5.1.1 no such user"
    async with smtp_relay(mailbox) as port:
        report = await deliver(directory, port, clock)
        again = await deliver(directory, port, clock)

    assert (report.sent, report.failed, report.deferred) == (2, 1, 0)
    assert again == DeliveryReport()  # a failed invitation is not retried
    assert mailbox.recipients() == ["00u1@acme.example", "00u3@acme.example"]
    assert mailbox.connections == 1
    failed = rows(directory)["00u2"]
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error == "recipient refused: 550 5.1.1 no such user"
    assert asdict(directory.outbox.counts(INTEGRATION)) == {
        "sent": 2,
        "pending": 0,
        "failed": 1,
    }


async def test_data_refusals_are_classified_by_code(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    mailbox.data_replies.extend(["554 5.7.1 message rejected as spam", "421 4.4.2 try later"])
    async with smtp_relay(mailbox) as port:
        report = await deliver(directory, port, clock, backoff_base=60.0)

    recorded = rows(directory)
    assert (report.sent, report.failed, report.deferred) == (0, 1, 1)
    assert recorded["00u1"].status == "failed"
    assert recorded["00u2"].status == "pending"


def _refuse_marking_sent(engine: sa.Engine) -> None:
    """A real database failure at the "mark sent" step: the process dies right after sending."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER crash_before_mark BEFORE UPDATE OF status ON invitations "
                "WHEN NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'simulated crash'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION crash_before_mark() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.status = 'sent' THEN RAISE EXCEPTION 'simulated crash'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER crash_before_mark BEFORE UPDATE ON invitations "
                "FOR EACH ROW EXECUTE FUNCTION crash_before_mark()"
            )


def _recover(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER crash_before_mark"
            + ("" if engine.dialect.name == "sqlite" else " ON invitations")
        )


async def test_crash_between_send_and_mark_resends_with_the_same_message_id(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    """The documented at-least-once window (docs/INVITATIONS.md).

    The relay accepted the message but the row could not be marked sent. The lease keeps
    other senders off the row until it expires; then the message goes out again with the
    identical Message-ID, so mail systems that de-duplicate by Message-ID show it once.
    """
    seed(directory, [employee("00u1", "Ada Lovelace", "ada@acme.example")])
    _refuse_marking_sent(directory.engine)
    async with smtp_relay(mailbox) as port:
        with pytest.raises(DirectoryError, match="simulated crash"):
            await deliver(directory, port, clock, lease=600.0)
        _recover(directory.engine)
        assert rows(directory)["00u1"].status == "pending"

        clock.advance(seconds=300)  # the crashed sender's lease still holds
        assert await deliver(directory, port, clock, lease=600.0) == DeliveryReport()

        clock.advance(seconds=301)  # the lease has expired
        report = await deliver(directory, port, clock, lease=600.0)

    assert report == DeliveryReport(sent=1)
    assert mailbox.recipients() == ["ada@acme.example", "ada@acme.example"]
    first, second = mailbox.received
    assert first.message_id == second.message_id
    assert rows(directory)["00u1"].message_id == first.message_id
    assert rows(directory)["00u1"].status == "sent"


async def test_two_concurrent_senders_send_each_invitation_once(
    database_url: str, directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    people = [employee(f"00u{i:02d}") for i in range(24)]
    seed(directory, people)
    # A second replica: its own engine, its own connection pool.
    with Directory.open(database_url) as replica:
        async with smtp_relay(mailbox) as port:
            smtp = smtp_settings(port)

            async def sender(outbox: Outbox) -> DeliveryReport:
                return await deliver_pending(
                    outbox, INTEGRATION, settings(), smtp, batch_size=3, now=clock
                )

            one, two = await asyncio.gather(sender(directory.outbox), sender(replica.outbox))

    assert one.sent + two.sent == len(people)
    assert mailbox.recipients() == sorted(f"{p.okta_id}@acme.example" for p in people)
    assert {r.status for r in rows(directory).values()} == {"sent"}


async def test_unreachable_relay_defers_the_batch(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1"), employee("00u2")])
    async with smtp_relay(mailbox) as port:
        pass  # closed: nothing listens on the port any more
    report = await deliver(directory, port, clock, backoff_base=60.0)

    assert (report.sent, report.failed, report.deferred) == (0, 0, 2)
    assert report.last_error is not None
    assert report.last_error.startswith(f"cannot use the SMTP relay 127.0.0.1:{port} (none)")
    assert report.next_attempt_at == clock.current + timedelta(seconds=60)
    assert {(r.status, r.attempts) for r in rows(directory).values()} == {("pending", 1)}


async def test_login_and_a_wrong_password(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1")])
    mailbox.credentials = ("mailer", "s3cret-pa55")
    async with smtp_relay(mailbox, auth_require_tls=False) as port:
        wrong = smtp_settings(port, username="mailer", password="not-the-pa55word")
        refused = await deliver_pending(directory.outbox, INTEGRATION, settings(), wrong, now=clock)
        right = smtp_settings(port, username="mailer", password="s3cret-pa55")
        clock.advance(hours=1)
        accepted = await deliver_pending(
            directory.outbox, INTEGRATION, settings(), right, now=clock
        )

    assert refused.deferred == 1
    assert refused.last_error is not None and "refused the login: 535" in refused.last_error
    assert "not-the-pa55word" not in repr(refused) + repr(rows(directory))
    assert accepted.sent == 1
    assert mailbox.recipients() == ["00u1@acme.example"]


async def test_international_addresses(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(
        directory,
        [
            employee("00u1", "Anna Müller", "anna@bücher.example"),
            employee("00u2", "Jürgen Groß", "jürgen@acme.example"),
        ],
    )
    async with smtp_relay(mailbox) as port:  # no SMTPUTF8
        plain = await deliver(directory, port, clock)
    smtputf8 = Mailbox()
    seed(
        directory,
        [employee("00u3", "Jürgen Groß", "jürgen@acme.example", integration="x/y")],
        integration="x/y",
    )
    async with smtp_relay(smtputf8, enable_SMTPUTF8=True) as port:
        utf8 = await deliver_pending(
            directory.outbox,
            "x/y",
            settings(),
            smtp_settings(port),
            now=clock,
        )

    # An internationalised domain is sent in its IDNA form and needs nothing from the relay.
    assert mailbox.recipients() == ["anna@xn--bcher-kva.example"]
    # A non-ASCII local part needs SMTPUTF8; without it no retry can help.
    assert (plain.sent, plain.failed) == (1, 1)
    assert "SMTPUTF8" in (rows(directory)["00u2"].last_error or "")
    assert utf8.sent == 1
    (received,) = smtputf8.received
    assert received.rcpt_tos == ["jürgen@acme.example"]
    assert "SMTPUTF8" in [o.upper() for o in received.mail_options]
    # With SMTPUTF8 the headers are UTF-8 as they are, not RFC 2047-encoded.
    assert "To: Jürgen Groß <jürgen@acme.example>\r\n".encode() in received.raw


async def test_an_invalid_work_email_fails_that_invitation_only(
    directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1", email="not an address"), employee("00u2")])
    async with smtp_relay(mailbox) as port:
        report = await deliver(directory, port, clock)

    assert (report.sent, report.failed) == (1, 1)
    assert rows(directory)["00u1"].last_error.startswith("invalid recipient address")
    assert mailbox.recipients() == ["00u2@acme.example"]


async def test_a_sender_running_out_of_lease_hands_back_the_rest(
    directory: Directory, mailbox: Mailbox
) -> None:
    """Each message takes most of a lease here: every invitation still goes out exactly once."""
    seed(directory, [employee(f"00u{i}") for i in range(4)])
    ticking = Clock()

    def slow_clock() -> datetime:
        ticking.advance(seconds=20)
        return ticking.current

    async with smtp_relay(mailbox) as port:
        report = await deliver_pending(
            directory.outbox,
            INTEGRATION,
            settings(),
            smtp_settings(port),  # 5 s timeout: a message needs 20 s of lease left
            lease=100.0,
            now=slow_clock,
        )

    assert report == DeliveryReport(sent=4)
    assert mailbox.recipients() == [f"00u{i}@acme.example" for i in range(4)]
    assert mailbox.connections == 1


# An Okta displayName that decodes, in any mail reader, into new header lines and a body.
INJECTING_NAME = "=?utf-8?q?Ops=0D=0AReply-To=3A_attacker=40evil.example=0D=0AX-Injected=3A_1?="
SPLICED_NAME = "Ann =?utf-8?b?QQ0KWC1JbmplY3RlZDogMQ==?= Lee"  # "A\r\nX-Injected: 1"


@pytest.mark.parametrize("smtputf8", [False, True], ids=["ascii", "smtputf8"])
async def test_hostile_display_names_add_no_header_and_fit_the_relays_lines(
    directory: Directory, clock: Clock, smtputf8: bool
) -> None:
    """Over a real relay: encoded words in a name travel encoded themselves, and a name of
    10,000 characters is cut and folded (it made the relay answer "500 Line too long")."""
    names = {"00u1": INJECTING_NAME, "00u2": SPLICED_NAME, "00u3": "Zoë " + "x" * 10_000}
    seed(directory, [employee(okta_id, name) for okta_id, name in names.items()])
    mailbox = Mailbox()
    async with smtp_relay(mailbox, enable_SMTPUTF8=smtputf8) as port:
        report = await deliver(directory, port, clock)
    assert report.sent == 3, report
    for received in mailbox.received:
        head = received.raw.split(b"\r\n\r\n", 1)[0]
        assert max(len(line) for line in head.split(b"\r\n")) <= 78
        parsed = message_from_bytes(received.raw, policy=default_policy)
        assert parsed["Reply-To"] is None and parsed["X-Injected"] is None
        assert list(parsed.keys()) == [
            "Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
            "MIME-Version", "Content-Type",
        ]  # fmt: skip
        (to,) = parsed["To"].addresses
        assert "\r" not in to.display_name and "\n" not in to.display_name
    shown = sorted(
        message_from_bytes(r.raw, policy=default_policy)["To"].addresses[0].display_name
        for r in mailbox.received
    )
    # Read literally (Python's parser puts a space between adjacent encoded words).
    assert shown[0].startswith("=?utf-8?q?Ops=0D=0AReply-To=3A_attacker")
    assert shown[1].replace(" ", "") == SPLICED_NAME.replace(" ", "")
    assert shown[2].startswith("Zoë xxx") and len(shown[2].replace(" ", "")) < 210

"""Encrypted relays: STARTTLS (port 587 style) and implicit TLS (port 465 style), with AUTH."""

from __future__ import annotations

from pathlib import Path

import pytest

from okta_hris.directory.store import Directory
from okta_hris.invitations import DeliveryReport, SmtpSettings, deliver_pending

from .support import (
    INTEGRATION,
    Clock,
    Mailbox,
    RelayCertificate,
    employee,
    make_certificate,
    seed,
    settings,
    smtp_data,
    smtp_relay,
)

CREDENTIALS = ("mailer", "s3cret-pa55")


@pytest.fixture
def certificate(tmp_path: Path) -> RelayCertificate:
    return make_certificate(tmp_path)


def secret(port: int, security: str, certificate: RelayCertificate) -> SmtpSettings:
    data = smtp_data(
        port,
        security=security,
        username=CREDENTIALS[0],
        password=CREDENTIALS[1],
        **{"ca.crt": certificate.ca_pem},
    )
    return SmtpSettings.from_secret_data(data, timeout=5.0)


async def test_starttls_with_login(
    directory: Directory, mailbox: Mailbox, clock: Clock, certificate: RelayCertificate
) -> None:
    seed(directory, [employee("00u1")])
    mailbox.credentials = CREDENTIALS
    # The relay refuses AUTH and mail before STARTTLS, so success proves the upgrade happened.
    async with smtp_relay(
        mailbox, tls_context=certificate.server_context, require_starttls=True
    ) as port:
        report = await deliver_pending(
            directory.outbox,
            INTEGRATION,
            settings(),
            secret(port, "starttls", certificate),
            now=clock,
        )
    assert report == DeliveryReport(sent=1)
    assert mailbox.recipients() == ["00u1@acme.example"]


async def test_implicit_tls_with_login(
    directory: Directory, mailbox: Mailbox, clock: Clock, certificate: RelayCertificate
) -> None:
    seed(directory, [employee("00u1")])
    mailbox.credentials = CREDENTIALS
    # aiosmtpd recognises only STARTTLS as TLS for AUTH; here the socket itself is TLS, which
    # the client must negotiate before the relay says a word.
    async with smtp_relay(
        mailbox, implicit_tls=certificate.server_context, auth_require_tls=False
    ) as port:
        report = await deliver_pending(
            directory.outbox,
            INTEGRATION,
            settings(),
            secret(port, "tls", certificate),
            now=clock,
        )
    assert report == DeliveryReport(sent=1)
    assert mailbox.recipients() == ["00u1@acme.example"]


async def test_an_untrusted_certificate_is_refused(
    tmp_path: Path, directory: Directory, mailbox: Mailbox, clock: Clock
) -> None:
    seed(directory, [employee("00u1")])
    served = make_certificate(tmp_path / "served")
    trusted = make_certificate(tmp_path / "trusted")  # another CA
    async with smtp_relay(
        mailbox, tls_context=served.server_context, require_starttls=True
    ) as port:
        report = await deliver_pending(
            directory.outbox,
            INTEGRATION,
            settings(),
            secret(port, "starttls", trusted),
            backoff_base=60.0,
            now=clock,
        )
    assert (report.sent, report.deferred) == (0, 1)
    assert report.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in report.last_error
    assert mailbox.received == []

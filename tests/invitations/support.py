"""Builders and a scriptable SMTP relay (aiosmtpd) for the invitation tests."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import ssl
import subprocess
import warnings
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, SyncState
from okta_hris.domain.employees import EmployeeRow
from okta_hris.domain.invitations import InvitationRequest
from okta_hris.invitations import SmtpSettings
from okta_hris.resource.spec import InvitationSettings

INTEGRATION = "people-ops/acme"
COMPANY = "Acme"
DASHBOARD_URL = "https://dashboard.acme.example/welcome"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def settings(**overrides: Any) -> InvitationSettings:
    body: dict[str, Any] = {
        "enabled": True,
        "dashboardUrl": DASHBOARD_URL,
        "from": "People Ops <people-ops@acme.example>",
        "companyName": COMPANY,
        "smtpSecretRef": {"name": "smtp"},
    }
    body.update(overrides)
    return InvitationSettings.model_validate(body)


def employee(
    okta_id: str,
    display_name: str = "Ada Lovelace",
    email: str | None = None,
    *,
    active: bool = True,
    okta_status: str | None = None,
    first_synced_at: datetime = T0,
    integration: str = INTEGRATION,
) -> EmployeeRow:
    return EmployeeRow(
        okta_id=okta_id,
        okta_status=okta_status or ("ACTIVE" if active else "STAGED"),
        active=active,
        display_name=display_name,
        work_email=email if email is not None else f"{okta_id}@acme.example",
        okta_last_updated=first_synced_at,
        integration=integration,
        first_synced_at=first_synced_at,
        last_synced_at=first_synced_at,
        deactivated_at=None if active else first_synced_at,
    )


def seed(
    directory: Directory,
    rows: list[EmployeeRow],
    *,
    invite: bool = True,
    synced_at: datetime = T0,
    integration: str = INTEGRATION,
) -> None:
    """One sync's apply: the employees, and (``invite``) their invitations in the same transaction."""
    directory.apply(
        DirectoryChanges(
            integration=integration,
            synced_at=synced_at,
            employees_create=tuple(rows),
            invitations_queue=tuple(
                InvitationRequest(okta_id=row.okta_id, email=row.work_email or "")
                for row in rows
                if invite
            ),
            sync_state=SyncState(invitations_enabled_at=T0),
        )
    )


def update_employees(directory: Directory, rows: list[EmployeeRow], synced_at: datetime) -> None:
    directory.apply(
        DirectoryChanges(
            integration=INTEGRATION,
            synced_at=synced_at,
            employees_update=tuple(rows),
            sync_state=SyncState(invitations_enabled_at=T0),
        )
    )


class Clock:
    """The ``now`` of a delivery run; moved by the test, never read from the wall."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=default_policy)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; answers RCPT and DATA as the test scripts.

    ``rcpt_replies[address]`` holds replies given to the next RCPTs of that address, one each,
    before it is accepted again; ``refuse[address]`` is given to every RCPT of it.
    """

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, deque[str]] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)
    data_replies: deque[str] = field(default_factory=deque)
    connections: int = 0
    credentials: tuple[str, str] | None = None  # (username, password) the relay accepts

    def recipients(self) -> list[str]:
        return sorted(address for item in self.received for address in item.rcpt_tos)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        scripted = self.rcpt_replies.get(address)
        if scripted:
            return scripted.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.popleft()
        assert isinstance(envelope.content, bytes)
        self.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                mail_options=list(envelope.mail_options),
                raw=envelope.content,
            )
        )
        return "250 2.0.0 queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        wanted = self.credentials
        ok = (
            wanted is not None
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == wanted
        )
        # handled=False: aiosmtpd answers 535 itself on failure.
        return AuthResult(success=ok, handled=False)


@asynccontextmanager
async def smtp_relay(
    mailbox: Mailbox, *, implicit_tls: ssl.SSLContext | None = None, **smtp_options: Any
) -> AsyncIterator[int]:
    """Serve ``mailbox`` on 127.0.0.1 in the test's own event loop; yields the port."""
    loop = asyncio.get_running_loop()
    if mailbox.credentials is not None:
        smtp_options.setdefault("authenticator", mailbox.authenticate)
        smtp_options.setdefault("auth_required", True)

    def factory() -> SMTP:
        mailbox.connections += 1
        with warnings.catch_warnings():
            # Tests that log in without TLS do so on purpose (the relay's "none" security).
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SMTP(mailbox, hostname="relay.test", loop=loop, **smtp_options)

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=implicit_tls)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


def smtp_data(port: int, **extra: str) -> dict[str, str]:
    """The SMTP Secret's data for a relay on 127.0.0.1."""
    data = {"host": "127.0.0.1", "port": str(port), "security": "none"}
    data.update(extra)
    return data


def smtp_settings(port: int, **extra: str) -> SmtpSettings:
    # A short timeout: a relay that stops answering fails the test quickly instead of hanging.
    return SmtpSettings.from_secret_data(smtp_data(port, **extra), timeout=5.0)


@dataclass(frozen=True)
class RelayCertificate:
    ca_pem: str
    server_context: ssl.SSLContext


def make_certificate(tmp_path: Path) -> RelayCertificate:
    """A certificate for 127.0.0.1 from ``cryptography``, else the ``openssl`` CLI, else skip."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    try:
        import cryptography  # noqa: F401
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl CLI is available")
        return _certificate_from_openssl(tmp_path)
    return _certificate_from_cryptography(tmp_path)


def _certificate_from_openssl(tmp_path: Path) -> RelayCertificate:
    cert_file = tmp_path / "relay.crt"
    key_file = tmp_path / "relay.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key_file),
            "-out",
            str(cert_file),
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return RelayCertificate(ca_pem=cert_file.read_text(), server_context=context)


def _certificate_from_cryptography(tmp_path: Path) -> RelayCertificate:
    """A private CA and a server certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    validity = (now - timedelta(days=1), now + timedelta(days=1))

    def build(
        subject: str, issuer: x509.Name | None, public: Any, signer: Any, ca: bool
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            ).add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("okta-hris test CA", None, ca_key.public_key(), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = build("127.0.0.1", ca_cert.subject, server_key.public_key(), ca_key, ca=False)

    cert_file = tmp_path / "relay.crt"
    key_file = tmp_path / "relay.key"
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    return RelayCertificate(ca_pem=ca_pem, server_context=context)

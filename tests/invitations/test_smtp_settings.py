"""SmtpSettings.from_secret_data: the SMTP Secret's keys, validated, the password kept out of sight."""

from __future__ import annotations

import pytest

from okta_hris.errors import ConfigError, SecretNotFound
from okta_hris.invitations import SmtpSettings

PASSWORD = "hunter2-Zq9!"


def test_full_secret() -> None:
    smtp = SmtpSettings.from_secret_data(
        {
            "host": " smtp.example.com ",
            "port": "2525",
            "username": "mailer",
            "password": PASSWORD,
            "security": "TLS",
        }
    )
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.password) == (
        "smtp.example.com",
        2525,
        "tls",
        "mailer",
        PASSWORD,
    )
    assert PASSWORD not in repr(smtp)
    assert PASSWORD not in smtp.describe()


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_default_port_follows_security(security: str, port: int) -> None:
    smtp = SmtpSettings.from_secret_data({"host": "smtp.example.com", "security": security})
    assert (smtp.security, smtp.port) == (security, port)


def test_starttls_is_the_default() -> None:
    assert SmtpSettings.from_secret_data({"host": "smtp.example.com"}).security == "starttls"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({}, SecretNotFound, "no 'host' key"),
        ({"host": "a b"}, ConfigError, "'host' 'a b' is not a host name"),
        ({"host": "smtp.example.com", "port": "smtp"}, ConfigError, "'port' must be a port"),
        ({"host": "smtp.example.com", "port": "70000"}, ConfigError, "'port' must be a port"),
        ({"host": "smtp.example.com", "security": "ssl"}, ConfigError, "starttls, tls, none"),
        ({"host": "smtp.example.com", "password": PASSWORD}, ConfigError, "no 'username'"),
        ({"host": "smtp.example.com", "username": "mailer"}, SecretNotFound, "no 'password'"),
        ({"host": "smtp.example.com", "ca.crt": "not PEM"}, ConfigError, "'ca.crt'"),
    ],
)
def test_invalid_secrets_are_named_clearly(
    data: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        SmtpSettings.from_secret_data(data)
    assert PASSWORD not in str(caught.value)

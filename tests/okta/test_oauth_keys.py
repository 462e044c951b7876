"""Service app keys as found in a Secret, and the assertions signed with them."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from okta_hris.errors import SecretNotFound
from okta_hris.okta import OAuthServiceApp
from okta_hris.okta.oauth import ASSERTION_LIFETIME, load_private_key
from okta_hris.resource.spec import OAuthSettings

from ..support.oauth import CLIENT_ID, private_key, private_pem, public_pem, service_app

SOURCE = 'key "private.pem" of Secret "okta-oauth-key"'
TOKEN_URL = "https://acme.okta.com/oauth2/v1/token"


def _pem(key: object, password: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _hostile_values() -> dict[str, str]:
    rsa_pem = private_pem(private_key("rsa"))
    return {
        "empty": "  \n",
        "garbage": "not a key at all",
        "truncated PEM": rsa_pem[: len(rsa_pem) // 2],
        "NUL inside": rsa_pem.replace("\n", "\x00", 3),
        "huge": "-----BEGIN PRIVATE KEY-----\n" + "A" * 200_000 + "\n-----END PRIVATE KEY-----",
        "encrypted": _pem(private_key("ec"), b"pass phrase"),
        "encrypted, OpenSSL's legacy form": private_key("rsa")
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(b"pass phrase"),
        )
        .decode(),
        "RSA 1024": _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "Ed25519": _pem(ed25519.Ed25519PrivateKey.generate()),
        "EC P-384": _pem(ec.generate_private_key(ec.SECP384R1())),
        "public key": public_pem(private_key("rsa")),
        "JWK": '{"kty": "RSA", "d": "secret-part", "n": "..."}',
        "lone surrogate": "-----BEGIN PRIVATE KEY-----\n\ud800\n-----END PRIVATE KEY-----",
    }


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("empty", "is empty"),
        ("garbage", "is not a PEM private key"),
        ("truncated PEM", "is not a PEM private key"),
        ("NUL inside", "is not a PEM private key"),
        ("huge", "is too long to be a private key"),
        ("encrypted", "encrypted"),
        ("encrypted, OpenSSL's legacy form", "encrypted"),
        ("RSA 1024", "1024 bits"),
        ("Ed25519", "Ed25519"),
        ("EC P-384", "secp384r1"),
        ("public key", "not the private key"),
        ("JWK", "JWK"),
        ("lone surrogate", "is not a PEM private key"),
    ],
)
def test_an_unusable_key_is_one_line_naming_the_secret_never_the_value(
    case: str, says: str
) -> None:
    value = _hostile_values()[case]
    with pytest.raises(SecretNotFound) as raised:
        load_private_key(value, SOURCE)
    message = str(raised.value)
    assert message.startswith(SOURCE)
    assert says in message
    assert "\n" not in message and len(message) < 200
    for line in value.splitlines():
        if len(line) > 16 and "-----" not in line:  # the PEM armour is no secret
            assert line not in message


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_the_assertion_is_what_okta_asks_for(kind: str) -> None:
    key = private_key(kind)  # type: ignore[arg-type]
    settings = OAuthSettings.model_validate(
        {"client_id": CLIENT_ID, "private_key_secret_ref": {"name": "k"}, "key_id": "kid-1"}
    )
    app = OAuthServiceApp.from_settings(settings, "\n" + private_pem(key) + "\n", SOURCE)
    before = int(time.time())

    first, second = app.assertion(TOKEN_URL), app.assertion(TOKEN_URL)

    algorithm = "RS256" if kind == "rsa" else "ES256"
    assert jwt.get_unverified_header(first) == {"alg": algorithm, "typ": "JWT", "kid": "kid-1"}
    claims = jwt.decode(first, key.public_key(), algorithms=[algorithm], audience=TOKEN_URL)
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == ASSERTION_LIFETIME <= 300
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]


def test_the_key_stays_out_of_the_apps_repr_and_equality_goes_by_fingerprint() -> None:
    pem = private_pem(private_key("rsa"))
    app = service_app(private_key("rsa"))
    body = "".join(pem.splitlines()[1:-1])
    assert body[:40] not in repr(app) and "PRIVATE" not in repr(app)
    assert app == service_app(private_key("rsa"))
    assert app != service_app(private_key("rsa", 1))
    assert app.fingerprint != service_app(private_key("rsa", 1)).fingerprint

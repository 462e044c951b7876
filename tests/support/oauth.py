"""OAuth service apps for tests: key pairs, their PEM text, and the sandbox's registration."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from okta_hris.okta import OAuthServiceApp
from okta_hris.resource.spec import OAuthSettings
from okta_hris.sandbox.oauth import ASSERTION_TYPE, OAuthClientConfig

KeyKind = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CLIENT_ID = "0oa1b2c3d4e5f6g7h8i9"


def private_key(kind: KeyKind = "rsa", number: int = 0) -> PrivateKey:
    """A key pair of ``kind``; ``number`` tells several apart. Cached: RSA keys are slow to make."""
    return _key(kind, number)


@functools.cache
def _key(kind: KeyKind, number: int) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def registered(
    key: PrivateKey, client_id: str = CLIENT_ID, scopes: Sequence[str] | None = None
) -> OAuthClientConfig:
    """The sandbox's record of the service app whose private key is ``key``."""
    return OAuthClientConfig(
        client_id=client_id,
        public_key_pem=public_pem(key),
        scopes=None if scopes is None else tuple(scopes),
    )


def service_app(
    key: PrivateKey, client_id: str = CLIENT_ID, scopes: Sequence[str] | None = None
) -> OAuthServiceApp:
    """The client side: what the operator builds from ``spec.okta.oauth`` and the key Secret."""
    settings: dict[str, Any] = {"client_id": client_id, "private_key_secret_ref": {"name": "k"}}
    if scopes is not None:
        settings["scopes"] = list(scopes)
    return OAuthServiceApp.from_settings(
        OAuthSettings.model_validate(settings), private_pem(key), 'key "private.pem" of Secret "k"'
    )


def assertion(
    key: PrivateKey,
    token_url: str,
    *,
    client_id: str = CLIENT_ID,
    algorithm: str | None = None,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A client assertion as a test wants it: valid, unless ``claims`` say otherwise (a claim
    given as None is left out)."""
    now = int(time.time())
    body: dict[str, Any] = {
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    alg = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def token_form(signed: str, scope: str = "okta.users.read okta.groups.read") -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }

"""The sandbox's OAuth 2.0 service apps: Okta's org token endpoint and its scoped access tokens.

``POST /oauth2/v1/token`` takes the client-credentials grant with a ``private_key_jwt`` assertion
and checks it as Okta does: the signature against the app's registered public key, ``aud`` the
token URL, ``iss`` = ``sub`` = the client id, ``exp`` in the future and at most an hour away,
a ``jti`` never seen before, the scopes asked for all granted to the app. Errors are OAuth's
``{"error", "error_description"}`` with Okta's status codes (401 for ``invalid_client``, 400 for
the rest). Issued tokens are opaque random strings; every Management API endpoint then wants
its scope (``required_scope``): a token without it gets 403 and
``WWW-Authenticate: Bearer error="insufficient_scope"``, an unknown or expired one 401 and
``error="invalid_token"``.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from okta_hris.sandbox import errors

TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_TOKEN_TTL = 3600
MAX_ASSERTION_LIFETIME = 3600  # Okta refuses an assertion that expires later than an hour away
CLOCK_LEEWAY = 30  # seconds an iat or nbf may be ahead of our clock
# Bounds on what a flood of requests can make the sandbox remember.
MAX_LIVE_TOKENS = 10_000
MAX_USED_ASSERTIONS = 100_000

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_READ_SCOPE = re.compile(r"okta\.[A-Za-z]+(\.[A-Za-z]+)*\.read")
# Management API path prefixes and the resource of their scopes (okta.<resource>.read|manage).
_SCOPED_PATHS = (
    ("/api/v1/users", "users"),
    ("/api/v1/groups", "groups"),
    ("/api/v1/logs", "logs"),
    ("/api/v1/eventHooks", "eventHooks"),
)


def required_scope(method: str, path: str) -> str | None:
    """The scope an access token needs for ``method path`` (None: no Management API resource).

    Reads want ``okta.<resource>.read``, writes ``okta.<resource>.manage``, as in Okta's OpenAPI
    spec; a ``manage`` scope also allows the reads (``allows``).
    """
    for prefix, resource in _SCOPED_PATHS:
        if path == prefix or path.startswith(prefix + "/"):
            action = "read" if method in ("GET", "HEAD") else "manage"
            return f"okta.{resource}.{action}"
    return None


def allows(scopes: frozenset[str], needed: str) -> bool:
    return needed in scopes or (
        needed.endswith(".read") and needed.removesuffix(".read") + ".manage" in scopes
    )


def _public_key(pem: str) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public key in ``pem``: a public key, or (for convenience) the private key itself."""
    data = pem.encode("utf-8")
    key: Any
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise ValueError("is not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey) or (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    raise ValueError("is neither an RSA nor an EC P-256 key")


# The longest assertion id the sandbox remembers for replay checks.
MAX_JTI_LENGTH = 256


class OAuthClientConfig(BaseModel):
    """A service app registered with the sandbox: its client id, its public key, its scopes.

    ``scopes`` are those granted to the app; None grants every ``okta.*.read`` scope (an app
    for read-only syncs), so a ``manage`` scope must be granted by name. ``key_id``, if set, is
    the ``kid`` an assertion's header must carry when it carries one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    public_key_pem: str = Field(repr=False)
    scopes: tuple[str, ...] | None = None
    key_id: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _CLIENT_ID.fullmatch(self.client_id):
            raise ValueError(f"{self.client_id!r} is not a client id (letters, digits, - and _)")
        try:
            _public_key(self.public_key_pem)
        except ValueError as problem:
            raise ValueError(f"the key of OAuth client {self.client_id} {problem}") from None
        return self

    def grants(self, scope: str) -> bool:
        return (
            _READ_SCOPE.fullmatch(scope) is not None
            if self.scopes is None
            else (scope in self.scopes)
        )


@dataclass(frozen=True)
class _Grant:
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # time.time()


class _Refused(Exception):
    """An OAuth error answer of the token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def _invalid_client(description: str) -> _Refused:
    return _Refused(401, "invalid_client", description)


class OAuthServer:
    """The token endpoint and the access tokens it issued. Thread-safe: the sandbox's own
    loop serves it, tests read it from theirs."""

    def __init__(self, clients: Sequence[OAuthClientConfig], token_ttl: int) -> None:
        self._clients: Mapping[str, OAuthClientConfig] = {c.client_id: c for c in clients}
        self._keys = {c.client_id: _public_key(c.public_key_pem) for c in clients}
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._tokens: dict[str, _Grant] = {}
        self._used: dict[tuple[str, str], float] = {}  # (client id, jti) -> the assertion's exp
        self.issued = 0

    @property
    def access_tokens(self) -> tuple[str, ...]:
        """The tokens issued and not yet evicted (for tests that look for a leaked one)."""
        with self._lock:
            return tuple(self._tokens)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(TOKEN_PATH, self.token_endpoint)

    # --- the token endpoint -------------------------------------------------------------------

    async def token_endpoint(self, request: web.Request) -> web.Response:
        try:
            if request.content_type != "application/x-www-form-urlencoded":
                raise _Refused(
                    400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
                )
            form = await request.post()
            fields = {name: value for name, value in form.items() if isinstance(value, str)}
            token_url = f"{request.scheme}://{request.host}{TOKEN_PATH}"
            grant = self._grant(fields, token_url, time.time())
        except _Refused as refused:
            response = web.json_response(
                {"error": refused.error, "error_description": refused.description},
                status=refused.status,
            )
        else:
            response = web.json_response(
                {
                    "token_type": "Bearer",
                    "expires_in": self.token_ttl,
                    "access_token": self._issue(grant),
                    "scope": " ".join(sorted(grant.scopes)),
                }
            )
        # RFC 6749 §5.1: token responses must not be cached.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    def _grant(self, fields: Mapping[str, str], token_url: str, now: float) -> _Grant:
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise _Refused(400, "invalid_request", "The token request must specify a 'grant_type'.")
        if grant_type != "client_credentials":
            raise _Refused(
                400,
                "unsupported_grant_type",
                f"The authorization grant type is not supported: {grant_type[:100]!r}.",
            )
        assertion = fields.get("client_assertion")
        if fields.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            raise _invalid_client(
                "Client authentication failed: a private_key_jwt client_assertion is required."
            )
        client = self._verified_client(assertion, fields.get("client_id"), token_url, now)
        requested = (fields.get("scope") or "").split()
        if not requested:
            raise _Refused(
                400,
                "invalid_scope",
                "The authorization server resource does not have any configured default "
                "scopes, 'scope' must be provided.",
            )
        refused = [scope for scope in requested if not client.grants(scope)]
        if refused:
            shown = " ".join(s[:100] for s in refused[:5])
            raise _Refused(400, "invalid_scope", f"The following scopes are not allowed: {shown}")
        return _Grant(client.client_id, frozenset(requested), now + self.token_ttl)

    def _verified_client(
        self, assertion: str, client_id: str | None, token_url: str, now: float
    ) -> OAuthClientConfig:
        try:
            header = jwt.get_unverified_header(assertion)
            claimed = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _invalid_client("The client_assertion is not a well-formed JWT.") from None
        issuer = claimed.get("iss")
        client = self._clients.get(issuer) if isinstance(issuer, str) else None
        if client is None or (client_id is not None and client_id != issuer):
            raise _invalid_client("The client_assertion's 'iss' names no client of this org.")
        key = self._keys[client.client_id]
        algorithms = ["RS256", "RS384", "RS512"] if isinstance(key, rsa.RSAPublicKey) else ["ES256"]
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=algorithms,
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError:
            raise _invalid_client("The client_assertion signature is invalid.") from None
        if client.key_id is not None and header.get("kid") not in (None, client.key_id):
            raise _invalid_client("The client_assertion's 'kid' names no key of this client.")
        if claims.get("aud") != token_url:
            raise _invalid_client(
                "The audience claim for client_assertion must be the endpoint invoked for the "
                "request."
            )
        if claims.get("sub") != client.client_id:
            raise _invalid_client("The client_assertion's 'iss' and 'sub' must be the client id.")
        self._check_times(claims, now)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _invalid_client("The client_assertion must have a 'jti' claim.")
        if len(jti) > MAX_JTI_LENGTH:  # kept until the assertion expires: bounded
            raise _invalid_client("The client_assertion's 'jti' claim is too long.")
        with self._lock:
            if len(self._used) >= MAX_USED_ASSERTIONS:
                self._used = {k: exp for k, exp in self._used.items() if exp > now}
            if (client.client_id, jti) in self._used:
                raise _invalid_client("The client_assertion token has already been used.")
            if len(self._used) >= MAX_USED_ASSERTIONS:
                raise _Refused(429, "slow_down", "Too many client assertions; try again later.")
            # Remembered until it expires: after that, its exp refuses it anyway.
            self._used[(client.client_id, jti)] = float(claims["exp"])
        return client

    @staticmethod
    def _check_times(claims: Mapping[str, Any], now: float) -> None:
        def number(name: str) -> float | None:
            value = claims.get(name)
            if value is None:
                return None
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise _invalid_client(f"The client_assertion's '{name}' is not a number.")
            return float(value)

        expires = number("exp")
        if expires is None:
            raise _invalid_client("The client_assertion must have an 'exp' claim.")
        if expires <= now:
            raise _invalid_client("The client_assertion token is expired.")
        if expires > now + MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY:
            raise _invalid_client(
                "The client_assertion token has an expiration too far into the future."
            )
        for name in ("iat", "nbf"):
            moment = number(name)
            if moment is not None and moment > now + CLOCK_LEEWAY:
                raise _invalid_client(f"The client_assertion's '{name}' is in the future.")

    def _issue(self, grant: _Grant) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._tokens) >= MAX_LIVE_TOKENS:
                now = time.time()
                self._tokens = {t: g for t, g in self._tokens.items() if g.expires_at > now}
                while len(self._tokens) >= MAX_LIVE_TOKENS:  # the oldest go first
                    del self._tokens[next(iter(self._tokens))]
            self._tokens[token] = grant
            self.issued += 1
        return token

    # --- Bearer tokens at the Management API ------------------------------------------------

    def refusal(self, token: str, request: web.Request) -> web.Response | None:
        """None when ``token`` may make ``request``; else Okta's 401 or 403."""
        with self._lock:
            grant = self._tokens.get(token)
        path = request.path
        if grant is None or grant.expires_at <= time.time():
            base = f"{request.scheme}://{request.host}"
            return _bearer_refusal(
                errors.invalid_token(),
                f'authorization_uri="{base}/oauth2/v1/authorize", realm="{base}", '
                'error="invalid_token", error_description="The access token is invalid.", '
                f'resource="{_quoted(path)}"',
            )
        needed = required_scope(request.method, path)
        if needed is not None and not allows(grant.scopes, needed):
            return _bearer_refusal(
                errors.forbidden(),
                f'realm="IdentityProvider", scope="{needed}", error="insufficient_scope", '
                'error_description="The access token provided does not contain the required '
                f'scopes.", resource="{_quoted(path)}"',
            )
        return None


def _quoted(text: str) -> str:
    """``text`` fit for a quoted-string of a header: no quotes, backslashes or controls."""
    return re.sub(r'["\\\x00-\x1f\x7f]', "", text)[:200]


def _bearer_refusal(error: errors.ApiError, parameters: str) -> web.Response:
    response = web.json_response(error.body(), status=error.status)
    response.headers["WWW-Authenticate"] = f"Bearer {parameters}"
    return response

"""OAuth 2.0 for an Okta service app: client credentials with a ``private_key_jwt`` assertion.

With ``spec.okta.oauth`` (SPEC §10) no long-lived admin token exists: the client signs a short
assertion with the app's private key, trades it at ``<org>/oauth2/v1/token`` for an access token
that carries only the scopes granted to the app and expires (an hour, by default), and sends that
as ``Authorization: Bearer``. Access tokens are cached process-wide until shortly before they
expire, so that the syncs of one integration (each in its own thread and event loop) share one.

Neither the private key nor an access token ever appears in a repr, a log line or an error
message: messages name the client id (public) and the Secret the key came from.

Okta can require DPoP (proof of possession) of a service app; this client does not send DPoP
proofs, and says so when Okta asks for one (docs/OAUTH.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import random
import re
import secrets
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx

from okta_hris import __version__
from okta_hris.domain.text import one_line
from okta_hris.errors import (
    InvalidSecret,
    OktaApiError,
    OktaError,
    OktaForbidden,
    OktaUnauthorized,
    OktaUnavailable,
    WrongOktaUrl,
)
from okta_hris.okta.encodings import ACCEPT_ENCODING, unreadable_encoding
from okta_hris.resource.spec import OAuthSettings

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Okta refuses assertions valid for more than an hour; a short one is little use if it leaks.
ASSERTION_LIFETIME = 300
# An RSA key of 8192 bits is about 6,400 characters of PEM: anything much larger is not a key.
MAX_PRIVATE_KEY_CHARS = 16_384
MIN_RSA_BITS = 2048
# A token response is a few hundred bytes; a larger one is not Okta's.
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
MAX_ACCESS_TOKEN_CHARS = 16_384
# Okta's tokens live at most a day; a longer expires_in is not believed.
MAX_TOKEN_LIFETIME = 24 * 3600.0
# Renewed this long before expiry (at most a tenth of the lifetime, for short-lived tokens), so
# that a request never carries a token that expires on its way.
RENEW_BEFORE = 60.0
_MAX_ERROR_TEXT = 200
# An access token goes into a header: printable ASCII without spaces, as Okta's are.
_ACCESS_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]+")
_WWW_AUTHENTICATE_PARAMETER = re.compile(r'([A-Za-z_]+)="([^"]*)"')
_SCOPE_NAME = re.compile(r"okta\.[A-Za-z.]{1,100}")

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# PyJWT and cryptography are imported where a key is read or signed with: a sync with an API
# token never needs them, and they are 9 MB of a CLI sync's resident memory.
Algorithm = Literal["RS256", "ES256"]


@dataclass(frozen=True)
class ApiToken:
    """An SSWS API token (``spec.okta.tokenSecretRef``): an admin's privileges, no expiry."""

    value: str = field(repr=False)


@dataclass(frozen=True)
class OAuthServiceApp:
    """An Okta API service app (``spec.okta.oauth``) and its private key, ready to sign.

    ``fingerprint`` is the SHA-256 of the public key: it tells keys apart (the token cache, a
    rotated key) and is safe to show. ``key_source`` names where the key came from, for messages.
    """

    client_id: str
    private_key: PrivateKey = field(repr=False, compare=False)
    fingerprint: str
    algorithm: Algorithm
    scopes: tuple[str, ...]
    key_id: str | None = None
    key_source: str = "the private key"

    @classmethod
    def from_settings(cls, oauth: OAuthSettings, pem: str, key_source: str) -> OAuthServiceApp:
        """The app of ``spec.okta.oauth`` with the PEM text found at ``key_source`` (e.g.
        'key "private.pem" of Secret "okta-oauth-key"'). Raises ``InvalidSecret`` naming
        ``key_source`` when the text is no usable key (never quoting it)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = load_private_key(pem, key_source)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(
            client_id=oauth.client_id,
            private_key=key,
            fingerprint=hashlib.sha256(public).hexdigest(),
            algorithm="RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256",
            scopes=tuple(oauth.scopes),
            key_id=oauth.key_id,
            key_source=key_source,
        )

    def assertion(self, token_url: str, now: float | None = None) -> str:
        """A ``private_key_jwt`` client assertion for ``token_url``: single use (a fresh
        ``jti``), valid for ``ASSERTION_LIFETIME`` seconds."""
        issued = int(time.time() if now is None else now)
        claims = {
            "aud": token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
            "jti": secrets.token_urlsafe(24),
        }
        import jwt

        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)


OktaCredential = ApiToken | OAuthServiceApp
"""What the Okta client authenticates with: one of the two kinds ``spec.okta`` allows."""


def load_private_key(pem: str, key_source: str) -> PrivateKey:
    """The RSA (2048 bits or more) or EC P-256 private key in ``pem``.

    Each refusal is one line naming ``key_source`` and what is wrong, never the text itself.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def refuse(problem: str) -> InvalidSecret:
        return InvalidSecret(f"{key_source} {problem}")

    text = pem.strip()
    if not text:
        raise refuse("is empty")
    if len(text) > MAX_PRIVATE_KEY_CHARS:
        raise refuse(f"is too long to be a private key ({len(text)} characters)")
    if text.startswith("{"):
        raise refuse("holds a JWK (JSON); store the key in PEM form (Okta offers both)")
    # PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and OpenSSL's legacy "Proc-Type: 4,ENCRYPTED".
    if "ENCRYPTED PRIVATE KEY-----" in text or "4,ENCRYPTED" in text:
        raise refuse(
            "holds an encrypted private key; store it unencrypted (the Secret protects it)"
        )
    if "-----BEGIN PUBLIC KEY-----" in text or "CERTIFICATE-----" in text:
        raise refuse("holds a public key or certificate, not the private key")
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise refuse("is not a PEM private key (-----BEGIN PRIVATE KEY----- ...)") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise refuse(
                f"is an RSA key of {key.key_size} bits; Okta needs at least {MIN_RSA_BITS}"
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise refuse(f"is an EC key on curve {key.curve.name}; use P-256 (ES256)")
        return key
    kind = type(key).__name__.removeprefix("_").removesuffix("PrivateKey") or "unknown"
    raise refuse(f"is a {kind} key; use an RSA (2048 bits or more) or EC P-256 key")


# --- access tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # time.monotonic()
    scopes: tuple[str, ...]


_CacheKey = tuple[str, str, str, tuple[str, ...]]


class _TokenCache:
    """Access tokens by (token URL, client id, key fingerprint, scopes), for the whole process.

    Each sync runs in a thread and event loop of its own, so the lock is a thread lock, held
    only to read or write the dict. Two threads that find no token at the same moment may both
    fetch one; either serves.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[_CacheKey, AccessToken] = {}

    def get(self, key: _CacheKey) -> AccessToken | None:
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and _usable(token) else None

    def put(self, key: _CacheKey, token: AccessToken) -> None:
        with self._lock:
            # Expired entries (an integration deleted, a key rotated) go: memory stays bounded.
            for stale in [k for k, t in self._tokens.items() if not _usable(t)]:
                del self._tokens[stale]
            self._tokens[key] = token

    def discard(self, key: _CacheKey, token: AccessToken) -> None:
        with self._lock:
            if self._tokens.get(key) == token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


def _usable(token: AccessToken) -> bool:
    return time.monotonic() < token.expires_at


TOKEN_CACHE = _TokenCache()


class AccessTokens:
    """The access tokens of one service app at one org, as one ``OktaClient`` (in one event
    loop) needs them: from the process-wide cache, else fetched, retried as the client retries
    its own requests (5xx, 429, timeouts), ``OktaUnavailable`` in the end."""

    def __init__(
        self,
        app: OAuthServiceApp,
        base_url: httpx.URL,
        *,
        timeout: float,
        max_retries: int,
        backoff_base: float,
        backoff_max: float,
    ) -> None:
        self.app = app
        self.token_url = str(base_url).rstrip("/") + TOKEN_PATH
        self._key: _CacheKey = (self.token_url, app.client_id, app.fingerprint, app.scopes)
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._random = random.Random()
        self._fetching = asyncio.Lock()
        self.seen: tuple[str, ...] = ()
        """The last few token values handed out, to keep out of messages."""

    async def get(self) -> tuple[AccessToken, bool]:
        """A token valid for a while yet, and whether it was fetched just now."""
        token = TOKEN_CACHE.get(self._key)
        if token is None:
            # The client's concurrent first requests wait for one fetch rather than each
            # spending an assertion.
            async with self._fetching:
                token = TOKEN_CACHE.get(self._key)
                if token is None:
                    token = await self._fetch()
                    TOKEN_CACHE.put(self._key, token)
                    self._remember(token)
                    return token, True
        self._remember(token)
        return token, False

    def discard(self, token: AccessToken) -> None:
        """Okta no longer takes ``token`` (revoked, or expired early): never use it again."""
        TOKEN_CACHE.discard(self._key, token)

    def _remember(self, token: AccessToken) -> None:
        if token.value not in self.seen:
            self.seen = (*self.seen[-3:], token.value)

    async def _fetch(self) -> AccessToken:
        problem = "no attempt made"
        attempts = self._max_retries + 1
        for attempt in range(attempts):
            try:
                status, body = await self._post()
            except (httpx.TransportError, TimeoutError) as exc:
                problem = (
                    f"no answer within {self._timeout:g} s"
                    if isinstance(exc, TimeoutError | httpx.TimeoutException)
                    else type(exc).__name__
                )
            else:
                if 200 <= status < 300:
                    return self._token_from(body)
                if status not in (408, 429) and status < 500:
                    raise self._refusal(status, body)
                problem = f"{status} {_oauth_error(body)[0] or 'error'}"
            if attempt + 1 < attempts:
                delay = self._random.uniform(
                    0.0, min(self._backoff_max, self._backoff_base * 2**attempt)
                )
                log.warning(
                    "POST %s failed (%s); retry %d/%d in %.2fs",
                    self.token_url,
                    problem,
                    attempt + 1,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
        raise OktaUnavailable(
            f"cannot get an OAuth access token from {self.token_url}: {problem} "
            f"(after {attempts} attempts)"
        )

    async def _post(self) -> tuple[int, bytes]:
        """One token request: its status and body (bounded in size and, as a whole, in time:
        an answer dripping a byte at a time must not hold the sync)."""
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(self.app.scopes),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.app.assertion(self.token_url),
        }
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": f"okta-hris-operator/{__version__}",
        }
        async with (
            asyncio.timeout(self._timeout),
            httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as http,
            _token_answer(http, self.token_url, form, headers) as response,
        ):
            encoding = unreadable_encoding(response)
            if encoding is not None:
                raise OktaApiError(
                    f"{self.token_url} answered compressed as {encoding!r}: not Okta's token "
                    "endpoint"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_TOKEN_RESPONSE_BYTES:
                    raise OktaApiError(
                        f"{self.token_url} answered with more than "
                        f"{MAX_TOKEN_RESPONSE_BYTES // 1024} KiB: not Okta's token endpoint"
                    )
            return response.status_code, bytes(body)

    def _token_from(self, body: bytes) -> AccessToken:
        data = _json_object(body)
        value = data.get("access_token")
        token_type = data.get("token_type")
        lifetime = data.get("expires_in")
        if isinstance(token_type, str) and token_type.lower() == "dpop":
            raise self._dpop_required()
        if (
            not isinstance(value, str)
            or len(value) > MAX_ACCESS_TOKEN_CHARS
            or not _ACCESS_TOKEN_SHAPE.fullmatch(value)
            or not isinstance(token_type, str)
            or token_type.lower() != "bearer"
            or isinstance(lifetime, bool)
            or not isinstance(lifetime, int | float)
            or not math.isfinite(lifetime)
            or lifetime <= 0
        ):
            raise OktaApiError(
                f"{self.token_url} answered 200 without a Bearer access_token and expires_in"
            )
        lifetime = min(float(lifetime), MAX_TOKEN_LIFETIME)
        scope = data.get("scope")
        # What the endpoint claims to grant is told to people (a 403 names it): scope names only.
        granted = (
            tuple(s for s in scope.split()[:50] if _SCOPE_NAME.fullmatch(s))
            if isinstance(scope, str)
            else self.app.scopes
        )
        renew = min(RENEW_BEFORE, lifetime / 10)
        return AccessToken(value, time.monotonic() + lifetime - renew, granted)

    def _refusal(self, status: int, body: bytes) -> OktaError:
        error, description = _oauth_error(body)
        app = self.app
        said = _one_line(f"{error}: {description}" if description else error)
        if not error:
            if 300 <= status < 400 or status == 404:
                return WrongOktaUrl(
                    f"{self.token_url} answered {status}, not Okta's token endpoint: "
                    "is the subdomain right?"
                )
            return OktaApiError(f"{self.token_url} answered {status} without an OAuth error")
        if error == "invalid_scope":
            return OktaForbidden(
                f"Okta refused the scopes {' '.join(app.scopes)} for OAuth service app "
                f"{app.client_id} ({said}): grant them on the app's Okta API Scopes tab, or "
                "ask for fewer in spec.okta.oauth.scopes"
            )
        if error in ("invalid_dpop_proof", "use_dpop_nonce"):
            return self._dpop_required()
        return OktaUnauthorized(
            f"Okta refused OAuth service app {app.client_id}: {status} {said}; check "
            f"spec.okta.oauth.clientId, that the app's public key matches {app.key_source}, "
            "and that the app authenticates with Public key / Private key"
        )

    def _dpop_required(self) -> OktaUnauthorized:
        return OktaUnauthorized(
            f"OAuth service app {self.app.client_id} requires DPoP, which okta-hris does not "
            "send: turn off 'Require Demonstrating Proof of Possession (DPoP) header in token "
            "requests' in the app's General settings"
        )


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <access token>`` on every request of an ``OktaClient``.

    A 401 for a token that came from the cache (revoked, or expired before we thought) drops it
    and tries once more with a new one; a 401 for a new token, or a 403 for a missing scope,
    is final and raised with the service app's name.
    """

    def __init__(
        self, tokens: AccessTokens, secret_pattern: Callable[[str], re.Pattern[str]]
    ) -> None:
        """``secret_pattern(value)`` finds ``value`` in a text in each form a server may echo it
        (the client's own redaction, applied to every access token handed out)."""
        self.tokens = tokens
        self._secret_pattern = secret_pattern
        self._patterns: dict[str, re.Pattern[str]] = {}

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("OAuth access tokens are fetched asynchronously")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token, fetched = await self.tokens.get()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code == 401 and not fetched:
            self.tokens.discard(token)
            token, fetched = await self.tokens.get()
            request.headers["Authorization"] = f"Bearer {token.value}"
            response = yield request
        if response.status_code == 401:
            app = self.tokens.app
            raise OktaUnauthorized(
                f"Okta rejected a new access token of OAuth service app {app.client_id} "
                f"({request.method} {request.url.path}): is the app active in Okta?"
            )
        if response.status_code == 403 and _bearer_error(response) == "insufficient_scope":
            raise self._insufficient_scope(request, response, token)

    def redact(self, text: str) -> str:
        seen = self.tokens.seen
        if set(self._patterns) != set(seen):
            self._patterns = {
                value: self._patterns.get(value) or self._secret_pattern(value) for value in seen
            }
        for pattern in self._patterns.values():
            text = pattern.sub("**********", text)
        return text

    def _insufficient_scope(
        self, request: httpx.Request, response: httpx.Response, token: AccessToken
    ) -> OktaForbidden:
        needed = _bearer_parameters(response).get("scope", "")
        named = " ".join(s for s in needed.split() if _SCOPE_NAME.fullmatch(s))
        app = self.tokens.app
        what = f"scope {named}" if named else "a scope it needs"
        return OktaForbidden(
            f"Okta refused {request.method} {request.url.path}: the access token of OAuth "
            f"service app {app.client_id} lacks {what} (it has {' '.join(token.scopes)}); "
            "grant it to the app and add it to spec.okta.oauth.scopes"
        )

    def __repr__(self) -> str:
        return f"BearerAuth(client_id={self.tokens.app.client_id!r})"


def _bearer_parameters(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("www-authenticate", "")[:2048]
    if not header.lower().startswith("bearer"):
        return {}
    return {name.lower(): value for name, value in _WWW_AUTHENTICATE_PARAMETER.findall(header)}


def _bearer_error(response: httpx.Response) -> str | None:
    return _bearer_parameters(response).get("error")


@contextlib.asynccontextmanager
async def _token_answer(
    http: httpx.AsyncClient, url: str, form: dict[str, str], headers: dict[str, str]
) -> AsyncIterator[httpx.Response]:
    """The token endpoint's answer, streamed; a redirect to an invalid host (httpx reads the
    Location even when it follows none) is one line, not an IDNA traceback."""
    try:
        async with http.stream("POST", url, data=form, headers=headers) as response:
            yield response
    except (UnicodeError, httpx.InvalidURL):
        raise WrongOktaUrl(
            f"{url} answered with a redirect to an invalid URL: not Okta's token endpoint"
        ) from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
        return {}
    return data if isinstance(data, dict) else {}


def _oauth_error(body: bytes) -> tuple[str, str]:
    """``error`` and ``error_description`` of an OAuth error body, each one bounded line."""
    data = _json_object(body)
    error, description = data.get("error"), data.get("error_description")
    return (
        _one_line(error) if isinstance(error, str) else "",
        _one_line(description) if isinstance(description, str) else "",
    )


def _one_line(text: str) -> str:
    return one_line(text, _MAX_ERROR_TEXT)

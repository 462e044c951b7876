"""An integration's Secrets, read by name from the cluster when a sync needs them.

The operator only ever gets a Secret by name (RBAC ``get``, no list or watch). What the Okta
credential's Secret held (the API token, or the OAuth service app's private key) is remembered
as a keyed fingerprint (``runtime.token_fingerprint``), never as the value: an integration
stalled on it reads the Secret again on a short schedule (``token_changed``) and retries the
sync only when the value really changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from okta_hris.controller.kube import KubeApi, KubernetesApiError
from okta_hris.controller.runtime import IntegrationState, TokenSeen, token_fingerprint
from okta_hris.domain.okta import bare_api_token
from okta_hris.errors import SecretNotFound
from okta_hris.invitations import SmtpSettings
from okta_hris.okta import ApiToken, OAuthServiceApp, OktaCredential
from okta_hris.okta.eventhooks import authorization_value
from okta_hris.resource.spec import EventHookSettings, OktaIntegrationSpec


class ClusterCredentials:
    """The Secrets of one OktaIntegration, in its own namespace."""

    def __init__(self, kube: KubeApi, namespace: str, state: IntegrationState) -> None:
        self.kube = kube
        self.namespace = namespace
        self.state = state

    async def okta_credential(self, spec: OktaIntegrationSpec) -> OktaCredential:
        """The API token, or the service app with its private key, read now; what was found
        is remembered as a fingerprint. An unusable key is ``InvalidSecret`` (a
        ``SecretNotFound``): fixed in the Secret, like a missing one."""
        oauth = spec.okta.oauth
        if oauth is not None:
            ref = oauth.private_key_secret_ref
            pem = await self._read(ref.name, ref.key)
            return OAuthServiceApp.from_settings(oauth, pem, self._where(ref.name, ref.key))
        token_ref = spec.okta.token_secret_ref
        assert token_ref is not None  # the spec sets exactly one of the two
        return ApiToken(bare_api_token(await self._read(token_ref.name, token_ref.key)))

    async def token_changed(self, spec: OktaIntegrationSpec) -> bool:
        """Read the credential's Secret again: does it hold another value than at the last read?

        Created, its key added, a new value: True. An edit of a label or of another key:
        False. Never read before (the operator restarted): True, since what failed is unknown.
        Raises ``KubernetesApiError`` when the API server cannot say (what was seen is kept).
        """
        before = self.state.token_seen
        try:
            await self.okta_credential(spec)
        except SecretNotFound:
            pass  # the fingerprint says so (no Secret, no key, empty, not a key)
        except KubernetesApiError:
            self.state.token_seen = before
            raise
        return before is None or self.state.token_seen != before

    async def hook_authorization(self, hooks: EventHookSettings) -> str:
        """The Authorization value Okta sends with this integration's event hook deliveries
        (``spec.sync.eventHooks.authSecretRef``), read now. Raises ``SecretNotFound``, or
        ``ConfigError`` for a value no header can carry; never quotes the value."""
        ref = hooks.auth_secret_ref
        if ref is None:
            raise SecretNotFound("spec.sync.eventHooks.authSecretRef is not set")
        _, data = await self.kube.read_secret(self.namespace, ref.name)
        if ref.key not in data:
            raise SecretNotFound(f"{self._where(ref.name, ref.key)} does not exist")
        return authorization_value(data[ref.key], self._where(ref.name, ref.key))

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> SmtpSettings:
        ref = spec.invitations.smtp_secret_ref
        if ref is None:
            raise SecretNotFound("spec.invitations.smtpSecretRef is not set")
        _, data = await self.kube.read_secret(self.namespace, ref.name)
        return SmtpSettings.from_secret_data(data)

    async def _read(self, secret: str, key: str) -> str:
        """The value of ``key`` in Secret ``secret``; SecretNotFound when it is missing or blank."""
        self.state.token_seen = None  # unknown, if the API server cannot say
        try:
            _, data = await self.kube.read_secret(self.namespace, secret)
        except SecretNotFound:
            self._seen(secret, key, None)
            raise
        self._seen(secret, key, data)
        value = data.get(key) or ""
        if not bare_api_token(value):
            problem = "is empty" if key in data else "does not exist"
            raise SecretNotFound(f"{self._where(secret, key)} {problem}")
        return value

    def _where(self, secret: str, key: str) -> str:
        return f'key "{key}" of Secret "{secret}" in namespace "{self.namespace}"'

    def _seen(self, secret: str, key: str, data: Mapping[str, str] | None) -> None:
        self.state.token_seen = TokenSeen(secret, key, token_fingerprint(data, key))

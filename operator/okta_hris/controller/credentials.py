"""An integration's Secrets, read by name from the cluster when a sync needs them.

The operator only ever gets a Secret by name (RBAC ``get``, no list or watch). What the token
Secret held is remembered as a keyed fingerprint (``runtime.token_fingerprint``), never as the
value: an integration stalled on its token reads the Secret again on a short schedule
(``token_changed``) and retries the sync only when the token really changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from okta_hris.controller.kube import KubeApi, KubernetesApiError
from okta_hris.controller.runtime import IntegrationState, TokenSeen, token_fingerprint
from okta_hris.domain.okta import bare_api_token
from okta_hris.errors import SecretNotFound
from okta_hris.invitations import SmtpSettings
from okta_hris.resource.spec import OktaIntegrationSpec


class ClusterCredentials:
    """The Secrets of one OktaIntegration, in its own namespace."""

    def __init__(self, kube: KubeApi, namespace: str, state: IntegrationState) -> None:
        self.kube = kube
        self.namespace = namespace
        self.state = state

    async def okta_token(self, spec: OktaIntegrationSpec) -> str:
        """The token, read now; what was found is remembered as a fingerprint."""
        ref = spec.okta.token_secret_ref
        self.state.token_seen = None  # unknown, if the API server cannot say
        try:
            _, data = await self.kube.read_secret(self.namespace, ref.name)
        except SecretNotFound:
            self._seen(ref.name, ref.key, None)
            raise
        self._seen(ref.name, ref.key, data)
        token = bare_api_token(data.get(ref.key) or "")
        if not token:
            problem = "is empty" if ref.key in data else "does not exist"
            raise SecretNotFound(
                f'key "{ref.key}" of Secret "{ref.name}" in namespace "{self.namespace}" {problem}'
            )
        return token

    async def token_changed(self, spec: OktaIntegrationSpec) -> bool:
        """Read the token Secret again: does it hold another token than at the last read?

        Created, its key added, a new value: True. An edit of a label or of another key:
        False. Never read before (the operator restarted): True, since what failed is unknown.
        Raises ``KubernetesApiError`` when the API server cannot say (what was seen is kept).
        """
        before = self.state.token_seen
        try:
            await self.okta_token(spec)
        except SecretNotFound:
            pass  # the fingerprint says so (no Secret, no key, empty)
        except KubernetesApiError:
            self.state.token_seen = before
            raise
        return before is None or self.state.token_seen != before

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> SmtpSettings:
        ref = spec.invitations.smtp_secret_ref
        if ref is None:
            raise SecretNotFound("spec.invitations.smtpSecretRef is not set")
        _, data = await self.kube.read_secret(self.namespace, ref.name)
        return SmtpSettings.from_secret_data(data)

    def _seen(self, secret: str, key: str, data: Mapping[str, str] | None) -> None:
        self.state.token_seen = TokenSeen(secret, key, token_fingerprint(data, key))

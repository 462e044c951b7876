"""An integration's Secrets, read from the cluster when a sync needs them.

What the token Secret held is remembered as a keyed fingerprint (``runtime.token_fingerprint``),
never as the value: a Secret event then retries a sync stalled on its token only when the token
really changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from okta_hris.controller.kube import KubeApi
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

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> SmtpSettings:
        ref = spec.invitations.smtp_secret_ref
        if ref is None:
            raise SecretNotFound("spec.invitations.smtpSecretRef is not set")
        _, data = await self.kube.read_secret(self.namespace, ref.name)
        return SmtpSettings.from_secret_data(data)

    def _seen(self, secret: str, key: str, data: Mapping[str, str] | None) -> None:
        """What the token Secret holds now: a change of it before this read is moot."""
        self.state.token_seen = TokenSeen(secret, key, token_fingerprint(data, key))
        self.state.memory = replace(self.state.memory, secret_changed=False)

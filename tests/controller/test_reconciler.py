"""reconciler: which Secrets an integration uses."""

from __future__ import annotations

from okta_hris.controller.reconciler import secret_references


def test_secret_references_stay_in_the_namespace() -> None:
    spec = {
        "okta": {"tokenSecretRef": {"name": "okta", "namespace": "elsewhere"}},
        "invitations": {"smtpSecretRef": {"name": "smtp"}},
    }
    assert secret_references("people", spec) == [("people", "okta"), ("people", "smtp")]
    assert secret_references("people", {}) == []

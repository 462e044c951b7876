"""Services: what the operator and the CLI both do, without Kopf or Click.

``IntegrationSync`` runs one integration's sync and invitation delivery and says how it went
(an ``Outcome``); the controller turns that into status, Events and metrics, the CLI into a
summary table and an exit code.
"""

from okta_hris.services.integration_sync import (
    Credentials,
    Failed,
    Held,
    IntegrationSync,
    InvitationDelivery,
    Outcome,
    Succeeded,
)

__all__ = [
    "Credentials",
    "Failed",
    "Held",
    "IntegrationSync",
    "InvitationDelivery",
    "Outcome",
    "Succeeded",
]

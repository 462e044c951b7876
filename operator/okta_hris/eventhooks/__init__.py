"""Okta Event Hooks (SPEC §11): the HTTP receiver and the per-integration queue of events.

``EventHookReceiver`` answers Okta's verification and deliveries and hands the events to a
``HookTarget`` (the operator's integrations, or ``okta-hris sync --watch``); ``PendingEvents``
de-duplicates, bounds and debounces them into the ``EventBatch`` a targeted sync covers.
"""

from okta_hris.eventhooks.pending import PendingEvents
from okta_hris.eventhooks.receiver import (
    DEFAULT_HOOKS_ADDRESS,
    HOOK_PATH,
    EventHookReceiver,
    HookTarget,
    parse_hooks_address,
)

__all__ = [
    "DEFAULT_HOOKS_ADDRESS",
    "HOOK_PATH",
    "EventHookReceiver",
    "HookTarget",
    "PendingEvents",
    "parse_hooks_address",
]

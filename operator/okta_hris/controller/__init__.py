"""The Kopf operator: reconcile OktaIntegrations hourly, on demand and on change.

``handlers`` holds every Kopf decorator, each a few lines delegating to ``reconciler``;
``scheduling`` and ``status`` are pure functions; ``runtime`` is what ``@kopf.on.startup``
builds into the operator's memo; ``kube`` talks to the Kubernetes API for status and Secrets.
Run it with ``okta-hris run`` or ``kopf run -m okta_hris.controller.handlers``.
"""

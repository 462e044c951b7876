"""The domain: what the product is about, with no I/O and no framework.

Everything else imports from here and nothing here imports anything else of the package
(except ``okta_hris.errors``). ``employees``: the directory's rows; ``changes``: what a sync
reads from the directory and writes back; ``okta``: Okta's vocabulary; ``countries``: country
codes as people write them; ``invitations``: the outbox's rows.
"""

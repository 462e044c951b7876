"""The error hierarchy, mapped in one place to condition reasons and CLI messages.

Every error a user can cause or fix carries a CamelCase ``reason`` (the status condition
reason of SPEC §5) and says whether retrying without a change can help (``permanent``).
Messages never contain secret values.
"""

from __future__ import annotations


class HrisError(Exception):
    """Base of every error this package raises on purpose."""

    reason = "Error"
    permanent = False


class ConfigError(HrisError):
    """A setting, a file or a command line argument is wrong."""

    reason = "ConfigError"
    permanent = True


class InvalidSpec(ConfigError):
    """An OktaIntegration spec fails validation beyond what the CRD schema catches."""

    reason = "InvalidSpec"


class UnknownTeam(ConfigError):
    """A ``spec.filters.teams`` entry names no current Okta group of the configured types.

    Raised before anything is applied, so a typo or a group renamed in Okta stops the sync
    instead of deactivating the team's members. Fixed by the spec or in Okta.
    """

    reason = "UnknownTeam"


class EmploymentAttributeMissing(ConfigError):
    """``spec.filters.employment.include`` is set but no Okta user has the attribute named by
    ``spec.mapping.employmentAttribute`` (a misspelling, most likely): the filter would keep
    nobody, so the sync fails before anything is applied instead of deactivating everyone."""

    reason = "EmploymentAttributeMissing"


class SecretNotFound(HrisError):
    """The referenced Secret, or the key in it, does not exist."""

    reason = "SecretNotFound"
    permanent = True


class InvalidSecret(SecretNotFound):
    """The referenced Secret key holds a value that cannot be used: an OAuth private key that
    is not PEM, is encrypted, or is of a kind Okta does not take. Fixed in the Secret, like a
    missing one (the operator reads the Secret again on the same short schedule)."""

    reason = "InvalidSecret"


class OktaError(HrisError):
    """Okta answered in a way the sync cannot proceed from."""

    reason = "OktaError"


class OktaUnauthorized(OktaError):
    """401: the API token is wrong, expired or revoked."""

    reason = "Unauthorized"
    permanent = True


class OktaForbidden(OktaError):
    """403: the token is valid but its admin role may not read users or groups."""

    reason = "Forbidden"
    permanent = True


class OktaUnavailable(OktaError):
    """Okta kept failing (5xx, 429 past the retry budget, timeouts, dropped connections)."""

    reason = "OktaUnavailable"


class OktaApiError(OktaError):
    """Any other unexpected answer from Okta (4xx other than 401/403/429)."""

    reason = "OktaError"


class WrongOktaUrl(OktaApiError):
    """The Okta URL leads somewhere, but not to an Okta org's API: a 404 without Okta's error
    body, an HTML page, a redirect. Usually a wrong subdomain or domain; retrying cannot help."""

    reason = "WrongOktaUrl"
    permanent = True


class DirectoryError(HrisError):
    """The directory database failed; the transaction was rolled back."""

    reason = "DirectoryError"


class SpillLost(HrisError):
    """A sync's temporary file (``memory.Spill``) could not be read back: a disk error, or the
    file was cut short under it. The sync fails before or inside its transaction."""

    reason = "TemporaryFileLost"


class DeactivationThresholdExceeded(HrisError):
    """The safety hold: a sync would deactivate more employees than allowed.

    ``summary`` says what is held and why, whoever runs the sync (``sync_runs.error``); how to
    approve depends on who does: ``str()`` is the operator's message (the annotation), and the
    CLI names its ``--approve-deactivations`` flag instead. ``approved`` is the approval the sync
    was given, if any: one that did not match ``would_deactivate``.
    """

    reason = "DeactivationThresholdExceeded"
    permanent = True

    def __init__(
        self, would_deactivate: int, limit: int, directory_size: int, approved: int | None = None
    ) -> None:
        self.would_deactivate = would_deactivate
        self.limit = limit
        self.directory_size = directory_size
        self.approved = approved
        self.summary = (
            f"held: it would deactivate {would_deactivate} of {directory_size} employees, "
            f"more than safety.maxDeactivations allows ({limit})"
        )
        super().__init__(
            f"sync {self.summary}; approve with "
            f'annotation hris.dev/approve-deactivations: "{would_deactivate}" or fix the spec'
        )


class SyncInProgress(HrisError):
    """Another sync of the same integration is running, or applied while this one ran.

    Nothing was applied; retrying once the other sync has finished can help.
    """

    reason = "SyncInProgress"
    permanent = False

"""The Okta client: auth, pagination, rate limits, retries (see ``client.py``)."""

from okta_hris.okta.client import (
    MAX_CLOCK_SKEW,
    ClientStats,
    OktaClient,
    OktaNotFound,
    WaitListener,
    collect,
    format_okta_datetime,
)
from okta_hris.okta.models import (
    LogEvent,
    LogTarget,
    OktaGroup,
    OktaGroupProfile,
    OktaUser,
    OktaUserFields,
)
from okta_hris.okta.oauth import ApiToken, OAuthServiceApp, OktaCredential
from okta_hris.okta.ratelimit import Bucket, bucket_for_path

__all__ = [
    "MAX_CLOCK_SKEW",
    "ApiToken",
    "Bucket",
    "ClientStats",
    "LogEvent",
    "LogTarget",
    "OAuthServiceApp",
    "OktaClient",
    "OktaCredential",
    "OktaGroup",
    "OktaGroupProfile",
    "OktaNotFound",
    "OktaUser",
    "OktaUserFields",
    "WaitListener",
    "bucket_for_path",
    "collect",
    "format_okta_datetime",
]

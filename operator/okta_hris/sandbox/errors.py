"""Okta's error responses: ``{errorCode, errorSummary, errorLink, errorId, errorCauses}``."""

from __future__ import annotations

import secrets
import string
from typing import Any

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def error_id() -> str:
    """Okta error ids look like ``oaeZLxeiHUUQomPkM8xOqvu1A``."""
    return "oae" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


class ApiError(Exception):
    """An Okta error response, raised by handlers and rendered by the server."""

    def __init__(
        self, status: int, code: str, summary: str, causes: list[str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {summary}")
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes or []

    def body(self) -> dict[str, Any]:
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id(),
            "errorCauses": [{"errorSummary": cause} for cause in self.causes],
        }


def validation_failed(field: str, *causes: str) -> ApiError:
    return ApiError(400, "E0000001", f"Api validation failed: {field}", list(causes))


def precondition_failed(operation: str, cause: str) -> ApiError:
    """Okta answers a lifecycle call in the wrong status (suspend a non-active user, ...) with a
    400 E0000001 that names the operation (``Api validation failed: suspendUser``) and gives the
    reason as its cause."""
    return validation_failed(operation, cause)


def malformed_body() -> ApiError:
    return ApiError(400, "E0000003", "The request body was not well-formed.")


def invalid_search(*causes: str) -> ApiError:
    return ApiError(400, "E0000031", "Invalid search criteria.", list(causes))


def search_and_filter() -> ApiError:
    return ApiError(
        400, "E0000033", "Cannot specify a search query and filter in the same request."
    )


def invalid_date() -> ApiError:
    return ApiError(
        400,
        "E0000030",
        "Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00.",
    )


def invalid_token() -> ApiError:
    return ApiError(401, "E0000011", "Invalid token provided")


def forbidden() -> ApiError:
    return ApiError(403, "E0000006", "You do not have permission to perform the requested action")


def already_active() -> ApiError:
    return ApiError(403, "E0000016", "Activation failed because the user is already active")


def wrong_status() -> ApiError:
    return ApiError(403, "E0000038", "This operation is not allowed in the user's current status.")


def unlock_not_allowed() -> ApiError:
    return ApiError(
        403, "E0000032", "Unlock is not allowed for this user.", ["The user is not locked out."]
    )


def not_found(resource_id: str, kind: str) -> ApiError:
    return ApiError(404, "E0000007", f"Not found: Resource not found: {resource_id} ({kind})")


def path_not_found() -> ApiError:
    return ApiError(404, "E0000008", "The requested path was not found")


def method_not_allowed() -> ApiError:
    return ApiError(405, "E0000022", "The endpoint does not support the provided HTTP method")


def rate_limited() -> ApiError:
    return ApiError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


def concurrency_limited() -> ApiError:
    # Okta uses the same code for the concurrent-request limit; only the headers differ.
    return ApiError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


def server_error() -> ApiError:
    return ApiError(500, "E0000009", "Internal Server Error")


def bad_gateway() -> ApiError:
    return ApiError(502, "E0000009", "Bad Gateway")


def unavailable() -> ApiError:
    return ApiError(503, "E0000010", "Service is in read only mode")


def gateway_timeout() -> ApiError:
    return ApiError(504, "E0000009", "Gateway Timeout")

"""Link header parsing and bucket names: pure functions, no server needed."""

from __future__ import annotations

import pytest

from okta_hris.okta import bucket_for_path
from okta_hris.okta.links import parse_link_headers


def test_parses_every_header_line_and_every_link_value() -> None:
    lines = [
        '<https://acme.okta.com/api/v1/users?limit=2>; rel="self"',
        "<https://acme.okta.com/api/v1/users?after=00u2&limit=2>; rel=next",
        '<https://x.example/a>; type="text/html"; rel="prev first", <https://x.example/b>',
    ]
    assert parse_link_headers(lines) == [
        ("https://acme.okta.com/api/v1/users?limit=2", frozenset({"self"})),
        ("https://acme.okta.com/api/v1/users?after=00u2&limit=2", frozenset({"next"})),
        ("https://x.example/a", frozenset({"prev", "first"})),
        ("https://x.example/b", frozenset()),
    ]


@pytest.mark.parametrize(
    ("path", "bucket"),
    [
        ("/api/v1/users", "users"),
        ("/api/v1/users/00u1", "users"),
        ("/api/v1/groups", "groups"),
        ("/api/v1/groups/00g1/users", "groups"),
        ("/api/v1/logs", "logs"),
        ("/api/v1/usersX", "other"),
        ("/api/v1/apps", "other"),
    ],
)
def test_bucket_is_the_endpoint_family(path: str, bucket: str) -> None:
    assert bucket_for_path(path) == bucket

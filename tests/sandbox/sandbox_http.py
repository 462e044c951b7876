"""HTTP helpers for the sandbox tests: a client with the SSWS header and Link-following."""

from __future__ import annotations

import re
from typing import Any

import httpx

from okta_hris.sandbox import Sandbox

ALL_USERS = 'created gt "1970-01-01T00:00:00.000Z"'  # a search that matches every user
OKTA_TIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
_LINK = re.compile(r'\A<([^>]+)>; rel="(self|next)"\Z')


def client_for(sandbox: Sandbox, *, timeout: float = 30) -> httpx.Client:
    headers = {"Authorization": f"SSWS {sandbox.token}", "Accept": "application/json"}
    return httpx.Client(base_url=sandbox.url, headers=headers, timeout=timeout)


def links(response: httpx.Response) -> dict[str, str]:
    """The Link header lines, checked to be Okta's shape: ``self`` first, ``next`` last."""
    lines = response.headers.get_list("link")
    parsed = []
    for line in lines:
        match = _LINK.match(line)
        assert match, f"unexpected Link header {line!r}"
        parsed.append((match.group(2), match.group(1)))
    assert parsed and parsed[0][0] == "self", lines
    assert len(parsed) <= 2 and all(rel == "next" for rel, _ in parsed[1:]), lines
    return dict(parsed)


def pages(
    client: httpx.Client, path: str, params: dict[str, Any] | None = None
) -> list[httpx.Response]:
    """Every page of a listing, following ``next`` until a response has none."""
    responses = []
    response = client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        responses.append(response)
        following = links(response).get("next")
        if following is None:
            return responses
        assert len(responses) < 1000, "the listing does not end"
        response = client.get(following)


def list_all(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> list[Any]:
    return [item for response in pages(client, path, params) for item in response.json()]


def every_user(client: httpx.Client) -> list[dict[str, Any]]:
    return list_all(client, "/api/v1/users", {"search": ALL_USERS})

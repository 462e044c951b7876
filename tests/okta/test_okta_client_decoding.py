"""The lean listings a sync reads (issue 12): ``list_user_fields`` (what a sync keeps of each
user) and ``list_group_member_ids`` (ids only), decoded by msgspec straight from the page.

They must read the same org as the whole-object listings do, and keep every guarantee of those:
one absurd value in one user never fails a page, a page of the wrong shape is one line without
personal data, duplicates and oversized answers are refused. Real HTTP throughout: the sandbox,
or a server answering bytes a test wrote.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from okta_hris.errors import OktaApiError, OktaUnavailable
from okta_hris.okta import OktaClient, collect
from okta_hris.okta.models import OktaUserFields
from okta_hris.sandbox import Sandbox

from . import hostile_okta as hostile
from .okta_stub import Handler, StubServer, user_json

TOKEN = "00aDecodingTOKENvalue1234567890"
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 1}
MEMBERS_PATH = "/api/v1/groups/00g1/users"

Listing = Callable[[OktaClient], AsyncIterator[list[Any]]]
LISTINGS: dict[str, tuple[Listing, str]] = {
    "user-fields": (lambda client: client.list_user_fields(), "/api/v1/users"),
    "member-ids": (lambda client: client.list_group_member_ids("00g1"), MEMBERS_PATH),
}
lean_listings = pytest.mark.parametrize(
    ("listing", "path"), list(LISTINGS.values()), ids=list(LISTINGS)
)


def ids(items: list[Any]) -> list[str]:
    return [item if isinstance(item, str) else item.id for item in items]


def answering(body: bytes) -> Handler:
    """Every request answered 200 with ``body`` as JSON, and no next link."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json")

    return handle


def page_with(value: str, field: str = "profile") -> bytes:
    """A page of three users, the second with ``value`` (JSON text, written as is) as its
    profile's ``odd`` attribute, or as a field of the user object that no sync keeps."""
    users = [user_json(1), user_json(2), user_json(3)]
    placeholder = '"__VALUE__"'
    if field == "profile":
        users[1]["profile"]["odd"] = "__VALUE__"
    else:
        users[1][field] = "__VALUE__"
    return json.dumps(users).replace(placeholder, value).encode()


# The same org as the whole-object listings -----------------------------------------------------


async def test_user_fields_are_what_the_whole_users_hold(sandbox_factory: Any) -> None:
    sandbox: Sandbox = sandbox_factory(users=230, groups=0, seed=11)
    search = 'lastUpdated gt "1970-01-01T00:00:00.000Z"'
    async with OktaClient(sandbox.url, sandbox.token) as client:
        whole = await collect(client.list_users(search=search, limit=50))
        lean = await collect(client.list_user_fields(search=search, limit=50))
    assert len(lean) == 230
    assert [(u.id, u.status, u.last_updated, u.profile) for u in lean] == [
        (u.id, u.status, u.last_updated, u.profile) for u in whole
    ]
    assert all(isinstance(u, OktaUserFields) and u.last_updated.tzinfo for u in lean)


async def test_member_ids_are_the_ids_of_the_whole_members(sandbox: Sandbox) -> None:
    listed = 0
    async with OktaClient(sandbox.url, sandbox.token) as client:
        for group in await collect(client.list_groups()):
            member_ids = await collect(client.list_group_member_ids(group.id, limit=7))
            whole = await collect(client.list_group_members(group.id, limit=7))
            assert member_ids == ids(whole), group.id
            listed += len(member_ids)
    assert listed > 100  # memberships of 200 users, over pages of 7
    assert any(r.query.get("after") for r in sandbox.requests if r.path.endswith("/users"))


# One absurd value, anywhere in one user -------------------------------------------------------

# JSON Python's decoder reads and msgspec's refuses, or reads otherwise.
ABSURD = {
    "nan": "NaN",
    "infinity": "-Infinity",
    "beyond-a-double": "1e999",
    "5000-digit-integer": "9" * 5000,
    "lone-surrogate": '"\\ud800"',
    "nested-500-deep": "[" * 500 + "]" * 500,
}


@pytest.mark.parametrize("value", list(ABSURD.values()), ids=list(ABSURD))
@pytest.mark.parametrize("field", ["profile", "credentials"])
@lean_listings
async def test_an_absurd_value_in_one_user_leaves_the_page_readable(
    listing: Listing, path: str, value: str, field: str
) -> None:
    async with (
        StubServer(answering(page_with(value, field))) as server,
        OktaClient(server.url, TOKEN, **FAST) as client,
    ):
        items = await collect(listing(client))
    assert ids(items) == ["00u000001", "00u000002", "00u000003"]
    assert len(server.seen) == 1  # read at once, not retried as "not JSON"


async def test_absurd_profile_values_reach_the_mapping_as_python_reads_them() -> None:
    # The mapping cleans them (tests/sync/test_hostile_values.py): here, that they arrive.
    read: dict[str, Any] = {}
    for name, value in ABSURD.items():
        async with (
            StubServer(answering(page_with(value))) as server,
            OktaClient(server.url, TOKEN) as client,
        ):
            (_, odd, _) = await collect(client.list_user_fields())
        read[name] = odd.profile["odd"]
    assert math.isnan(read["nan"])
    assert read["infinity"] == -math.inf and read["beyond-a-double"] == math.inf
    assert read["5000-digit-integer"] is None  # more digits than Python reads: null
    assert read["lone-surrogate"] == "\ud800"
    assert json.dumps(read["nested-500-deep"]) == "[" * 500 + "]" * 500


# Pages of the wrong shape ------------------------------------------------------------------------


def without(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda user: user.pop(field)


def setting(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda user: user.update({field: value})


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (without("id"), "Object missing required field `id` - at `$[1]`"),
        (setting("id", 12), "Expected `str`, got `int` - at `$[1].id`"),
        (setting("status", None), "Expected `str`, got `null` - at `$[1].status`"),
        (without("lastUpdated"), "Object missing required field `lastUpdated` - at `$[1]`"),
        (
            setting("lastUpdated", "2024-05-01T12:00:00"),
            "Expected `datetime` with a timezone component - at `$[1].lastUpdated`",
        ),
        (setting("lastUpdated", "yesterday"), "Invalid RFC3339 encoded datetime"),
        (setting("profile", []), "Expected `object`, got `array` - at `$[1].profile`"),
    ],
    ids=["no-id", "numeric-id", "null-status", "no-lastUpdated", "naive", "not-a-date", "list"],
)
@pytest.mark.parametrize("elsewhere", ["", "NaN"], ids=["plain", "with-a-NaN-elsewhere"])
async def test_a_user_of_the_wrong_shape_is_one_line_without_personal_data(
    edit: Callable[[dict[str, Any]], None], problem: str, elsewhere: str
) -> None:
    users = [user_json(1), user_json(2), user_json(3)]
    users[1]["profile"]["secret"] = "PERSONAL-VALUE"
    edit(users[1])
    users[2]["profile"]["odd"] = "__ELSEWHERE__"
    body = json.dumps(users).replace('"__ELSEWHERE__"', elsewhere or "1").encode()
    async with (
        StubServer(answering(body)) as server,
        OktaClient(server.url, TOKEN, **FAST) as client,
    ):
        with pytest.raises(OktaApiError) as caught:
            await collect(client.list_user_fields())
    message = str(caught.value)
    assert message.startswith("Okta answered GET /api/v1/users with an unexpected OktaUser: ")
    assert problem in message
    assert "PERSONAL-VALUE" not in message and "user2@example.com" not in message
    assert "\n" not in message
    assert len(server.seen) == 1  # not retried: the same answer would come again


@lean_listings
async def test_a_member_without_an_id_fails_either_listing(listing: Listing, path: str) -> None:
    users = [user_json(1), {"status": "ACTIVE"}]
    async with (
        StubServer(answering(json.dumps(users).encode())) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        with pytest.raises(OktaApiError, match=r"missing required field `id` - at `\$\[1\]`"):
            await collect(listing(client))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"id": "00u1"}', "with dict, not a list"),
        (b'"users"', "with str, not a list"),
    ],
)
@lean_listings
async def test_an_answer_that_is_not_a_list_fails_the_listing(
    listing: Listing, path: str, body: bytes, problem: str
) -> None:
    async with StubServer(answering(body)) as server, OktaClient(server.url, TOKEN) as client:
        with pytest.raises(OktaApiError) as caught:
            await collect(listing(client))
    assert str(caught.value) == f"Okta answered GET {path} {problem}"


# The id, which both listings decode, with a byte no UTF-8 text has.
NOT_UTF_8_ID = json.dumps([user_json(1)]).encode().replace(b"00u000001", b"00u\xff", 1)


@pytest.mark.parametrize(
    "body",
    [b"[{]", b"[" * 200_000 + b"]" * 200_000, NOT_UTF_8_ID],
    ids=["malformed", "nested-beyond-decoding", "not-utf-8"],
)
@lean_listings
async def test_an_answer_that_is_not_json_is_retried_then_one_line(
    listing: Listing, path: str, body: bytes
) -> None:
    async with (
        StubServer(answering(body)) as server,
        OktaClient(server.url, TOKEN, **FAST) as client,
    ):
        with pytest.raises(OktaUnavailable) as caught:
            await collect(listing(client))
    assert str(caught.value) == (
        f"Okta at {server.url} kept failing GET {path}: 200 with a body that is not JSON "
        "(after 2 attempts)"
    )
    assert len(server.seen) == 2


async def test_bytes_that_are_not_utf_8_where_no_sync_reads_are_skipped_unread() -> None:
    # The stdlib decoder refused the whole page for them; msgspec never decodes such a field.
    body = page_with('"\xff"', "credentials").replace(b"\xc3\xbf", b"\xff")
    for listing, _ in LISTINGS.values():
        async with (
            StubServer(answering(body)) as server,
            OktaClient(server.url, TOKEN, **FAST) as client,
        ):
            assert ids(await collect(listing(client))) == ["00u000001", "00u000002", "00u000003"]


# The listing's own guarantees -----------------------------------------------------------------


@lean_listings
async def test_a_user_on_two_pages_fails_either_listing(listing: Listing, path: str) -> None:
    async with (
        StubServer(hostile.duplicate_across_pages()) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        with pytest.raises(OktaApiError) as caught:
            await collect(listing(client))
    assert str(caught.value) == (
        f"Okta listed OktaUser 00u000002 twice in GET {path} (pages 1 and 2): the listing "
        "is inconsistent and may have skipped others too"
    )


@lean_listings
async def test_a_page_past_the_cap_is_refused_while_read(listing: Listing, path: str) -> None:
    firehose = hostile.Firehose(total=256 * 2**20)
    async with (
        StubServer(firehose.handle) as server,
        OktaClient(server.url, TOKEN, max_body_bytes=2**20, **FAST) as client,
    ):
        with pytest.raises(OktaApiError) as caught:
            await collect(listing(client))
    assert str(caught.value) == f"Okta's answer to GET {path} is larger than 1 MiB; refusing it"
    assert len(server.seen) == 1 and firehose.sent < 64 * 2**20


async def test_a_group_id_is_one_path_segment() -> None:
    async with (
        StubServer(answering(b"[]")) as server,
        OktaClient(server.url, TOKEN) as client,
    ):
        assert await collect(client.list_group_member_ids("../users?x=1")) == []
    (request,) = server.seen
    assert request.raw_path == "/api/v1/groups/..%2Fusers%3Fx%3D1/users"

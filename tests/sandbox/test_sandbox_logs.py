"""The System Log: bounded and polling reads, filters, windows and order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from okta_hris.sandbox import Sandbox
from okta_hris.sandbox.clock import format_time

from .sandbox_http import client_for, links, list_all, pages

Event = dict[str, Any]


def make_user(client: httpx.Client, name: str, *, activate: bool = False) -> dict[str, Any]:
    body = {
        "profile": {
            "firstName": name,
            "lastName": "Tester",
            "login": f"{name.lower()}@example.com",
            "email": f"{name.lower()}@example.com",
        },
        "credentials": {"password": {"value": "Sandbox-pass-1"}},
    }
    response = client.post("/api/v1/users", params={"activate": str(activate).lower()}, json=body)
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()
    return user


@pytest.fixture
def history(empty_http: httpx.Client) -> list[Event]:
    """Eight events: four users created, two activated, a group created, a membership."""
    users = [make_user(empty_http, name, activate=name in ("Ann", "Bea")) for name in
             ("Ann", "Bea", "Cai", "Dov")]  # fmt: skip
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Sales"}}).json()
    empty_http.put(f"/api/v1/groups/{group['id']}/users/{users[2]['id']}")
    events = list_all(empty_http, "/api/v1/logs", {"until": future()})
    assert len(events) == 8
    return events


def future() -> str:
    return format_time(datetime.now(UTC) + timedelta(minutes=5))


def test_polling_responses_always_carry_next(empty_http: httpx.Client) -> None:
    first = empty_http.get("/api/v1/logs")
    assert first.status_code == 200 and first.json() == []
    cursor = links(first)["next"]
    # Nothing new yet: still a next link to keep polling.
    again = empty_http.get(cursor)
    assert again.json() == [] and "next" in links(again)
    make_user(empty_http, "Eve", activate=True)
    fresh = empty_http.get(links(again)["next"])
    assert [e["eventType"] for e in fresh.json()] == [
        "user.lifecycle.create",
        "user.lifecycle.activate",
    ]
    # And the events already read are not read again.
    after = empty_http.get(links(fresh)["next"])
    assert after.json() == [] and "next" in links(after)


def test_polling_pages_through_a_backlog_with_limit(
    empty_http: httpx.Client, history: list[Event]
) -> None:
    response = empty_http.get("/api/v1/logs", params={"limit": 3})
    read: list[Event] = []
    for _ in range(5):
        read += response.json()
        response = empty_http.get(links(response)["next"])
    assert [e["uuid"] for e in read] == [e["uuid"] for e in history]
    assert response.json() == [] and "next" in links(response)


def test_bounded_requests_end_without_next(empty_http: httpx.Client, history: list[Event]) -> None:
    responses = pages(empty_http, "/api/v1/logs", {"until": future(), "limit": 3})
    assert [len(r.json()) for r in responses] == [3, 3, 2]
    assert "next" not in links(responses[-1])
    got = [e["uuid"] for r in responses for e in r.json()]
    assert got == [e["uuid"] for e in history]


def test_since_is_inclusive_and_until_exclusive(
    empty_http: httpx.Client, history: list[Event]
) -> None:
    since, until = history[2]["published"], history[6]["published"]
    got = list_all(empty_http, "/api/v1/logs", {"since": since, "until": until})
    wanted = [e["uuid"] for e in history if since <= e["published"] < until]
    assert [e["uuid"] for e in got] == wanted and wanted


def test_descending_order(empty_http: httpx.Client, history: list[Event]) -> None:
    got = list_all(empty_http, "/api/v1/logs", {"sortOrder": "DESCENDING", "limit": 3})
    assert [e["uuid"] for e in got] == [e["uuid"] for e in reversed(history)]


def test_filter_on_event_type_and_target(empty_http: httpx.Client, history: list[Event]) -> None:
    creates = list_all(
        empty_http,
        "/api/v1/logs",
        {"until": future(), "filter": 'eventType eq "user.lifecycle.create"'},
    )
    assert len(creates) == 4 and {e["eventType"] for e in creates} == {"user.lifecycle.create"}
    cai = next(e for e in history if e["target"][0]["alternateId"] == "cai@example.com")
    cai_id = cai["target"][0]["id"]
    about_cai = list_all(
        empty_http, "/api/v1/logs", {"until": future(), "filter": f'target.id eq "{cai_id}"'}
    )
    assert [e["eventType"] for e in about_cai] == [
        "user.lifecycle.create",
        "group.user_membership.add",
    ]
    either = list_all(
        empty_http,
        "/api/v1/logs",
        {
            "until": future(),
            "filter": 'eventType eq "group.lifecycle.create" or '
            '(eventType eq "user.lifecycle.activate" and target.id eq "nobody")',
        },
    )
    assert [e["eventType"] for e in either] == ["group.lifecycle.create"]


def test_default_window_is_the_last_seven_days(
    empty_http: httpx.Client, history: list[Event]
) -> None:
    old = format_time(datetime.now(UTC) - timedelta(days=8))
    assert list_all(empty_http, "/api/v1/logs", {"until": old}) == []
    assert len(list_all(empty_http, "/api/v1/logs", {"until": future()})) == len(history)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "last tuesday"},
        {"until": "2026-13-01T00:00:00Z"},
        {"limit": "1001"},
        {"limit": "-1"},
        {"sortOrder": "SIDEWAYS"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ],
)
def test_invalid_parameters_are_400(empty_http: httpx.Client, params: dict[str, str]) -> None:
    response = empty_http.get("/api/v1/logs", params=params)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000001"


def test_bad_filter_is_400(empty_http: httpx.Client) -> None:
    response = empty_http.get("/api/v1/logs", params={"filter": 'eventType eq "x" and'})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000031"


def test_pages_default_to_100_events(empty_http: httpx.Client) -> None:
    for index in range(55):
        make_user(empty_http, f"User{index}", activate=True)  # two events each
    first = empty_http.get("/api/v1/logs", params={"until": future()})
    assert len(first.json()) == 100 and "next" in links(first)
    rest = empty_http.get(links(first)["next"])
    assert len(rest.json()) == 10 and "next" not in links(rest)


def cursor_of(url: str) -> str:
    return str(httpx.URL(url).params["after"])


def test_a_cursor_past_the_end_is_400_not_a_silent_skip(empty_http: httpx.Client) -> None:
    cursor = cursor_of(links(empty_http.get("/api/v1/logs"))["next"])
    seq, _, log_id = cursor.partition("_")
    assert seq == "0" and log_id
    # A cursor beyond the last event would skip the events written up to it later on.
    ahead = empty_http.get("/api/v1/logs", params={"after": f"5_{log_id}"})
    assert ahead.status_code == 400
    body = ahead.json()
    assert body["errorCode"] == "E0000001"
    assert body["errorSummary"] == "Api validation failed: after"
    make_user(empty_http, "Ann", activate=True)
    # The cursor handed out before is still good and sees the new events.
    fresh = empty_http.get("/api/v1/logs", params={"after": cursor})
    assert [e["eventType"] for e in fresh.json()] == [
        "user.lifecycle.create",
        "user.lifecycle.activate",
    ]
    assert empty_http.get("/api/v1/logs", params={"after": f"2_{log_id}"}).status_code == 200
    assert empty_http.get("/api/v1/logs", params={"after": f"3_{log_id}"}).status_code == 400


def test_a_cursor_from_another_sandbox_is_400(
    empty_http: httpx.Client, sandbox_factory: Callable[..., Sandbox]
) -> None:
    other = sandbox_factory(users=0, groups=0)
    with client_for(other) as client:
        foreign = cursor_of(links(client.get("/api/v1/logs"))["next"])
    response = empty_http.get("/api/v1/logs", params={"after": foreign})
    assert response.status_code == 400
    assert response.json()["errorSummary"] == "Api validation failed: after"


@pytest.mark.parametrize("after", ["", "5", "-1", "x_y", "1_"])
def test_a_malformed_cursor_names_after(empty_http: httpx.Client, after: str) -> None:
    for params in ({"after": after}, {"after": after, "until": future()}):
        response = empty_http.get("/api/v1/logs", params=params)
        assert response.status_code == 400
        body = response.json()
        assert body["errorCode"] == "E0000001"
        assert body["errorSummary"] == "Api validation failed: after"


def test_the_log_filter_takes_not(empty_http: httpx.Client, history: list[Event]) -> None:
    got = list_all(
        empty_http,
        "/api/v1/logs",
        {"until": future(), "filter": 'not (eventType eq "user.lifecycle.create")'},
    )
    wanted = [e["uuid"] for e in history if e["eventType"] != "user.lifecycle.create"]
    assert [e["uuid"] for e in got] == wanted and len(wanted) == 4
    nested = list_all(
        empty_http,
        "/api/v1/logs",
        {
            "until": future(),
            "filter": 'eventType sw "user." and not (eventType eq "user.lifecycle.create" '
            'or eventType eq "nothing")',
        },
    )
    assert [e["eventType"] for e in nested] == ["user.lifecycle.activate"] * 2


def test_invalid_dates_in_the_log_filter_are_e0000030(empty_http: httpx.Client) -> None:
    response = empty_http.get("/api/v1/logs", params={"filter": 'published gt "noon"'})
    assert (response.status_code, response.json()["errorCode"]) == (400, "E0000030")


def test_the_date_header_and_the_events_share_the_orgs_clock(
    empty_sandbox: Sandbox, empty_http: httpx.Client
) -> None:
    # The org stamps each change a millisecond after the last: a burst of writes runs its
    # clock ahead of the wall. Okta has one clock, so a client that reads the log until the
    # Date it was answered (a sync's ``until``) must find the event just written.
    clock = empty_sandbox._org.clock
    for _ in range(5000):  # five seconds ahead of the wall
        clock.now()
    make_user(empty_http, "Eve")
    answered = parsedate_to_datetime(empty_http.get("/api/v1/users/me").headers["Date"])
    until = answered + timedelta(seconds=1)  # the Date has whole seconds
    window = {"since": format_time(answered - timedelta(hours=1)), "until": format_time(until)}
    events = list_all(empty_http, "/api/v1/logs", window)
    assert "user.lifecycle.create" in {e["eventType"] for e in events}

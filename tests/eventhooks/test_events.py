"""Reading Okta's Event Hook bodies: hostile until read, one line when refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from okta_hris.domain.events import (
    CONSUMED_EVENT_TYPES,
    MAX_EVENTS_PER_DELIVERY,
    EventBatch,
    HookEvent,
    parse_hook_delivery,
)
from tests.eventhooks.okta_bodies import delivery, log_event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_user_and_membership_events_name_their_users_and_groups() -> None:
    events = parse_hook_delivery(
        delivery(
            log_event("user.lifecycle.create", ("00u1",), published=T0),
            log_event("group.user_membership.add", ("00u2",), ("00g1",)),
            log_event("group.profile.update", (), ("00g2",)),
        )
    )
    assert [(e.event_type, e.user_ids, e.group_ids) for e in events] == [
        ("user.lifecycle.create", {"00u1"}, frozenset()),
        ("group.user_membership.add", {"00u2"}, {"00g1"}),
        ("group.profile.update", frozenset(), {"00g2"}),
    ]
    assert events[0].published == T0


def test_the_rename_event_is_read_under_the_spec_name_too() -> None:
    # SPEC §11 writes "group.profile.updated", Okta's catalog "group.profile.update".
    (event,) = parse_hook_delivery(delivery(log_event("group.profile.updated", (), ("00g2",))))
    assert event.group_ids == {"00g2"}
    assert "group.profile.updated" not in CONSUMED_EVENT_TYPES  # never registered with Okta


def test_other_event_types_and_other_targets_are_skipped() -> None:
    app_target = {"id": "0oa1", "type": "AppInstance"}
    login = log_event("user.session.start", ("00u1",))
    create = log_event("user.lifecycle.create", ("00u2",))
    create["target"].append(app_target)
    create["target"].append({"id": "00g9", "type": "UserGroup"})  # not read from a user event
    events = parse_hook_delivery(delivery(login, create))
    assert [(e.user_ids, e.group_ids) for e in events] == [({"00u2"}, frozenset())]


def test_a_null_target_is_an_event_without_ids() -> None:
    event = log_event("user.lifecycle.create")
    event["target"] = None
    (parsed,) = parse_hook_delivery(delivery(event))
    assert parsed.user_ids == frozenset() and parsed.published is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe", "the body is not JSON"),
        (b"{not json", "the body is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[]", "no data.events list"),
        (b'{"data": {"events": {}}}', "no data.events list"),
        (b'{"data": {"events": ["x"]}}', "data.events[0]: not an object"),
        (b'{"data": {"events": [{"uuid": "a"}]}}', "data.events[0]: no eventType"),
    ],
)
def test_malformed_bodies_are_one_line(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]*$") as caught:
        parse_hook_delivery(body)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("uuid", "<script>", "no valid uuid"),
        ("uuid", "a" * 65, "no valid uuid"),
        ("published", "yesterday", "published is not an ISO 8601 time"),
        ("published", "2026-12-01T12:00:00", "published has no time zone"),
        ("published", 17, "published is not a time"),
        ("target", {"id": "x"}, "target is not a list of at most 20"),
        ("target", [{"id": "00u1"}] * 21, "target is not a list of at most 20"),
        ("target", ["00u1"], "a target is not an object"),
        ("target", [{"id": "../../etc", "type": "User"}], "a User target has no valid Okta id"),
        ("target", [{"id": 7, "type": "UserGroup"}], "a UserGroup target has no valid Okta id"),
    ],
)
def test_hostile_values_in_a_consumed_event_refuse_the_delivery(
    field: str, value: object, message: str
) -> None:
    event = log_event("group.user_membership.remove", ("00u1",), ("00g1",))
    event[field] = value
    with pytest.raises(ValueError) as caught:
        parse_hook_delivery(delivery(log_event("user.lifecycle.create", ("00u0",)), event))
    assert str(caught.value) == f"data.events[1]: {message}"
    assert "etc" not in str(caught.value) and "script" not in str(caught.value)


def test_too_many_events_are_refused() -> None:
    many = [log_event("user.lifecycle.create", ("00u1",))] * (MAX_EVENTS_PER_DELIVERY + 1)
    with pytest.raises(ValueError, match="more than 1000"):
        parse_hook_delivery(json.dumps({"data": {"events": many}}).encode())


def test_consumed_types_are_those_of_the_spec() -> None:
    assert "user.lifecycle.delete.initiated" in CONSUMED_EVENT_TYPES
    assert {"group.user_membership.add", "group.user_membership.remove"} <= set(
        CONSUMED_EVENT_TYPES
    )
    assert all(
        t.startswith(("user.lifecycle.", "user.account.", "group.")) for t in CONSUMED_EVENT_TYPES
    )


def test_a_batch_merges_ids_counts_and_the_newest_time() -> None:
    first = HookEvent("a", "user.lifecycle.create", T0, frozenset({"u1"}), frozenset())
    second = HookEvent(
        "b", "group.user_membership.add", T0 - timedelta(1), frozenset({"u2"}), frozenset({"g"})
    )
    undated = HookEvent("c", "user.lifecycle.suspend", None, frozenset({"u1"}), frozenset())
    batch = EventBatch.of([first, second, undated])
    assert batch == EventBatch(frozenset({"u1", "u2"}), frozenset({"g"}), 3, T0)
    assert EventBatch().merge(EventBatch.of([undated])).last_event_time is None
    assert batch.merge(EventBatch.of([undated])).events == 4

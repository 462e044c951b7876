"""The mirror's user record: its profile held as canonical JSON bytes, cleaned once when made."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_hris.domain.changes import OktaUserRecord
from okta_hris.domain.profiles import MAX_DEPTH, decode_profile, encode_profile, storable_json

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def record(**profile: object) -> OktaUserRecord:
    return OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile=profile)


def test_the_profile_reads_back_as_given() -> None:
    profile = {"login": "ann@example.com", "n": 10**30, "x": 1.5, "tags": ["a", None, True]}
    assert record(**profile).profile == profile


def test_key_order_does_not_make_two_records_differ() -> None:
    a = OktaUserRecord(
        id="00u1", status="ACTIVE", last_updated=T0, profile={"a": 1, "b": {"d": 1, "c": 2}}
    )
    b = OktaUserRecord(
        id="00u1", status="ACTIVE", last_updated=T0, profile={"b": {"c": 2, "d": 1}, "a": 1}
    )
    assert a == b and hash(a) == hash(b)
    assert a != a.replace(profile={"a": 2, "b": {"c": 2, "d": 1}})
    assert a != a.replace(status="SUSPENDED") and a != a.replace(last_updated=datetime.now(UTC))


def test_what_no_json_column_takes_is_cleaned_when_made() -> None:
    deep: object = "bottom"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    made = record(
        name="A\x00nn\ud800", nan=float("nan"), inf=float("-inf"), big=10**5000, deep=deep
    )
    profile = made.profile
    assert profile["name"] == "Ann"
    assert profile["nan"] is None and profile["inf"] is None and profile["big"] is None
    assert "bottom" not in repr(profile["deep"])
    # The same profile made from what the mirror stored is the same record.
    assert OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile=profile) == made


def test_a_profile_that_is_no_object_is_empty() -> None:
    made = OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile=[1, 2])  # type: ignore[arg-type]
    assert made.profile == {}


def test_a_record_is_immutable_and_its_profile_a_copy() -> None:
    made = record(city="Berlin")
    with pytest.raises(AttributeError):
        made.status = "SUSPENDED"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del made.id
    made.profile["city"] = "Paris"  # a new dict at each read: the record keeps its own
    assert made.profile == {"city": "Berlin"}
    assert pickle.loads(pickle.dumps(made)) == made
    assert "Berlin" in repr(made)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(profile=st.dictionaries(st.text(), json_values, max_size=8))
def test_any_profile_encodes_to_its_storable_json(profile: dict[str, object]) -> None:
    data = encode_profile(profile)
    assert decode_profile(data) == storable_json(profile)
    assert encode_profile(decode_profile(data)) == data  # canonical: a fixed point

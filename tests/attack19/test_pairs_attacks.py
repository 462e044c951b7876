"""Red-team of ``Pairs`` (domain/changes.py): equality, hashing, ordering and the Sequence
protocol, against the tuple of pairs a plan held before."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from okta_hris.domain.changes import DirectoryChanges, Pairs

T0 = datetime(2026, 3, 2, tzinfo=UTC)
# Ids that sort differently by code point, by locale and by case, and odd text.
ids = st.sampled_from(
    ["a", "B", "b", "é", "E\u0301", "\U0001f600", "\ud800", "\x00", "1", "10", ""]
)


@given(st.dictionaries(ids, st.lists(ids, max_size=4), max_size=6))
def test_pairs_read_as_the_tuple_a_plan_held_before(grouped: dict[str, list[str]]) -> None:
    pairs = Pairs(grouped)
    before = tuple(sorted({(f, s) for f, them in grouped.items() for s in them}))
    assert tuple(pairs) == before
    assert list(reversed(pairs)) == list(reversed(before))
    assert pickle.loads(pickle.dumps(pairs)) == pairs
    assert copy.deepcopy(pairs) == pairs
    for pair in before:
        assert pairs.index(pair) == before.index(pair) and pairs.count(pair) == 1


def test_equal_pairs_and_tuple_hash_alike() -> None:
    """``Pairs`` is equal to the tuple of its pairs (its doc: "equal to any sequence of the
    same pairs in the same order"), so the two must hash alike: objects that compare equal
    have the same hash (Python's data model), or a set or dict holds both as different keys."""
    pairs = Pairs({"00g1": ["00u1", "00u2"]})
    as_tuple = (("00g1", "00u1"), ("00g1", "00u2"))
    assert pairs == as_tuple
    assert hash(pairs) == hash(as_tuple)
    assert len({pairs, as_tuple}) == 1


def test_equal_directory_changes_hash_alike() -> None:
    """A plan's changes (``Pairs``) against the same changes built by hand with tuples:
    ``DirectoryChanges`` is a frozen dataclass, hashed by its fields, so equal changes
    must hash alike."""
    planned = DirectoryChanges(
        integration="acme/x", synced_at=T0, memberships_add=Pairs({"00u1": ["00g1"]})
    )
    by_hand = dataclasses.replace(planned, memberships_add=(("00u1", "00g1"),))
    assert planned == by_hand
    assert hash(planned) == hash(by_hand)


def test_empty_pairs_equal_an_empty_tuple_but_not_text_or_bytes() -> None:
    """An empty ``Pairs`` is the ``()`` a DirectoryChanges defaults to. Bytes are a Sequence
    too, but no sequence of pairs: a tuple is not equal to ``b""``, nor should Pairs be."""
    assert Pairs() == () and Pairs({"00g1": []}) == ()
    assert Pairs() != ""
    assert Pairs() != b""

"""``Pairs``: a plan's memberships, held by first, read as the sorted distinct pairs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_hris.domain.changes import REPR_PAIRS, Pairs

ids = st.text(alphabet="abc019", min_size=1, max_size=3)


@given(st.dictionaries(ids, st.lists(ids, max_size=5), max_size=8))
def test_pairs_are_the_sorted_distinct_pairs_of_each_first(grouped: dict[str, list[str]]) -> None:
    pairs = Pairs(grouped)
    expected = sorted({(first, second) for first, them in grouped.items() for second in them})
    assert list(pairs) == expected
    assert len(pairs) == len(expected)
    assert pairs == tuple(expected) and tuple(expected) == pairs and pairs != expected
    assert pairs == Pairs({k: reversed(v) for k, v in grouped.items()})
    assert hash(pairs) == hash(Pairs(grouped)) == hash(tuple(expected))
    for position in range(-len(expected), len(expected)):
        assert pairs[position] == expected[position]
    assert pairs[1:3] == tuple(expected[1:3])
    assert all(pair in pairs for pair in expected)


def test_pairs_differ_from_other_pairs_and_out_of_range_raises() -> None:
    pairs = Pairs({"00g1": ["00u2", "00u1", "00u2"], "00g0": [], "00g2": ("00u1",)})
    assert list(pairs) == [("00g1", "00u1"), ("00g1", "00u2"), ("00g2", "00u1")]
    assert pairs != (("00g1", "00u1"), ("00g1", "00u2"))
    assert pairs != Pairs({"00g1": ["00u1", "00u2"]})
    assert pairs != "00g1"
    assert not Pairs() and len(Pairs({"00g0": []})) == 0 and Pairs() == ()
    with pytest.raises(IndexError):
        pairs[3]
    with pytest.raises(IndexError):
        pairs[-4]


def test_a_large_plans_pairs_show_their_count_not_every_pair() -> None:
    small = Pairs({"00g1": ["00u1"]})
    assert repr(small) == "Pairs([('00g1', '00u1')])"
    large = Pairs({"00g1": [f"00u{n}" for n in range(REPR_PAIRS + 1)]})
    assert repr(large) == f"Pairs(<{REPR_PAIRS + 1} pairs>)"


@given(st.dictionaries(ids, st.lists(ids, max_size=5), max_size=8))
def test_tuples_in_any_order_make_the_same_pairs_and_sorted_ones_are_kept(
    grouped: dict[str, list[str]],
) -> None:
    expected = Pairs(grouped)
    assert Pairs({first: tuple(them) for first, them in grouped.items()}) == expected
    ordered = {first: tuple(sorted(set(them))) for first, them in grouped.items()}
    pairs = Pairs(ordered)
    assert pairs == expected
    # Held as given, not copied (a plan's memberships: one tuple per user, made sorted).
    held = zip(pairs._firsts, pairs._seconds, strict=True)
    assert all(them is ordered[first] for first, them in held)

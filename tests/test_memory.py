"""``collection_paused``: no cyclic collection inside, the collector as it was after."""

from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Iterator

import pytest

from okta_hris.memory import collection_paused, tune_allocator


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()


def test_nothing_is_collected_inside_and_the_collector_runs_again_after() -> None:
    gc.enable()
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with collection_paused():
            assert not gc.isenabled()
            garbage = [[] for _ in range(100_000)]  # enough allocations for many collections
            del garbage
            assert collections == []
        assert gc.isenabled()
        garbage = [[] for _ in range(100_000)]
        del garbage
        assert collections != []
    finally:
        gc.callbacks.remove(count)


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_nested_and_concurrent_steps_share_one_pause() -> None:
    gc.enable()
    inside = threading.Barrier(2)
    leave = threading.Event()
    states: list[bool] = []

    def other_step() -> None:
        with collection_paused():
            inside.wait()
            leave.wait()
        states.append(gc.isenabled())

    worker = threading.Thread(target=other_step)
    worker.start()
    with collection_paused():
        inside.wait()
        with collection_paused():  # nested: ending it does not end the others
            pass
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's step still runs
    leave.set()
    worker.join()
    assert states == [True] and gc.isenabled()


def test_an_exception_inside_ends_the_pause() -> None:
    gc.enable()

    @collection_paused()
    def failing() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        failing()
    assert gc.isenabled()


_MALLINFO2_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2_FIELDS.split()]


def _mapped_blocks() -> int:
    """How many blocks glibc's malloc has mapped on their own (``mallinfo2().hblks``)."""
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallInfo2
    return int(mallinfo2().hblks)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="needs glibc 2.33 or later")
def test_tune_allocator_maps_a_large_block_of_its_own_even_after_a_larger_was_freed() -> None:
    assert tune_allocator()
    larger = bytearray(8 * 1024 * 1024)  # freed: glibc's default raises its threshold to this
    del larger
    before = _mapped_blocks()
    # Larger than the heap keeps free at its top (128 KiB): mapped, not grown into the heap.
    block = bytearray(2 * 1024 * 1024)
    assert _mapped_blocks() == before + 1
    del block
    assert _mapped_blocks() == before

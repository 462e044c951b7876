"""``collection_paused``: no cyclic collection inside, the collector as it was after;
``tune_allocator``; ``Spill``: byte strings given back as they were put."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from okta_hris import memory
from okta_hris.memory import Spill, Spilling, collection_paused, tune_allocator


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


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="needs glibc 2.33 or later")
def test_tune_allocator_is_taken_by_glibc() -> None:
    # Whether a given block is then mapped depends on what the heap holds free at its top
    # (other tests' frees): the figures are bench/okta_scale.py's.
    assert tune_allocator()


def test_a_spill_gives_back_each_string_as_it_was_put() -> None:
    first = [b"", b"{}", b"\x00\xff" * 3, "Zürich".encode()]
    second = [os.urandom(300_000), b"x"]
    spill = Spill()
    try:
        handles = spill.put(first) + spill.put(second)
        assert [spill.get(handle) for handle in handles] == first + second
        assert spill.size == sum(map(len, first + second))
        assert spill.put([]) == [] and spill.size == sum(map(len, first + second))
    finally:
        spill.close()
    with pytest.raises(OSError):
        spill.get(handles[1])


def test_a_spill_has_no_name_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spill = Spill()
    spill.put([b"a profile"])
    assert list(tmp_path.iterdir()) == []  # unlinked at once: no file for anyone to read
    spill.close()
    with pytest.raises(FileNotFoundError):
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
        Spill()


def test_a_spill_cut_short_is_an_error_not_a_short_string() -> None:
    spill = Spill()
    try:
        (handle,) = spill.put([b"0123456789"])
        os.ftruncate(spill._fd, 4)  # what a disk error or another process could leave
        with pytest.raises(OSError, match="shorter"):
            spill.get(handle)
    finally:
        spill.close()


def as_handles(batch: list[bytes], spill: Spill) -> list[bytes]:
    """A ``spilled`` for ``Spilling``: each string by its handle, written as a decimal."""
    return [str(handle).encode() for handle in spill.put(batch)]


def test_spilling_begins_when_the_records_held_reach_spill_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "SPILL_AFTER", 3)
    spilling = Spilling("test strings", logging.getLogger("test"))
    assert spilling.held([b"a", b"b"], as_handles) == [b"a", b"b"]
    assert spilling.spill is None  # two held: no file
    assert spilling.held([], as_handles) == []
    moved = spilling.held([b"c", b"dd"], as_handles)
    assert spilling.spill is not None
    assert [spilling.spill.get(int(handle)) for handle in moved] == [b"c", b"dd"]
    later = spilling.held([b"e"], as_handles)
    assert [spilling.spill.get(int(handle)) for handle in later] == [b"e"]  # one file for all


def test_spilling_without_a_file_keeps_the_records_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(memory, "SPILL_AFTER", 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    spilling = Spilling("test strings", logging.getLogger("test.spilling"))
    with caplog.at_level(logging.INFO, logger="test.spilling"):
        assert spilling.held([b"a"], as_handles) == [b"a"]
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the disk is back: too late
        assert spilling.held([b"b"], as_handles) == [b"b"]
    assert spilling.spill is None
    told = [r for r in caplog.records if r.name == "test.spilling"]
    assert [r.levelno for r in told] == [logging.INFO]
    assert told[0].getMessage() == (
        "test strings stay in memory: no temporary file can hold them (No such file or directory)"
    )

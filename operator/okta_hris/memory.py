"""How a sync's process keeps its memory: the cyclic collector held off while one step builds
a large org, and the C allocator told to give large blocks back.


Planning, writing or reading 100,000 users allocates millions of objects (models, dicts,
tuples) that live until the step ends and are freed by reference counting: none of them
forms a cycle. The cyclic collector does not know that. It walks every object alive each
time enough have been allocated, the fetched org included: at 100,000 users three full
collections took 2 s of a 9 s plan, and the plan ran in 5.7 s without them. Inside
``collection_paused`` it does not run; the garbage cycles anything else made meanwhile wait
for the next collection after it.

``tune_allocator``: glibc's ``malloc`` serves a block of 128 KiB and more from a mapping of
its own, returned to the system when freed; but after the first such free it raises that
threshold to the size freed (up to 32 MiB). A sync reads thousands of Okta pages of 50-200
KiB: from the first on they come from the heap, where every later small allocation (the
org's strings and records) pins the pages they leave behind. A fixed threshold keeps them
out of the heap: at 100,000 users the peak RSS of a full sync is 425 MB instead of 466.

``Spill``: byte strings a sync holds from the fetch to the apply, kept in a temporary file.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

logger = logging.getLogger(__name__)

# mallopt's parameter number (malloc.h) and the size above which a block is mapped on its own.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 * 1024


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` for this process (module docstring);
    whether it did (not on another C library, such as musl's or macOS's)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its C library's
    except (OSError, AttributeError):  # no mallopt (macOS), or no dynamic loading
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = int(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) == 1
    if not done:
        logger.debug("the C library refused mallopt(M_MMAP_THRESHOLD); its default stays")
    return done


_lock = threading.Lock()
_paused = 0  # steps inside collection_paused, across threads
_was_enabled = False  # the collector's state before the first of them


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection while the body runs (also a decorator). Steps of several threads
    share the pause: the collector runs again when the last ends, if it ran before the
    first began."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


# Records a listing or load holds before their byte strings go to a ``Spill``: a small org, or
# an incremental sync's few changed users, never touches the disk.
SPILL_AFTER = 2_000

# A handle packs where a spilled byte string starts and how long it is into one int: one small
# object per string, rather than a tuple of two.
_LENGTH_BITS = 32
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1


class Spill:
    """Byte strings kept in an unlinked temporary file rather than in the heap, read back by
    the handle ``put`` gave for each.

    A full sync of 100,000 users holds each one's profile (the mirror's canonical JSON, about
    700 bytes) from the page it came in until the apply writes it: 67 MB of a 300 MB peak.
    Written here, they are the kernel's page cache, which it may write out and reclaim under
    pressure, instead of resident memory that it may not. ``put`` is for one thread; ``get``
    reads by position and is safe from any. The file is in ``TMPDIR`` (the chart mounts an
    ``emptyDir`` at /tmp), has no name, and is gone when the spill is collected or closed.

    ``put`` and ``get`` raise ``OSError`` (a full disk, an I/O error): the caller keeps the
    strings in memory instead, or fails the sync.
    """

    def __init__(self) -> None:
        # Closed by close(), or when the spill is collected (the records that use it are gone).
        self._file = tempfile.TemporaryFile(prefix="okta-hris-spill-", buffering=0)  # noqa: SIM115
        self._fd = self._file.fileno()
        self._end = 0

    def put(self, chunks: Sequence[bytes]) -> list[int]:
        """Write ``chunks`` (one write for all of them); their handles, in order."""
        if any(len(chunk) > _LENGTH_MASK for chunk in chunks):
            raise OSError(errno.EFBIG, "a byte string too long to spill")
        data = b"".join(chunks)
        start = self._end
        view = memoryview(data)
        while view:
            view = view[os.pwrite(self._fd, view, start + len(data) - len(view)) :]
        self._end = start + len(data)
        handles: list[int] = []
        offset = start
        for chunk in chunks:
            handles.append(offset << _LENGTH_BITS | len(chunk))
            offset += len(chunk)
        return handles

    def get(self, handle: int) -> bytes:
        """The byte string written with ``handle``."""
        length = handle & _LENGTH_MASK
        data = os.pread(self._fd, length, handle >> _LENGTH_BITS)
        if len(data) != length:  # truncated under us
            raise OSError(errno.EIO, "the temporary file is shorter than what was written to it")
        return data

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._end

    def close(self) -> None:
        """Give the file back now; a ``get`` after this raises (it never reads whatever file
        the system gives the same descriptor next)."""
        self._fd = -1
        self._file.close()


T = TypeVar("T")


class Spilling:
    """The ``Spill`` of one listing or load: made when the records it holds first reach
    ``SPILL_AFTER``, and given up for good, said once at INFO, when no temporary file can be
    made or written. ``held`` takes each batch of records and gives back the ones to keep:
    the batch itself, or (``spilled``) equal records whose byte strings are in the file.
    ``what`` names those byte strings in the caller's ``log`` ("Okta profiles").
    """

    def __init__(self, what: str, log: logging.Logger) -> None:
        self.spill: Spill | None = None
        self._what = what
        self._log = log
        self._refused = False
        self._count = 0

    def held(self, batch: list[T], spilled: Callable[[list[T], Spill], list[T]]) -> list[T]:
        self._count += len(batch)
        if self._refused or not batch or self._count < SPILL_AFTER:
            return batch
        try:
            if self.spill is None:
                self.spill = Spill()
                self._log.debug("%s wait in a temporary file", self._what)
            return spilled(batch, self.spill)
        except OSError as exc:
            self._refused = True
            reason = " ".join((exc.strerror or str(exc)).split())[:200]  # the OS's, on one line
            self._log.info(
                "%s stay in memory: no temporary file can hold them (%s)", self._what, reason
            )
            return batch

"""Holding off Python's cyclic garbage collector while one step builds a large org.

Planning, writing or reading 100,000 users allocates millions of objects (models, dicts,
tuples) that live until the step ends and are freed by reference counting: none of them
forms a cycle. The cyclic collector does not know that. It walks every object alive each
time enough have been allocated, the fetched org included: at 100,000 users three full
collections took 2 s of a 9 s plan, and the plan ran in 5.7 s without them. Inside
``collection_paused`` it does not run; the garbage cycles anything else made meanwhile wait
for the next collection after it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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

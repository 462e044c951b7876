"""Running one action in several threads at once, as replicas starting together would."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(
    action: Callable[[], object], count: int = 3, timeout: float = 60
) -> list[BaseException]:
    """Run ``action`` in ``count`` threads released together; what each raised."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors

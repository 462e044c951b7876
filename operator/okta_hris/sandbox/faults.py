"""Deterministic fault injection: which request gets which fault."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from okta_hris.sandbox.config import Fault


@dataclass
class _Installed:
    fault: Fault
    position: int  # order of installation; part of the probability hash
    seen: int = 0  # matching requests since installation


class FaultInjector:
    """Decides, per request, which installed fault (if any) hits it.

    Each fault counts the requests that match its ``path_prefix``. Faults may be installed
    and cleared from another thread (a test) while the server runs, hence the lock.
    """

    def __init__(self, faults: tuple[Fault, ...] | list[Fault], seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._installed: list[_Installed] = []
        self._positions = 0
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._installed.append(_Installed(fault, self._positions))
            self._positions += 1

    def clear(self) -> None:
        with self._lock:
            self._installed = []

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return [installed.fault for installed in self._installed]

    def pick(self, path: str) -> Fault | None:
        """Count this request for every matching fault and return the first one that fires."""
        chosen: Fault | None = None
        with self._lock:
            for installed in self._installed:
                fault = installed.fault
                if not fault.matches_path(path):
                    continue
                installed.seen += 1
                if chosen is None and self._fires(installed):
                    chosen = fault
        return chosen

    def _fires(self, installed: _Installed) -> bool:
        fault, number = installed.fault, installed.seen
        if fault.on_request is not None:
            return fault.on_request <= number < fault.on_request + fault.count
        if fault.probability is not None:
            return _uniform(self._seed, installed.position, number) < fault.probability
        return True


def _uniform(seed: int, position: int, number: int) -> float:
    """A number in [0, 1) that depends only on its arguments, so that which requests a
    probabilistic fault hits does not depend on timing or on other faults."""
    digest = hashlib.blake2b(f"{seed}/{position}/{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64

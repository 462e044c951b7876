"""CPU a rate-limit budget spends on many parked listings (issue 12: wake-ups grew as n²).

Reproduce with:

    .venv/bin/python bench/ratelimit_wakeups.py                 # 500, 1000, 2000 listings
    git show 94db24b:operator/okta_hris/okta/ratelimit.py > /tmp/old_ratelimit.py  # before
    .venv/bin/python bench/ratelimit_wakeups.py --module /tmp/old_ratelimit.py   # to compare

One request per listing (a group's members), all started at once as the engine does, through
the budget and then the client's concurrency cap of 8, against an in-process Okta answering
in 1 ms with a 600-per-second window (the reserve is 5 %). No network: the figures are the
budget's own cost, as CPU seconds of the event loop's thread, and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import sys
import time
from types import ModuleType

from okta_hris.okta import ratelimit

LIMIT = 600
WINDOW = 1.0


def load(path: str | None) -> ModuleType:
    if path is None:
        return ratelimit
    spec = importlib.util.spec_from_file_location("budget_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


async def run(module: ModuleType, listings: int) -> tuple[float, float]:
    clock = module.OktaClock()
    budget = module.BucketBudget(0.05, clock, 90.0)
    wire = asyncio.Semaphore(8)
    used: dict[int, int] = {}

    async def request() -> None:
        await budget.acquire()
        async with wire:
            await asyncio.sleep(0.001)
            now = time.time()
            reset = int(math.floor(now / WINDOW) * WINDOW + WINDOW)
            used[reset] = used.get(reset, 0) + 1
            headers = module.RateLimitHeaders(LIMIT, max(LIMIT - used[reset], 0), reset)
            budget.release(headers)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(request() for _ in range(listings)))
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--module", help="the ratelimit.py to measure (default: this checkout's)")
    parser.add_argument("--listings", type=int, nargs="+", default=[500, 1000, 2000])
    args = parser.parse_args()
    module = load(args.module)
    for listings in args.listings:
        cpu, wall = asyncio.run(run(module, listings))
        print(f"{listings:>6} listings: {cpu:6.2f} s CPU, {wall:6.2f} s wall")


if __name__ == "__main__":
    main()

"""How fast the Okta sandbox serves a full user listing.

Starts ``okta-hris sandbox`` in its own process (so client and server do not share a GIL),
then pages through every user with ``limit=200`` over HTTP with httpx, following the ``next``
Link header exactly as a client would, and prints users/second and pages/second. The first
pass fills the sandbox's per-user JSON cache and is reported separately; the last passes skip
JSON decoding on the client (counting users by their ids in the raw bytes) to show how much of
the time is the client's.

Reproduce with::

    .venv/bin/python bench/sandbox_throughput.py --users 10000 --passes 5
"""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import sys
import time
from dataclasses import dataclass

import httpx

from sandbox_process import TOKEN, start_sandbox


@dataclass
class Pass:
    users: int
    pages: int
    bytes: int
    seconds: float


def page_through(client: httpx.Client, limit: int, *, decode: bool = True) -> Pass:
    url: str | None = f"/api/v1/users?limit={limit}"
    users = pages = size = 0
    seen: set[str] = set()
    started = time.perf_counter()
    while url is not None:
        response = client.get(url)
        response.raise_for_status()
        if decode:
            ids = [user["id"] for user in response.json()]
        else:
            found = re.findall(rb'\{"id":"(00u[A-Za-z0-9]{17})"', response.content)
            ids = [match.decode() for match in found]
        users += len(ids)
        pages += 1
        size += len(response.content)
        seen.update(ids)
        url = None
        for link in response.headers.get_list("link"):
            match = re.match(r'<([^>]+)>;\s*rel="next"', link)
            if match:
                url = match.group(1)
    elapsed = time.perf_counter() - started
    if len(seen) != users:
        raise SystemExit(f"duplicates in the listing: {users} users, {len(seen)} distinct")
    return Pass(users, pages, size, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    process, url = start_sandbox(args.users, args.groups, "--no-rate-limits")
    print(f"sandbox with {args.users:,} users up in {time.perf_counter() - started:.1f} s at {url}")
    try:
        headers = {"Authorization": f"SSWS {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            cold = page_through(client, args.limit)
            passes = [page_through(client, args.limit) for _ in range(args.passes)]
            raw = [page_through(client, args.limit, decode=False) for _ in range(args.passes)]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)

    def report(label: str, run: Pass) -> None:
        print(
            f"{label}: {run.users:,} users in {run.pages} pages, {run.seconds:.3f} s: "
            f"{run.users / run.seconds:,.0f} users/s, {run.pages / run.seconds:,.1f} pages/s, "
            f"{run.bytes / run.seconds / 1e6:,.1f} MB/s"
        )

    report("first pass (fills the JSON cache)", cold)
    best = min(passes, key=lambda run: run.seconds)
    total = Pass(
        users=sum(p.users for p in passes),
        pages=sum(p.pages for p in passes),
        bytes=sum(p.bytes for p in passes),
        seconds=sum(p.seconds for p in passes),
    )
    report(f"warm, mean of {len(passes)} passes", total)
    report("warm, best pass", best)
    report("warm, best pass without client-side JSON decoding", min(raw, key=lambda r: r.seconds))
    command = ["bench/sandbox_throughput.py", *sys.argv[1:]]
    print(f"reproduce: .venv/bin/python {shlex.join(command)}")


if __name__ == "__main__":
    main()

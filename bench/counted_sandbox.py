"""The Okta sandbox in a process of its own that counts the requests it answers, per bucket.

The count is the server's, not the client's: a benchmark compares the requests a sync really
made (and, from them, the time Okta's rate limits allow at the least) with its own figures.
The parent talks to it over the child's stdin and stdout, one line each way:

- ``reset``: every bucket starts a fresh rate-limit window and the counts restart from zero,
  so one run's requests (or the writes that prepared it) never eat into the next one's budget;
- ``unlimited``: no rate limits until the next reset (the writes that prepare a run);
- ``counts``: a JSON object ``{bucket: [answered, refused with 429]}`` since the last reset.

Run as ``python bench/counted_sandbox.py USERS GROUPS WINDOW TOKEN_SHARE``; it prints
``listening on URL`` once it serves, and stops when its stdin closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from okta_hris.sandbox import RateLimitConfig, SandboxConfig, run_sandbox
from okta_hris.sandbox.server import Sandbox
from sandbox_process import TOKEN

# Every request of a run is counted: no run of the benchmark makes more than this many.
RECORDED_REQUESTS = 10_000_000
RATE_LIMITED = 429


class CountedSandbox:
    """The parent's handle: the child process, its URL and its rate limits."""

    def __init__(self, users: int, groups: int, limits: RateLimitConfig) -> None:
        self.limits = limits
        command = [sys.executable, __file__, str(users), str(groups), str(limits.window),
                   str(limits.token_share)]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self._read()
        if not line.startswith("listening on "):
            self.close()
            raise SystemExit(f"the counted sandbox did not start: {line!r}")
        self.url = line.removeprefix("listening on ").strip()

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def _ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def reset(self) -> None:
        self._ask("reset")

    def unlimited(self) -> None:
        self._ask("unlimited")

    def counts(self) -> dict[str, tuple[int, int]]:
        """Requests per bucket since the last reset: (answered, refused with a 429)."""
        return {
            bucket: (ok, refused)
            for bucket, (ok, refused) in json.loads(self._ask("counts")).items()
        }

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _counts(sandbox: Sandbox) -> dict[str, list[int]]:
    answered, refused = Counter[str](), Counter[str]()
    for request in list(sandbox.requests):
        (refused if request.status == RATE_LIMITED else answered)[request.bucket] += 1
    return {bucket: [answered[bucket], refused[bucket]] for bucket in answered | refused}


def serve(users: int, groups: int, window: float, token_share: float) -> None:
    limits = RateLimitConfig(window=window, token_share=token_share)
    config = SandboxConfig(
        users=users, groups=groups, seed=7, token=TOKEN, rate_limits=limits,
        recorded_requests=RECORDED_REQUESTS,
    )  # fmt: skip
    with run_sandbox(config) as sandbox:
        print(f"listening on {sandbox.url}", flush=True)
        for command in sys.stdin:
            if command.strip() == "reset":
                # Between runs, nothing in flight: a new limiter is a fresh window per bucket.
                sandbox.set_rate_limits(limits)
                sandbox.requests.clear()
                print("ok", flush=True)
            elif command.strip() == "unlimited":
                sandbox.set_rate_limits(RateLimitConfig(enabled=False))
                print("ok", flush=True)
            elif command.strip() == "counts":
                print(json.dumps(_counts(sandbox)), flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))

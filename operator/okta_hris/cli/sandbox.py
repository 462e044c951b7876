"""``okta-hris sandbox``: run the Okta sandbox until Ctrl-C (SPEC §8)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click
from pydantic import ValidationError

from okta_hris.sandbox import DEFAULT_TOKEN, Fault, RateLimitConfig, SandboxConfig, start_sandbox

_DEFAULTS = RateLimitConfig()


def _parse_fault(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
    faults = []
    for value in values:
        try:
            faults.append(Fault.parse(value))
        except (ValueError, ValidationError) as problem:
            first = problem.errors()[0]["msg"] if isinstance(problem, ValidationError) else problem
            raise click.BadParameter(f"{value!r}: {first}") from None
    return tuple(faults)


@click.command(
    "sandbox",
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
    epilog="""\b
Faults take KIND[,on=N][,count=N][,p=X][,path=PREFIX][,delay=S], KIND one of
401 403 429 500 502 503 504 slow drop. Examples:
  --fault 503,on=5                      the 5th request gets a 503
  --fault 429,on=10,count=3,path=/api/v1/users
  --fault drop,p=0.05                   5% of requests lose their connection
  --fault slow,on=2,delay=30            the 2nd request answers after 30 s""",
)
@click.option("--users", type=click.IntRange(min=0), default=1000, help="Users to generate.")
@click.option(
    "--groups", type=click.IntRange(min=0), default=50, help="Groups to generate, besides Everyone."
)
@click.option("--seed", type=int, default=7, help="The same seed always generates the same org.")
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, help="Port to listen on (0: any free)."
)
@click.option("--token", default=DEFAULT_TOKEN, help="The SSWS API token clients must send.")
@click.option(
    "--rate-limit-users",
    type=click.IntRange(min=1),
    default=_DEFAULTS.users,
    help="Requests per window to /api/v1/users*.",
)
@click.option(
    "--rate-limit-groups",
    type=click.IntRange(min=1),
    default=_DEFAULTS.groups,
    help="Requests per window to /api/v1/groups*.",
)
@click.option(
    "--rate-limit-logs",
    type=click.IntRange(min=1),
    default=_DEFAULTS.logs,
    help="Requests per window to /api/v1/logs.",
)
@click.option(
    "--rate-limit-other",
    type=click.IntRange(min=1),
    default=_DEFAULTS.other,
    help="Requests per window to any other path.",
)
@click.option(
    "--rate-limit-window",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULTS.window,
    help="Rate-limit window in seconds.",
)
@click.option(
    "--concurrency-limit",
    type=click.IntRange(min=1),
    default=_DEFAULTS.concurrency,
    help="Requests in flight before 429 with X-Rate-Limit-Limit: 0.",
)
@click.option("--no-rate-limits", is_flag=True, help="Disable rate and concurrency limits.")
@click.option(
    "--latency", type=click.FloatRange(min=0), default=0.0, help="Seconds added to every request."
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_parse_fault,
    help="Inject a fault (repeatable; see below).",
)
@click.option("--fault-seed", type=int, default=0, help="Seed for probabilistic faults.")
def sandbox_command(
    users: int,
    groups: int,
    seed: int,
    host: str,
    port: int,
    token: str,
    rate_limit_users: int,
    rate_limit_groups: int,
    rate_limit_logs: int,
    rate_limit_other: int,
    rate_limit_window: float,
    concurrency_limit: int,
    no_rate_limits: bool,
    latency: float,
    faults: tuple[Fault, ...],
    fault_seed: int,
) -> None:
    """Run a local Okta Management API with a generated org, until Ctrl-C."""
    config = SandboxConfig(
        users=users,
        groups=groups,
        seed=seed,
        token=token,
        host=host,
        port=port,
        rate_limits=RateLimitConfig(
            enabled=not no_rate_limits,
            users=rate_limit_users,
            groups=rate_limit_groups,
            logs=rate_limit_logs,
            other=rate_limit_other,
            window=rate_limit_window,
            concurrency=concurrency_limit,
        ),
        latency=latency,
        faults=faults,
        fault_seed=fault_seed,
    )
    try:
        asyncio.run(_serve(config))
    except OSError as problem:
        raise click.ClickException(f"cannot listen on {host}:{port}: {problem.strerror}") from None
    except KeyboardInterrupt:
        pass


async def _serve(config: SandboxConfig) -> None:
    sandbox = await start_sandbox(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    click.echo(
        f"Okta sandbox listening on {sandbox.url} (token: {config.token}, {config.users} users, "
        f"{config.groups} groups, seed {config.seed})"
    )
    sys.stdout.flush()  # a parent process waits for this line on a pipe
    try:
        await stop.wait()
    finally:
        await sandbox.stop()

"""``okta-hris sandbox``: run the Okta sandbox until Ctrl-C (SPEC §8)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click
from pydantic import ValidationError

from okta_hris.sandbox import (
    DEFAULT_TOKEN,
    Fault,
    HookDeliveryConfig,
    HookFault,
    RateLimitConfig,
    SandboxConfig,
    start_sandbox,
)
from okta_hris.sandbox.oauth import DEFAULT_TOKEN_TTL, OAuthClientConfig

_DEFAULTS = RateLimitConfig()
# A PEM public key is a few hundred bytes; a file much larger is not one.
_MAX_KEY_FILE_BYTES = 64 * 1024


def _parse_oauth_client(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[OAuthClientConfig, ...]:
    """``CLIENT_ID=PUBLIC_KEY_PEM_FILE``: a service app that may get access tokens."""
    clients = []
    for value in values:
        client_id, sep, path = value.partition("=")
        if not sep or not client_id or not path:
            raise click.BadParameter(f"{value!r}: expected CLIENT_ID=PUBLIC_KEY_PEM_FILE")
        try:
            with open(path, "rb") as file:
                data = file.read(_MAX_KEY_FILE_BYTES + 1)
        except OSError as problem:
            raise click.BadParameter(f"cannot read {path}: {problem.strerror}") from None
        try:
            if len(data) > _MAX_KEY_FILE_BYTES:
                raise ValueError(f"{path} is too large to be a PEM key")
            clients.append(
                OAuthClientConfig(client_id=client_id, public_key_pem=data.decode("utf-8"))
            )
        except (ValueError, ValidationError) as problem:
            first = problem.errors()[0]["msg"] if isinstance(problem, ValidationError) else problem
            raise click.BadParameter(f"{client_id}: {first}".replace("Value error, ", "")) from None
    return tuple(clients)


def _parse_fault(_ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    parse = HookFault.parse if param.name == "hook_faults" else Fault.parse
    faults = []
    for value in values:
        try:
            faults.append(parse(value))
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
  --fault slow,on=2,delay=30            the 2nd request answers after 30 s

\b
Event hook delivery faults take KIND[,p=X][,delay=S], KIND one of drop delay
duplicate reorder (p defaults to 1, delay to 1 s). Examples:
  --hook-fault drop,p=0.3               30% of deliveries are never sent
  --hook-fault delay,p=0.1,delay=4      10% arrive 4 s late
  --hook-fault duplicate,p=0.2 --hook-fault reorder,p=0.5""",
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
    "--oauth-client",
    "oauth_clients",
    metavar="CLIENT_ID=PEM_FILE",
    multiple=True,
    callback=_parse_oauth_client,
    help="An OAuth service app and its public key (repeatable); it may get access tokens "
    "with okta.*.read scopes at /oauth2/v1/token.",
)
@click.option(
    "--oauth-token-ttl",
    type=click.IntRange(1, 86_400),
    default=DEFAULT_TOKEN_TTL,
    help="Lifetime of the OAuth access tokens issued, in seconds.",
)
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
@click.option(
    "--hook-fault",
    "hook_faults",
    multiple=True,
    callback=_parse_fault,
    help="Inject a fault on event hook deliveries (repeatable; see below).",
)
@click.option(
    "--hook-fault-seed",
    type=int,
    default=None,
    help="Seed for hook faults [default: --fault-seed].",
)
@click.option(
    "--hook-batch-window",
    type=click.FloatRange(0, 60),
    default=0.5,
    help="Seconds to gather events into one event hook delivery.",
)
def sandbox_command(
    users: int,
    groups: int,
    seed: int,
    host: str,
    port: int,
    token: str,
    oauth_clients: tuple[OAuthClientConfig, ...],
    oauth_token_ttl: int,
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
    hook_faults: tuple[HookFault, ...],
    hook_fault_seed: int | None,
    hook_batch_window: float,
) -> None:
    """Run a local Okta Management API with a generated org, until Ctrl-C."""
    config = SandboxConfig(
        users=users,
        groups=groups,
        seed=seed,
        token=token,
        oauth_clients=oauth_clients,
        oauth_token_ttl=oauth_token_ttl,
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
        hook_delivery=HookDeliveryConfig(batch_window=hook_batch_window),
        hook_faults=hook_faults,
        hook_fault_seed=fault_seed if hook_fault_seed is None else hook_fault_seed,
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
    if config.oauth_clients:
        apps = ", ".join(client.client_id for client in config.oauth_clients)
        click.echo(
            f"OAuth service apps {apps}: tokens at {sandbox.url}/oauth2/v1/token, "
            f"valid {config.oauth_token_ttl} s"
        )
    sys.stdout.flush()  # a parent process waits for this line on a pipe
    try:
        await stop.wait()
    finally:
        await sandbox.stop()

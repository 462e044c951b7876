"""``okta-hris hooks register|list|delete``: the Okta event hook of an OktaIntegration.

``register`` creates (or, for a hook already at that URL, replaces) an event hook that POSTs the
event types a sync consumes to the integration's receiver path, with the Authorization value of
``spec.sync.eventHooks.authSecretRef``, has Okta verify it (Okta's one-time GET to the URL: the
receiver must be up there, in the operator or ``okta-hris sync --watch``) and activates it.
Running it again changes nothing but the hook's name, events and value: it never duplicates one.

``--url`` is the public URL: either the whole receiver URL, ending in
``/hooks/okta/<namespace>/<name>`` of the file's integration, or a base URL the path is added
to (``https://hooks.example.com`` → ``https://hooks.example.com/hooks/okta/people-ops/acme``).
Okta requires https; plain http is accepted for loopback addresses only (tests, the sandbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from okta_hris.cli.common import (
    configure_logging,
    load_settings,
    stdout,
    user_errors,
    verbose_option,
)
from okta_hris.cli.sync import (
    SyncJob,
    _file_option,
    _name_option,
    _okta_url_option,
    _token_option,
    load_job,
)
from okta_hris.cli.tables import Column, cell, dump_json, print_table
from okta_hris.cli.watch import hook_authorization
from okta_hris.domain.events import CONSUMED_EVENT_TYPES
from okta_hris.errors import ConfigError, OktaApiError
from okta_hris.eventhooks import HOOK_PATH
from okta_hris.okta import OktaClient, OktaNotFound
from okta_hris.okta.eventhooks import EventHook, EventHooksApi, check_hook_id
from okta_hris.settings import is_loopback_host

T = TypeVar("T")

HOOK_COLUMNS = (
    Column("id"),
    Column("name", wrap=True),
    Column("status", 1),
    Column("verification", 1, header="verified"),
    Column("events", 2, justify="right"),
    Column("uri", header="url"),
)


def receiver_path(integration_key: str) -> str:
    namespace, _, name = integration_key.partition("/")
    return HOOK_PATH.format(namespace=namespace, name=name)


def hook_url(given: str, integration_key: str) -> str:
    """The receiver URL Okta posts to, from ``--url``; a one-line ``ConfigError`` otherwise."""
    shown = given if len(given) <= 200 and given.isprintable() else "the value"
    try:
        parts = urlsplit(given.strip())
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"--url {shown!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--url {shown!r} must be an absolute https URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"--url {shown!r} uses plain http: Okta posts event hooks over https only "
            "(http is allowed for loopback addresses, for tests)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"--url {shown!r} must not carry credentials, a query or a fragment")
    if not given.strip().isprintable() or " " in given.strip():
        raise ConfigError(f"--url {shown!r} must not contain spaces or control characters")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise ConfigError(f"--url {shown!r} must not contain . or .. path segments")
    path = receiver_path(integration_key)
    base = parts.path.rstrip("/")
    if base.endswith(path):
        full = base
    elif "/hooks/okta/" in f"{base}/":
        raise ConfigError(
            f"--url {shown!r} names another receiver path: {integration_key} is served at {path}"
        )
    else:
        full = base + path
    return urlunsplit((parts.scheme, parts.netloc, full, "", ""))


def _with_hooks(job: SyncJob, call: Callable[[EventHooksApi], Awaitable[T]]) -> T:
    """``call`` with the Event Hooks API of the file's Okta org."""
    base_url = job.okta_url or job.manifest.spec.okta.base_url

    async def run() -> T:
        async with OktaClient(base_url, job.credential) as client:
            return await call(EventHooksApi(client))

    return asyncio.run(run())


async def register(
    hooks: EventHooksApi, name: str, url: str, authorization: str
) -> tuple[EventHook, bool]:
    """The hook at ``url``, created or replaced, verified and active; True if created."""
    existing = [hook for hook in await hooks.list() if hook.uri == url]
    if existing:
        hook = await hooks.replace(existing[0].id, name, url, CONSUMED_EVENT_TYPES, authorization)
    else:
        hook = await hooks.create(name, url, CONSUMED_EVENT_TYPES, authorization)
    try:
        hook = await hooks.verify(hook.id)
    except OktaApiError as exc:
        raise OktaApiError(
            f"Okta could not verify the event hook at {url}: the receiver must be running and "
            "reachable from Okta there (okta-hris run with the integration applied, or "
            f"okta-hris sync -f FILE --watch), with event hooks enabled ({exc})"
        ) from None
    if not hook.active:
        hook = await hooks.activate(hook.id)
    return hook, not existing


async def delete(hooks: EventHooksApi, hook_id: str | None, url: str | None) -> list[EventHook]:
    """Deactivate, then delete (Okta deletes only inactive hooks), the hook ``hook_id`` or
    every hook at ``url``; the hooks deleted."""
    if hook_id is not None:
        targets = [await hooks.get(hook_id)]
    else:
        targets = [hook for hook in await hooks.list() if hook.uri == url]
        if not targets:
            raise OktaNotFound(f"Okta has no event hook at {url}")
    for hook in targets:
        if hook.active:
            await hooks.deactivate(hook.id)
        await hooks.delete(hook.id)
    return targets


def _describe(hook: EventHook) -> str:
    return (
        f"{cell(hook.id)} ({cell(hook.name)}) at {cell(hook.uri)}: {cell(hook.status)}, "
        f"{cell(hook.verification_status or 'UNVERIFIED')}, {len(hook.event_types)} event types"
    )


@click.group("hooks")
def hooks_group() -> None:
    """Register, list and delete the Okta event hooks of an OktaIntegration
    (docs/EVENT-HOOKS.md)."""


@hooks_group.command("register")
@_file_option
@_name_option
@click.option(
    "--url",
    required=True,
    metavar="PUBLIC_URL",
    help="Where Okta posts: https://HOST[/PREFIX], to which /hooks/okta/<ns>/<name> is added, "
    "or the whole URL ending in it.",
)
@click.option(
    "--hook-name",
    metavar="TEXT",
    help='The hook\'s name in Okta (default: "okta-hris <ns>/<name>").',
)
@_token_option
@_okta_url_option
@verbose_option
@user_errors
def register_command(
    file: str,
    name: str | None,
    url: str,
    hook_name: str | None,
    token_file: str | None,
    okta_url: str | None,
    verbose: bool,
) -> None:
    """Create (or update) and verify the Okta event hook of the integration in FILE."""
    configure_logging(verbose)
    job = load_job(file, name, token_file, okta_url, load_settings())
    key = job.manifest.integration_key
    target = hook_url(url, key)
    authorization = hook_authorization(job, "hooks register")
    title = (hook_name or f"okta-hris {key}").strip()
    if not title or not title.isprintable():
        raise ConfigError("--hook-name must be printable text")
    hook, created = _with_hooks(job, lambda hooks: register(hooks, title, target, authorization))
    stdout.print(
        f"{'Created' if created else 'Updated'} event hook {_describe(hook)}",
        markup=False,
        highlight=False,
    )


@hooks_group.command("list")
@_file_option
@_name_option
@_token_option
@_okta_url_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json"]),
    default="table",
    show_default=True,
    help="table: the columns that fit the terminal; wide: every column, and every event type "
    "by name; json: every value, for scripts.",
)
@verbose_option
@user_errors
def list_command(
    file: str,
    name: str | None,
    token_file: str | None,
    okta_url: str | None,
    output: str,
    verbose: bool,
) -> None:
    """The event hooks of the Okta org of FILE (their Authorization values are never shown:
    Okta does not return them)."""
    configure_logging(verbose)
    job = load_job(file, name, token_file, okta_url, load_settings())
    found = _with_hooks(job, lambda hooks: hooks.list())
    records = [
        {
            "id": hook.id,
            "name": hook.name,
            "status": hook.status,
            "verification": hook.verification_status,
            "events": list(hook.event_types),
            "uri": hook.uri,
        }
        for hook in found
    ]
    if output == "json":
        click.echo(dump_json(records))
        return
    rows = [
        [
            cell(hook.id),
            cell(hook.name),
            cell(hook.status),
            cell(hook.verification_status),
            cell(", ".join(hook.event_types)) if output == "wide" else str(len(hook.event_types)),
            cell(hook.uri),
        ]
        for hook in found
    ]
    print_table(stdout, f"{len(rows)} event hooks", HOOK_COLUMNS, rows, wide=output == "wide")


@hooks_group.command("delete")
@click.argument("hook_id", required=False, metavar="[ID]")
@_file_option
@_name_option
@click.option(
    "--url", metavar="PUBLIC_URL", help="Delete every hook at this URL (as for register)."
)
@_token_option
@_okta_url_option
@verbose_option
@user_errors
def delete_command(
    hook_id: str | None,
    file: str,
    name: str | None,
    url: str | None,
    token_file: str | None,
    okta_url: str | None,
    verbose: bool,
) -> None:
    """Deactivate and delete the event hook ID, or the hooks at --url."""
    configure_logging(verbose)
    if (hook_id is None) == (url is None):
        raise click.UsageError("give a hook ID or --url, not both or neither")
    job = load_job(file, name, token_file, okta_url, load_settings())
    target = hook_url(url, job.manifest.integration_key) if url is not None else None
    checked = check_hook_id(hook_id) if hook_id is not None else None
    deleted = _with_hooks(job, lambda hooks: delete(hooks, checked, target))
    for hook in deleted:
        stdout.print(
            f"Deleted event hook {cell(hook.id)} ({cell(hook.name)}) at {cell(hook.uri)}",
            markup=False,
            highlight=False,
        )

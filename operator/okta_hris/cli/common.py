"""What every command shares: settings, the --database option, and turning errors into one line."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape as markup_escape
from rich.text import Text

from okta_hris.cli.manifests import SECRET_FILE_LIMIT_BYTES, read_text_file
from okta_hris.cli.tables import clean
from okta_hris.directory.database import describe_url, has_password, parse_url
from okta_hris.directory.store import Directory
from okta_hris.errors import DeactivationThresholdExceeded, HrisError
from okta_hris.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 1
EXIT_CHANGES = 2  # plan --exit-code: the sync would change the directory
EXIT_HELD = 3  # the safety hold stopped the sync

# NO_COLOR (no-color.org): no colour and no other styling either, only plain text.
_PLAIN = bool(os.environ.get("NO_COLOR"))
stdout = Console(soft_wrap=True, color_system=None if _PLAIN else "auto")
stderr = Console(stderr=True, soft_wrap=True, color_system=None if _PLAIN else "auto")


_DATABASE_HELP = (
    "Directory database (SQLAlchemy URL). Default: $HRIS_DATABASE_URL, else the embedded "
    "SQLite file."
)
_PASSWORD_HELP = (
    "A password does not belong on the command line (every user of the machine can read it "
    "in the process list): put the URL in $HRIS_DATABASE_URL or in a file for "
    "--database-url-file."
)


def database_options(default: str = _DATABASE_HELP) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--database URL`` and ``--database-url-file PATH``; the command gets ``database``.

    ``default`` says what happens without either. A password given with ``--database`` is
    warned about (once, masked): the process list shows it to everyone on the machine.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            url, url_file = kwargs.pop("database"), kwargs.pop("database_url_file")
            if url is not None and url_file is not None:
                raise click.UsageError("give --database or --database-url-file, not both")
            if url_file is not None:
                url = _url_from_file(url_file)
            elif url is not None:
                _warn_of_password(url)
            return func(*args, **kwargs, database=url)

        with_file = click.option(
            "--database-url-file",
            "database_url_file",
            metavar="PATH",
            default=None,
            help="Read the --database URL from PATH (one line), e.g. one with a password.",
        )(command)
        return click.option(
            "--database",
            "database",
            metavar="URL",
            default=None,
            help=f"{default} {_PASSWORD_HELP}",
        )(with_file)

    return decorate


database_option = database_options()


def _url_from_file(path: str) -> str:
    try:
        url = read_text_file(path, limit=SECRET_FILE_LIMIT_BYTES, what="--database-url-file")
    except HrisError as exc:
        fail(markup_escape(clean(str(exc))))
    if not url.strip():
        fail(markup_escape(clean(f"--database-url-file {path} is empty")))
    return url.strip()


def _warn_of_password(url: str) -> None:
    try:
        parsed = parse_url(url)
    except HrisError:
        return  # the command says what is wrong with it, without quoting it
    if has_password(parsed):
        stderr.print(
            Text(
                f"warning: --database {describe_url(parsed)} carries a password, which the "
                "process list shows to every user of this machine: use $HRIS_DATABASE_URL "
                "or --database-url-file"
            )
        )


def load_settings(*, okta: bool = True) -> Settings:
    """The settings of the environment; ``okta=False`` for commands that never call Okta."""
    return Settings.from_env(okta=okta)


def resolve_database_url(option: str | None, settings: Settings) -> str:
    return option or settings.database_url


def note_empty_directory(url: str) -> None:
    """Say that ``okta-hris plan`` planned against an empty directory: there was none at
    ``url`` (no file, a 0-byte file, an empty PostgreSQL database), and plan creates none."""
    where = describe_url(parse_url(url))
    stderr.print(
        Text(
            f"note: the directory {where} is empty (no okta-hris schema yet): planned as if "
            "nobody were in it"
        )
    )


def open_existing_directory(option: str | None) -> Directory:
    """For commands that list what is in the directory: the one at --database (or the default),
    which must exist. A missing one is one line and exit 1, and nothing is created (an empty
    listing would look like a directory with nobody in it)."""
    url = resolve_database_url(option, load_settings(okta=False))
    directory = Directory.open_existing(url)
    if directory is None:
        parsed = parse_url(url)
        where = str(parsed.database) if parsed.get_backend_name() == "sqlite" else None
        location = where or describe_url(parsed)
        fail(
            f"no directory at {markup_escape(location)}: run okta-hris sync first, "
            "or pass --database"
        )
        raise AssertionError("unreachable")
    return directory


def run_coroutine(main: Coroutine[Any, Any, R]) -> R:
    """``asyncio.run(main)``, with ``main``'s result kept out of its task.

    On the main thread asyncio.run puts its SIGINT handler back when it returns, and on Python
    3.11 ``signal.getsignal`` then builds the repr of that handler: a partial holding the main
    task, whose repr holds its result. For a sync that is the whole report (6 s at 100,000
    users); a task that returns nothing has a repr of one line.
    """
    results: list[R] = []

    async def keep() -> None:
        results.append(await main)

    asyncio.run(keep())
    return results[0]


def configure_logging(verbose: bool) -> None:
    """Retries and waits are routine for a CLI run; show them only when asked (-v)."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("okta_hris").setLevel(logging.INFO if verbose else logging.ERROR)


def verbose_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "-v", "--verbose", is_flag=True, help="Log Okta retries, rate-limit waits and progress."
    )(func)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one clear line and exit; user errors never show a traceback."""
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Map the error hierarchy to one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DeactivationThresholdExceeded as exc:
            held = (
                f"sync held, nothing applied: it would deactivate {exc.would_deactivate} of "
                f"{exc.directory_size} active employees, more than safety.maxDeactivations "
                f"allows ({exc.limit})"
            )
            if exc.approved is not None:  # an approval of another count releases nothing
                held = (
                    f"--approve-deactivations {exc.approved} does not match the hold: this "
                    f"sync would deactivate {exc.would_deactivate} of {exc.directory_size} "
                    f"active employees, more than safety.maxDeactivations allows ({exc.limit}); "
                    "nothing applied"
                )
            fail(
                f"{held}; approve with --approve-deactivations {exc.would_deactivate}, "
                "or fix the spec",
                EXIT_HELD,
            )
        except HrisError as exc:
            # Messages quote Okta's own text (a group's name or id, an error body), which may
            # hold rich markup or escape sequences: print it literally, on one line.
            message = f"{exc.reason}: {exc}" if exc.reason not in str(exc) else str(exc)
            fail(markup_escape(clean(message)))
        except KeyboardInterrupt:
            fail("interrupted; nothing was written", 130)
        raise AssertionError("unreachable")

    return wrapper


def render_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)

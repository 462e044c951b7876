"""What every command shares: settings, the --database option, and turning errors into one line."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape as markup_escape

from okta_hris.cli.tables import clean
from okta_hris.directory.database import describe_url, parse_url
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


def database_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--database",
        "database",
        metavar="URL",
        default=None,
        help="Directory database (SQLAlchemy URL). Default: $HRIS_DATABASE_URL, else the embedded SQLite file.",
    )(func)


def load_settings() -> Settings:
    return Settings.from_env()


def resolve_database_url(option: str | None, settings: Settings) -> str:
    return option or settings.database_url


def existing_or_empty(url: str) -> str:
    """For commands that only read: a SQLite file that does not exist yet is an empty directory
    in memory, so reading never creates (or migrates) a database file."""
    parsed = parse_url(url)
    on_disk = parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    )
    if on_disk and not Path(str(parsed.database)).exists():
        return "sqlite://"
    return url


def open_existing_directory(option: str | None) -> Directory:
    """For commands that list what is in the directory: the one at --database (or the default),
    which must exist. A missing one is one line and exit 1, and nothing is created (an empty
    listing would look like a directory with nobody in it)."""
    url = resolve_database_url(option, load_settings())
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


def configure_logging(verbose: bool) -> None:
    """Retries and waits are routine for a CLI run; show them only when asked (-v)."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("okta_hris").setLevel(logging.INFO if verbose else logging.ERROR)


def verbose_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "-v", "--verbose", is_flag=True, help="Log Okta retries, rate-limit waits and progress."
    )(func)


def fail(message: str, code: int = EXIT_ERROR) -> None:
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

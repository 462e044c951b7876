"""The ``okta-hris`` console script (SPEC §7).

Subcommands live in their own modules and are imported only when invoked, so that
``okta-hris directory`` does not pay for importing Kopf and ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from okta_hris import __version__
from okta_hris.memory import tune_allocator

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "run": "okta_hris.cli.operator:run_command",
    "resync": "okta_hris.cli.operator:resync_command",
    "demo": "okta_hris.cli.demo:demo_command",
    "sync": "okta_hris.cli.sync:sync_command",
    "plan": "okta_hris.cli.sync:plan_command",
    "directory": "okta_hris.cli.directory:directory_group",
    "invitations": "okta_hris.cli.invitations:invitations_group",
    "hooks": "okta_hris.cli.hooks:hooks_group",
    "sandbox": "okta_hris.cli.sandbox:sandbox_command",
    "completion": "okta_hris.cli.completion:completion_command",
}

HELP: dict[str, str] = {
    "run": "Run the operator (Kopf).",
    "resync": "Ask the operator for a full sync of an OktaIntegration now.",
    "demo": "Sync a generated Okta org into an embedded SQLite directory.",
    "sync": "Sync the OktaIntegration in FILE once, without Kubernetes.",
    "plan": "Show what a sync of FILE would change, writing nothing.",
    "directory": "Read the employee directory.",
    "invitations": "List and send dashboard invitations.",
    "hooks": "Register, list and delete the Okta event hooks of an OktaIntegration.",
    "sandbox": "Run the Okta sandbox (a local Okta Management API).",
    "completion": "Print the shell completion script (bash, zsh or fish).",
}

# Exit codes are the CLI's contract with scripts (README): 2 means "plan found changes", never
# a typo, so usage errors exit 1 like every other user error (terraform's -detailed-exitcode).
EXIT_USAGE = 1


class LazyGroup(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help must not import every subcommand (and Kopf with it).
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="okta-hris")
def main() -> None:
    """Keep an employee directory in sync with an Okta org."""
    tune_allocator()  # before any command reads Okta (okta_hris.memory)

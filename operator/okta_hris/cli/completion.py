"""``okta-hris completion bash|zsh|fish``: the shell completion script, from Click's own."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROG_NAME = "okta-hris"
# The variable Click's completion reads: _<PROG_NAME in upper case, "-" as "_">_COMPLETE.
COMPLETE_VAR = "_OKTA_HRIS_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion_command(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
      bash: eval "$(okta-hris completion bash)"   (in ~/.bashrc)
      zsh:  eval "$(okta-hris completion zsh)"    (in ~/.zshrc)
      fish: okta-hris completion fish > ~/.config/fish/completions/okta-hris.fish
    """
    from okta_hris.cli import main  # the whole command tree, as the shell will complete it

    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every shell of SHELLS is one of Click's
    click.echo(completion_class(main, {}, PROG_NAME, COMPLETE_VAR).source())

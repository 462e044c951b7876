"""Red team on issue 14 (R2): ``okta-hris hooks`` as a new user runs it."""

from __future__ import annotations

from pathlib import Path

from okta_hris.sandbox import Sandbox
from tests.cli.test_hooks_cli import hooks_cli, manifest, receiver

__all__ = ["manifest", "receiver"]  # fixtures, used by name


def test_hooks_list_accepts_the_o_wide_its_table_points_to(
    sandbox: Sandbox, manifest: Path, receiver: str
) -> None:
    # cli/tables.py print_table captions hidden columns "(-o wide shows every column)", but
    # cli/hooks.py offers only -o text|json: the hint it prints is a usage error.
    code, _, err = hooks_cli(sandbox, manifest, "register", "--url", receiver)
    assert code == 0, err
    code, out, _ = hooks_cli(sandbox, manifest, "list")
    assert code == 0 and "-o wide shows every column" in out
    code, out, err = hooks_cli(sandbox, manifest, "list", "-o", "wide")
    assert code == 0, err
    assert "VERIFIED" in out and "user.lifecycle.create" in out

"""Red team R1 on issue 13: the installed CLI with an --okta-url that is too long for httpx.

Fails until fixed: ``httpx.InvalidURL: URL too long`` escapes as a traceback from
``OktaClient.__init__`` (item 8: user errors are one line).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.test_directory_commands import one_error_line
from tests.support.cli import example_manifest, run_cli


@pytest.mark.parametrize("command", ["plan", "sync"])
def test_an_okta_url_too_long_for_httpx_is_one_line(tmp_path: Path, command: str) -> None:
    manifest = example_manifest(tmp_path, "minimal.yaml")
    database = f"sqlite:///{tmp_path / 'directory.db'}"
    url = "http://127.0.0.1:9/" + "a" * 70_000
    result = run_cli(command, "-f", str(manifest), "--okta-url", url, "--database", database)
    assert "Okta URL" in one_error_line(result)

"""What ``okta-hris sync`` and ``plan`` say about Okta while they talk to it: rate-limit waits
(on the progress display, with ``-v``, and in the summary), the host they could not reach, and a
URL that is not an Okta org's API (one line, exit 1, no retries)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from okta_hris.cli.progress import ListingProgress, listing_progress
from okta_hris.directory.store import Directory
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import RateLimitConfig, Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncRequest, plan_sync

from ..support.cli import run_cli
from .conftest import example_manifest
from .test_cli import reported

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HOSTILE_PAGE = (
    "<!DOCTYPE html><html><head><title>[bold red]Acme[/] \x1b[2J\x1b]8;;http://evil\x1b\\"
    "</title></head><body>" + "Sign in to Acme " * 2000 + "</body></html>"
)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Every user of the org (scope All), with its token Secret, as one file."""
    return example_manifest(tmp_path, "minimal.yaml")


def tight_sandbox(sandbox_factory: object) -> Sandbox:
    """An org whose group listings need more than one rate-limit window of two seconds: four
    requests per window (the client spends three, leaving a reserve), five to make."""
    assert callable(sandbox_factory)
    sandbox: Sandbox = sandbox_factory(
        users=40, groups=4, seed=3, rate_limits=RateLimitConfig(groups=4, window=2.0)
    )
    return sandbox


# Rate-limit waits ---------------------------------------------------------------------------


def test_sync_v_shows_rate_limit_waits_and_the_summary_counts_them(
    sandbox_factory: object, manifest: Path, sqlite_url: str
) -> None:
    sandbox = tight_sandbox(sandbox_factory)
    result = run_cli(
        "sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url, "-v"
    )
    assert result.returncode == 0, result.stderr
    waits = [line for line in result.stderr.splitlines() if "waiting" in line]
    assert waits, result.stderr
    assert all(f"Okta's groups rate limit at {sandbox.url}" in line for line in waits)
    assert all(re.search(r"waiting \d+ s ", line) for line in waits)

    rows = reported(result.stdout)
    assert rows["rate limited (429)"] == 0
    assert [r for r in sandbox.requests if r.status == 429] == []
    # Honest: no 429, yet the sync did wait for Okta's rate limit, and says so.
    assert rows["waited for the rate limit"] >= 1
    assert rows["seconds waited"] >= 1
    # ... and so does the run's record.
    runs = run_cli("directory", "runs", "--database", sqlite_url, "-o", "json")
    assert runs.returncode == 0, runs.stderr
    stats = json.loads(runs.stdout)[0]["stats"]
    assert stats["rateLimitWaits"] == rows["waited for the rate limit"]
    assert stats["rateLimited"] == 0 and stats["rateLimitWaitSeconds"] >= 1


def test_without_waits_the_summary_says_none(
    sandbox_factory: object, manifest: Path, sqlite_url: str
) -> None:
    assert callable(sandbox_factory)
    sandbox: Sandbox = sandbox_factory(users=20, groups=2, seed=3)
    result = run_cli(
        "sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", sqlite_url
    )
    assert result.returncode == 0, result.stderr
    rows = reported(result.stdout)
    assert rows["waited for the rate limit"] == 0
    assert "seconds waited" not in rows


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100, color_system=None), out


def test_the_progress_display_shows_the_wait_and_clears_it() -> None:
    console, out = terminal()
    with listing_progress(True, console=console) as progress:
        assert progress is not None
        progress.advance("users", 200)
        progress.waiting("users", 14.0)
        assert "waiting for Okta's rate limit, 14 s" in out.getvalue()

        # Two buckets wait: the longer wait is shown until it is over.
        progress.waiting("groups", 3.0)
        out.seek(0), out.truncate()
        progress.waiting("groups", 3.0)
        assert "waiting for Okta's rate limit, 14 s" in out.getvalue()
        out.seek(0), out.truncate()
        progress.waiting("users", None)
        assert "waiting for Okta's rate limit, 3 s" in out.getvalue()

        out.seek(0), out.truncate()
        progress.waiting("groups", None)
        drawn = out.getvalue()
        assert "Okta users" in drawn and "200" in drawn
        assert "waiting" not in drawn


@dataclass
class RecordingProgress:
    """The CLI's display on a terminal of our own, with what it was told."""

    display: ListingProgress
    waits: list[tuple[str, float | None]] = field(default_factory=list)

    def start(self, listing: str, total: int | None) -> None:
        self.display.start(listing, total)

    def advance(self, listing: str, count: int) -> None:
        self.display.advance(listing, count)

    def waiting(self, bucket: str, seconds: float | None) -> None:
        self.waits.append((bucket, seconds))
        self.display.waiting(bucket, seconds)


def test_a_sync_shows_its_waits_on_the_progress_display(
    sandbox_factory: object, sqlite_url: str
) -> None:
    sandbox = tight_sandbox(sandbox_factory)
    spec = OktaIntegrationSpec.model_validate(
        {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
    )
    request = SyncRequest("people-ops/acme", spec, sandbox.token, okta_url=sandbox.url)
    console, out = terminal()
    with (
        Directory.open(sqlite_url) as directory,
        listing_progress(True, console=console) as display,
    ):
        assert display is not None
        progress = RecordingProgress(display)
        planned = asyncio.run(plan_sync(request, directory, Settings(), progress=progress))
    assert planned.stats.rate_limit_waits >= 1 and planned.stats.rate_limited == 0
    told = [seconds for bucket, seconds in progress.waits if seconds is not None]
    assert told and all(seconds >= 1.0 for seconds in told)
    assert progress.waits[-1] == ("groups", None)
    assert "waiting for Okta's rate limit, " in out.getvalue()


# A URL that is not an Okta org's API, or no answer at all -----------------------------------


@dataclass
class WrongSite:
    """A web server that is not Okta, answering every request the same way."""

    status: int
    content_type: str
    body: str
    paths: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def wrong_site(request: pytest.FixtureRequest) -> Iterator[WrongSite]:
    site = WrongSite(*request.param)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.paths.append(self.path.split("?")[0])
            body = site.body.encode()
            self.send_response(site.status)
            self.send_header("Content-Type", site.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # The client may give up on the other listing mid-body: expected here.
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("wrong_site", "says"),
    [
        ((404, "text/plain", "404 page not found"), "answered 404: is the subdomain right?"),
        ((404, "text/html", HOSTILE_PAGE), "answered 404: is the subdomain right?"),
        (
            (200, "text/html; charset=utf-8", HOSTILE_PAGE),
            "answered with an HTML page, not Okta's API: is the subdomain right?",
        ),
    ],
    indirect=["wrong_site"],
)
@pytest.mark.parametrize("command", ["plan", "sync"])
def test_a_url_that_is_not_okta_is_one_line_exit_1_and_no_retries(
    wrong_site: WrongSite, says: str, command: str, manifest: Path, sqlite_url: str
) -> None:
    result = run_cli(
        command, "-f", str(manifest), "--okta-url", wrong_site.url, "--database", sqlite_url
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: WrongOktaUrl: {wrong_site.url} {says}"
    ], result.stderr
    # The retry budget (6 by default) is not spent: each listing asked once, then gave up.
    assert wrong_site.paths and set(Counter(wrong_site.paths).values()) == {1}
    assert len(wrong_site.paths) <= 2  # users and groups are listed concurrently
    assert "Sign in to Acme" not in result.stderr and "\x1b" not in result.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_okta_is_named_with_its_attempts_and_retries_logged(
    manifest: Path, sqlite_url: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run_cli(
        "sync",
        "-f",
        str(manifest),
        "--okta-url",
        url,
        "--database",
        sqlite_url,
        "-v",
        env={"HRIS_OKTA_MAX_RETRIES": "2"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    retries = [line for line in lines if "retry" in line]
    assert {re.search(r"retry (\d)/2", line).group(1) for line in retries} == {"1", "2"}  # type: ignore[union-attr]
    assert all(url in line for line in retries)
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == lines[-1]
    assert errors[0].startswith(f"error: OktaUnavailable: cannot reach {url}: ConnectError")
    assert errors[0].endswith(", 3 attempts)")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "wrong_site",
    [
        (
            400,
            "application/json",
            '{"errorCode": "E0000001", "errorSummary": "Api validation failed: [/bold] '
            '[link=http://evil]x[/link] \\u001b[2J"}',
        )
    ],
    indirect=True,
)
def test_oktas_own_error_text_is_printed_literally_on_one_line(
    wrong_site: WrongSite, manifest: Path, sqlite_url: str
) -> None:
    result = run_cli(
        "plan", "-f", str(manifest), "--okta-url", wrong_site.url, "--database", sqlite_url
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: OktaError: Okta answered GET /api/v1/")
    assert "E0000001 Api validation failed: [/bold] [link=http://evil]x[/link]" in line
    assert "\x1b" not in line and "Traceback" not in result.stderr

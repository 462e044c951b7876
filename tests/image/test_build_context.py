"""The build context is complete: the image's package builds and works from exactly the files
the Dockerfile's builder stage copies, with .dockerignore applied.

What Docker would do, done here: lay out the COPY instructions' files (and nothing else) in a
scratch root, build the project's wheel there with the builder stage's command (the test
environment's setuptools stand in for the locked ones), install it into a fresh venv, and run it
from outside the repository. The venv has no dependencies of its own: a path file points it at
the test environment's site-packages, whose editable install of this repository stays inert
(path files of a directory reached that way are not read), so ``okta_hris`` can only come from
the wheel.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from tests.image.dockerfile import (
    DockerIgnore,
    context_copies,
    materialise,
    read_stages,
    run_commands,
)
from tests.image.lockfiles import REPO, read_pyproject

pytestmark = pytest.mark.slow
PACKAGE = REPO / "operator" / "okta_hris"


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    elsewhere: Path  # a working directory outside the repository
    environ: dict[str, str]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / argv[0]), *argv[1:]],
            cwd=self.elsewhere,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _build_wheel(root: Path, dist: Path) -> Path:
    """The builder stage's own ``pip wheel`` command, in its WORKDIR under the scratch root."""
    (command, workdir), *_ = [(c, w) for c, w in run_commands(read_stages()[0]) if "pip wheel" in c]
    argv = shlex.split(command)
    assert argv[:2] == ["pip", "wheel"] and argv[-1] == ".", "builds the project it copied"
    argv[argv.index("--wheel-dir") + 1] = str(dist)
    subprocess.run(
        [sys.executable, "-m", *argv, "--no-index"],
        cwd=root / workdir.lstrip("/"),
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    scratch = tmp_path_factory.mktemp("image")
    builder = read_stages()[0]
    materialise(context_copies(builder), DockerIgnore.of_repository(), scratch / "root")
    for command, workdir in run_commands(builder):
        argv = command.split()
        if "-r" in argv:  # the locks the RUN lines install were copied in before them
            assert (scratch / "root" / workdir.lstrip("/") / argv[argv.index("-r") + 1]).is_file()
    wheel = _build_wheel(scratch / "root", scratch / "dist")

    target = scratch / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True,
    )  # fmt: skip
    site_packages = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # After the install: pip must not see this repository's editable install as "installed".
    (site_packages / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = scratch / "elsewhere"
    elsewhere.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HRIS_"))}
    environ.update(HOME=str(scratch / "home"), HRIS_DATA_DIR=str(scratch / "data"))
    return Installed(target, site_packages, elsewhere, environ)


def test_the_cli_runs_from_the_wheel(installed: Installed) -> None:
    version = installed.run("okta-hris", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"okta-hris, version {read_pyproject()['project']['version']}"

    where = installed.run("python", "-c", "import okta_hris; print(okta_hris.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed.site_packages), where.stderr


def test_the_wheel_holds_every_file_of_the_package(installed: Installed) -> None:
    def files(root: Path) -> set[str]:
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    assert files(PACKAGE) - files(installed.site_packages / "okta_hris") == set()


def test_the_migrations_and_bundled_examples_load(installed: Installed, tmp_path: Path) -> None:
    """The demo syncs the bundled example manifests into a directory it migrates first."""
    database = tmp_path / "demo.db"
    demo = installed.run(
        "okta-hris", "demo", "--users", "40", "--database", f"sqlite:///{database}"
    )
    assert demo.returncode == 0, demo.stderr
    assert "examples/minimal.yaml: full sync" in demo.stdout
    assert "examples/filtered.yaml" in demo.stdout

    with sqlite3.connect(database) as connection:
        (head,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert head == ScriptDirectory(str(PACKAGE / "directory" / "migrations")).get_current_head()

    listing = installed.run("okta-hris", "directory", "runs", "--database", f"sqlite:///{database}")
    assert listing.returncode == 0, listing.stderr


def test_the_invitation_templates_load(installed: Installed) -> None:
    script = (
        "from okta_hris.invitations.message import render_invitation\n"
        "from okta_hris.resource.spec import InvitationSettings\n"
        "settings = InvitationSettings.model_validate({'from': 'People Ops <ops@example.com>',"
        " 'dashboardUrl': 'https://people.example.com', 'companyName': 'Acme'})\n"
        "message = render_invitation(settings, integration='ns/acme', okta_id='00u1',"
        " display_name='Ada Lovelace', email='ada@example.com')\n"
        "for part in message.iter_parts(): print(part.get_content_type(), part.get_content())\n"
    )
    rendered = installed.run("python", "-c", script)
    assert rendered.returncode == 0, rendered.stderr
    assert "text/plain" in rendered.stdout and "text/html" in rendered.stdout
    assert rendered.stdout.count("https://people.example.com") >= 2

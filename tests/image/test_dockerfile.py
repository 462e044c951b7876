"""The Dockerfile and .dockerignore: what the image is, and what its build context holds.

No Docker engine runs here: the instructions are read as Docker reads them and compared with
the package they ship (its CLI, pyproject.toml); the build itself is reproduced in
test_build_context.py.
"""

from __future__ import annotations

import re

import click
import pytest
from packaging.specifiers import SpecifierSet

from okta_hris.cli import main as cli
from okta_hris.controller.options import ControllerConfig
from tests.image.dockerfile import (
    DockerIgnore,
    Stage,
    context_copies,
    read_stages,
    run_commands,
    words,
)
from tests.image.lockfiles import LOCKS, REPO, read_pyproject

OCI = "org.opencontainers.image."
# Commands that would put packages into the final image after the builder's checked install.
INSTALLS = re.compile(r"\b(pip3?|uv pip|apt-get|apt|apk|conda|easy_install)\b.*\binstall\b")


@pytest.fixture(scope="module")
def builder() -> Stage:
    return read_stages()[0]


@pytest.fixture(scope="module")
def final() -> Stage:
    return read_stages()[-1]


def _run_option_defaults() -> dict[str, object]:
    run = cli.get_command(click.Context(cli), "run")
    assert run is not None
    return {p.name: p.default for p in run.params if p.name}


def test_two_stages_from_one_base_image_pinned_by_tag() -> None:
    builder, final = read_stages()
    assert builder.name == "builder"
    assert builder.base == final.base
    image, _, tag = final.base.partition("@")[0].rpartition(":")
    assert image == "python"
    python_version = tag.split("-")[0]
    assert tag != "latest"
    assert python_version in SpecifierSet(read_pyproject()["project"]["requires-python"])


def test_the_final_stage_takes_only_the_venv_from_the_builder(final: Stage) -> None:
    assert context_copies(final) == []
    assert [words(c) for c in final.all("COPY")] == [["--from=builder", "/opt/venv", "/opt/venv"]]


def test_the_final_stage_installs_nothing_and_drops_the_base_images_pip(final: Stage) -> None:
    commands = [command for command, _ in run_commands(final)]
    assert [c for c in commands if INSTALLS.search(c)] == []
    assert "python -m pip uninstall --yes --quiet pip setuptools wheel" in commands


def test_the_builder_installs_only_what_the_locks_pin(builder: Stage) -> None:
    installs = [c for c, _ in run_commands(builder) if re.search(r"\bpip\b.*\binstall\b", c)]
    locked = {spec.filename for spec in LOCKS}
    from_locks = [c for c in installs if "-r" in c.split()]
    for command in from_locks:
        argv = command.split()
        assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(argv), command
        assert argv[argv.index("-r") + 1] in locked
    assert {c.split()[c.split().index("-r") + 1] for c in from_locks} == locked
    # The rest installs the project's own wheel, built in this stage, and nothing from an index.
    assert all("--no-index" in c and "--no-deps" in c for c in installs if c not in from_locks)


def test_the_operator_runs_as_a_user_who_owns_only_the_data_folder(final: Stage) -> None:
    uid, _, gid = final.last("USER").partition(":")
    assert uid.isdigit() and int(uid) >= 10000, "a numeric uid, so runAsNonRoot can check it"
    assert gid.isdigit() and int(gid) != 0
    commands = " ".join(c for c, _ in run_commands(final))
    assert f"useradd --system --uid {uid} " in commands
    assert re.search(r"install -d -o okta-hris -g okta-hris /data\b", commands)
    assert final.settings("ENV")["HRIS_DATA_DIR"] == "/data"
    assert final.last("WORKDIR") == "/data"


def test_python_writes_nothing_outside_data_and_tmp(final: Stage) -> None:
    env = final.settings("ENV")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # the venv's bytecode was compiled at install
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HOME"] == "/tmp"


def test_the_oci_labels_agree_with_pyproject(final: Stage) -> None:
    project = read_pyproject()["project"]
    labels = final.settings("LABEL")
    assert labels[OCI + "title"] == project["name"]
    assert labels[OCI + "description"] == project["description"]
    assert labels[OCI + "licenses"] == project["license"]
    for key, arg in [("version", "VERSION"), ("revision", "REVISION"), ("created", "CREATED"),
                     ("source", "SOURCE")]:  # fmt: skip
        assert labels[OCI + key] == f"${{{arg}}}"
        assert arg in final.settings("ARG")
    assert final.settings("ARG")["VERSION"] == project["version"]


def test_the_entrypoint_is_the_cli_and_the_command_parses(final: Stage) -> None:
    assert words(final.last("ENTRYPOINT")) == ["okta-hris"]
    assert "okta-hris" in read_pyproject()["project"]["scripts"]
    command, *arguments = words(final.last("CMD"))
    assert command == "run"  # the chart passes `run ...` as args, replacing CMD
    run = cli.get_command(click.Context(cli), command)
    assert run is not None
    context = run.make_context(command, list(arguments))
    assert context.params["clusterwide"] and context.params["standalone"]


def test_the_exposed_ports_are_the_operators_defaults(final: Stage) -> None:
    defaults = _run_option_defaults()
    exposed = {int(p) for arguments in final.all("EXPOSE") for p in arguments.split()}
    hooks_port = ControllerConfig().hooks_address[1]
    assert exposed == {defaults["liveness_port"], defaults["metrics_port"], hooks_port}


def test_kubernetes_stop_signal_stops_it(final: Stage) -> None:
    assert final.last("STOPSIGNAL") == "SIGTERM"


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/cache.db",
        ".ruff_cache/content",
        "operator/okta_hris/__pycache__/settings.cpython-311.pyc",
        "operator/okta_hris/cli/__pycache__/demo.cpython-311.pyc",
        "operator/okta_hris_operator.egg-info/PKG-INFO",
        "directory.db",
        "operator/directory.db",
        "operator/directory.db-journal",
        "build/lib/okta_hris/__init__.py",
        "dist/okta_hris_operator-0.1.0-py3-none-any.whl",
        "tests/conftest.py",
        "charts/okta-hris-operator/values.yaml",
        ".env",
    ],
)
def test_dockerignore_keeps_local_state_out(path: str) -> None:
    assert DockerIgnore.of_repository().excludes(path)


def test_the_build_context_is_exactly_what_the_builder_copies(builder: Stage) -> None:
    ignore = DockerIgnore.of_repository()
    copied = {source for copy in context_copies(builder) for source in copy.sources}
    in_context = {path.split("/")[0] for path in ignore.context_files(REPO)}
    assert in_context == copied
    assert "operator/okta_hris/data/examples/minimal.yaml" in ignore.context_files(REPO, "operator")


def test_dockerignore_rules_follow_dockers_matching() -> None:
    ignore = DockerIgnore("*\n!keep/\n**/cache\nkeep/drop-*.txt\n!keep/drop-me-not.txt\n/root.db\n")
    assert ignore.excludes("anything") and ignore.excludes("deep/down/file")
    assert not ignore.excludes("keep/file") and not ignore.excludes("keep/sub/file")
    assert ignore.excludes("keep/sub/cache/file") and ignore.excludes("keep/cache")
    assert ignore.excludes("keep/drop-1.txt") and not ignore.excludes("keep/drop-me-not.txt")
    assert not ignore.excludes("keep/sub/drop-1.txt")  # `*` stays within one folder
    assert DockerIgnore("/root.db\n").excludes("root.db")
    assert not DockerIgnore("/root.db\n").excludes("sub/root.db")

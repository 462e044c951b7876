"""The Dockerfile and .dockerignore read the way Docker reads them, for tests that cannot build.

No Docker engine runs where the tests run, so the build is reproduced from its two inputs:
the instructions of each stage, and the build context, which is the repository less what
.dockerignore excludes (matched with the rules of Docker's patternmatcher: later lines win,
``!`` re-includes, a pattern that matches a folder matches everything in it).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tests.image.lockfiles import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str
    workdir: str  # the WORKDIR it runs in


@dataclass
class Stage:
    base: str  # global ARGs expanded
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        return self.all(keyword)[-1]

    def settings(self, keyword: str) -> dict[str, str]:
        """The ``key=value`` pairs of every ENV, LABEL or ARG (an ARG without default: "")."""
        pairs = (
            w.partition("=") for arguments in self.all(keyword) for w in shlex.split(arguments)
        )
        return {key: value for key, _, value in pairs}


@dataclass(frozen=True)
class Copy:
    """A COPY from the build context (not ``--from`` another stage)."""

    sources: tuple[str, ...]
    destination: str  # absolute, inside the image
    destination_is_folder: bool


def _lines(text: str) -> Iterator[tuple[str, str]]:
    """(keyword, arguments) with backslash continuations joined and comment lines dropped, as Docker
    does: a comment line inside a continued instruction is removed, it does not end it."""
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            keyword, _, arguments = " ".join(pending).partition(" ")
            pending = []
            yield keyword.upper(), arguments.strip()
    if pending:
        raise ValueError(f"the Dockerfile ends inside a continued line: {pending[-1]!r}")


def stages(text: str) -> list[Stage]:
    found: list[Stage] = []
    global_args: dict[str, str] = {}  # the ARGs before the first FROM, which FROM may use
    for keyword, arguments in _lines(text):
        if keyword == "FROM":
            image, *alias = [w for w in arguments.split() if not w.startswith("--")]
            name = alias[1] if len(alias) == 2 and alias[0].upper() == "AS" else None
            found.append(Stage(base=string.Template(image).substitute(global_args), name=name))
        elif not found and keyword == "ARG":
            key, _, value = arguments.partition("=")
            global_args[key] = value
        elif found:
            stage = found[-1]
            workdir = stage.instructions[-1].workdir if stage.instructions else "/"
            if keyword == "WORKDIR":
                workdir = posixpath.join(workdir, arguments)
            stage.instructions.append(Instruction(keyword, arguments, workdir))
    return found


def read_stages() -> list[Stage]:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


def words(arguments: str) -> list[str]:
    """Exec form (a JSON array) or shell-like words."""
    if arguments.startswith("["):
        parsed = json.loads(arguments)
        if not (isinstance(parsed, list) and all(isinstance(w, str) for w in parsed)):
            raise ValueError(f"not a JSON array of strings: {arguments}")
        return parsed
    return shlex.split(arguments)


def context_copies(stage: Stage) -> list[Copy]:
    """Each COPY of the stage that reads the build context, its destination made absolute."""
    copies: list[Copy] = []
    for instruction in stage.instructions:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        arguments = words(instruction.arguments)
        if any(w.startswith("--from=") for w in arguments):
            continue
        paths = [w for w in arguments if not w.startswith("--")]
        if instruction.keyword == "ADD" or any("$" in p or "*" in p for p in paths):
            raise ValueError(f"{instruction.keyword} {instruction.arguments}: not reproduced here")
        *sources, destination = paths
        target = posixpath.normpath(posixpath.join(instruction.workdir, destination))
        copies.append(Copy(tuple(sources), target, destination.endswith("/") or len(sources) > 1))
    return copies


def run_commands(stage: Stage) -> list[tuple[str, str]]:
    """(command, WORKDIR) of each ``&&``-joined command of the stage's RUN instructions."""
    return [
        (command.strip(), i.workdir)
        for i in stage.instructions
        if i.keyword == "RUN"
        for command in i.arguments.split("&&")
    ]


class DockerIgnore:
    """The rules of one .dockerignore file."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []  # (re-includes, pattern)
        self.reincluded_prefixes: list[str] = []  # the literal start of each ``!`` pattern
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.rules.append((include, re.compile(_regex(pattern))))
            if include:
                self.reincluded_prefixes.append(re.split(r"[*?\[\\]", pattern, maxsplit=1)[0])

    @classmethod
    def of_repository(cls) -> DockerIgnore:
        return cls(DOCKERIGNORE.read_text(encoding="utf-8"))

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (relative to the context, with ``/``) stays out of the context."""
        parts = PurePosixPath(path).parts
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for include, pattern in self.rules:
            if any(pattern.fullmatch(c) for c in candidates):
                excluded = not include
        return excluded

    def context_files(self, root: Path, under: str = "") -> list[str]:
        """The files of ``root`` (below its folder ``under``) that the build context holds."""
        found: list[str] = []
        for folder, subfolders, files in os.walk(root / under):
            relative = Path(folder).relative_to(root).as_posix()
            prefix = "" if relative == "." else f"{relative}/"
            subfolders[:] = [d for d in subfolders if not self._prunes(prefix + d)]
            found.extend(prefix + f for f in files if not self.excludes(prefix + f))
        return sorted(found)

    def _prunes(self, folder: str) -> bool:
        """An excluded folder that no ``!`` rule can reach into is not walked (``.venv``, ``.git``)."""
        if not self.excludes(folder):
            return False
        return not any(
            f"{folder}/".startswith(literal) or literal.startswith(f"{folder}/")
            for literal in self.reincluded_prefixes
        )


def _regex(pattern: str) -> str:
    """Docker's translation: ``**`` any number of folders, ``*`` and ``?`` within one name."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            out.append(".*" if i >= len(pattern) else "(.*/)?")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i + 1)
            out.append(pattern[i : end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def materialise(copies: list[Copy], ignore: DockerIgnore, root: Path) -> None:
    """Lay out under ``root`` what the COPY instructions put into the image, from the
    repository's build context only; a source the context lacks fails as Docker's build does."""
    for copy in copies:
        target = root / copy.destination.lstrip("/")
        for source in copy.sources:
            relative = posixpath.normpath(source)
            origin = REPO / relative
            if origin.is_dir():
                files = ignore.context_files(REPO, relative)
                placed = [target / PurePosixPath(f).relative_to(relative) for f in files]
            else:
                files = [relative] if origin.is_file() and not ignore.excludes(relative) else []
                placed = [target / origin.name if copy.destination_is_folder else target]
            if not files:
                raise FileNotFoundError(f"COPY {source}: not in the build context")
            for file, place in zip(files, placed, strict=True):
                place.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / file, place)

"""Refusing an SQLite directory on which the operator would invite people twice.

Invitations go out exactly once because the directory remembers: a sync queues an invitation
only for an employee the directory has never invited, and writes it in the same transaction as
the employee's row. A directory that forgets (a new, empty file) has invited nobody, so the
next sync invites everyone again. An SQLite file forgets in two ways:

- peered replicas (``--peering``) each have their own file: after a failover the new leader's
  file has never seen the integration. Peering needs a shared PostgreSQL directory.
- a file on storage that does not outlive the pod (an emptyDir, tmpfs, the container's own
  writable layer) is gone after a restart. With ``HRIS_REQUIRE_PERSISTENT_DB`` such a file is
  refused, as ``/proc/self/mountinfo`` tells: the mount holding the file's folder (the longest
  mount point containing it) is tmpfs, ramfs or overlay, is a Kubernetes emptyDir (its root is
  under ``kubernetes.io~empty-dir``), or is ``/`` itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from okta_hris.directory.database import parse_url
from okta_hris.errors import ConfigError

MOUNTINFO = Path("/proc/self/mountinfo")
# File systems whose files do not outlive the container: in memory, or its writable layer.
EPHEMERAL_FILE_SYSTEMS = {
    "tmpfs": "tmpfs keeps its files in memory",
    "ramfs": "ramfs keeps its files in memory",
    "overlay": "overlay is the container's own writable layer",
}
EMPTY_DIR = "kubernetes.io~empty-dir"
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/<pid>/mountinfo`` (proc(5)), the fields the check reads."""

    root: str  # the directory of the mounted file system that appears at mount_point
    mount_point: str
    fs_type: str
    source: str

    def describe(self) -> str:
        return f"{self.mount_point} ({self.fs_type} {self.source})"


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts, in the order they were mounted; lines that do not parse are skipped.

    Fields: id, parent id, major:minor, root, mount point, options, optional fields, "-",
    file system type, source, super options. Paths escape space, tab, newline and backslash
    as octal (``\\040``).
    """
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            separator = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < separator + 3:
            continue
        mounts.append(
            Mount(
                root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]),
                fs_type=fields[separator + 1],
                source=_unescape(fields[separator + 2]),
            )
        )
    return mounts


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda found: chr(int(found.group(1), 8)), field)


def mount_holding(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount ``path`` (absolute, symbolic links resolved) is on: the longest mount point
    containing it; of several at the same point, the last mounted (it hides the others)."""
    found: Mount | None = None
    for mount in mounts:
        point = mount.mount_point.rstrip("/")
        inside = path == point or path.startswith(point + "/")
        if inside and (found is None or len(mount.mount_point) >= len(found.mount_point)):
            found = mount
    return found


def not_persistent(mount: Mount) -> str | None:
    """Why files on this mount do not outlive the pod, or None when they do."""
    if EMPTY_DIR in mount.root:
        return "an emptyDir volume is deleted with its pod"
    if mount.fs_type == "overlay" and mount.mount_point != "/":
        # A volume bind-mounted from a node that is itself a container (kind, k3d) shows the
        # node's overlay: only the container's own root is its writable layer.
        return None
    if mount.fs_type in EPHEMERAL_FILE_SYSTEMS:
        return EPHEMERAL_FILE_SYSTEMS[mount.fs_type]
    if mount.mount_point == "/":
        return "/ is the container's own file system"
    return None


def is_sqlite(database_url: str) -> bool:
    """Raises ``DirectoryError`` for a URL that does not parse."""
    return parse_url(database_url).get_backend_name() == "sqlite"


def check_directory(
    database_url: str,
    *,
    peered: bool,
    require_persistent: bool,
    mountinfo: Path = MOUNTINFO,
) -> None:
    """Raise ``ConfigError`` (one line) when an SQLite directory could invite people twice.

    Also refuses a database URL that does not parse (``DirectoryError``). PostgreSQL passes.
    """
    url = parse_url(database_url)
    if url.get_backend_name() != "sqlite":
        return
    path = _sqlite_file(url.database, url.query.get("mode"))
    if peered:
        raise ConfigError(
            f"the directory is the SQLite file {path or ':memory:'}, but peering (--peering, "
            "several replicas) needs a shared PostgreSQL directory (HRIS_DATABASE_URL): each "
            "replica would have its own file, and after a failover the new one would invite "
            "everyone again; run one replica with --standalone"
        )
    if require_persistent:
        _check_persistent(path, mountinfo)


def _sqlite_file(database: str | None, mode: object) -> str | None:
    """The file of an SQLite URL (its database and ``?mode=``), or None when in memory."""
    database = database or ""
    if database in ("", ":memory:") or mode == "memory":
        return None
    if database.startswith("file:"):  # an SQLite URI filename (its query is the URL's)
        database = urlsplit(database).path
    return database


def _check_persistent(path: str | None, mountinfo: Path) -> None:
    refused = "HRIS_REQUIRE_PERSISTENT_DB is set, but the SQLite directory"
    if path is None:
        raise ConfigError(f"{refused} is in memory: use a file on a PersistentVolumeClaim")
    folder = os.path.realpath(Path(path).parent)
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(
            f"{refused} {path} cannot be checked: {mountinfo} is not readable "
            f"({exc.strerror or exc})"
        ) from None
    mount = mount_holding(folder, parse_mountinfo(text))
    if mount is None:
        raise ConfigError(f"{refused} {path} cannot be checked: {mountinfo} names no mount of it")
    why = not_persistent(mount)
    if why is not None:
        raise ConfigError(
            f"{refused} {path} is not on persistent storage: it is on {mount.describe()}, and "
            f"{why}; put it on a PersistentVolumeClaim, or use PostgreSQL"
        )

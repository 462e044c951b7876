"""The operator's start-up safety: settings checked before Kopf starts, and SQLite refused where
it would invite people twice (several replicas, storage that does not outlive the pod).

The mountinfo texts are what a container of a pod sees in ``/proc/self/mountinfo`` under
containerd (the shape of the pods' mountinfo published in kubernetes/kubernetes#122342 and
open-telemetry/opentelemetry-js#3614), with the operator's data folder on a PersistentVolumeClaim,
on an emptyDir (on disk and in memory), or on no volume at all (the overlay root).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from kopf._core.engines.activities import ActivityError

from okta_hris.cli.operator import run_command
from okta_hris.controller.sqlite_safety import (
    check_directory,
    mount_holding,
    not_persistent,
    parse_mountinfo,
)
from okta_hris.errors import ConfigError

from .conftest import FAST_TIMING, Cluster
from .operator_harness import OperatorThread, write_kubeconfig

POD = "5b1f9e0c-3b5e-4a0e-9c1d-0f2b7a6d8e41"
SANDBOX = "9d2f4c1be0a94e3f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
SNAPSHOTS = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
XFS = "xfs /dev/nvme0n1p1 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota"
# Every container of the pod: the overlay root, the API file systems, kubelet's files.
CONTAINER = f"""\
1320 1357 0:377 / / rw,relatime master:247 - overlay overlay rw,lowerdir={SNAPSHOTS}/154/fs:{SNAPSHOTS}/146/fs:{SNAPSHOTS}/88/fs,upperdir={SNAPSHOTS}/155/fs,workdir={SNAPSHOTS}/155/work
1321 1320 0:380 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1322 1320 0:381 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
1323 1322 0:382 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
1324 1322 0:346 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw
1325 1320 0:357 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
1326 1325 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot
1327 1320 259:1 /var/lib/kubelet/pods/{POD}/etc-hosts /etc/hosts rw,noatime - {XFS}
1328 1322 259:1 /var/lib/kubelet/pods/{POD}/containers/operator/3c2a1f7e /dev/termination-log rw,noatime - {XFS}
1329 1320 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{SANDBOX}/hostname /etc/hostname rw,noatime - {XFS}
1330 1320 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{SANDBOX}/resolv.conf /etc/resolv.conf rw,noatime - {XFS}
1331 1322 0:345 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,inode64
1332 1320 0:344 / /run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=7823280k,inode64
"""
DATA = "/var/lib/okta-hris"
DATABASE = f"sqlite:///{DATA}/directory.db"
# The data folder as each kind of volume mounts it.
PVC = f"1333 1320 259:3 / {DATA} rw,relatime - ext4 /dev/nvme1n1 rw\n"
EMPTY_DIR = (
    f"1333 1320 259:1 /var/lib/kubelet/pods/{POD}/volumes/kubernetes.io~empty-dir/data {DATA} "
    f"rw,noatime - {XFS}\n"
)
MEMORY_EMPTY_DIR = f"1333 1320 0:390 / {DATA} rw,relatime - tmpfs tmpfs rw,size=262144k,inode64\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(text, encoding="utf-8")
    return path


class TestMountinfo:
    def test_the_fields_the_check_reads(self) -> None:
        mounts = parse_mountinfo(CONTAINER + PVC)
        assert len(mounts) == 14
        assert (mounts[0].mount_point, mounts[0].fs_type, mounts[0].root) == ("/", "overlay", "/")
        assert (mounts[-1].mount_point, mounts[-1].fs_type, mounts[-1].source) == (
            DATA,
            "ext4",
            "/dev/nvme1n1",
        )

    def test_octal_escapes_and_optional_fields(self) -> None:
        line = "40 1 8:1 /a\\040b /mnt/my\\040data rw shared:1 master:2 - ext4 /dev/sda1 rw\n"
        (mount,) = parse_mountinfo(line + "not a mountinfo line\n")
        assert (mount.root, mount.mount_point, mount.fs_type) == ("/a b", "/mnt/my data", "ext4")

    def test_the_longest_mount_point_holds_a_path(self) -> None:
        mounts = parse_mountinfo(CONTAINER + PVC)
        assert mount_holding(DATA, mounts) == mounts[-1]
        assert mount_holding(f"{DATA}/sub", mounts) == mounts[-1]
        assert mount_holding(f"{DATA}-other", mounts) == mounts[0]  # a prefix, not a parent
        assert mount_holding("/dev/shm", mounts) == mounts[11]

    def test_of_two_mounts_on_one_point_the_last_hides_the_first(self) -> None:
        mounts = parse_mountinfo(CONTAINER + EMPTY_DIR + PVC)
        found = mount_holding(DATA, mounts)
        assert found is not None and found.fs_type == "ext4"

    @pytest.mark.parametrize(
        ("volume", "why"),
        [
            (EMPTY_DIR, "emptyDir"),
            (MEMORY_EMPTY_DIR, "tmpfs keeps its files in memory"),
            ("", "overlay is the container's own writable layer"),
        ],
    )
    def test_what_does_not_outlive_the_pod(self, volume: str, why: str) -> None:
        mount = mount_holding(DATA, parse_mountinfo(CONTAINER + volume))
        assert mount is not None
        assert why in (not_persistent(mount) or "")

    def test_a_persistent_volume_claim_outlives_it(self) -> None:
        mount = mount_holding(DATA, parse_mountinfo(CONTAINER + PVC))
        assert mount is not None and not_persistent(mount) is None

    def test_a_volume_from_a_node_that_is_a_container_outlives_the_pod(self) -> None:
        """kind/k3d nodes are containers: a PVC bind-mounted from one shows the node's overlay."""
        volume = "1400 1320 0:377 /var/local-path-provisioner/pvc-1 /var/lib/okta-hris rw - overlay overlay rw\n"
        mount = mount_holding(DATA, parse_mountinfo(CONTAINER + volume))
        assert mount is not None and mount.mount_point == DATA
        assert not_persistent(mount) is None

    def test_the_root_of_a_host_is_not_persistent_storage_for_a_pod(self) -> None:
        """Outside a container "/" may be a disk; a pod's "/" never outlives it."""
        host = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
        mount = mount_holding(DATA, parse_mountinfo(host))
        assert mount is not None and "/ is the container's own" in (not_persistent(mount) or "")


class TestCheckDirectory:
    def test_peering_on_sqlite_is_refused(self) -> None:
        with pytest.raises(ConfigError) as refused:
            check_directory(DATABASE, peered=True, require_persistent=False)
        message = str(refused.value)
        assert "needs a shared PostgreSQL directory" in message
        assert f"{DATA}/directory.db" in message and "--standalone" in message
        assert "\n" not in message

    def test_postgresql_passes_whatever_is_asked(self, tmp_path: Path) -> None:
        url = "postgresql://hris@db.example:5432/hris"
        unreadable = tmp_path / "missing"
        check_directory(url, peered=True, require_persistent=True, mountinfo=unreadable)

    def test_sqlite_on_a_claim_passes(self, tmp_path: Path) -> None:
        check_directory(
            DATABASE,
            peered=False,
            require_persistent=True,
            mountinfo=write(tmp_path, CONTAINER + PVC),
        )

    @pytest.mark.parametrize(
        ("volume", "named"),
        [
            (EMPTY_DIR, f"{DATA} (xfs /dev/nvme0n1p1)"),
            (MEMORY_EMPTY_DIR, f"{DATA} (tmpfs tmpfs)"),
            ("", "/ (overlay overlay)"),
        ],
    )
    def test_sqlite_elsewhere_is_refused_naming_the_path_and_the_mount(
        self, tmp_path: Path, volume: str, named: str
    ) -> None:
        mountinfo = write(tmp_path, CONTAINER + volume)
        with pytest.raises(ConfigError) as refused:
            check_directory(DATABASE, peered=False, require_persistent=True, mountinfo=mountinfo)
        message = str(refused.value)
        assert f"{DATA}/directory.db is not on persistent storage" in message
        assert f"it is on {named}" in message
        assert "\n" not in message
        # Without HRIS_REQUIRE_PERSISTENT_DB it is the platform team's call.
        check_directory(DATABASE, peered=False, require_persistent=False, mountinfo=mountinfo)

    def test_the_folder_is_resolved_through_symbolic_links(self, tmp_path: Path) -> None:
        link = tmp_path / "link"
        link.symlink_to(DATA)
        url = f"sqlite:///{link}/directory.db"
        mounts = CONTAINER + PVC
        check_directory(
            url, peered=False, require_persistent=True, mountinfo=write(tmp_path, mounts)
        )

    def test_an_sqlite_uri_filename_is_checked_as_its_file(self, tmp_path: Path) -> None:
        url = f"sqlite:///file:{DATA}/directory.db?mode=rwc&uri=true"
        mountinfo = write(tmp_path, CONTAINER + PVC)
        check_directory(url, peered=False, require_persistent=True, mountinfo=mountinfo)
        on_empty_dir = write(tmp_path, CONTAINER + EMPTY_DIR)
        with pytest.raises(ConfigError, match="emptyDir"):
            check_directory(url, peered=False, require_persistent=True, mountinfo=on_empty_dir)

    @pytest.mark.parametrize(
        "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:hris?mode=memory&uri=true"]
    )
    def test_an_in_memory_directory_is_never_persistent(self, tmp_path: Path, url: str) -> None:
        mountinfo = write(tmp_path, CONTAINER + PVC)
        with pytest.raises(ConfigError, match="in memory"):
            check_directory(url, peered=False, require_persistent=True, mountinfo=mountinfo)

    def test_an_unreadable_mountinfo_refuses_rather_than_guesses(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot be checked"):
            check_directory(
                DATABASE, peered=False, require_persistent=True, mountinfo=tmp_path / "none"
            )


# -- okta-hris run: every setting checked before Kopf starts ------------------------------------


@pytest.fixture
def shm_folder() -> Iterator[Path]:
    """A folder on tmpfs, as /dev/shm is on every Linux and in every container."""
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        yield Path(folder)


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str | None]:
    """No HRIS_* settings, no kubeconfig, not in a cluster: each test adds the one it breaks."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HRIS_")}
    env.update(
        KUBECONFIG=None,
        KUBERNETES_SERVICE_HOST=None,
        HOME=str(tmp_path / "home"),
        HRIS_DATABASE_URL=f"sqlite:///{tmp_path / 'directory.db'}",
    )
    return env


def run(env: dict[str, str | None], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(run_command, ["-n", "people-ops", *args], env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("HRIS_MAX_CONCURRENT_SYNCS", "abc", "HRIS_MAX_CONCURRENT_SYNCS must be a whole number"),
        (
            "HRIS_MAX_CONCURRENT_SYNCS",
            "99999999999999999999",
            "HRIS_MAX_CONCURRENT_SYNCS must be between 1 and 64",
        ),
        ("HRIS_RETRY_BACKOFF", "inf", "HRIS_RETRY_BACKOFF must be a duration"),
        ("HRIS_SECRET_RETRY", "1e300", "HRIS_SECRET_RETRY must not be longer than 365 days"),
        ("HRIS_STALLED_RETRY", "1e12", "HRIS_STALLED_RETRY must not be longer than 365 days"),
        ("HRIS_STALLED_RETRY", "99999999999h", "HRIS_STALLED_RETRY must be"),
        ("HRIS_OKTA_URL", "ftp://okta.example", "must be an absolute http(s) URL"),
        ("HRIS_RETRY_BACKOFF", "soon", "HRIS_RETRY_BACKOFF must be a duration"),
        ("HRIS_SECRET_RETRY", "0", "HRIS_SECRET_RETRY must be longer than zero"),
        ("HRIS_REQUIRE_PERSISTENT_DB", "maybe", "HRIS_REQUIRE_PERSISTENT_DB must be true or false"),
        ("HRIS_DATABASE_URL", "mysql://hris@db/hris", "'mysql' is not supported"),
        ("HRIS_DATABASE_URL", "postgresql://hris:pw@db:port/hris", "not a valid database URL"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_1(
    clean_env: dict[str, str | None], setting: str, value: str, error: str
) -> None:
    code, output = run({**clean_env, setting: value}, "--standalone")
    assert code == 1
    assert output.startswith("error: ") and output.count("\n") == 1, output
    assert error in output
    assert "Traceback" not in output and "pw" not in output.replace("people-ops", "")


def test_no_kubernetes_credentials_is_one_line_and_exit_1(
    clean_env: dict[str, str | None],
) -> None:
    code, output = run(clean_env, "--standalone")
    assert code == 1 and output.count("\n") == 1, output
    assert "cannot load Kubernetes credentials" in output and "KUBECONFIG" in output


def test_an_unreadable_kubeconfig_is_one_line_and_exit_1(
    clean_env: dict[str, str | None], tmp_path: Path
) -> None:
    unreadable = tmp_path / "kubeconfig"
    unreadable.mkdir()  # unreadable as a file, even for root
    code, output = run({**clean_env, "KUBECONFIG": str(unreadable)}, "--standalone")
    assert code == 1 and output.count("\n") == 1, output
    assert f"cannot load Kubernetes credentials from {unreadable}" in output


def test_a_malformed_kubeconfig_is_one_line_without_its_content(
    clean_env: dict[str, str | None], tmp_path: Path
) -> None:
    """The parser's message would quote the file, and a kubeconfig holds credentials."""
    for text in ("users:\n- user: {token: SECRET-TOKEN\n  x: [\n", "[1, 2]\n"):
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(text, encoding="utf-8")
        code, output = run({**clean_env, "KUBECONFIG": str(kubeconfig)}, "--standalone")
        assert code == 1 and output.count("\n") == 1, output
        assert "SECRET-TOKEN" not in output and "Traceback" not in output


def test_the_liveness_and_metrics_ports_must_differ(clean_env: dict[str, str | None]) -> None:
    code, output = run(clean_env, "--standalone", "--liveness-port=8080", "--metrics-port=8080")
    assert code == 2 and "--liveness-port and --metrics-port must differ" in output


def test_peering_on_sqlite_is_refused_before_kopf_starts(clean_env: dict[str, str | None]) -> None:
    code, output = run(clean_env, "--peering", "okta-hris")
    assert code == 1 and output.count("\n") == 1, output
    assert "peering" in output and "PostgreSQL" in output and "--standalone" in output


def test_sqlite_on_tmpfs_is_refused_when_persistence_is_required(
    clean_env: dict[str, str | None], shm_folder: Path
) -> None:
    database = shm_folder / "directory.db"
    env = {**clean_env, "HRIS_REQUIRE_PERSISTENT_DB": "true"}
    code, output = run(env, "--standalone", "--database", f"sqlite:///{database}")
    assert code == 1 and output.count("\n") == 1, output
    assert f"{database} is not on persistent storage" in output
    assert "tmpfs" in output
    assert not database.exists()  # refused before anything was opened


def okta_hris_run(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """``okta-hris run -n people-ops ARGS`` as a process, without this one's HRIS_* settings
    and KUBECONFIG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HRIS_", "KUBECONFIG"))}
    command = [str(Path(sys.executable).with_name("okta-hris")), "run", "-n", "people-ops"]
    return subprocess.run(
        [*command, *args], env={**env, **environ}, capture_output=True, text=True, timeout=60
    )


def test_the_run_command_exits_1_as_a_process() -> None:
    """What a pod does with a bad setting: one line on stderr, exit 1 (and crash-loops)."""
    done = okta_hris_run(HRIS_MAX_CONCURRENT_SYNCS="abc")
    assert done.returncode == 1
    assert done.stderr == (
        "error: ConfigError: HRIS_MAX_CONCURRENT_SYNCS must be a whole number, not 'abc'\n"
    )
    assert done.stdout == ""


def test_a_directory_that_cannot_be_opened_stops_the_process_with_one_error(
    tmp_path: Path,
) -> None:
    """Past the checks, the start-up handler opens the directory: a failure there stops Kopf
    for good (no retry loop), and the command still ends with one line and exit 1."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9", "unused")
    done = okta_hris_run(
        "--database=sqlite:////proc/no-such-folder/directory.db",
        f"--kubeconfig={kubeconfig}",
        "--liveness-port=0",
        "--metrics-port=0",
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "error: ConfigError: the operator stopped: cannot create the directory's folder "
        "/proc/no-such-folder: No such file or directory"
    )


# -- kopf run -m okta_hris.controller.main: the start-up handler refuses as well ------------------


async def refused(
    cluster: Cluster, namespace: str, *, peering: str | None = None, **environ: str
) -> str:
    """Why the operator's start-up handler stopped it (Kopf does not retry a refused start)."""
    operator = OperatorThread(
        kubeconfig=cluster.kubeconfig,
        namespaces=[namespace],
        environ={"HRIS_OKTA_URL": "http://127.0.0.1:9", **FAST_TIMING, **environ},
        peering=peering,
    )
    with pytest.raises(ActivityError) as stopped:
        await operator.start()
    # Kopf waits for the stop flag in a worker thread even when it stopped by itself.
    with pytest.raises(ActivityError):
        await operator.stop()
    return str(stopped.value.__cause__)


async def test_the_startup_handler_refuses_peering_on_sqlite_and_stops(
    cluster: Cluster, sqlite_url: str
) -> None:
    ns = await cluster.namespace()
    why = await refused(cluster, ns, HRIS_DATABASE_URL=sqlite_url, peering="okta-hris")
    assert "needs a shared PostgreSQL directory" in why


async def test_the_startup_handler_refuses_sqlite_on_tmpfs_and_stops(
    cluster: Cluster, shm_folder: Path
) -> None:
    ns = await cluster.namespace()
    why = await refused(
        cluster,
        ns,
        HRIS_DATABASE_URL=f"sqlite:///{shm_folder / 'directory.db'}",
        HRIS_REQUIRE_PERSISTENT_DB="yes",
    )
    assert "is not on persistent storage" in why

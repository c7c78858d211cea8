"""A private Podman serving the Docker Engine API, for the containers tests (test-only code).

Everything lives in one temporary directory: the storage (``--root``, ``--runroot``,
``--tmpdir``), a ``containers.conf`` (runc, cgroupfs, file events, ulimits root may set here),
a busybox image imported from a rootfs tarball (no registry needed), and the API socket.

    engine = start_podman_engine()
    client = engine.client()          # docker.DockerClient on the private socket
    ...
    engine.stop()                     # removes every container, stops the service, deletes the dir
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE = "localhost/perfbook-busybox:test"
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
lock_type = "file"
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# A fixed API version: "auto" asks /version first, which takes seconds on a loaded machine (Podman
# runs conmon and the runtime to report their versions); /_ping answers in milliseconds.
API_VERSION = "1.41"


class EngineUnavailable(Exception):
    """Podman cannot run here; the message says why (and what to install)."""


@dataclass
class PodmanEngine:
    """A running ``podman system service`` on a private socket and storage."""

    base_dir: Path
    socket_path: Path
    process: subprocess.Popen
    image: str = IMAGE

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def client(self, timeout_s: float = 10.0) -> Any:
        """A docker SDK client talking to this engine."""
        import docker

        return docker.DockerClient(base_url=self.url, version=API_VERSION, timeout=timeout_s)

    def podman(self, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess:
        """Run the podman CLI against this engine's private storage."""
        return _podman(self.base_dir, *args, timeout_s=timeout_s)

    def stop(self) -> None:
        """Remove every container, stop the service and delete the directory."""
        try:
            self.podman("rm", "--force", "--all", "--time", "0", timeout_s=60)
        except (OSError, subprocess.SubprocessError):
            pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        _wait_for_helpers(self.base_dir, timeout_s=10.0)
        _unmount_under(self.base_dir)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_podman_engine(ready_timeout_s: float = 15.0) -> PodmanEngine:
    """Start a private Podman API service with the busybox image; EngineUnavailable when it can't."""
    _check_prerequisites()
    base = Path(tempfile.mkdtemp(prefix="perfbook-podman-"))
    try:
        (base / "containers.conf").write_text(CONTAINERS_CONF)
        _import_busybox(base)
        sock = base / "podman.sock"
        log = open(base / "service.log", "wb")  # noqa: SIM115 - the service owns it until stop()
        proc = subprocess.Popen(
            [*_podman_argv(base), "system", "service", "--time=0", f"unix://{sock}"],
            env=_env(base),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        engine = PodmanEngine(base_dir=base, socket_path=sock, process=proc)
        _wait_ready(engine, ready_timeout_s)
        return engine
    except BaseException:
        _unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)
        raise


def _wait_for_helpers(base: Path, timeout_s: float) -> None:
    """Wait for conmon and its ``podman container cleanup`` children (they mount the storage again)."""
    deadline = time.monotonic() + timeout_s
    needle = str(base).encode()
    while time.monotonic() < deadline:
        busy = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                busy = needle in cmdline.read_bytes()
            except OSError:
                continue
            if busy:
                break
        if not busy:
            return
        time.sleep(0.1)


def _unmount_under(base: Path) -> None:
    """Unmount what Podman left mounted in ``base`` (its overlay driver bind-mounts its own dir)."""
    prefix = str(base.resolve()) + "/"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[4] for line in lines if len(line.split()) > 4]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise EngineUnavailable("podman tests run rootful: run them as root")
    missing = [b for b in ("podman", "runc") if shutil.which(b) is None]
    if missing or _static_busybox() is None:
        raise EngineUnavailable(
            f"missing {', '.join(missing) or 'a static busybox'}: run scripts/system-deps.sh "
            "(apt-get install -y podman runc busybox-static)"
        )


def _static_busybox() -> str | None:
    for path in BUSYBOX_CANDIDATES:
        try:
            head = Path(path).read_bytes()[:4096]
        except OSError:
            continue
        if b"ld-linux" not in head:  # a dynamic binary names its loader in PT_INTERP, up front
            return path
    return None


def _podman_argv(base: Path) -> list[str]:
    return [
        "podman",
        "--root",
        str(base / "root"),
        "--runroot",
        str(base / "run"),
        "--tmpdir",
        str(base / "tmp"),
    ]


def _env(base: Path) -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(base / "containers.conf")}


def _podman(base: Path, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_podman_argv(base), *args], env=_env(base), capture_output=True, timeout=timeout_s, check=False
    )


def _import_busybox(base: Path) -> None:
    """A rootfs of static busybox and its applets, tarred and imported as IMAGE."""
    busybox = _static_busybox()
    rootfs = base / "rootfs"
    for d in ("bin", "dev", "proc", "sys", "tmp", "etc"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for name in applets:
        if name != "busybox":
            (rootfs / "bin" / name).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    tarball = base / "busybox.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True, capture_output=True)
    done = _podman(base, "import", "--change", 'CMD ["/bin/sh"]', str(tarball), IMAGE, timeout_s=60)
    if done.returncode != 0:
        raise EngineUnavailable(
            f"podman import failed: {done.stderr.decode(errors='replace').strip()[-300:]}"
        )
    shutil.rmtree(rootfs, ignore_errors=True)
    tarball.unlink()


def _wait_ready(engine: PodmanEngine, timeout_s: float) -> None:
    """Poll /_ping until the service answers; EngineUnavailable with its log when it dies or hangs."""
    import docker

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            break
        if engine.socket_path.exists():
            try:
                if docker.APIClient(base_url=engine.url, version=API_VERSION, timeout=2).ping():
                    return
            except Exception:  # not listening yet
                pass
        time.sleep(0.1)
    log = (engine.base_dir / "service.log").read_text(errors="replace")[-400:]
    engine.stop()
    raise EngineUnavailable(f"podman system service did not answer within {timeout_s:.0f} s: {log.strip()}")

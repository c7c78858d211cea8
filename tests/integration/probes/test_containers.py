"""The containers probe and rules on a real engine: a private Podman serving the Docker Engine API.

Podman differs from Docker in details (no ``precpu``, psgo ``top``, no back-off between restarts,
``died`` events), so live figures are asserted as properties, never Docker-exact values.
Containers run with network ``none`` only (never the bridge), CPU capped at half a core.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from perfbook import services
from perfbook.config import Config
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.containers import ContainersProbe
from perfbook.rules.containers import evaluate
from perfbook.triage import run_triage
from podman_engine import EngineUnavailable, PodmanEngine, start_podman_engine

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

MEM_LIMIT_BYTES = 32 * 1024**2
LABEL = "perfbook.test=containers"


@pytest.fixture(scope="session")
def podman() -> Iterator[PodmanEngine]:
    """One private Podman API service for the session; every container is removed at the end."""
    try:
        engine = start_podman_engine()
    except EngineUnavailable as err:
        if services.require_services():
            pytest.fail(f"required container engine could not start: {err}")
        pytest.skip(f"container engine not available here: {err}")
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def workload(podman: PodmanEngine) -> dict[str, str]:
    """A CPU burner (half a core), a container holding ~89 % of 32 MiB, a crash loop, an idle one."""
    client = podman.client()
    run = dict(image=podman.image, detach=True, network_mode="none", labels={"perfbook.test": "containers"})
    client.containers.run(
        command=["sh", "-c", "while :; do :; done"], name="pb-busy", nano_cpus=500_000_000, **run
    )
    # /dev/shm pages are charged to the container's memory cgroup: 28 MiB of 32 MiB, then hold.
    client.containers.run(
        command=["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=28; exec sleep 3600"],
        name="pb-memory",
        mem_limit=MEM_LIMIT_BYTES,
        memswap_limit=MEM_LIMIT_BYTES,
        shm_size="64m",
        **run,
    )
    client.containers.run(
        command=["sh", "-c", "sleep 0.5; exit 3"], name="pb-crash", restart_policy={"Name": "always"}, **run
    )
    client.containers.run(
        command=["sleep", "3600"], name="pb-idle", image=podman.image, detach=True, network_mode="none"
    )
    # Gives up after 3 retries: stopped, so only its die events bring it into the default selection.
    client.containers.run(
        command=["sh", "-c", "exit 2"],
        name="pb-gaveup",
        labels={"perfbook.test": "gaveup"},
        image=podman.image,
        detach=True,
        network_mode="none",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    )
    _wait_until(lambda: client.api.inspect_container("pb-crash")["RestartCount"] >= 3, "pb-crash restarts")
    _wait_until(lambda: _memory_bytes(client, "pb-memory") > 0.8 * MEM_LIMIT_BYTES, "pb-memory fills")
    _wait_until(lambda: _gave_up(client, "pb-gaveup"), "pb-gaveup to stop retrying")
    client.close()
    return {"url": podman.url}


def _wait_until(check, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _gave_up(client, name: str) -> bool:
    attrs = client.api.inspect_container(name)
    return attrs["State"]["Status"] == "exited" and attrs["RestartCount"] >= 3


def _memory_bytes(client, name: str) -> int:
    return client.api.stats(name, stream=False, one_shot=True)["memory_stats"].get("usage", 0)


def _config(url: str, **thresholds) -> Config:
    cfg = Config()
    cfg.containers.engine = url
    for key, value in thresholds.items():
        setattr(cfg.thresholds, key, value)
    return cfg


def _collect(cfg: Config, window_s: float, local: bool = True):
    async def go():
        budget_s = window_s + 1.5  # what triage gives it
        ctx = ProbeContext(config=cfg, window_s=window_s, deadline=time.monotonic() + budget_s, local=local)
        return await run_probe(ContainersProbe(), ctx, budget_s)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def observed(workload: dict[str, str]):
    """One 2 s probe run over the workload (CPU threshold lowered: 2 cores are shared here)."""
    cfg = _config(workload["url"], cpu_pct=20.0)
    ev = _collect(cfg, window_s=2.0)
    by_name = {c.name: c for c in ev.data.containers} if ev.data else {}
    return ev, by_name, {(f.code, f.subject): f for f in evaluate({"containers": ev}, cfg)}


def test_probe_runs_within_the_window_and_sees_every_running_container(observed) -> None:
    ev, by_name, _ = observed
    assert ev.status in ("ok", "partial"), ev.reason
    assert ev.duration_s <= 2.0 + 1.4  # triage gives it window + 1.5 s
    assert {"pb-busy", "pb-memory", "pb-crash", "pb-idle"} <= set(by_name)
    data = ev.data
    assert (data.engine, data.selection, data.api_version) == ("podman", "all running", "1.41")
    assert data.disk is not None and data.disk.images >= 1 and data.disk.images_bytes > 0
    assert data.disk.reclaimable_bytes >= 0 and data.disk.containers >= 4


def test_busy_container_is_judged_against_its_half_core_limit(observed) -> None:
    _, by_name, findings = observed
    busy = by_name["pb-busy"]
    assert (busy.cpu_basis, busy.cpu_limit_cores) == ("limit", 0.5)
    assert busy.samples >= 5
    assert 5.0 < busy.cpu_cores_pct <= 60.0  # capped by nano_cpus (a little scheduling slack)
    assert busy.cpu_pct == pytest.approx(busy.cpu_cores_pct / 0.5, rel=0.01)
    assert any("while" in p.command and p.cpu_pct is not None for p in busy.processes)  # top via psgo
    f = findings[("container.cpu_high", "pb-busy")]
    assert f.level.value == "warning" and "0.5-core" in f.title
    assert {a.id for a in f.actions} == {"container.update_limits", "container.top"}
    update = next(a for a in f.actions if a.id == "container.update_limits")
    assert update.command == "perfbook fix container.update_limits --container pb-busy --cpus 1.0"
    assert update.manual == "docker update --cpus 1 pb-busy"


def test_idle_container_is_judged_of_the_cores_and_has_no_finding(observed) -> None:
    _, by_name, findings = observed
    idle = by_name["pb-idle"]
    assert idle.cpu_basis == "cores" and idle.cpu_limit_cores is None and idle.cpu_pct < 5
    assert idle.memory_limit_bytes is None and idle.memory_pct is None  # no limit: not the host's RAM
    assert not [k for k in findings if k[1] == "pb-idle"]


def test_memory_bound_container_is_a_warning_of_its_own_limit(observed) -> None:
    _, by_name, findings = observed
    mem = by_name["pb-memory"]
    assert mem.memory_limit_bytes == MEM_LIMIT_BYTES
    assert 80.0 <= mem.memory_pct < 95.0
    assert mem.log_bytes is not None and mem.log_bytes > 0  # dd's summary went to the log Podman exposes
    f = findings[("container.memory_high", "pb-memory")]
    assert f.level.value == "warning" and f.value == mem.memory_pct
    assert [a.id for a in f.actions] == ["container.update_limits", "container.restart"]
    assert f.actions[0].params == {"container": "pb-memory", "memory": "48m"}
    assert f.actions[0].manual == "docker update --memory 48m --memory-swap 96m pb-memory"


def test_crash_loop_is_critical_from_restart_count_and_die_events(observed) -> None:
    _, by_name, findings = observed
    crash = by_name["pb-crash"]
    assert crash.restart_policy == "always" and crash.restart_count >= 3
    assert crash.die_events >= 3 and crash.exit_code == 3  # from the die events' exitCode
    f = findings[("container.restarting", "pb-crash")]
    assert f.level.value == "critical" and "last exit code 3" in f.title
    assert f.actions[0].manual == "docker logs --tail 100 pb-crash" and f.actions[0].command is None


def test_a_container_that_gave_up_restarting_is_found_by_its_die_events(observed) -> None:
    _, by_name, findings = observed
    gaveup = by_name["pb-gaveup"]  # not running when listed: brought in by its die events
    assert gaveup.state == "exited" and gaveup.samples == 0 and gaveup.exit_code == 2
    assert gaveup.die_events >= 3 and gaveup.finished_ago_s >= 0
    assert findings[("container.restarting", "pb-gaveup")].level.value == "critical"


def test_names_and_labels_select_the_containers_that_matter(workload: dict[str, str]) -> None:
    cfg = _config(workload["url"])
    cfg.containers.names = ["pb-memory", "pb-nope"]
    ev = _collect(cfg, window_s=1.0)
    assert [c.name for c in ev.data.containers] == ["pb-memory"]
    assert ev.status == "partial" and "no container named pb-nope" in ev.data.notes
    cfg = _config(workload["url"])
    cfg.containers.labels = [LABEL]
    ev = _collect(cfg, window_s=1.0)
    assert {c.name for c in ev.data.containers} == {"pb-busy", "pb-memory", "pb-crash"}


def test_triage_only_containers_names_the_three_from_the_cli(workload: dict[str, str], perfbook) -> None:
    result = perfbook(
        "triage",
        "--only",
        "containers",
        "--json",
        "--window",
        "1s",
        "--fail-on",
        "never",
        env={"DOCKER_HOST": workload["url"], "PERFBOOK_THRESHOLDS_CPU_PCT": "20"},
    )
    assert result.exit_code == 0, result.stderr
    report = result.json
    codes = {(f["code"], f["subject"]) for f in report["findings"]}
    assert {
        ("container.cpu_high", "pb-busy"),
        ("container.memory_high", "pb-memory"),
        ("container.restarting", "pb-crash"),
    } <= codes
    assert report["probes"]["containers"]["status"] in ("ok", "partial")


def test_probe_command_shows_the_docker_stats_table(workload: dict[str, str], perfbook) -> None:
    result = perfbook(
        "probe", "containers", "--window", "500ms", env={"DOCKER_HOST": workload["url"], "COLUMNS": "200"}
    )
    assert result.exit_code == 3, result.stderr  # the crash loop is critical
    for text in ("pb-busy", "pb-memory", "MEM USAGE / LIMIT", "while :; do :; done", "reclaimable"):
        assert text in result.stdout


# --- no engine ------------------------------------------------------------------------------


@pytest.fixture
def dead_socket(tmp_path: Path) -> Iterator[str]:
    """A unix socket path that exists but where nothing listens (connect: connection refused)."""
    path = tmp_path / "docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    yield f"unix://{path}"
    sock.close()


def test_no_engine_is_unavailable_in_one_line_with_no_finding(dead_socket: str) -> None:
    ev = _collect(_config(dead_socket), window_s=0.5)
    assert ev.status == "unavailable" and ev.data is None
    assert ev.reason == f"no container engine at {dead_socket}: Connection refused"
    assert ev.duration_s < 1.0
    missing = _collect(_config("unix:///nonexistent/docker.sock"), window_s=0.5)
    assert (
        missing.reason == "no container engine at unix:///nonexistent/docker.sock: No such file or directory"
    )
    assert evaluate({"containers": ev}, Config()) == []


def test_an_engine_that_never_answers_is_unavailable_within_the_connect_timeout(tmp_path: Path) -> None:
    path = tmp_path / "hung.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(8)  # connections queue in the backlog; nothing ever reads or answers
    try:
        ev = _collect(_config(f"unix://{path}"), window_s=0.5)
    finally:
        sock.close()
    assert ev.status == "unavailable"
    assert re.fullmatch(rf"no container engine at unix://{path}: no answer within 1\.\d s", ev.reason)
    assert ev.duration_s < 1.8


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_no_engine_leaves_the_other_layers_alone(dead_socket: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = _config(dead_socket)
        cfg.http.base_url = f"http://127.0.0.1:{server.server_port}"
        cfg.http.endpoints = ["/health"]
        report = asyncio.run(run_triage(cfg, window_s=0.5, only=["containers", "http"]))
    finally:
        server.shutdown()
        server.server_close()
    assert report.probes["containers"].status == "unavailable"
    assert report.probes["http"].status == "ok"
    assert not [f for f in report.findings if f.code.startswith("container.")]


def test_remote_targets_and_a_missing_sdk_skip(monkeypatch: pytest.MonkeyPatch, dead_socket: str) -> None:
    ev = _collect(_config(dead_socket), window_s=0.5, local=False)
    assert ev.status == "skipped" and "remote" in ev.reason
    monkeypatch.setitem(__import__("sys").modules, "docker", None)  # what an install without the extra sees
    ev = _collect(_config(dead_socket), window_s=0.5)
    assert ev.status == "skipped" and "perfbook[docker]" in ev.reason


def test_evidence_round_trips_through_json(observed) -> None:
    from perfbook.evidence.containers import ContainersEvidence
    from perfbook.model import from_jsonable, jsonable

    ev, _, _ = observed
    again = from_jsonable(ContainersEvidence, json.loads(json.dumps(jsonable(ev.data))))
    assert again == ev.data and dataclasses.is_dataclass(again.containers[0])


def test_a_container_capped_at_a_fifth_of_a_core_is_throttled(podman: PodmanEngine) -> None:
    """A busy loop under --cpus 0.2: its quota runs out in nearly every 100 ms period (Podman's stats
    leave throttling_data at zero on cgroup v1; the probe then reads the container's cpu.stat)."""
    client = podman.client()
    busy = client.containers.run(
        command=["sh", "-c", "while :; do :; done"],
        name="pb-throttled",
        nano_cpus=200_000_000,
        image=podman.image,
        detach=True,
        network_mode="none",
        labels={"perfbook.test": "throttled"},
    )
    try:
        time.sleep(1.0)
        cfg = _config(podman.url)
        cfg.containers.names = ["pb-throttled"]
        ev = _collect(cfg, window_s=2.0)
    finally:  # a busy loop left running would compete with the other tests for this machine's two cores
        busy.remove(force=True)
        client.close()
    (c,) = ev.data.containers
    assert c.cpu_periods is not None and c.cpu_periods >= 10, c
    # its quota runs out in most periods; on a host this loaded it may also wait for a core instead
    assert c.cpu_throttled_share >= 0.25 and c.cpu_throttled_s > 0, c
    (f,) = [f for f in evaluate({"containers": ev}, cfg) if f.code == "container.cpu_throttled"]
    assert f.subject == "pb-throttled" and "0.2-core limit" in f.title
    update = next(a for a in f.actions if a.id == "container.update_limits")
    assert update.params["cpus"] > 0.2

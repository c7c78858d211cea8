"""The process probe on this real machine, with children the tests start: a CPU burner, a process
whose RSS grows 5 MB every 100 ms, a matched parent with a worker; perfbook's own process tree."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psutil

from perfbook.config import Config
from perfbook.probes.host import HostProbe
from perfbook.probes.process import ProcessProbe
from perfbook.rules import process as rules

from .probe_children import BURN, GROW, PARENT, SLEEP, child, fake_perfbook, new_tag, overhead_allowed_s, run


def config(tag: str, **thresholds: float) -> Config:
    return Config.model_validate({"process": {"match": [tag]}, "thresholds": thresholds})


async def test_a_matched_cpu_burner_is_a_cpu_hog():
    tag = new_tag()
    # 2 cores shared with other engineers' tests: the burner may get a fraction of a core, so judge
    # against a low threshold and check the figure against psutil's own reading of the same window.
    cfg = config(tag, process_cpu_pct=10)
    with fake_perfbook() as own_pid, child(BURN, s=3.5, tag=tag) as burner:
        watch = psutil.Process(burner.pid)
        cpu0, t0 = sum(watch.cpu_times()[:2]), time.monotonic()
        ev, wall_s = await run(ProcessProbe(), cfg, 2.0, own_pid=own_pid)
        outside_pct = (sum(watch.cpu_times()[:2]) - cpu0) / (time.monotonic() - t0) * 100
    assert ev.status == "ok" and wall_s <= 2.0 + overhead_allowed_s(), wall_s
    (p,) = ev.data.processes
    assert p.pid == burner.pid and p.matched_by == tag and not p.exited
    assert len(p.sample_t_s) >= 10 and p.cpu_pct > 10 and abs(p.cpu_pct - outside_pct) < 20, (p, outside_pct)
    (f,) = rules.evaluate({"process": ev}, cfg)
    assert (f.code, f.subject) == ("process.cpu_hog", f"{p.name}[{burner.pid}]")
    assert f.evidence["matched"] is True and f.evidence["cpu_pct"] == p.cpu_pct and f.evidence["rss_mb"] > 0
    assert tag in f.evidence["cmdline"] and len(f.evidence["cmdline"]) <= 120


async def test_steady_rss_growth_is_memory_growth_in_mb_per_min():
    tag = new_tag()
    cfg = config(tag, memory_growth_mb_per_min=100)
    with fake_perfbook() as own_pid, child(GROW, s=4, mb=5, every_s=0.1, tag=tag):
        ev, _ = await run(ProcessProbe(), cfg, 3.0, own_pid=own_pid)
    (p,) = ev.data.processes
    assert len(p.sample_rss_bytes) >= 10 and p.sample_rss_bytes[-1] - p.sample_rss_bytes[0] > 60 * 1024 * 1024
    (f,) = [f for f in rules.evaluate({"process": ev}, cfg) if f.code == "process.memory_growth"]
    assert f.subject == f"{p.name}[{p.pid}]" and f.unit.startswith("MB/min")
    assert 1000 < f.value < 4000  # 5 MB / 100 ms = 3000 MB/min, less the scheduler's delays
    assert f.evidence["r2"] >= 0.9 and f.evidence["samples"] >= 10 and f.evidence["matched"] is True


async def test_idle_process_is_watched_but_never_a_finding():
    tag = new_tag()
    cfg = config(tag, memory_growth_mb_per_min=1)
    with fake_perfbook() as own_pid, child(SLEEP, s=30, tag=tag) as idle:
        ev, _ = await run(ProcessProbe(), cfg, 1.0, own_pid=own_pid)
    assert [p.pid for p in ev.data.processes] == [idle.pid]
    assert ev.data.processes[0].cpu_pct < 10
    assert rules.evaluate({"process": ev}, cfg) == []


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return None


async def test_perfbook_itself_and_its_children_are_never_findings():
    """By default own_pid is this (pytest) process: its burning child matches the pattern but is ours."""
    tag = new_tag()
    cfg = config(tag, process_cpu_pct=5)
    cfg.process.pids = [os.getpid()]
    with child(BURN, s=3, tag=tag) as burner:
        (proc_ev, _), (host_ev, _) = await asyncio.gather(
            run(ProcessProbe(), cfg, 1.0), run(HostProbe(), cfg, 1.0)
        )
    # services other fixtures started in their own session (the Podman engine) are judged, by design
    ours = [p for p in proc_ev.data.processes if _session_of(p.pid) == os.getsid(0)]
    # pytest (by pid) and the burner at least; in a full run other fixtures' children of this session too
    assert ours == [] and proc_ev.data.own_excluded >= 2
    assert burner.pid not in {p.pid for p in proc_ev.data.processes}
    top = {p.pid: p for p in host_ev.data.top_cpu}
    assert top[os.getpid()].own if os.getpid() in top else True
    assert top[burner.pid].own if burner.pid in top else True  # other tests may crowd it out of the top 5
    findings = rules.evaluate({"process": proc_ev, "host": host_ev}, cfg)  # other people's hogs may show
    assert not [f for f in findings if f.evidence["pid"] in (burner.pid, os.getpid())]


async def test_a_child_in_its_own_session_is_a_service_perfbook_started_and_is_judged():
    """The lab starts its services with start_new_session: they are the stack, not perfbook."""
    tag = new_tag()
    cfg = config(tag, process_cpu_pct=5)
    with child(BURN, new_session=True, s=2.5, tag=tag) as service:
        ev, _ = await run(ProcessProbe(), cfg, 1.0)
    assert [p.pid for p in ev.data.processes] == [service.pid] and ev.data.own_excluded == 0
    assert [f.subject for f in rules.evaluate({"process": ev}, cfg)] == [
        f"{ev.data.processes[0].name}[{service.pid}]"
    ]


async def test_workers_of_a_matched_process_are_watched_and_pids_are_checked():
    tag = new_tag()
    with child(SLEEP, s=0, tag="gone") as gone:
        pass
    cfg = Config.model_validate({"process": {"match": [tag], "pids": [gone.pid]}})
    with fake_perfbook() as own_pid, child(PARENT, s=30, tag=tag) as parent:
        for _ in range(100):  # until the parent has spawned its worker
            ev, _ = await run(ProcessProbe(), cfg, 0.5, own_pid=own_pid)
            if len(ev.data.processes) == 2:
                break
    by_pid = {p.pid: p for p in ev.data.processes}
    assert by_pid[parent.pid].matched_by == tag
    (worker,) = [p for pid, p in by_pid.items() if pid != parent.pid]
    assert worker.matched_by == f"child of {parent.pid}" and tag not in worker.cmdline
    assert ev.data.missing_pids == [gone.pid]


async def test_nothing_configured_is_skipped_and_nothing_matching_says_so():
    ev, _ = await run(ProcessProbe(), Config.model_validate({"process": {"match": [], "pids": []}}), 0.5)
    assert ev.status == "skipped" and "no [process]" in ev.reason
    ev, _ = await run(ProcessProbe(), config(new_tag()), 0.5)
    assert ev.status == "ok" and ev.data.processes == [] and "no process matches" in ev.reason
    ev, _ = await run(ProcessProbe(), config(new_tag()), 0.5, local=False)
    assert ev.status == "skipped" and ev.reason.startswith("remote target")


async def test_the_service_running_a_process_comes_from_its_cgroup(tmp_path: Path):
    """A fixture /proc gives the cgroup (this machine runs no systemd); psutil reads the real process."""
    tag = new_tag()
    with fake_perfbook() as own_pid, child(SLEEP, s=30, tag=tag) as idle:
        (tmp_path / str(idle.pid)).mkdir()
        (tmp_path / str(idle.pid) / "cgroup").write_text("0::/system.slice/codexos-api.service\n")
        ev, _ = await run(ProcessProbe(proc_root=tmp_path), config(tag), 0.5, own_pid=own_pid)
    (p,) = ev.data.processes
    assert (p.unit, p.container_id) == ("codexos-api.service", None)

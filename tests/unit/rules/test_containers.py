"""Container rules on recorded evidence (a real Podman run, tests/fixtures/evidence/containers_podman.json),
with near misses; and the pure readers of engine answers the probe relies on (Docker and Podman shapes).

The recording: ``api`` burns CPU under a 0.5-core limit (76 % of it: the machine was shared),
``worker`` holds 28 MiB of a 32 MiB limit, ``migrate`` crash-loops (restart always, exit 3),
``redis`` idles without limits.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config
from perfbook.evidence.containers import ContainersEvidence, ContainerStats, EngineDisk
from perfbook.model import Evidence, Level
from perfbook.probes import containers_parse as parse
from perfbook.probes.containers_build import process_rows
from perfbook.rules import containers as rules

CFG = Config()
GIB = 1024**3


@pytest.fixture
def base(recorded) -> ContainersEvidence:
    return recorded("containers_podman.json", ContainersEvidence).data


def judged(data: ContainersEvidence, cfg: Config = CFG) -> dict[tuple[str, str], object]:
    return {
        (f.code, f.subject): f
        for f in rules.evaluate({"containers": Evidence("containers", "ok", 2.0, data=data)}, cfg)
    }


def with_container(data: ContainersEvidence, name: str, **changes) -> ContainersEvidence:
    return replace(data, containers=[replace(c, **changes) if c.name == name else c for c in data.containers])


def test_recorded_run_finds_the_memory_bound_and_the_crash_loop(base: ContainersEvidence) -> None:
    assert set(judged(base)) == {("container.memory_high", "worker"), ("container.restarting", "migrate")}


def test_recorded_busy_container_fires_once_its_limit_share_crosses_the_threshold(
    base: ContainersEvidence,
) -> None:
    cfg = Config()
    cfg.thresholds.cpu_pct = 76.0  # api ran at 76.34 % of its 0.5-core limit
    f = judged(base, cfg)[("container.cpu_high", "api")]
    assert (f.level, f.value, f.unit) == (Level.WARNING, 76.34, "% of the 0.5-core limit")
    assert f.evidence["cpu_cores_pct"] == 38.17 and f.evidence["processes"][0]["command"].startswith(
        "sh -c while"
    )
    cfg.thresholds.cpu_pct = 76.4
    assert ("container.cpu_high", "api") not in judged(base, cfg)


@pytest.mark.parametrize(
    ("cores_pct", "limit", "cpus", "fires", "update"),
    [
        (50.0, 0.5, 2, True, "1"),  # 100 % of half a core: double it
        (39.0, 0.5, 2, False, None),  # 78 % of the limit: under 80
        (180.0, None, 2, True, None),  # 90 % of both cores, no limit: nothing to raise
        (150.0, 2.0, 2, False, None),  # a 2-core limit on 2 cores: 75 %
        (190.0, 1.5, 2, True, "2"),  # raised to at most the host's cores
    ],
)
def test_cpu_is_judged_of_the_limit_else_of_the_cores(base, cores_pct, limit, cpus, fires, update) -> None:
    denominator = min(limit, cpus) if limit else cpus
    data = with_container(
        base,
        "redis",
        cpu_cores_pct=cores_pct,
        cpu_pct=cores_pct / denominator,
        cpu_basis="limit" if limit else "cores",
        cpu_limit_cores=limit,
        online_cpus=cpus,
    )
    f = judged(data).get(("container.cpu_high", "redis"))
    assert (f is not None) == fires
    if fires:
        ids = [a.id for a in f.actions]
        assert ids == (["container.update_limits", "container.top"] if update else ["container.top"])
        if update:
            assert f.actions[0].manual == f"docker update --cpus {update} redis"


@pytest.mark.parametrize(
    ("pct", "level"),
    [
        (79.9, None),
        (80.0, Level.WARNING),
        (94.9, Level.WARNING),
        (95.0, Level.CRITICAL),
        (99.5, Level.CRITICAL),
    ],
)
def test_memory_is_judged_of_its_own_limit_critical_at_95(base, pct, level) -> None:
    f = judged(with_container(base, "worker", memory_pct=pct)).get(("container.memory_high", "worker"))
    assert (f.level if f else None) == level


def test_memory_without_a_limit_is_not_a_container_finding(base) -> None:
    data = with_container(base, "worker", memory_limit_bytes=None, memory_pct=None)
    assert ("container.memory_high", "worker") not in judged(data)


def test_memory_actions_raise_the_limit_and_restart(base) -> None:
    f = judged(base)[("container.memory_high", "worker")]
    update, restart = f.actions
    assert update.command == "perfbook fix container.update_limits --container worker --memory 48m"
    assert update.manual == "docker update --memory 48m --memory-swap 96m worker"
    assert restart.command == "perfbook fix container.restart --container worker"
    assert restart.manual == "docker restart worker"


def stats(**changes) -> ContainerStats:
    fields = dict(
        name="api",
        id="0123456789ab",
        image="busybox",
        state="running",
        restart_count=0,
        restart_policy="always",
        exit_code=None,
        oom_killed=False,
        started_at=None,
        uptime_s=3600.0,
        finished_ago_s=None,
    )
    return ContainerStats(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"state": "restarting", "restart_count": 9}, "the engine shows it restarting (9 restarts)"),
        ({"die_events": 3}, "3 exits in the last 10 min"),
        # Docker's back-off: no exit in the window, but restarted often and up only briefly
        ({"restart_count": 12, "uptime_s": 40.0}, "12 restarts, up only 40 s"),
        (
            {"state": "exited", "restart_count": 5, "exit_code": 1, "uptime_s": None, "finished_ago_s": 30.0},
            "gave up after 5 restarts (exit code 1)",
        ),
        ({"restart_count": 12}, None),  # restarted long ago, stable for an hour
        ({"die_events": 2, "restart_count": 2, "uptime_s": 5.0}, None),  # a deploy, not a loop
        # finished its job
        ({"state": "exited", "restart_count": 5, "exit_code": 0, "finished_ago_s": 30.0}, None),
        ({"state": "exited", "restart_count": 5, "exit_code": 1, "finished_ago_s": 7200.0}, None),  # old news
    ],
)
def test_restart_loop_needs_no_restart_inside_the_window(changes, why) -> None:
    assert rules.restart_loop_reason(stats(**changes), 600.0) == why


def test_restart_finding_is_critical_with_logs_advice_and_memory_when_oom_killed() -> None:
    (f,) = rules.restart_findings(
        stats(die_events=4, exit_code=137, oom_killed=True, memory_limit_bytes=256 * 1024**2), 600.0
    )
    assert f.level is Level.CRITICAL and f.value == 4.0 and f.unit == "exits in 10 min"
    assert "last exit code 137, OOM-killed" in f.title
    assert [a.id for a in f.actions] == ["container.update_limits", "container.logs"]
    assert f.actions[0].params == {"container": "api", "memory": "512m"}
    assert f.actions[1].command is None and f.actions[1].manual == "docker logs --tail 100 api"


def disk(reclaimable: int) -> EngineDisk:
    return EngineDisk(
        3, 5 * GIB, 9, GIB, 2, 10 * GIB, 1, reclaimable // 2, 4, reclaimable - reclaimable // 2, reclaimable
    )


def test_reclaimable_space_is_info_with_a_prune_that_spares_volumes(base) -> None:
    assert ("container.reclaimable", "engine") not in judged(replace(base, disk=disk(GIB - 1)))
    f = judged(replace(base, disk=disk(3 * GIB)))[("container.reclaimable", "engine")]
    assert f.level is Level.INFO and "3.0 GiB reclaimable: 4 stopped containers, 1 dangling images" in f.title
    (prune,) = f.actions
    assert prune.command == "perfbook fix engine.prune" and "volume" not in prune.manual


def test_no_usable_evidence_no_finding() -> None:
    assert rules.evaluate({}, CFG) == []
    assert (
        rules.evaluate({"containers": Evidence("containers", "unavailable", 0.01, reason="no engine")}, CFG)
        == []
    )


# --- the pure readers of engine answers ------------------------------------------------------


def test_cpu_from_two_samples_and_a_reset_is_no_rate() -> None:
    first = {"cpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000}}, "precpu_stats": {}}
    last = {"cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000}, "online_cpus": 2}}
    assert parse.cpu_cores_pct(first, last, 2.0) == 50.0
    assert parse.cpu_cores_pct(last, first, 2.0) is None
    assert parse.online_cpus(last) == 2


@pytest.mark.parametrize(
    ("host", "cores"),
    [
        ({"NanoCpus": 500_000_000}, 0.5),
        ({"CpuQuota": 150_000, "CpuPeriod": 100_000}, 1.5),
        ({"CpuQuota": -1}, None),
        ({}, None),
    ],
)
def test_cpu_limit_from_nano_cpus_or_quota(host, cores) -> None:
    assert parse.cpu_limit_cores(host) == cores


def test_memory_less_inactive_cache_on_docker_and_as_is_on_podman() -> None:
    assert parse.memory_used_bytes({"memory_stats": {"usage": 100, "stats": {"inactive_file": 30}}}) == 70
    assert (
        parse.memory_used_bytes({"memory_stats": {"usage": 100, "stats": {"total_inactive_file": 40}}}) == 60
    )
    assert parse.memory_used_bytes({"memory_stats": {"usage": 29765632, "limit": 33554432}}) == 29765632
    assert parse.memory_used_bytes({"memory_stats": {}}) is None


def test_top_rows_in_docker_psgo_and_podman_fallback_shapes() -> None:
    docker = {
        "Titles": ["PID", "%CPU", "RSS", "COMMAND"],
        "Processes": [["4242", "97.5", "2048", "python app.py"]],
    }
    psgo = {
        "Titles": ["PID", "%CPU", "RSS", "COMMAND"],
        "Processes": [["1", "43.643", "1580", "sh -c while :; do :; done"]],
    }
    fallback = {"Titles": ["PID   USER     COMMAND"], "Processes": [["1 0        sh -c sleep 9"]]}
    assert parse.top_rows(docker) == [
        {"pid": "4242", "cpu_pct": 97.5, "rss_bytes": 2048 * 1024, "command": "python app.py"}
    ]
    assert parse.top_rows(psgo)[0]["command"] == "sh -c while :; do :; done"
    assert parse.top_rows(fallback) == [
        {"pid": "1", "cpu_pct": None, "rss_bytes": None, "command": "sh -c sleep 9"}
    ]
    default = {
        "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "Processes": [["root", "7", "1", "3", "10:00", "?", "00:00:01", "nginx: worker"]],
    }
    assert parse.top_rows(default)[0] == {
        "pid": "7",
        "cpu_pct": 3.0,
        "rss_bytes": None,
        "command": "nginx: worker",
    }


def test_process_rows_keep_the_top_by_cpu_and_by_memory() -> None:
    rows = [
        {"pid": str(i), "cpu_pct": float(i), "rss_bytes": (20 - i) * 1024, "command": f"p{i}"}
        for i in range(20)
    ]
    kept = process_rows(rows)
    assert [p.pid for p in kept][:5] == ["19", "18", "17", "16", "15"]
    assert {"0", "1", "2", "3", "4"} <= {p.pid for p in kept} and len(kept) == 10


def test_disk_usage_counts_what_a_prune_frees_never_volumes() -> None:
    df = {
        "LayersSize": 900,
        "Images": [
            {"RepoTags": ["app:1"], "Size": 500, "Containers": 2},
            {"RepoTags": ["<none>:<none>"], "Size": 300, "Containers": 0},
            {"RepoTags": None, "Size": 100, "Containers": 1},
        ],  # dangling but in use: kept
        "Containers": [{"State": "running", "SizeRw": 10}, {"State": "exited", "SizeRw": 70}],
        "Volumes": [{"UsageData": {"Size": 4000, "RefCount": 0}}, {"UsageData": {"Size": -1}}],
    }
    out = parse.disk_usage(df)
    assert out["images_bytes"] == 900 and out["volumes_bytes"] == 4000
    assert (out["dangling_images"], out["stopped_containers"], out["reclaimable_bytes"]) == (1, 1, 370)


def test_engine_times_with_nanoseconds_and_the_zero_time() -> None:
    assert parse.parse_engine_time("2026-11-27T09:22:51.352054913Z") == pytest.approx(
        1795771371.352054, abs=1e-5
    )
    assert parse.parse_engine_time("0001-01-01T00:00:00Z") is None
    assert parse.parse_engine_time("garbage") is None


def test_the_probe_table_reads_like_docker_stats_with_the_processes_inside(recorded) -> None:
    from rich.console import Console

    from perfbook.report.containers import build_table

    console = Console(width=200, record=True, color_system=None)
    console.print(build_table(recorded("containers_podman.json", ContainersEvidence)))
    text = console.export_text()
    assert "MEM USAGE / LIMIT" in text and "28.4 MiB / 32.0 MiB" in text and "88.7 %" in text
    assert "76.3 % of 0.5 cpu" in text and "└ 1 sh -c while :; do :; done" in text
    assert "5 (7 exits)" in text and "reclaimable 0 B" in text
    assert build_table(Evidence("containers", "unavailable", 0.01, reason="no engine")) is None


def test_throttled_by_its_quota_from_the_window_delta_of_its_cfs_periods():
    from perfbook.evidence.containers import ContainerStats
    from perfbook.probes.containers_build import _add_throttling
    from perfbook.rules.containers import throttling_findings

    def stats(periods: int, throttled: int, ns: int) -> dict:
        return {
            "cpu_stats": {
                "throttling_data": {
                    "periods": periods,
                    "throttled_periods": throttled,
                    "throttled_time": ns,
                    "source": "cgroup",
                }
            }
        }

    c = ContainerStats(
        "api",
        "abc123abc123",
        None,
        "running",
        0,
        None,
        None,
        False,
        None,
        10.0,
        None,
        cpu_limit_cores=0.5,
        cpu_cores_pct=50.0,
        online_cpus=2,
    )
    _add_throttling(c, stats(1000, 900, 10**12), stats(1020, 918, 10**12 + 1_500_000_000))  # lifetime: 90 %
    assert (c.cpu_periods, c.cpu_throttled_periods, c.cpu_throttled_s, c.cpu_throttled_share) == (
        20,
        18,
        1.5,
        0.9,
    )
    (f,) = throttling_findings(c, Config().thresholds)
    assert f.code == "container.cpu_throttled" and f.value == 0.9 and f.evidence["source"] == "cgroup"
    assert f.actions[0].command == "perfbook fix container.update_limits --container api --cpus 1.0"
    calm = ContainerStats("api", "abc123abc123", None, "running", 0, None, None, False, None, 10.0, None)
    _add_throttling(calm, stats(1000, 900, 0), stats(1020, 901, 0))
    assert calm.cpu_throttled_share == 0.05 and throttling_findings(calm, Config().thresholds) == []

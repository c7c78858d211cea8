"""Joins: latency ↔ CPU (the backend's own process vs. another process) and ↔ memory (growth, swap)."""

from __future__ import annotations

from causes_stack import backend, handler, healthy, host_ev, metrics_ev, other_process, process_ev

from perfbook.evidence.host import TopProcess


def test_backend_cpu_hog_is_the_cause_and_joins_the_latency(rank):
    ev = healthy()
    ev["process"] = process_ev(backend(cpu_pct=99.0))
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 1.6), handler("/api/v1/agents"))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "process" and "process.cpu_hog:python3[4242]" in top.findings
    assert (
        "the backend process python3[4242] is busy on the CPU (99 % of a core across the window)"
        in top.summary
    )
    assert "http.slow_response:/api/v1/users" in top.findings
    assert any("backend's own process" in r for r in top.reasons)
    assert top.confidence >= 0.65
    assert not any(c.layer == "app" for c in causes), "the backend's CPU explains the slow endpoint"


def test_backend_cpu_hog_alone_is_a_cause(rank):
    ev = healthy()
    ev["process"] = process_ev(backend(cpu_pct=99.0))
    _, causes = rank(ev)
    assert causes[0].layer == "process" and 0.4 <= causes[0].confidence < 0.65


def test_near_miss_a_busy_process_that_is_not_the_backend(rank):
    ev = healthy()
    ev["host"] = host_ev(busy_pct=92.0, top=[other_process()])
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 1.6), handler("/api/v1/agents"))
    _, causes = rank(ev)
    other = next(c for c in causes if "process.cpu_hog:ffmpeg[777]" in c.findings)
    assert "another process on the host, ffmpeg[777]" in other.summary
    assert other.evidence["backend"] is False
    assert other.confidence <= 0.4
    assert not any("backend process" in c.summary for c in causes)


def test_busy_host_with_nothing_slow_stays_under_the_healthy_bar(rank):
    ev = healthy()
    ev["host"] = host_ev(busy_pct=88.0, top=[other_process(cpu_pct=60.0)])
    _, causes = rank(ev)
    assert all(c.confidence <= 0.3 for c in causes)


def test_backend_memory_growth_is_a_leak_and_joins_swap(rank):
    ev = healthy()
    ev["process"] = process_ev(backend(rss_mb=[80.0 + 3 * i for i in range(12)]))
    ev["host"] = host_ev(swap_in_mb=12.0)
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "process" and "process.memory_growth:python3[4242]" in top.findings
    assert "host.swap_used:web-1" in top.findings
    assert top.summary.startswith(
        "The backend process python3[4242] leaks memory: RSS grows 990 MB/min (R² 1.00)"
    )
    assert "and the host swaps" in top.summary
    assert top.confidence >= 0.5


def test_swap_alone_names_the_top_memory_process(rank):
    ev = healthy()
    hog = TopProcess(
        pid=888,
        name="java",
        cmdline="java -jar batch.jar",
        cpu_pct=5.0,
        rss_bytes=6 << 30,
        memory_pct=75.0,
        matched_by=None,
        own=False,
    )
    ev["host"] = host_ev(swap_in_mb=30.0)
    ev["host"].data.top_memory = [hog]
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "host" and top.findings == ("host.swap_used:web-1",)
    assert "another process, java[888]" in top.summary
    assert top.confidence <= 0.3


def backend_on_top(cpu_pct: float) -> TopProcess:
    return TopProcess(
        pid=4242,
        name="pblab-1a2b-api",
        cmdline="pblab-1a2b-api worker",
        cpu_pct=cpu_pct,
        rss_bytes=90 << 20,
        memory_pct=1.1,
        matched_by="pblab-1a2b-api",
        own=False,
    )


def test_busy_host_whose_busiest_process_is_the_backend_names_it(rank):
    ev = healthy()
    ev["host"] = host_ev(busy_pct=95.0, top=[backend_on_top(70.0), other_process(cpu_pct=40.0)])
    ev["process"] = process_ev(backend(cpu_pct=70.0))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "process" and top.findings == ("host.cpu_high:web-1",)
    assert "(top: the backend's pblab-1a2b-api[4242])" in top.summary
    assert top.confidence > 0.3


def test_near_miss_a_lightly_busy_backend_on_a_busy_host_stays_weak(rank):
    ev = healthy()
    ev["host"] = host_ev(busy_pct=95.0, top=[backend_on_top(20.0), other_process(cpu_pct=18.0)])
    _, causes = rank(ev)
    assert all(c.confidence <= 0.3 for c in causes)


def test_restarting_container_joins_the_5xx(cfg):
    from causes_stack import findings_of

    from perfbook.causes import rank_causes
    from perfbook.codes import finding
    from perfbook.model import Action

    ev = healthy()
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=100, errors_5xx=40), handler("/api/v1/agents")
    )
    restarting = finding(
        "container.restarting",
        "codexos-backend",
        "codexos-backend restarted 4 times in 60 s, last exit code 137, OOM-killed",
        evidence={"restarts": 4, "exit_code": 137},
        actions=[
            Action(
                "container.logs", "read why codexos-backend exits", "docker logs --tail 100 codexos-backend"
            )
        ],
    )
    causes = rank_causes([*findings_of(ev, cfg), restarting], ev, cfg)
    top = causes[0]
    assert top.layer == "containers" and "container.restarting:codexos-backend" in top.findings
    assert "http.error_rate_high:/api/v1/users" in top.findings
    assert top.summary.startswith("GET /api/v1/users is failing (5xx 40 %): container codexos-backend:")
    assert not any(c.layer == "app" for c in causes), "the restarts explain the 5xx"


def test_busy_backend_second_to_another_process_is_named_among_them(rank):
    ev = healthy()
    ev["host"] = host_ev(busy_pct=97.0, top=[other_process(cpu_pct=80.0), backend_on_top(60.0)])
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "process"
    assert "(top: another process, ffmpeg[777]; the backend's pblab-1a2b-api[4242] among them)" in top.summary
    assert any(
        "among the top processes: the backend's own pblab-1a2b-api[4242] (60 % of a core)" in r
        for r in top.reasons
    )

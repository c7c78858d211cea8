"""The built-in rules over recorded lab triages: which alerts a real fault raises, and which it must not."""

from __future__ import annotations

import dataclasses

import pytest
from alerts_recorded import lab_report, recorded_evidence

from perfbook.alerts.engine import evaluate
from perfbook.alerts.observe import Observation, observe
from perfbook.alerts.rules import effective_rules
from perfbook.config import Config
from perfbook.model import Evidence


def alerts_after(report, cfg: Config, minutes: int = 20) -> dict[tuple[str, str], str]:
    """Evaluate the same triage every minute for ``minutes``: {(rule, subject): state} at the end."""
    rules, states = effective_rules(cfg), []
    for minute in range(minutes + 1):
        states = evaluate(rules, observe(report, cfg), now=60.0 * minute, states=states).states
    return {(s.rule, s.subject): s.state for s in states}


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("slow", {("HighResponseTime", "/api/v1/agents"), ("HighCPUUsage", "vm")}),
        ("errors", {("HighErrorRate", "http://127.0.0.1:43673"), ("HighCPUUsage", "vm")}),
        (
            "lock",
            {("PostgresBlockedQueries", "public.agents"), ("RedisUnreachable", "redis://127.0.0.1:59579/0")},
        ),
        ("redis_full", {("RedisOOMRejections", "redis://127.0.0.1:59579/0"), ("HighCPUUsage", "vm")}),
        (
            "bloat",
            {("PostgresDeadTuples", "public.agents"), ("RedisUnreachable", "redis://127.0.0.1:59579/0")},
        ),
        ("pool", {("PostgresConnectionsSaturated", "codexos_db")}),
    ],
)
def test_a_lab_fault_fires_its_alert(fault, expected):
    # The recordings ran on a busy 2-core machine: where the host probe answered, its CPU was at 100 %,
    # and in two of them the Redis probe timed out (redis.unreachable in the report).
    firing = {k for k, state in alerts_after(lab_report(fault), Config()).items() if state == "firing"}
    assert firing == expected


def test_the_healthy_lab_raises_nothing_not_even_pending():
    assert alerts_after(lab_report("healthy"), Config()) == {}


def test_a_low_sample_endpoint_neither_fires_nor_hides_the_judged_one():
    obs = observe(lab_report("slow"), Config())
    p95 = {o.subject: (o.value, o.enough) for o in obs.values("p95_s")}
    assert p95["/api/v1/agents"] == (pytest.approx(3.201044), True)  # timed requests beat 6 metric samples
    assert p95["/api/v1/agents/{agent_id}"][1] is False  # 2 requests in the window: no verdict


def test_5xx_share_from_too_few_requests_does_not_fire():
    report = lab_report("errors")
    few = dataclasses.replace(report, kpis=dataclasses.replace(report.kpis, error_requests=19))
    assert ("HighErrorRate", "http://127.0.0.1:43673") not in alerts_after(few, Config())


def test_a_changed_threshold_moves_the_built_in_rule():
    cfg = Config.model_validate({"thresholds": {"p95_s": 5.0}})
    assert ("HighResponseTime", "/api/v1/agents") not in alerts_after(lab_report("slow"), cfg)


def test_containers_are_judged_against_their_limit_and_the_host_for_the_rest():
    report = lab_report("healthy")
    containers = recorded_evidence("containers_podman.json")
    report = dataclasses.replace(report, probes={**report.probes, "containers": containers})
    cpu = {o.subject: o.value for o in observe(report, Config()).values("cpu_pct")}
    limited = {c.name for c in containers.data.containers if c.cpu_basis == "limit" and c.cpu_pct is not None}
    assert {s.removeprefix("container ") for s in cpu if s.startswith("container ")} == limited
    assert cpu["container api"] == pytest.approx(76.34)  # of its 0.5-core limit, not of the host's cores
    assert "container migrate" not in cpu  # no CPU limit: the host's figure covers it
    memory = {o.subject: o.value for o in observe(report, Config()).values("memory_pct")}
    assert memory == {"container worker": pytest.approx(88.71)}  # the only one with a memory limit
    cfg = Config()
    fired = alerts_after(report, cfg)
    assert fired == {("HighMemoryUsage", "container worker"): "firing"}


def test_an_unavailable_layer_is_not_measured():
    report = lab_report("lock")  # redis unavailable, host unavailable
    obs = observe(report, Config())
    assert "cache_hit_rate" not in obs.measured_figures and "cpu_pct" not in obs.measured_figures
    assert "p95_s" in obs.measured_figures


def test_observation_round_trips_for_the_store():
    obs = observe(lab_report("slow"), Config())
    assert Observation.from_dict(obs.to_dict()) == obs


def test_a_probe_that_stopped_answering_holds_a_firing_alert():
    cfg = Config()
    rules = effective_rules(cfg)
    report = lab_report("redis_full")
    states = []
    for minute in range(5):
        states = evaluate(rules, observe(report, cfg), now=60.0 * minute, states=states).states
    down = dataclasses.replace(
        report,
        findings=[f for f in report.findings if not f.code.startswith("redis.")],
        probes={**report.probes, "redis": Evidence("redis", "unavailable", 0.1, "timeout")},
    )
    later = evaluate(rules, observe(down, cfg), now=600.0, states=states)
    oom = [s for s in later.states if s.rule == "RedisOOMRejections"]
    assert [s.state for s in oom] == ["firing"] and not any(n.kind == "resolved" for n in later.notifications)

"""The alert state machine, table-driven: a timeline of observations in, states and notifications out.

Each case is a rule and a list of steps ``(t_s, value)``; ``value`` is the figure of one subject,
``None`` when the layer could not be measured, ``GONE`` when the subject is absent from a measured
run, ``FEW`` when it came from too few samples. The engine runs once per step with the states of
the step before, round-tripped through ``to_dict`` as a restarted watch would read them back.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.alerts.engine import Settings, evaluate
from perfbook.alerts.observe import Observation, Observed
from perfbook.alerts.rules import AlertRule
from perfbook.alerts.state import AlertState, Silence
from perfbook.alerts.when import parse_when

GONE, FEW = "gone", "few"
BACKEND = {"backend": "http://127.0.0.1:8001"}


def rule(
    when: str = "p95_s > 2", for_s: float = 6, keep_s: float = 0, name: str = "HighResponseTime"
) -> AlertRule:
    return AlertRule(
        name,
        parse_when(when),
        for_s,
        keep_s,
        "warning",
        "p95 {value} on {subject} (limit {threshold})",
        "",
        "docs/alerts.md#x",
    )


def obs(figure: str, values: dict[str, object], findings: dict[str, str] | None = None) -> Observation:
    """One run: ``values`` subject -> number | GONE | FEW | None (None: the figure was not measured)."""
    items = []
    measured = [figure] if any(v is not None for v in values.values()) or not values else []
    for subject, v in values.items():
        if v in (None, GONE):
            continue
        items.append(
            Observed(figure, subject, 1.0 if v == FEW else float(v), enough=v != FEW, labels=BACKEND)
        )
    for code, subject in (findings or {}).items():
        items.append(Observed(f"finding {code}", subject, None, labels=BACKEND))
    return Observation(items, {"http": "ok", "metrics": "ok"}, measured)


def run(rules, steps, silences=(), settings=Settings()):
    """Evaluate each ``(t, Observation)``; return [(t, {subject: state}, [notification kinds])]."""
    states: list[AlertState] = []
    out = []
    for t, observation in steps:
        result = evaluate(
            rules, observation, now=float(t), states=states, silences=silences, settings=settings
        )
        states = [AlertState.from_dict(s.to_dict()) for s in result.states]  # as a restarted watch reads them
        out.append(
            (
                t,
                {s.subject: s.state for s in result.states},
                [f"{n.kind}:{n.subject}" for n in result.notifications],
            )
        )
    return out


def timeline(values, figure="p95_s", subject="/api"):
    return [(t, obs(figure, {subject: v})) for t, v in values]


CASES = {
    "fires once after for": (
        rule(for_s=6),
        [(0, 3), (2, 3), (4, 3), (6, 3), (8, 3)],
        ["pending", "pending", "pending", "firing", "firing"],
        {6: ["firing:/api"]},
    ),
    "flapping inside for sends nothing": (
        rule(for_s=6),
        [(0, 3), (2, 1), (4, 3), (6, 1), (8, 3), (10, 1)],
        ["pending", None, "pending", None, "pending", None],
        {},
    ),
    "for 0 fires at once": (rule(for_s=0), [(0, 3), (2, 3)], ["firing", "firing"], {0: ["firing:/api"]}),
    "resolves once when the condition stops": (
        rule(for_s=2),
        [(0, 3), (2, 3), (4, 1), (6, 1)],
        ["pending", "firing", "resolved", "resolved"],
        {2: ["firing:/api"], 4: ["resolved:/api"]},
    ),
    "keep_firing_for rides out a quiet run": (
        rule(for_s=2, keep_s=4),
        [(0, 3), (2, 3), (4, 1), (6, 3), (8, 1), (10, 1)],
        ["pending", "firing", "firing", "firing", "firing", "resolved"],
        {2: ["firing:/api"], 10: ["resolved:/api"]},
    ),
    "a layer not measured neither fires nor resolves": (
        rule(for_s=2),
        [(0, 3), (2, 3), (4, None), (6, None), (8, 1)],
        ["pending", "firing", "firing", "firing", "resolved"],
        {2: ["firing:/api"], 8: ["resolved:/api"]},
    ),
    "too few samples hold the state": (
        rule(for_s=2),
        [(0, 3), (2, FEW), (4, 3), (6, FEW), (8, FEW)],
        ["pending", "pending", "firing", "firing", "firing"],
        {4: ["firing:/api"]},
    ),
    "a subject gone from a measured run resolves": (
        rule(for_s=0),
        [(0, 3), (2, GONE)],
        ["firing", "resolved"],
        {0: ["firing:/api"], 2: ["resolved:/api"]},
    ),
    "below-threshold rules fire below": (
        rule("cache_hit_rate < 0.9", for_s=2, name="LowCacheHitRate"),
        [(0, 0.5), (2, 0.6), (4, 0.95)],
        ["pending", "firing", "resolved"],
        {2: ["firing:/api"], 4: ["resolved:/api"]},
    ),
    "a value on the threshold does not fire a strict rule": (
        rule(for_s=0),
        [(0, 2.0), (2, 2.0001)],
        [None, "firing"],
        {2: ["firing:/api"]},
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_state_machine(name):
    r, values, expected_states, expected_notes = CASES[name]
    figure = r.condition.figure
    result = run([r], timeline(values, figure))
    assert [states.get("/api") for _, states, _ in result] == expected_states
    assert {t: notes for t, _, notes in result if notes} == expected_notes


def test_repeat_interval_notifies_again_while_firing():
    steps = timeline([(t, 3) for t in range(0, 26, 5)])
    result = run([rule(for_s=0)], steps, settings=Settings(repeat_interval_s=10))
    assert {t: n for t, _, n in result if n} == {0: ["firing:/api"], 10: ["repeat:/api"], 20: ["repeat:/api"]}


def test_one_alert_per_subject():
    steps = [(0, obs("p95_s", {"/a": 3, "/b": 3, "/c": 1})), (2, obs("p95_s", {"/a": 3, "/b": 1, "/c": 1}))]
    result = run([rule(for_s=0)], steps)
    assert result[0][1] == {"/a": "firing", "/b": "firing"}
    assert sorted(result[0][2]) == ["firing:/a", "firing:/b"]
    assert result[1][1] == {"/a": "firing", "/b": "resolved"} and result[1][2] == ["resolved:/b"]


def test_silence_holds_notifications_back_until_it_ends():
    silences = [Silence("s1", "HighResponseTime", until=5.0, subject="/api", comment="deploy")]
    result = run([rule(for_s=0)], timeline([(0, 3), (2, 3), (6, 3)]), silences=silences)
    assert [n for _, _, n in result] == [[], [], ["firing:/api"]]  # the state fired all along


def test_silence_of_another_subject_expired_or_not_started_does_not_mute():
    silences = [
        Silence("s1", "HighResponseTime", until=100.0, subject="/other"),
        Silence("s2", "HighResponseTime", until=0.0),
        Silence("s3", "HighResponseTime", until=100.0, starts_at=50.0),
    ]
    assert run([rule(for_s=0)], timeline([(1, 3)]), silences=silences)[0][2] == ["firing:/api"]


def test_resolved_is_sent_only_for_an_episode_that_was_notified():
    silences = [Silence("s1", "HighResponseTime", until=100.0)]
    result = run([rule(for_s=0)], timeline([(0, 3), (2, 1)]), silences=silences)
    assert [n for _, _, n in result] == [[], []]


def test_unreachable_backend_inhibits_its_latency_alert():
    unreachable = AlertRule(
        "BackendUnreachable",
        parse_when("finding http.unreachable"),
        4,
        0,
        "critical",
        "backend {subject} does not answer",
        "",
        "",
    )
    latency = rule(for_s=0)
    down = {"http.unreachable": BACKEND["backend"]}
    steps = [
        (0, obs("p95_s", {"/api": 5}, down)),
        (2, obs("p95_s", {"/api": 5}, down)),
        (4, obs("p95_s", {"/api": 5}, down)),
        (6, obs("p95_s", {"/api": 5})),
    ]
    result = run([unreachable, latency], steps)
    # The latency alert fires from the first run but stays quiet while the outage alert is pending or firing.
    backend = BACKEND["backend"]
    assert [sorted(n) for _, _, n in result] == [
        [],
        [],
        [f"firing:{backend}"],
        ["firing:/api", f"resolved:{backend}"],
    ]
    assert all(states["/api"] == "firing" for _, states, _ in result)


def test_inhibition_needs_equal_labels():
    unreachable = AlertRule(
        "BackendUnreachable", parse_when("finding http.unreachable"), 60, 0, "critical", "", "", ""
    )
    other = Observation(
        [
            Observed(
                "finding http.unreachable", "http://other:1", None, labels={"backend": "http://other:1"}
            ),
            Observed("p95_s", "/api", 5.0, labels=BACKEND),
        ],
        {"http": "ok"},
        ["p95_s"],
    )
    result = evaluate([unreachable, rule(for_s=0)], other, now=0.0)
    assert [n.subject for n in result.notifications] == ["/api"]


def test_notification_carries_rendered_summary_and_a_stable_key():
    result = evaluate([rule(for_s=0)], obs("p95_s", {"/api": 2.4}), now=10.0)
    (note,) = result.notifications
    assert note.summary == "p95 2.40 s on /api (limit 2.00 s)"
    assert note.key == "HighResponseTime|/api|10.0|firing" and note.runbook_url == "docs/alerts.md#x"


def test_restart_does_not_notify_again():
    first = evaluate([rule(for_s=0)], obs("p95_s", {"/api": 3}), now=0.0)
    resumed = [AlertState.from_dict(s.to_dict()) for s in first.states]  # what a restarted watch loads
    again = evaluate([rule(for_s=0)], obs("p95_s", {"/api": 3}), now=30.0, states=resumed)
    assert [n.kind for n in first.notifications] == ["firing"] and again.notifications == []


def test_removed_rule_closes_its_notified_episode():
    first = evaluate([rule(for_s=0)], obs("p95_s", {"/api": 3}), now=0.0)
    after = evaluate([], obs("p95_s", {"/api": 3}), now=2.0, states=first.states)
    assert [(n.kind, n.rule) for n in after.notifications] == [("resolved", "HighResponseTime")]
    assert after.states == []


def test_resolved_alerts_are_forgotten_after_retention():
    settings = Settings(resolved_retention_s=10)
    steps = timeline([(0, 3), (2, 1), (8, 1), (13, 1)])
    result = run([rule(for_s=0)], steps, settings=settings)
    assert [s.get("/api") for _, s, _ in result] == ["firing", "resolved", "resolved", None]


def test_finding_rules_fire_per_subject_and_resolve_when_the_finding_goes():
    blocked = AlertRule(
        "PostgresBlockedQueries",
        parse_when("finding pg.blocked_queries"),
        0,
        0,
        "critical",
        "sessions blocked on {subject}",
        "",
        "",
    )
    run1 = Observation(
        [Observed("finding pg.blocked_queries", "public.orders", 2.0, 0.0)], {"postgres": "ok"}, []
    )
    run2 = Observation([], {"postgres": "ok"}, [])
    run3 = Observation([], {"postgres": "unavailable"}, [])  # no verdict: the layer did not answer
    first = evaluate([blocked], run1, now=0.0)
    assert [n.summary for n in first.notifications] == ["sessions blocked on public.orders"]
    held = evaluate([blocked], run3, now=2.0, states=first.states)
    assert [s.state for s in held.states] == ["firing"] and held.notifications == []
    cleared = evaluate([blocked], run2, now=4.0, states=held.states)
    assert [n.kind for n in cleared.notifications] == ["resolved"]


def test_transitions_name_each_change():
    result = run([rule(for_s=2)], timeline([(0, 3)]))
    first = evaluate([rule(for_s=2)], obs("p95_s", {"/api": 3}), now=0.0)
    fired = evaluate([rule(for_s=2)], obs("p95_s", {"/api": 3}), now=2.0, states=first.states)
    assert [(t.old, t.new) for t in first.transitions] == [("inactive", "pending")]
    assert [(t.old, t.new, t.value) for t in fired.transitions] == [("pending", "firing", 3.0)]
    assert result[0][1] == {"/api": "pending"}


def test_states_are_not_mutated_in_place():
    first = evaluate([rule(for_s=0)], obs("p95_s", {"/api": 3}), now=0.0)
    kept = [replace(s) for s in first.states]
    evaluate([rule(for_s=0)], obs("p95_s", {"/api": 1}), now=5.0, states=first.states)
    assert first.states == kept

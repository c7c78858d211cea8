"""The checklist: the runbook's 20 items verbatim, ticked only from evidence that names its artifact."""

from __future__ import annotations

import re

import pytest

from perfbook.errors import UsageError
from perfbook.incidents.checklist import ITEMS, SECTIONS, Mark, evaluate, find_item
from perfbook.incidents.model import Artifact

# The runbook's "📋 Performance Checklist", copied verbatim from performance-issues-runbook.md.
RUNBOOK = """
### Investigation
- [ ] Performance issue identified and classified
- [ ] Initial metrics collected
- [ ] Root cause analysis initiated
- [ ] Impact assessment completed
- [ ] Resolution plan developed

### Resolution
- [ ] Immediate fixes applied
- [ ] Performance optimizations implemented
- [ ] Resource limits adjusted
- [ ] Monitoring enhanced
- [ ] Performance testing completed

### Verification
- [ ] Performance benchmarks met
- [ ] Response times improved
- [ ] Resource usage optimized
- [ ] User experience verified
- [ ] Monitoring alerts configured

### Post-Resolution
- [ ] Performance analysis completed
- [ ] Optimization recommendations documented
- [ ] Team debrief completed
- [ ] Documentation updated
- [ ] Follow-up monitoring scheduled
"""


def test_items_are_the_runbooks_verbatim() -> None:
    sections = re.findall(r"### (.+)\n((?:- \[ \] .+\n?)+)", RUNBOOK)
    expected = [(name, tuple(re.findall(r"- \[ \] (.+)", body))) for name, body in sections]
    assert [(s, tuple(t)) for s, t in SECTIONS] == expected
    assert [i.number for i in ITEMS] == list(range(1, 21))


def triage(
    art_id: int,
    severity: str | None = "P2",
    p95: float | None = 4.1,
    causes: int = 1,
    findings: tuple[str, ...] = (),
    probes: dict | None = None,
) -> Artifact:
    doc = {
        "severity": severity,
        "kpis": {"p95_s": p95, "error_rate": 0.0 if p95 is not None else None},
        "causes": [{"summary": f"cause {i}"} for i in range(causes)],
        "findings": [{"code": c, "subject": "web-1", "level": "warning"} for c in findings],
        "probes": probes or {"http": {"status": "ok"}, "host": {"status": "ok"}},
    }
    return Artifact(art_id, "triage", f"2026-12-01T10:{art_id:02d}:00Z", "ana", "", doc)


def fix(art_id: int, action: str = "pg.terminate", status: str = "done") -> Artifact:
    return Artifact(
        art_id,
        "fix",
        f"2026-12-01T10:{art_id:02d}:00Z",
        "ana",
        "",
        {"action": action, "outcome": {"status": status}},
    )


def load(art_id: int, met: bool | None) -> Artifact:
    slo = None if met is None else [{"met": met}]
    return Artifact(
        art_id,
        "load",
        f"2026-12-01T10:{art_id:02d}:00Z",
        "ana",
        "",
        {"rps": 500.0, "latency": {"p95_s": 0.2}, "error_rate": 0.0, "slo": slo},
    )


def by_number(arts, marks=()) -> dict:
    return {s.item.number: s for s in evaluate(arts, list(marks))}


def test_nothing_is_ticked_without_evidence() -> None:
    assert {s.state for s in evaluate([], [])} == {"open"}


def test_a_triage_ticks_the_investigation_items_and_names_itself() -> None:
    states = by_number([triage(3)])
    assert [n for n, s in states.items() if s.state == "done"] == [1, 2, 3, 4]
    assert {states[n].artifact for n in (1, 2, 3, 4)} == {"triage #3"}
    assert states[1].why == "severity P2" and states[1].by == "perfbook"


def test_a_triage_that_measured_nothing_ticks_nothing_it_cannot_prove() -> None:
    states = by_number(
        [triage(1, severity=None, p95=None, causes=0, probes={"http": {"status": "unavailable"}})]
    )
    assert all(s.state == "open" for s in states.values())


def test_fixes_and_limits() -> None:
    assert by_number([fix(1, status="failed")])[6].state == "open"
    states = by_number([fix(1), fix(2, action="redis.set_maxmemory")])
    assert (states[6].artifact, states[8].artifact) == ("fix #1", "fix #2")


def test_benchmarks_count_only_after_the_last_fix_and_are_flagged_when_missed_later() -> None:
    assert by_number([load(1, True), fix(2)])[11].state == "open"
    assert by_number([load(1, None)])[11].state == "open"  # no SLO, nothing met
    states = by_number([fix(1), load(2, True), load(3, False)])
    assert states[11].artifact == "load #2" and states[11].contradicted.startswith("load #3: SLO missed")
    assert by_number([fix(1), load(2, True), load(3, False), load(4, True)])[11].contradicted is None


def test_response_times_improved_and_worse_again_is_flagged() -> None:
    assert by_number([triage(1, p95=4.1)])[12].state == "open"
    states = by_number([triage(1, p95=4.1), triage(2, p95=0.3)])
    assert states[12].artifact == "triage #2" and states[12].contradicted is None
    states = by_number([triage(1, p95=4.1), triage(2, p95=0.3), triage(3, p95=4.4)])
    assert states[12].state == "done"
    assert states[12].contradicted == "triage #3: p95 4.40 s, not below the first triage's 4.10 s"


def test_resource_usage_optimized_needs_the_failing_kpi_to_pass_where_measured() -> None:
    high = triage(1, findings=("host.cpu_high",))
    unmeasured = triage(2, probes={"http": {"status": "ok"}, "host": {"status": "unavailable"}})
    assert by_number([high, unmeasured])[13].state == "open"
    states = by_number([high, unmeasured, triage(3), triage(4, findings=("host.cpu_high",))])
    assert (
        states[13].artifact == "triage #3" and "host.cpu_high:web-1 failing again" in states[13].contradicted
    )


def test_person_marks_evidence_wins_and_manual_verification_can_be_contradicted() -> None:
    marks = [
        Mark(5, "done", "bo", "2026-12-01T10:00:30Z"),
        Mark(14, "na", "bo", "2026-12-01T10:00:30Z", "no UI"),
        Mark(12, "done", "bo", "2026-12-01T10:01:30Z"),
        Mark(1, "na", "bo", "2026-12-01T10:00:30Z"),
    ]
    states = by_number([triage(1, p95=4.1), triage(2, p95=5.0)], marks)
    assert (states[5].state, states[5].by) == ("done", "bo")
    assert (states[14].state, states[14].why) == ("na", "no UI")
    assert states[1].by == "perfbook"  # evidence beats a person's n/a
    assert states[12].contradicted == "triage #2: p95 5.00 s, not below the first triage's 4.10 s"


@pytest.mark.parametrize(
    ("text", "number"),
    [("11", 11), ("benchmarks", 11), ("user experience", 14), ("Team debrief completed", 18)],
)
def test_find_item(text: str, number: int) -> None:
    assert find_item(text) == number


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("21", "does not exist"),
        ("0", "does not exist"),
        ("monitoring", "matches 3 checklist items"),
        ("coffee", "no checklist item matches"),
    ],
)
def test_find_item_refuses_what_is_not_one_item(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        find_item(text)

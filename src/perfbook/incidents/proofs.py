"""Which attached evidence proves which checklist item, and which later evidence contradicts a tick (pure).

Each rule reads the incident's artifacts, oldest first, and returns the first artifact that proves
its item with a one-line reason, or None. docs/incidents.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from perfbook.evidence import USABLE_STATUSES
from perfbook.incidents.figures import LIMIT_FIXES, RESOURCE_CODES, figures_for, short_cause, summary_for
from perfbook.incidents.model import Artifact

Proof = tuple[Artifact, str]
# "improved" is at least 10 % below the first p95: two windows of the same latency differ by noise
IMPROVED = 0.9
Rule = Callable[[Sequence[Artifact]], Proof | None]


def _of(arts: Sequence[Artifact], kind: str) -> list[Artifact]:
    return [a for a in arts if a.kind == kind]


def _first(
    arts: Sequence[Artifact],
    kind: str,
    test: Callable[[dict[str, Any]], bool],
    why: Callable[[Artifact], str],
) -> Proof | None:
    for art in _of(arts, kind):
        if test(art.document):
            return art, why(art)
    return None


def _measured(doc: dict[str, Any]) -> int:
    return sum(1 for p in (doc.get("probes") or {}).values() if p.get("status") in USABLE_STATUSES)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _line(art: Artifact) -> str:
    return summary_for(art.kind, figures_for(art.kind, art.document))


def _classified(arts: Sequence[Artifact]) -> Proof | None:
    return _first(
        arts,
        "triage",
        lambda d: d.get("severity") is not None,
        lambda a: f"severity {a.document['severity']}",
    )


def _metrics(arts: Sequence[Artifact]) -> Proof | None:
    return _first(
        arts,
        "triage",
        lambda d: _measured(d) > 0,
        lambda a: _plural(_measured(a.document), "probe") + " measured",
    )


def _causes(arts: Sequence[Artifact]) -> Proof | None:
    return _first(
        arts,
        "triage",
        lambda d: bool(d.get("causes")),
        lambda a: (
            f"{_plural(len(a.document['causes']), 'cause')}, "
            f"top: {short_cause(a.document['causes'][0].get('summary') or '')}"
        ),
    )


def _impact(arts: Sequence[Artifact]) -> Proof | None:
    def measured(d: dict[str, Any]) -> bool:
        kpis = d.get("kpis") or {}
        return kpis.get("p95_s") is not None and kpis.get("error_rate") is not None

    def why(art: Artifact) -> str:
        kpis = art.document["kpis"]
        where = f" on {kpis['p95_subject']}" if kpis.get("p95_subject") else ""
        return f"p95 {kpis['p95_s']:.2f} s{where}, 5xx {kpis['error_rate'] * 100:.1f} %"

    return _first(arts, "triage", measured, why)


def _fix_done(arts: Sequence[Artifact]) -> Proof | None:
    return _first(arts, "fix", lambda d: (d.get("outcome") or {}).get("status") == "done", _line)


def _limits(arts: Sequence[Artifact]) -> Proof | None:
    return _first(
        arts,
        "fix",
        lambda d: d.get("action") in LIMIT_FIXES and (d.get("outcome") or {}).get("status") == "done",
        _line,
    )


def _tested(arts: Sequence[Artifact]) -> Proof | None:
    for art in arts:
        if art.kind in ("load", "capacity") and not figures_for(art.kind, art.document).get("interrupted"):
            return art, _line(art)
    return None


def _last_fix_id(arts: Sequence[Artifact]) -> int:
    done = [a.id for a in _of(arts, "fix") if (a.document.get("outcome") or {}).get("status") == "done"]
    return max(done, default=0)


def _benchmarks(arts: Sequence[Artifact]) -> Proof | None:
    after = [a for a in _of(arts, "load") if a.id > _last_fix_id(arts)]
    return _first(after, "load", lambda d: figures_for("load", d)["slo_met"] is True, _line)


def _p95s(arts: Sequence[Artifact]) -> list[tuple[Artifact, float]]:
    return [
        (a, a.document["kpis"]["p95_s"])
        for a in _of(arts, "triage")
        if (a.document.get("kpis") or {}).get("p95_s") is not None
    ]


def _faster(arts: Sequence[Artifact]) -> Proof | None:
    timed = _p95s(arts)
    if len(timed) < 2:
        return None
    first_art, first = timed[0]
    for art, p95 in timed[1:]:
        if p95 < first * IMPROVED:
            return art, f"p95 {p95:.2f} s, below the first triage's {first:.2f} s ({first_art.label})"
    return None


def _resource_failures(doc: dict[str, Any]) -> set[str]:
    return {
        f"{f['code']}:{f['subject']}" for f in doc.get("findings") or [] if f.get("code") in RESOURCE_CODES
    }


def _resource_probes_ran(doc: dict[str, Any], failing: set[str]) -> bool:
    probes = doc.get("probes") or {}
    needed = {"host" if key.startswith("host.") else "containers" for key in failing}
    return all((probes.get(p) or {}).get("status") in USABLE_STATUSES for p in needed)


def _resources(arts: Sequence[Artifact]) -> Proof | None:
    triages = _of(arts, "triage")
    failing_at = next((i for i, a in enumerate(triages) if _resource_failures(a.document)), None)
    if failing_at is None:
        return None
    failing = _resource_failures(triages[failing_at].document)
    for art in triages[failing_at + 1 :]:
        if _resource_probes_ran(art.document, failing) and not (_resource_failures(art.document) & failing):
            return art, f"{', '.join(sorted(failing))} failed in {triages[failing_at].label}, pass now"
    return None


def _alerts(arts: Sequence[Artifact]) -> Proof | None:
    return _first(
        arts,
        "watch",
        lambda d: bool(d.get("rules")),
        lambda a: f"watch with {len(a.document['rules'])} alert rules",
    )


RULES: dict[int, tuple[Rule, str]] = {
    1: (_classified, "a triage with a severity"),
    2: (_metrics, "a triage (at least one probe measured)"),
    3: (_causes, "a triage with causes"),
    4: (_impact, "a triage that measured p95 and the 5xx share"),
    6: (_fix_done, "a fix applied with outcome done"),
    8: (_limits, "a container limit or Redis maxmemory fix applied (done)"),
    10: (_tested, "a load or capacity run"),
    11: (_benchmarks, "a load run after the last fix, meeting its SLO"),
    12: (_faster, "a later triage's p95 below the first triage's"),
    13: (_resources, "CPU / memory findings that failed now pass"),
    15: (_alerts, "perfbook watch running alert rules for the incident"),
}


def contradiction(
    number: int, arts: Sequence[Artifact], *, after_id: int | None = None, after_at: str | None = None
) -> str | None:
    """Why the latest evidence after a verification tick (by artifact id, or a person's tick time) undoes it."""
    later = [a for a in arts if (a.id > after_id if after_id is not None else a.at > (after_at or ""))]
    if number == 11:
        runs = [a for a in _of(later, "load") if figures_for("load", a.document)["slo_met"] is not None]
        if runs and figures_for("load", runs[-1].document)["slo_met"] is False:
            return f"{runs[-1].label}: SLO missed ({_line(runs[-1])})"
    if number == 12:
        timed = _p95s(arts)
        recent = [(a, p95) for a, p95 in timed[1:] if a in later]
        if recent and recent[-1][1] >= timed[0][1] * IMPROVED:
            art, p95 = recent[-1]
            return f"{art.label}: p95 {p95:.2f} s, not below the first triage's {timed[0][1]:.2f} s"
    if number == 13:
        ran = [
            a
            for a in _of(later, "triage")
            if _resource_probes_ran(a.document, _resource_failures(a.document))
        ]
        if ran and _resource_failures(ran[-1].document):
            return f"{ran[-1].label}: {', '.join(sorted(_resource_failures(ran[-1].document)))} failing again"
    return None

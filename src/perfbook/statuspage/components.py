"""Which status-page components an incident touches, and the state each is in (pure).

A component stands for endpoint patterns (``/api/v1/*``) and layers (``postgres``, ``frontend``
…, the names :func:`perfbook.incidents.figures.affected_from` gives). With no components
configured, the page has one, ``Service``, standing for everything. States are Atlassian
Statuspage's: ``operational`` < ``degraded_performance`` < ``partial_outage`` < ``major_outage``.

    >>> comps = [StatusComponent(name="API", endpoints=["/api/v1/*"])]
    >>> [c.name for c in touched(comps, ["/api/v1/users"], [])]
    ['API']
    >>> state_for_severity("P0")
    'major_outage'
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from perfbook.config import StatusComponent

STATES = ("operational", "degraded_performance", "partial_outage", "major_outage")
LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
EVERYTHING = StatusComponent(name="Service", endpoints=["*"], layers=["*"])
# a P0 is a major outage, a P1 a partial one, anything slower a degradation (the rule)
_BY_SEVERITY = {
    "P0": "major_outage",
    "P1": "partial_outage",
    "P2": "degraded_performance",
    "P3": "degraded_performance",
}
_OUTAGE_CODES = ("http.unreachable", "http.health_failed")


def components_of(configured: Sequence[StatusComponent]) -> list[StatusComponent]:
    """The page's components: the configured ones, else one for everything."""
    return list(configured) or [EVERYTHING]


def matches(comp: StatusComponent, endpoints: Sequence[str], layers: Sequence[str]) -> bool:
    """True when ``comp`` stands for one of ``endpoints`` (fnmatch, query left out) or ``layers``."""
    paths = [e.split("?", 1)[0] for e in endpoints]
    return any(fnmatch.fnmatchcase(p, pat) for p in paths for pat in comp.endpoints) or any(
        fnmatch.fnmatchcase(layer, pat) for layer in layers for pat in comp.layers
    )


def touched(
    comps: Sequence[StatusComponent], endpoints: Sequence[str], layers: Sequence[str]
) -> list[StatusComponent]:
    """The components standing for any of ``endpoints`` / ``layers``."""
    return [c for c in comps if matches(c, endpoints, layers)]


def worst(states: Sequence[str]) -> str:
    """The worst of ``states`` (``operational`` when empty)."""
    return max(states, key=STATES.index, default="operational")


def state_for_severity(severity: str | None) -> str:
    """An open incident's state when no triage says more: by severity (unclassified: degraded)."""
    return _BY_SEVERITY.get(severity or "", "degraded_performance")


def state_from_triage(comp: StatusComponent, report: dict[str, Any]) -> str:
    """What a triage says of ``comp``: its findings on the component's endpoints and layers.

    An unreachable backend or failing health check is a major outage of every component with
    endpoints (they are the backend's); a P0/P1 report's findings
    count as outages of their parts; any other warning or critical finding is a degradation.
    """
    from perfbook.incidents.figures import affected_from

    states = []
    for f in report.get("findings") or []:
        if f.get("level") not in ("critical", "warning"):
            continue
        endpoints, layers = affected_from({"findings": [f]})
        outage = f.get("code") in _OUTAGE_CODES
        # an unreachable backend takes down every component that stands for its endpoints
        if not (matches(comp, endpoints, layers) or (outage and comp.endpoints)):
            continue
        if outage:
            states.append("major_outage")
        elif report.get("severity") in ("P0", "P1") and f.get("level") == "critical":
            states.append(state_for_severity(report["severity"]))
        else:
            states.append("degraded_performance")
    return worst(states)

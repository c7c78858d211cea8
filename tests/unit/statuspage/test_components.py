"""Component states from open incidents and their latest triage (pure), as status.json shows them."""

from __future__ import annotations

import datetime as dt

import pytest

from perfbook.config import Config, StatusComponent
from perfbook.incidents.model import Artifact, Impact, Incident, Status
from perfbook.notify.context import IncidentState
from perfbook.statuspage.build import page_document
from perfbook.statuspage.components import EVERYTHING, components_of, state_from_triage, worst

API = StatusComponent(name="API", endpoints=["/api/v1/*"], layers=["postgres"])
WEB = StatusComponent(name="Web app", layers=["frontend"])
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def report(severity: str, *findings: tuple[str, str, str]) -> dict:
    return {
        "severity": severity,
        "findings": [{"code": c, "subject": s, "level": lvl} for c, s, lvl in findings],
    }


@pytest.mark.parametrize(
    ("doc", "api", "web"),
    [
        (
            report("P2", ("http.slow_response", "/api/v1/users", "critical")),
            "degraded_performance",
            "operational",
        ),
        (
            report("P3", ("http.slow_response", "/api/v1/users?email=a@b.c", "warning")),
            "degraded_performance",
            "operational",
        ),
        (
            report("P1", ("http.error_rate_high", "/api/v1/users", "critical")),
            "partial_outage",
            "operational",
        ),
        (
            report("P0", ("http.unreachable", "http://127.0.0.1:8001", "critical")),
            "major_outage",
            "operational",
        ),
        (report("P0", ("http.health_failed", "/api/v1/health", "critical")), "major_outage", "operational"),
        (
            report("P2", ("pg.missing_index", "public.users", "critical")),
            "degraded_performance",
            "operational",
        ),
        (
            report("P2", ("frontend.slow_assets", "/static/app.js", "warning")),
            "operational",
            "degraded_performance",
        ),
        (report("OK", ("pg.unused_index", "public.users_x", "info")), "operational", "operational"),
    ],
)
def test_state_from_a_triage(doc: dict, api: str, web: str) -> None:
    assert (state_from_triage(API, doc), state_from_triage(WEB, doc)) == (api, web)


def test_the_catch_all_component_sees_everything() -> None:
    assert components_of([]) == [EVERYTHING]
    assert (
        state_from_triage(EVERYTHING, report("P0", ("http.unreachable", "http://x:1", "critical")))
        == "major_outage"
    )
    assert (
        worst([]) == "operational" and worst(["partial_outage", "degraded_performance"]) == "partial_outage"
    )


def _state(
    number: int, status: Status, severity: str, triage: dict | None, endpoints: list[str]
) -> IncidentState:
    at = "2026-12-01T11:00:00Z"
    inc = Incident(
        number,
        "internal title",
        status,
        severity,
        Impact.MINOR,
        "ana",
        at,
        at,
        at,
        "2026-12-01T11:30:00Z" if status is Status.RESOLVED else None,
        endpoints=endpoints,
    )
    arts = [Artifact(number, "triage", at, "ana", "", triage)] if triage else []
    return IncidentState(inc, [], arts, [])


def test_before_any_triage_the_severity_decides_and_the_worst_incident_wins() -> None:
    cfg = Config.model_validate({"status": {"components": [API.model_dump(), WEB.model_dump()]}})
    states = [
        _state(1, Status.INVESTIGATING, "P1", None, ["/api/v1/agents"]),
        _state(
            2,
            Status.IDENTIFIED,
            "P3",
            report("P3", ("http.slow_response", "/api/v1/users", "warning")),
            ["/api/v1/users"],
        ),
        _state(
            3,
            Status.RESOLVED,
            "P0",
            report("P0", ("http.health_failed", "/api/v1/health", "critical")),
            ["/api/v1/health"],
        ),
    ]
    doc = page_document(states, cfg, NOW)
    assert doc["components"] == [
        {"name": "API", "status": "partial_outage"},
        {"name": "Web app", "status": "operational"},
    ]
    assert doc["status"] == {"indicator": "major", "state": "partial_outage", "description": "Partial outage"}
    assert [i["id"] for i in doc["incidents"]] == ["INC-1", "INC-2"] and [
        h["id"] for h in doc["history"]
    ] == ["INC-3"]
    assert all(i["name"] != "internal title" for i in doc["incidents"] + doc["history"])

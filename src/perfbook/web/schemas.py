"""The JSON API's request and response models: what ``/api/v1/openapi.json`` promises, field by field.

Documents perfbook already defines elsewhere (a triage report, a fix plan, a load run, the status
page) pass through whole as objects: their own contracts are the report schema and the docs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error: the HTTP status, its word, the reason in one line, and what to do."""

    status: int
    error: str
    reason: str
    hint: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": word}
    for code, word in (
        (400, "a bad value"),
        (401, "no valid write token"),
        (403, "writes are off, or a wrong CSRF token"),
        (404, "no such thing"),
        (409, "the current state refuses it"),
        (413, "body too large"),
        (422, "the request does not match the schema"),
        (429, "a bounded action is already running"),
        (502, "a target perfbook talks to failed"),
        (503, "the store is unavailable"),
    )
}


class ArtifactRow(BaseModel):
    """A stored document in a list: what it is, when, by whom, and the figures pulled out of it."""

    id: int
    label: str
    kind: str
    at: str
    actor: str
    summary: str
    incident: str | None = None
    severity: str | None = None
    p95_s: float | None = None
    p95_subject: str | None = None
    error_rate: float | None = None
    rps: float | None = None
    slo_met: bool | None = None
    action: str | None = None
    outcome: str | None = None


class ArtifactList(BaseModel):
    items: list[ArtifactRow]
    total: int
    limit: int
    offset: int


class StoredDocument(BaseModel):
    """One stored document, whole (a triage report, a load run …)."""

    id: int
    label: str
    kind: str
    at: str
    actor: str
    summary: str
    incident: str | None = None
    document: dict[str, Any]


class TriageRequest(_In):
    only: list[str] | None = Field(None, description="probes to run (default: every one)")
    skip: list[str] = Field(default_factory=list, description="probes to leave out")
    window_s: float | None = Field(
        None, gt=0, le=60, description="the sampling window (default [triage] window_s)"
    )
    incident: str | None = Field(None, description="attach the report to this incident, e.g. INC-7")


class TriageRunOut(BaseModel):
    artifact_id: int
    incident: str | None = None
    events: list[str]
    report: dict[str, Any]


class AlertOut(BaseModel):
    rule: str
    subject: str
    state: str
    severity: str | None = None
    value: float | None = None
    threshold: float | None = None
    since: str | None = None
    summary: str | None = None


class Sparkline(BaseModel):
    samples: int
    svg: str


class KpiOut(BaseModel):
    name: str
    kpi: str
    value: str
    target: str
    status: str
    sparklines: dict[str, Sparkline]


class AlertList(BaseModel):
    alerts: list[AlertOut]


class FixRequest(_In):
    action: str = Field(description="a catalog id, e.g. pg.vacuum (GET /api/v1/fixes/catalog)")
    params: dict[str, Any] = Field(default_factory=dict, description="its parameters, snake_case keys")


class ApplyRequest(FixRequest):
    fingerprint: str = Field(description="the fingerprint of the plan you read and confirm")
    verify_window_s: float | None = Field(
        None, gt=0, le=60, description="measure before / after over this window"
    )


class PlanOut(BaseModel):
    plan: dict[str, Any]


class ApplyOut(BaseModel):
    applied: bool
    changed: bool
    plan: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    replanned: str | None = None
    verify: dict[str, Any] | None = None


class AuditEntry(BaseModel):
    id: int
    at: str
    os_user: str
    target: str
    action: str
    mode: str
    params: dict[str, Any]
    plan: dict[str, Any] | None = None
    outcome: str
    summary: str | None = None
    error: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditList(BaseModel):
    entries: list[AuditEntry]


class CatalogOut(BaseModel):
    actions: list[dict[str, Any]]


class CompareRow(BaseModel):
    figure: str
    kind: str
    a: float | None = None
    b: float | None = None
    change: float | None = None
    verdict: Literal["better", "worse"] | None = None


class CompareOut(BaseModel):
    a: ArtifactRow
    b: ArtifactRow
    figures: list[CompareRow]


class FaultSwitch(_In):
    on: bool
    params: dict[str, float | str] = Field(default_factory=dict)


class IncidentOut(BaseModel):
    """An incident as ``perfbook incident list --json`` shows it."""

    id: str
    number: int
    title: str
    status: str
    severity: str | None = None
    impact: str
    owner: str
    issue_types: list[str]
    endpoints: list[str]
    components: list[str]
    opened_at: str
    resolved_at: str | None = None
    updated_at: str
    last_update_at: str
    next_update_due: str | None = None
    overdue: bool
    overdue_s: float | None = None


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
    total: int
    limit: int
    offset: int


class EventOut(BaseModel):
    id: int
    at: str
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]
    artifact_id: int | None = None


class ChecklistItemOut(BaseModel):
    number: int
    section: str
    text: str
    state: Literal["done", "na", "open"]
    by: str | None = None
    artifact: str | None = None
    artifact_id: int | None = None
    why: str | None = None
    at: str | None = None
    contradicted: str | None = None
    auto: str | None = None


class ArtifactOut(BaseModel):
    id: int
    label: str
    kind: str
    at: str
    actor: str
    summary: str


class ShowOut(BaseModel):
    """``perfbook incident show --json``."""

    incident: IncidentOut
    checklist: list[ChecklistItemOut]
    timeline: list[EventOut]
    artifacts: list[ArtifactOut]


class Overview(BaseModel):
    triage: dict[str, Any] | None = None
    kpis: list[KpiOut]
    alerts: list[AlertOut]
    causes: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    incidents: list[IncidentOut]


class OpenRequest(_In):
    title: str = Field("", max_length=500, description="what is wrong; default: the report's severity reason")
    severity: str | None = Field(None, description="P0 … P3")
    impact: str | None = Field(
        None, description="none | minor | major | critical (default: from the severity)"
    )
    report_id: int | None = Field(None, description="a stored triage report to attach as the first evidence")


class NoteRequest(_In):
    text: str = Field(min_length=1, max_length=10000)
    followup: bool = Field(False, description="a follow-up for the postmortem")


class StatusRequest(_In):
    status: Literal["investigating", "identified", "monitoring"]
    message: str | None = Field(None, max_length=10000)
    impact: str | None = None


class SeverityRequest(_In):
    severity: str = Field(description="P0 … P3")
    reason: str | None = Field(None, max_length=1000)


class MarkRequest(_In):
    state: Literal["done", "na", "open"] = Field(
        description="done (tick), na (not applicable), open (take a mark back)"
    )
    note: str | None = Field(None, max_length=1000)


class ResolveRequest(_In):
    message: str | None = Field(None, max_length=10000)


class ReopenRequest(_In):
    reason: str | None = Field(None, max_length=1000)


class NotifyRequest(_In):
    event: Literal["detected", "update", "resolved", "customer"]
    message: str | None = Field(None, max_length=10000)
    dry_run: bool = Field(False, description="render and show where it would go; send nothing")
    internal_only: bool = False


class MessageOut(BaseModel):
    id: int
    event: str
    audience: str
    channel: str
    recipients: list[str]
    subject: str | None = None
    body: str | None = None
    outcome: str
    attempts: int
    error: str | None = None
    created_at: str
    sent_at: str | None = None


class MessagesOut(BaseModel):
    messages: list[MessageOut]
    drafts: dict[str, dict[str, str]]

"""Alertmanager's webhook (payload version 4) in, one incident per alert group out.

    group = parse_payload(json.loads(body))          # PayloadError (a 400) names what is wrong
    done = receive(store, group, actor="alertmanager")
    if done.triage: runner.submit(done.number, scope_for(cfg, group))

A firing group opens an incident whose ``dedup_key`` comes from the group's ``groupKey``, or goes to
the open one with that key; the timeline records which alerts fired (``fingerprint`` and
``startsAt``), and a triage is asked for only when the group brings a firing the incident has not
seen (a storm of repeats is attached to the incident, not triaged 500 times). A resolved group is noted on the
timeline of its open incident; closing the incident stays a person's decision.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from perfbook.errors import UsageError
from perfbook.incidents import records
from perfbook.incidents.model import EventKind, Incident, Status
from perfbook.probes.metrics_parse import HANDLER_LABELS
from perfbook.store import Store, incidents

MAX_ALERTS = 1000  # Alertmanager's max_alerts caps a group too; more than this is not a real payload
SEVERITIES = {"critical": "P1", "page": "P1", "error": "P2", "warning": "P2", "info": "P3"}
_OPEN_LOCK = threading.Lock()  # one receiver process never opens two incidents for one group


class PayloadError(UsageError):
    """The body is not an Alertmanager webhook payload (answered 400 with this one line)."""


@dataclass(frozen=True)
class Alert:
    """One alert of the group."""

    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str  # RFC 3339, as Alertmanager sent it
    fingerprint: str


@dataclass(frozen=True)
class AlertGroup:
    """One webhook call: a group of alerts sharing ``group_key``."""

    status: str  # firing | resolved
    group_key: str
    alerts: list[Alert]
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    receiver: str = ""
    external_url: str = ""

    @property
    def dedup_key(self) -> str:
        """The incident's outside identity: a groupKey can be longer than the column."""
        return "alertmanager:" + hashlib.sha256(self.group_key.encode()).hexdigest()[:40]

    @property
    def alertname(self) -> str:
        return self.common_labels.get("alertname") or next(
            (a.labels["alertname"] for a in self.alerts if "alertname" in a.labels), "alert"
        )

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]


@dataclass
class Received:
    """What one webhook call did."""

    number: int | None  # the incident, None when a resolved group had none open
    action: str  # opened | updated | resolved | ignored
    new_firings: list[str] = field(default_factory=list)  # fingerprint@startsAt of the alerts not seen before
    triage: bool = False  # a triage should run for this incident now


def parse_payload(doc: Any) -> AlertGroup:
    """The group in a webhook body; PayloadError naming the first field that is wrong."""
    if not isinstance(doc, dict):
        raise PayloadError("the body must be a JSON object (Alertmanager's webhook payload)")
    version = doc.get("version")
    if version is not None and str(version) != "4":
        raise PayloadError(f"payload version {version!r}: this receiver reads version 4")
    status = _choice(doc.get("status"), "status")
    group_key = doc.get("groupKey")
    if not isinstance(group_key, str) or not group_key.strip():
        raise PayloadError("groupKey must be a non-empty string")
    raw = doc.get("alerts")
    if not isinstance(raw, list) or not raw:
        raise PayloadError("alerts must be a non-empty list")
    if len(raw) > MAX_ALERTS:
        raise PayloadError(f"{len(raw)} alerts in one payload: at most {MAX_ALERTS}")
    alerts = [_alert(item, i) for i, item in enumerate(raw)]
    return AlertGroup(
        status=status,
        group_key=group_key,
        alerts=alerts,
        common_labels=_strings(doc.get("commonLabels") or {}, "commonLabels"),
        common_annotations=_strings(doc.get("commonAnnotations") or {}, "commonAnnotations"),
        receiver=str(doc.get("receiver") or ""),
        external_url=str(doc.get("externalURL") or ""),
    )


def receive(store: Store, group: AlertGroup, *, actor: str) -> Received:
    """Open or update the group's incident (firing), or note the resolution (resolved).

    An alert is one firing: its ``fingerprint`` and ``startsAt``. Alertmanager's repeats of a firing
    the incident has seen add nothing; after a person resolved the incident, repeats of the same
    firings are ignored, and a new firing (the alert came back) opens a new incident.
    """
    with _OPEN_LOCK, group_lock(store, group.dedup_key):
        inc = latest_for(store, group.dedup_key)
        if inc is not None and inc.status is Status.RESOLVED:
            still = {_firing_key(a) for a in group.firing()} <= _seen(store, inc.number)
            if (group.status == "resolved" and not group.firing()) or still:
                return Received(inc.number, "ignored")
            inc = None
        if group.status == "resolved" and not group.firing():
            if inc is None:
                return Received(None, "ignored")
            records.add_event(
                store,
                inc.number,
                EventKind.NOTE,
                _resolved_line(group),
                actor=actor,
                data=_event_data(group, []),
            )
            return Received(inc.number, "resolved")
        if inc is None:
            inc = records.open_incident(
                store,
                title=incident_title(group),
                actor=actor,
                severity=_severity(group),
                dedup_key=group.dedup_key,
            )
            seen: set[str] = set()
            action = "opened"
        else:
            seen = _seen(store, inc.number)
            action = "updated"
        new = sorted({_firing_key(a) for a in group.firing()} - seen)
        if new or action == "opened":
            records.add_event(
                store,
                inc.number,
                EventKind.NOTE,
                _firing_line(group, new),
                actor=actor,
                data=_event_data(group, new),
            )
        return Received(inc.number, action, new, triage=bool(new))


@contextlib.contextmanager
def group_lock(store: Store, dedup_key: str) -> Iterator[None]:
    """On PostgreSQL, a session advisory lock per group, so two receiver processes on one store never
    open two incidents for one group; SQLite (one machine) relies on the process lock."""
    if store.dialect != "postgresql":
        yield
        return
    key = int.from_bytes(hashlib.sha256(dedup_key.encode()).digest()[:8], "big", signed=True)
    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def latest_for(store: Store, dedup_key: str) -> Incident | None:
    """The newest incident with this dedup key, open or resolved, if any."""
    query = (
        select(incidents).where(incidents.c.dedup_key == dedup_key).order_by(incidents.c.id.desc()).limit(1)
    )
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
    return Incident.from_row(rows[0]) if rows else None


def _firing_key(alert: Alert) -> str:
    return f"{alert.fingerprint}@{alert.starts_at}"


def _seen(store: Store, number: int) -> set[str]:
    out: set[str] = set()
    for event in records.timeline(store, number):
        out.update((event.data.get("alertmanager") or {}).get("firings") or [])
    return out


def _event_data(group: AlertGroup, new: list[str]) -> dict[str, Any]:
    return {
        "alertmanager": {
            "status": group.status,
            "group_key": group.group_key[:500],
            "firings": new,
            "fingerprints": sorted({key.rpartition("@")[0] for key in new}),
            "alerts": len(group.alerts),
            "labels": group.common_labels,
        }
    }


def incident_title(group: AlertGroup) -> str:
    """The incident's title: the alert's summary, else its name and where it fires (job, instance, route)."""
    summary = group.common_annotations.get("summary") or next(
        (a.annotations["summary"] for a in group.alerts if a.annotations.get("summary")), ""
    )
    return (
        f"{group.alertname}: {summary}"[:200]
        if summary
        else f"{group.alertname} firing ({_where(group)})"[:200]
    )


def _where(group: AlertGroup) -> str:
    labels = group.common_labels
    route = next((k for k in HANDLER_LABELS if labels.get(k)), None)  # the one the triage scope reads
    parts = [f"{k}={labels[k]}" for k in ("job", "instance", route) if k and k in labels]
    return ", ".join(parts) or f"{len(group.alerts)} alerts"


def _severity(group: AlertGroup) -> str | None:
    label = group.common_labels.get("severity") or next(
        (a.labels["severity"] for a in group.alerts if "severity" in a.labels), ""
    )
    return SEVERITIES.get(label.lower())


def _firing_line(group: AlertGroup, new: list[str]) -> str:
    firing = len(group.firing())
    alerts = f"{firing} alert{'s' if firing != 1 else ''}"
    return f"Alertmanager: {group.alertname} firing ({alerts}, {len(new)} new; {_where(group)})"


def _resolved_line(group: AlertGroup) -> str:
    alerts = f"{len(group.alerts)} alert{'s' if len(group.alerts) != 1 else ''}"
    return f"Alertmanager: {group.alertname} resolved ({alerts}; {_where(group)})"


def _alert(item: Any, i: int) -> Alert:
    if not isinstance(item, dict):
        raise PayloadError(f"alerts[{i}] must be an object")
    labels = _strings(item.get("labels"), f"alerts[{i}].labels")
    if not labels:
        raise PayloadError(f"alerts[{i}].labels must be a non-empty object")
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise PayloadError(f"alerts[{i}].fingerprint must be a non-empty string")
    starts = item.get("startsAt")
    if not isinstance(starts, str):
        raise PayloadError(f"alerts[{i}].startsAt must be an RFC 3339 time")
    return Alert(
        status=_choice(item.get("status"), f"alerts[{i}].status"),
        labels=labels,
        annotations=_strings(item.get("annotations") or {}, f"alerts[{i}].annotations"),
        starts_at=starts,
        fingerprint=fingerprint[:64],
    )


def _choice(value: Any, name: str) -> str:
    if value not in ("firing", "resolved"):
        raise PayloadError(f"{name} must be firing or resolved, got {str(value)[:40]!r}")
    return str(value)


def _strings(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PayloadError(f"{name} must be an object of strings")
    return {k[:100]: v[:1000] for k, v in value.items()}

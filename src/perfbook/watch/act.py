"""What firing does: internal notifications through perfbook's channels, and incidents for critical rules.

    deliveries = notify_alerts(store, cfg, notifications, report_doc, rules)
    opened = escalate(store, cfg, notifications, report_doc, rules)

A notification is rendered from ``messages/internal/alert.txt.j2`` (overridable in ``[notify]
templates_dir``): the rule, subject, value, threshold, the top cause of the same triage and the
command to see more. It goes to the internal channels only (e-mail, ``[notify] urls``), once per
notification key and channel: the key is the engine's (rule, subject, episode, kind, repeat), so a
restarted watch, or two of them, never sends one twice (the store's ``messages`` table refuses it).
A message that failed is retried once per later run while its alert fires (:func:`retry_failed`,
bounded); with no channel at all, nothing is marked notified (:func:`unmark_unsent`).

With ``[watch] open_incidents``, a firing alert of a ``critical`` rule opens an incident with the
triage attached, or attaches the triage to the open incident it opened before (its dedup key
``alert:RULE:SUBJECT``) or, failing that, to the newest open incident of the same endpoint or
component; when the alert resolves, the incident gets a note.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from perfbook.alerts.rules import AlertRule
from perfbook.alerts.state import AlertState, Notification, Transition
from perfbook.alerts.when import KpiCondition
from perfbook.config import Config
from perfbook.incidents.figures import affected_from
from perfbook.incidents.model import format_id
from perfbook.notify import delivery
from perfbook.notify.channels import Channel, Outgoing, channels_from
from perfbook.store import Store, incidents
from perfbook.templating import environment, render, split_subject

ACTOR = "perfbook watch"
FIGURE_COMPONENTS = {
    "p95_s": "backend",
    "error_rate": "backend",
    "db_query_mean_ms": "postgres",
    "cache_hit_rate": "redis",
}  # cpu / memory / disk: the host (or a container: its subject)
P_LEVELS = ("P0", "P1", "P2", "P3")


def dedup_key(rule: str, subject: str) -> str:
    """The incident identity of one alert.

    >>> dedup_key("BackendDown", "http://127.0.0.1:8001")
    'alert:BackendDown:http://127.0.0.1:8001'
    """
    return f"alert:{rule}:{subject}"


def render_alert(
    n: Notification,
    rule: AlertRule | None,
    cfg: Config,
    report: dict[str, Any] | None,
    *,
    command: str,
    incident: str | None = None,
) -> Outgoing:
    """The internal message of one notification."""
    causes = (report or {}).get("causes") or []
    ctx = {
        "kind": n.kind,
        "rule": n.rule,
        "subject": n.subject,
        "severity": n.severity or "alert",
        "summary": n.summary,
        "description": n.description,
        "when": rule.when if rule else "rule removed",
        "value": rule.render("{value}", value=n.value, threshold=n.threshold, subject=n.subject)
        if rule
        else n.value,
        "threshold": rule.render("{threshold}", value=n.value, threshold=n.threshold, subject=n.subject)
        if rule
        else n.threshold,
        "since": _iso(n.since),
        "at": _iso(n.at),
        "repeat_interval": cfg.alerts.repeat_interval,
        "top_cause": causes[0].get("summary") if causes else None,
        "runbook_url": n.runbook_url,
        "incident": incident,
        "command": command,
    }
    text = render(environment(cfg.notify.templates_dir), "messages/internal/alert.txt.j2", ctx)
    return Outgoing("alert", "internal", *split_subject(text))


def internal_channels(cfg: Config, env: Mapping[str, str] | None = None) -> list[Channel]:
    """The channels alerts go to (a bad channel setting is a ConfigError here, before the first run)."""
    return [c for c in channels_from(cfg, env) if c.audience == "internal"]


def notify_alerts(
    store: Store,
    cfg: Config,
    notes: Sequence[Notification],
    report: dict[str, Any] | None,
    rules: Sequence[AlertRule],
    *,
    command: str,
    channels: Sequence[Channel],
    incident_of: Mapping[tuple[str, str], int] | None = None,
) -> list[dict[str, Any]]:
    """Deliver each notification to every internal channel, once per key; what each delivery did."""
    if not notes or not channels:  # no channel: nothing sent, and the alerts are not marked notified
        return []
    chans = list(channels)
    by_rule = {r.name: r for r in rules}
    out = []
    for n in notes:
        number = (incident_of or {}).get((n.rule, n.subject))
        msg = render_alert(
            n,
            by_rule.get(n.rule),
            cfg,
            report,
            command=command,
            incident=format_id(number) if number else None,
        )
        sends = [(c, msg, f"alert:{n.key}:{c.identity}") for c in chans]
        done = delivery.deliver(
            store, number, sends, attempts=cfg.notify.attempts, backoff_s=cfg.notify.backoff_s
        )
        out.append(
            {
                "kind": n.kind,
                "rule": n.rule,
                "subject": n.subject,
                "key": n.key,
                "subject_line": msg.subject,
                "deliveries": [d.to_dict() for d in done],
            }
        )
    return out


RETRY_ATTEMPTS = 10  # a failed alert message is retried until it has had this many attempts in all …
RETRY_AGE_S = 3600.0  # … or is this old (or older than [alerts] repeat_interval: the repeat supersedes it)


def retry_failed(
    store: Store, states: Sequence[AlertState], channels: Sequence[Channel], *, repeat_interval_s: float
) -> list[dict[str, Any]]:
    """One more attempt of each alert message that failed in an earlier run while its alert still fires (unmuted).

    Run before the run's own notifications, so a message is tried at most once per run; a message past
    :data:`RETRY_ATTEMPTS` or its age limit ends ``given_up`` in the messages table. What each retry did.
    """
    episodes = {
        f"alert:{st.rule}|{st.subject}|{st.fired_at}|": st
        for st in states
        if st.state == "firing" and st.muted_by is None
    }
    if not episodes or not channels:
        return []
    out = []
    for key in delivery.failed_keys(store, event="alert"):
        st = next((s for prefix, s in episodes.items() if key.startswith(prefix)), None)
        channel = next((c for c in channels if key.endswith(f":{c.identity}")), None)
        if st is None or channel is None:  # resolved, or its channel is no longer configured: left failed
            continue
        done = delivery.retry(
            store, channel, key, max_attempts=RETRY_ATTEMPTS, max_age_s=min(RETRY_AGE_S, repeat_interval_s)
        )
        row = delivery.previous(store, key) or {}
        out.append(
            {
                "kind": "retry",
                "rule": st.rule,
                "subject": st.subject,
                "key": key,
                "subject_line": row.get("subject"),
                "deliveries": [done.to_dict()],
            }
        )
    return out


def unmark_unsent(
    states: Sequence[AlertState], notes: Sequence[Notification], before: Mapping[tuple[str, str], AlertState]
) -> None:
    """With no channel, nothing was sent: the firing and repeat notifications of this run leave their alerts
    as they were (``before``: the previous run's states), so the first run with a channel sends them."""
    pending = {(n.rule, n.subject) for n in notes if n.kind in ("firing", "repeat")}
    for st in states:
        if st.key in pending:
            old = before.get(st.key)
            st.notified_at, st.repeats = (old.notified_at, old.repeats) if old else (None, 0)


def news(
    notes: Sequence[Notification],
    before: Mapping[tuple[str, str], AlertState],
    transitions: Sequence[Transition],
    *,
    channels: bool,
) -> list[Notification]:
    """The notifications incidents act on. Without a channel an alert is never marked notified, so its firing
    notification comes back every run (only the first is news: the others would attach the triage again) and
    its resolution calls for no notification (the incident still gets its note: one is made for it)."""

    # firing, unmuted, not notified: the previous run had no channel
    def unsent(old: AlertState | None) -> bool:
        return old is not None and old.state == "firing" and old.muted_by is None and old.notified_at is None

    def again(n: Notification) -> bool:  # the same episode's firing, already escalated by the previous run
        old = before.get((n.rule, n.subject))
        return n.kind == "firing" and old is not None and unsent(old) and old.fired_at == n.since

    out = [n for n in notes if not again(n)]
    for t in transitions if not channels else ():
        old = before.get((t.rule, t.subject))
        if t.old == "firing" and t.new == "resolved" and old is not None and unsent(old):
            out.append(
                Notification(
                    "resolved",
                    t.rule,
                    t.subject,
                    "",
                    "",
                    "",
                    "",
                    t.value,
                    old.threshold,
                    old.fired_at or old.active_since,
                    t.at,
                )
            )
    return out


def escalate(
    store: Store,
    cfg: Config,
    notes: Sequence[Notification],
    report: dict[str, Any] | None,
    rules: Sequence[AlertRule],
) -> dict[tuple[str, str], int]:
    """Open or join an incident for each critical firing alert; note each resolved one. Alert -> incident."""
    from perfbook.incidents import records

    if not cfg.watch.open_incidents:
        return {}
    by_rule = {r.name: r for r in rules}
    linked: dict[tuple[str, str], int] = {}
    for n in notes:
        rule = by_rule.get(n.rule)
        if rule is None or rule.severity != "critical":
            continue
        key = dedup_key(n.rule, n.subject)
        number = _open_incident(store, key, n.subject, component_of(rule))
        if n.kind == "firing":
            if number is None:
                severity = (report or {}).get("severity")
                inc = records.open_incident(
                    store,
                    title=n.summary,
                    actor=ACTOR,
                    severity=severity if severity in P_LEVELS else None,
                    report=report,
                    dedup_key=key,
                )
                number = inc.number
            elif report is not None:
                records.attach(store, number, "triage", report, actor=ACTOR)
            if report is not None:  # ticks "Monitoring alerts configured": a watch with rules runs for it
                records.attach(
                    store, number, "watch", {**report, "rules": [r.name for r in rules]}, actor=ACTOR
                )
        elif n.kind == "resolved" and number is not None:
            records.add_note(
                store, number, f"alert {n.rule} on {n.subject or 'the stack'} resolved", actor=ACTOR
            )
        if number is not None:
            linked[(n.rule, n.subject)] = number
    return linked


def component_of(rule: AlertRule) -> str:
    """The layer an alert is about, as incidents name their components (``backend``, ``postgres`` …).

    >>> from perfbook.alerts.rules import effective_rules
    >>> from perfbook.config import Config
    >>> {r.name: component_of(r) for r in effective_rules(Config())[:2]}
    {'HighResponseTime': 'backend', 'HighErrorRate': 'backend'}
    """
    cond = rule.condition
    if isinstance(cond, KpiCondition):
        return FIGURE_COMPONENTS.get(cond.figure, "host")
    # the same naming as an incident's components (from a finding of that code)
    return affected_from({"findings": [{"code": cond.code, "level": "critical", "subject": ""}]})[1][0]


def _open_incident(store: Store, key: str, subject: str, component: str) -> int | None:
    """The open incident this alert joins: the one it opened (its dedup key), else the newest open one
    whose affected endpoints or components include the alert's subject or layer."""
    from perfbook.incidents.records import list_incidents

    query = (
        select(incidents.c.id)
        .where(incidents.c.dedup_key == key, incidents.c.status != "resolved")
        .order_by(incidents.c.id.desc())
        .limit(1)
    )
    number = store.read(lambda conn: conn.execute(query).scalar())
    if number is not None:
        return number
    for inc in list_incidents(store, limit=50):  # newest first, open ones only
        if subject in inc.endpoints or component in inc.components:
            return inc.number
    return None


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

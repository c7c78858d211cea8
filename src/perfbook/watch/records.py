"""The store's watch tables: runs and KPI samples (with their 5-minute aggregates and retention),
alert states (resumed by a restarted watch), and silences.

    save_run(store, run, samples, now=t, raw_retention_s=86400, aggregate_retention_s=30 * 86400)
    states = load_states(store)                 # [AlertState] exactly as the engine left them
    save_states(store, evaluation.states, rules, now=t)
    sid = add_silence(store, rule="HighResponseTime", subject=None, ends_at_s=t + 3600, created_by="ana")

Each call is one write transaction. An alert's row keeps the engine's whole record in
``annotations.engine`` (so ``notified_at`` survives a restart and nothing is notified twice),
with the columns people query beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from perfbook.alerts.rules import AlertRule
from perfbook.alerts.state import AlertState, Silence
from perfbook.errors import NotFoundError
from perfbook.store import Store, alert_states, kpi_aggregates, kpi_samples, silences, watch_runs
from perfbook.watch.samples import BUCKET_S, bucket_start


def save_run(
    store: Store,
    run: dict[str, Any],
    samples: Sequence[dict[str, Any]],
    *,
    now: float,
    raw_retention_s: float,
    aggregate_retention_s: float,
) -> None:
    """Insert the run and its samples, refresh the aggregates of the buckets they fall in, prune old rows."""

    def run_tx(conn: Connection) -> None:
        conn.execute(insert(watch_runs).values(**run))
        if samples:
            conn.execute(insert(kpi_samples), list(samples))
        for start in sorted({bucket_start(s["at_s"]) for s in samples}):
            _aggregate(conn, start)
        conn.execute(delete(kpi_samples).where(kpi_samples.c.at_s < now - raw_retention_s))
        conn.execute(delete(watch_runs).where(watch_runs.c.started_at_s < now - raw_retention_s))
        conn.execute(
            delete(kpi_aggregates).where(kpi_aggregates.c.bucket_start_s < now - aggregate_retention_s)
        )

    store.write(run_tx)


def _aggregate(conn: Connection, start: float) -> None:
    """The bucket ``[start, start + 300)`` recomputed from its raw samples (min, max, mean, last, count)."""
    in_bucket = (
        (kpi_samples.c.at_s >= start)
        & (kpi_samples.c.at_s < start + BUCKET_S)
        & kpi_samples.c.value.is_not(None)
    )
    stats = conn.execute(
        select(
            kpi_samples.c.kpi,
            kpi_samples.c.subject,
            func.count(kpi_samples.c.value),
            func.min(kpi_samples.c.value),
            func.max(kpi_samples.c.value),
            func.avg(kpi_samples.c.value),
            func.max(kpi_samples.c.at_s),
        )
        .where(in_bucket)
        .group_by(kpi_samples.c.kpi, kpi_samples.c.subject)
    ).all()
    conn.execute(
        delete(kpi_aggregates).where(
            kpi_aggregates.c.bucket_s == BUCKET_S, kpi_aggregates.c.bucket_start_s == start
        )
    )
    for kpi, subject, n, low, high, mean, last_at in stats:
        last = conn.execute(
            select(kpi_samples.c.value).where(
                in_bucket,
                kpi_samples.c.kpi == kpi,
                kpi_samples.c.subject == subject,
                kpi_samples.c.at_s == last_at,
            )
        ).scalar()
        conn.execute(
            insert(kpi_aggregates).values(
                bucket_start_s=start,
                bucket_s=BUCKET_S,
                kpi=kpi,
                subject=subject,
                samples=n,
                min=low,
                max=high,
                mean=mean,
                last=last,
            )
        )


def load_states(store: Store) -> list[AlertState]:
    """The alert states a previous watch left (pending, firing, recently resolved)."""
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(alert_states))])
    return [
        AlertState.from_dict(r["annotations"]["engine"]) for r in rows if "engine" in (r["annotations"] or {})
    ]


def save_states(
    store: Store,
    states: Iterable[AlertState],
    rules: Sequence[AlertRule],
    *,
    now: float,
    summaries: dict[tuple[str, str], str] | None = None,
    guard: Callable[[Connection], None] | None = None,
) -> None:
    """Replace the stored alert states with ``states`` (an alert gone inactive loses its row).

    ``guard`` runs first in the same transaction and may refuse the write by raising (the watch lease)."""
    by_rule = {r.name: r for r in rules}
    states = list(states)

    def run_tx(conn: Connection) -> None:
        if guard is not None:
            guard(conn)
        kept = {(r.rule, r.subject): r.incident_id for r in conn.execute(select(alert_states))}
        conn.execute(delete(alert_states))
        for st in states:
            rule = by_rule.get(st.rule)
            summary = (summaries or {}).get(st.key) or (
                rule.render(rule.summary, value=st.value, threshold=st.threshold, subject=st.subject)
                if rule
                else st.rule
            )
            since = {"firing": st.fired_at, "resolved": st.resolved_at}.get(st.state) or st.active_since
            conn.execute(
                insert(alert_states).values(
                    rule=st.rule,
                    subject=st.subject,
                    state=st.state,
                    severity=rule.severity if rule else None,
                    value=st.value,
                    threshold=st.threshold,
                    active_since_s=st.active_since,
                    state_since_s=since,
                    last_eval_s=now,
                    last_notified_s=st.notified_at,
                    resolved_at_s=st.resolved_at,
                    incident_id=kept.get(st.key),
                    labels=dict(st.labels),
                    annotations={"summary": summary, "muted_by": st.muted_by, "engine": st.to_dict()},
                )
            )

    store.write(run_tx)


def link_incident(store: Store, rule: str, subject: str, incident_id: int) -> None:
    """Remember the incident an alert opened or joined."""
    store.write(
        lambda conn: conn.execute(
            update(alert_states)
            .where(alert_states.c.rule == rule, alert_states.c.subject == subject)
            .values(incident_id=incident_id)
        )
    )


def list_alerts(store: Store) -> list[dict[str, Any]]:
    """Every stored alert (firing, pending, resolved), firing first, then the longest active."""
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(alert_states))])
    order = {"firing": 0, "pending": 1, "resolved": 2}
    return sorted(rows, key=lambda r: (order.get(r["state"], 3), r["active_since_s"] or 0))


def add_silence(
    store: Store,
    *,
    rule: str,
    subject: str | None,
    starts_at_s: float,
    ends_at_s: float,
    created_by: str,
    comment: str = "",
) -> int:
    """A new silence; its id."""
    row = {
        "rule": rule,
        "subject": subject,
        "starts_at_s": starts_at_s,
        "ends_at_s": ends_at_s,
        "created_by": created_by,
        "comment": comment,
        "created_at_s": starts_at_s,
    }
    return store.insert(silences, row)


def list_silences(store: Store, *, now: float, include_expired: bool = False) -> list[dict[str, Any]]:
    """Silences newest first: those not yet ended, or all with ``include_expired``."""
    query = select(silences).order_by(silences.c.id.desc())
    if not include_expired:
        query = query.where(silences.c.ends_at_s > now)
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])


def expire_silence(store: Store, silence_id: int, *, now: float) -> dict[str, Any]:
    """End silence ``silence_id`` now (it stays listed with ``--all``); NotFoundError when there is none."""

    def run_tx(conn: Connection) -> dict[str, Any]:
        row = conn.execute(select(silences).where(silences.c.id == silence_id)).first()
        if row is None:
            raise NotFoundError(f"no silence {silence_id}", hint="see: perfbook alerts silence list --all")
        ends = min(row.ends_at_s, now)
        conn.execute(update(silences).where(silences.c.id == silence_id).values(ends_at_s=ends))
        return {**dict(row._mapping), "ends_at_s": ends}

    return store.write(run_tx)


def active_silences(store: Store, *, now: float) -> list[Silence]:
    """Silences in force at ``now``, as the engine takes them."""
    return [
        Silence(
            id=str(r["id"]),
            rule=r["rule"],
            until=r["ends_at_s"],
            subject=r["subject"],
            comment=r["comment"] or "",
            created_by=r["created_by"],
            created_at=r["created_at_s"],
            starts_at=r["starts_at_s"],
        )
        for r in list_silences(store, now=now)
        if r["starts_at_s"] <= now
    ]

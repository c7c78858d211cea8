"""The fix audit log: who planned or applied which fix, when, against what, and how it went."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from perfbook.redact import redact_text, redact_url
from perfbook.store.engine import Store
from perfbook.store.schema import fix_audit


def now_iso() -> str:
    """Now in UTC, ISO 8601 with seconds and a Z."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_audit(store: Store, **fields: Any) -> int:
    """Append one audit entry; ``at`` defaults to now, ``target`` and ``error`` are redacted here."""
    row = {"at": now_iso(), "params": {}, **fields}
    row["target"] = redact_url(str(row.get("target") or ""))
    for key in ("error", "reason"):
        if row.get(key):
            row[key] = redact_text(str(row[key]))
    return store.insert(fix_audit, row)


def audit_history(
    store: Store,
    *,
    limit: int = 50,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    incident: int | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries, newest first: of ``action``, whose (redacted) target
    contains ``target``, at or after ``since`` (ISO 8601 UTC), of ``incident``, when given."""
    query = select(fix_audit).order_by(fix_audit.c.id.desc()).limit(limit)
    if action:
        query = query.where(fix_audit.c.action == action)
    if target:
        query = query.where(fix_audit.c.target.contains(target, autoescape=True))
    if since:
        query = query.where(fix_audit.c.at >= since)
    if incident is not None:
        query = query.where(fix_audit.c.incident == incident)
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

"""The fix audit log: who planned or applied which fix, when, against what, and how it went."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    if row.get("error"):
        row["error"] = redact_text(str(row["error"]))
    return store.insert(fix_audit, row)


def audit_history(store: Store, *, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries (of ``action`` when given), newest first."""
    where: dict[str, Any] = {"action": action} if action else {}
    return store.rows(fix_audit, limit=limit, **where)

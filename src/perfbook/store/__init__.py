"""perfbook's one store: SQLAlchemy 2, SQLite under the state directory by default, PostgreSQL for a team.

Every table is in :data:`perfbook.store.schema.metadata` and is created by the Alembic migrations
shipped in ``perfbook/store/migrations`` (run on first use, or by ``perfbook store upgrade``).
History cannot be rewritten: ``fix_audit``, ``timeline_events`` and ``artifacts`` refuse UPDATE
and DELETE, and a sent message is final (triggers on SQLite and PostgreSQL).

    store = open_store(cfg)                       # cfg.store.url, else ~/.local/state/perfbook/perfbook.db
    record_audit(store, action="pg.vacuum", mode="plan", outcome="planned", ...)
    rows = audit_history(store, limit=20)
"""

from __future__ import annotations

from collections.abc import Mapping

from perfbook.config import Config
from perfbook.store.audit import audit_history, now_iso, record_audit
from perfbook.store.engine import Store, StoreError, default_url, state_dir
from perfbook.store.schema import (
    alert_states,
    artifacts,
    checklist_marks,
    fix_audit,
    incidents,
    kpi_aggregates,
    kpi_samples,
    messages,
    metadata,
    silences,
    timeline_events,
    watch_leases,
    watch_runs,
)

__all__ = [
    "Store",
    "StoreError",
    "alert_states",
    "artifacts",
    "audit_history",
    "checklist_marks",
    "default_url",
    "fix_audit",
    "incidents",
    "kpi_aggregates",
    "kpi_samples",
    "messages",
    "metadata",
    "now_iso",
    "open_store",
    "record_audit",
    "silences",
    "state_dir",
    "store_url",
    "timeline_events",
    "watch_leases",
    "watch_runs",
]


def store_url(cfg: Config, env: Mapping[str, str] | None = None) -> str:
    """``[store] url``, else SQLite at ``state_dir()/perfbook.db``."""
    return cfg.store.url or default_url(env)


def open_store(cfg: Config, env: Mapping[str, str] | None = None, *, upgrade: bool = True) -> Store:
    """The store ``cfg`` names (``[store] url`` / PERFBOOK_STORE_URL, else SQLite in the state dir).

    The default location is perfbook's own: its directory is kept 0700 and the file 0600.
    """
    return Store(
        store_url(cfg, env),
        busy_timeout_s=cfg.store.busy_timeout_s,
        upgrade=upgrade,
        private_dir=not cfg.store.url,
    )

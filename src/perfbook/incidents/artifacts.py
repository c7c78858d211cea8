"""Artifacts on their own: documents stored without an incident, read by id, listed by kind.

A triage run from ``perfbook serve`` (or any other document perfbook wrote) is kept whole in the
``artifacts`` table with ``incident_id`` NULL, so the dashboard can show the latest triage and
every stored report; those attached to an incident go through :func:`perfbook.incidents.records.attach`.
Lists carry the figures pulled into columns, never the whole documents (a store holds thousands).

    art_id = keep(store, "triage", report_doc, actor="web")
    rows = list_artifacts(store, ("triage",), limit=20)
    doc = get_artifact(store, art_id).document
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from perfbook.errors import NotFoundError, UsageError
from perfbook.incidents.figures import COLUMNS, figures_for, summary_for
from perfbook.incidents.model import Artifact, format_id
from perfbook.store import Store, artifacts, now_iso
from perfbook.store.engine import inserted_key

KINDS = ("triage", "fix", "load", "capacity", "watch")
_LISTED = [artifacts.c[name] for name in ("id", "incident_id", "kind", "at", "actor", "summary", *COLUMNS)]


@dataclass(frozen=True)
class StoredArtifact:
    """An artifact with the incident it belongs to (None: stored on its own)."""

    artifact: Artifact
    incident_id: int | None

    @property
    def incident(self) -> str | None:
        return format_id(self.incident_id) if self.incident_id is not None else None


def keep(store: Store, kind: str, document: dict[str, Any], *, actor: str) -> int:
    """Store ``document`` as a ``kind`` artifact of no incident; its id."""
    if kind not in KINDS:
        raise UsageError(f"artifact kind must be one of {', '.join(KINDS)}, got {kind!r}")
    figures = figures_for(kind, document)
    row = {
        "incident_id": None,
        "kind": kind,
        "at": now_iso(),
        "actor": actor,
        "summary": summary_for(kind, figures),
        "document": document,
        **{k: figures.get(k) for k in COLUMNS},
    }
    return store.write(lambda conn: inserted_key(conn.execute(insert(artifacts).values(**row))))


def get_artifact(store: Store, artifact_id: int, *, kinds: Sequence[str] = KINDS) -> StoredArtifact:
    """The artifact ``artifact_id`` (of one of ``kinds``), whole; NotFoundError when there is none."""
    query = select(artifacts).where(artifacts.c.id == artifact_id, artifacts.c.kind.in_(list(kinds)))
    row = store.read(lambda conn: conn.execute(query).first())
    if row is None:
        raise NotFoundError(f"no stored {' or '.join(kinds)} #{artifact_id}")
    return StoredArtifact(
        Artifact(row.id, row.kind, row.at, row.actor, row.summary, row.document), row.incident_id
    )


def latest_artifact(
    store: Store, kinds: Sequence[str], *, cache: MutableMapping[str, Any] | None = None
) -> StoredArtifact | None:
    """The newest artifact of ``kinds`` (attached to an incident or not), whole; None when there is none.

    With ``cache``, the artifact read last is kept there: an artifact never changes (the store refuses
    UPDATE and DELETE on the table), so asking again reads only the newest id, not the whole document.
    """
    newest = select(func.max(artifacts.c.id)).where(artifacts.c.kind.in_(list(kinds)))
    if cache is not None:
        key = "latest-artifact:" + ",".join(kinds)
        number = store.read(lambda conn: conn.execute(newest).scalar())
        if number is None:
            return None
        known = cache.get(key)
        if known is None or known.artifact.id != number:
            known = cache[key] = get_artifact(store, number, kinds=kinds)
        return known
    row = store.read(
        lambda conn: conn.execute(select(artifacts).where(artifacts.c.id == newest.scalar_subquery())).first()
    )
    if row is None:
        return None
    return StoredArtifact(
        Artifact(row.id, row.kind, row.at, row.actor, row.summary, row.document), row.incident_id
    )


def list_artifacts(
    store: Store, kinds: Sequence[str], *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Artifacts of ``kinds`` newest first, without their documents: id, kind, when, who, summary, figures."""
    query = (
        select(*_LISTED)
        .where(artifacts.c.kind.in_(list(kinds)))
        .order_by(artifacts.c.id.desc())
        .limit(limit)
        .offset(offset or None)
    )
    return store.read(lambda conn: [_listed(dict(r._mapping)) for r in conn.execute(query)])


def count_artifacts(store: Store, kinds: Sequence[str]) -> int:
    """How many artifacts of ``kinds`` the store holds."""
    query = select(func.count()).select_from(artifacts).where(artifacts.c.kind.in_(list(kinds)))
    return store.read(lambda conn: int(conn.execute(query).scalar() or 0))


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    number = row.get("incident_id")
    return {
        **row,
        "incident": format_id(number) if number is not None else None,
        "label": f"{row['kind']} #{row['id']}",
    }

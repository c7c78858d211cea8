"""The one call triage, fix, load and capacity make to attach what they did to an incident.

``--incident ID`` (or ``PERFBOOK_INCIDENT=ID``) names the incident. :func:`check_open` runs first,
so an unknown or resolved incident is a usage error before any work starts; :func:`record` stores
the document and its timeline event once the work is done and returns lines for stderr.

    number = incident_number(incident)          # None when not given
    check_open(cfg, number)
    ...                                         # the command's own work
    for line in record(cfg, number, "triage", report_doc):
        print(line, file=sys.stderr)
"""

from __future__ import annotations

import getpass
from typing import Any

from perfbook.config import Config
from perfbook.errors import UsageError
from perfbook.incidents.model import Status, format_id, parse_id

# The store (SQLAlchemy) is imported only when an incident is named: triage's start-up stays lean.


def os_user() -> str:
    """The person running perfbook (the default owner and actor)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "unknown"


def incident_number(ref: str | None) -> int | None:
    """``INC-7`` / ``7`` -> 7; None when no incident was named."""
    return parse_id(ref) if ref else None


def check_open(cfg: Config, number: int | None) -> None:
    """Refuse (exit 2) an incident that does not exist or is resolved, before the work starts."""
    if number is None:
        return
    from perfbook.incidents import records
    from perfbook.store import open_store

    store = open_store(cfg)
    try:
        inc = records.get_incident(store, number)
    finally:
        store.close()
    if inc.status is Status.RESOLVED:
        raise UsageError(
            f"{inc.id} is resolved: evidence goes to open incidents",
            hint=f"reopen it (perfbook incident reopen {inc.id}), or unset PERFBOOK_INCIDENT",
        )


def record(
    cfg: Config, number: int | None, kind: str, document: dict[str, Any], actor: str | None = None
) -> list[str]:
    """Attach ``document`` as a ``kind`` artifact of incident ``number``; what it did, for stderr."""
    if number is None:
        return []
    from perfbook.incidents import records
    from perfbook.store import open_store

    store = open_store(cfg)
    try:
        done = records.attach(store, number, kind, document, actor=actor or os_user())
    finally:
        store.close()
    return [f"{format_id(number)}: {line}" for line in done.events]

"""When the next update of an incident is due, by severity (as Dispatch sets report reminders by priority).

Pure: the caller passes ``now``. An update is what tells people something (a note, a status or
severity change, a message sent …; see :data:`perfbook.incidents.model.UPDATE_KINDS`); the next
one is due ``update_every_min[severity]`` after the last. An unclassified incident uses P2's
interval; a resolved one is never overdue.

    >>> due_at("2026-12-01T10:00:00Z", "P0", {"P0": 15})
    '2026-12-01T10:15:00Z'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from perfbook.incidents.model import Incident, Status

DEFAULT_EVERY_MIN = {"P0": 15.0, "P1": 30.0, "P2": 60.0, "P3": 240.0}
UNCLASSIFIED_AS = "P2"


def parse_iso(text: str) -> dt.datetime:
    """``2026-12-01T10:00:00Z`` as an aware datetime.

    >>> parse_iso("2026-12-01T10:00:00Z") == parse_iso("2026-12-1T10:0:0Z")
    True
    """
    # the form perfbook writes goes to the C parser (a list of 50 incidents parses 150 of these;
    # strptime costs ~15 µs each); anything else to strptime, which decides what is accepted
    if (
        len(text) == 20
        and text[19] == "Z"
        and text[10] == "T"
        and text[4] == text[7] == "-"
        and text[13] == text[16] == ":"
    ):
        try:
            return dt.datetime.fromisoformat(text[:19]).replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def to_iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_min(severity: str | None, every_min: Mapping[str, float]) -> float:
    """Minutes between updates for ``severity``."""
    table = {**DEFAULT_EVERY_MIN, **every_min}
    return table[severity if severity in table else UNCLASSIFIED_AS]


def due_at(last_update_at: str, severity: str | None, every_min: Mapping[str, float]) -> str:
    """When the next update is due."""
    return to_iso(parse_iso(last_update_at) + dt.timedelta(minutes=interval_min(severity, every_min)))


def overdue_s(incident: Incident, now: dt.datetime, every_min: Mapping[str, float]) -> float | None:
    """Seconds past the due time (None when not overdue or resolved)."""
    if incident.status is Status.RESOLVED:
        return None
    late = (now - parse_iso(due_at(incident.last_update_at, incident.severity, every_min))).total_seconds()
    return late if late > 0 else None

"""The incident vocabulary: ids people type, statuses as status pages say them, impact, event kinds.

No I/O. A status is a label people move between while an incident is open (a fix that did not
hold takes ``monitoring`` back to ``investigating``); ``resolved`` is reached only by resolving,
and left only by reopening, so both are always on the timeline.

    >>> parse_id("inc-7"), format_id(7)
    (7, 'INC-7')
    >>> impact_for("P1").value
    'major'
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from perfbook.errors import ConflictError, PerfbookError, UsageError
from perfbook.exit_codes import ExitCode

ID_PREFIX = "INC-"
SEVERITIES = ("P0", "P1", "P2", "P3")


class VerifyFailed(PerfbookError):
    """``resolve --verify`` refused: KPIs still fail (exit 3, like a triage at or above the cut)."""

    exit_code = ExitCode.THRESHOLD


class Status(enum.StrEnum):
    """Where an incident is, in Atlassian Statuspage's words."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Impact(enum.StrEnum):
    """How much users feel it (Statuspage's incident impact)."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Impact).index(self)


class EventKind(enum.StrEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    NOTE = "note"
    TRIAGE = "triage"
    SEVERITY = "severity"
    STATUS = "status"
    FIX = "fix"
    LOAD = "load"
    CAPACITY = "capacity"
    CHECK = "check"
    MESSAGE = "message"
    RESOLVED = "resolved"
    REOPENED = "reopened"


UPDATE_KINDS = frozenset(
    {
        EventKind.OPENED,
        EventKind.NOTE,
        EventKind.STATUS,
        EventKind.SEVERITY,
        EventKind.MESSAGE,
        EventKind.RESOLVED,
        EventKind.REOPENED,
    }
)
"""Events that tell people something: the update reminder counts from the last of them."""

_IMPACT_BY_SEVERITY = {"P0": Impact.CRITICAL, "P1": Impact.MAJOR, "P2": Impact.MINOR, "P3": Impact.MINOR}


def format_id(number: int) -> str:
    """``7`` -> ``INC-7``."""
    return f"{ID_PREFIX}{number}"


def parse_id(text: str) -> int:
    """``INC-7``, ``inc-7`` or ``7`` -> 7; anything else is a usage error."""
    match = re.fullmatch(r"(?i)(?:inc-?)?#?(\d{1,9})", text.strip())
    if not match or int(match[1]) == 0:
        raise UsageError(
            f"not an incident id: {text!r}", hint="incident ids look like INC-7 (see: perfbook incident list)"
        )
    return int(match[1])


def parse_severity(text: str) -> str:
    """``p1`` -> ``P1``; only P0..P3."""
    value = text.strip().upper()
    if value not in SEVERITIES:
        raise UsageError(f"severity must be one of {', '.join(SEVERITIES)}, got {text!r}")
    return value


def parse_status(text: str) -> Status:
    """A status name; ``resolved`` has its own command (it may verify first)."""
    try:
        status = Status(text.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Status if s is not Status.RESOLVED)
        raise UsageError(f"status must be one of {allowed}, got {text!r}") from None
    if status is Status.RESOLVED:
        raise UsageError("an incident is resolved with: perfbook incident resolve ID [--verify]")
    return status


def parse_impact(text: str) -> Impact:
    try:
        return Impact(text.strip().lower())
    except ValueError:
        raise UsageError(
            f"impact must be one of {', '.join(i.value for i in Impact)}, got {text!r}"
        ) from None


def impact_for(severity: str | None) -> Impact:
    """The impact a severity implies (a person can set another)."""
    return _IMPACT_BY_SEVERITY.get(severity or "", Impact.NONE)


def severity_rank(severity: str | None) -> int:
    """0 for P0 … 3 for P3, 4 when not classified: lower is worse."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def raises(new: str | None, old: str | None) -> bool:
    """True when ``new`` is a worse severity than ``old`` (or ``old`` is not classified yet)."""
    return new in SEVERITIES and severity_rank(new) < severity_rank(old)


def check_status_change(current: Status, new: Status) -> None:
    """A status change must go somewhere else, and only an open incident changes status."""
    if current is Status.RESOLVED:
        raise ConflictError("the incident is resolved", hint="reopen it first: perfbook incident reopen ID")
    if current is new:
        raise ConflictError(f"the incident is already {new.value}")


@dataclass
class Incident:
    """One incident as the store holds it (times are ISO 8601 UTC)."""

    number: int
    title: str
    status: Status
    severity: str | None
    impact: Impact
    owner: str
    opened_at: str
    updated_at: str
    last_update_at: str
    resolved_at: str | None = None
    issue_types: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    dedup_key: str | None = None

    @property
    def id(self) -> str:
        return format_id(self.number)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Incident:
        values = {k: row[k] for k in cls.__dataclass_fields__ if k in row}
        return cls(
            number=row["id"], **{**values, "status": Status(row["status"]), "impact": Impact(row["impact"])}
        )


@dataclass(frozen=True)
class Event:
    """One timeline entry: when, what kind, who, one line, and the figures of that kind."""

    id: int
    at: str
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]
    artifact_id: int | None = None


@dataclass(frozen=True)
class Artifact:
    """Evidence attached to an incident: a document perfbook wrote (triage, fix, load, capacity, watch)."""

    id: int
    kind: str
    at: str
    actor: str
    summary: str
    document: dict[str, Any]

    @property
    def label(self) -> str:
        """``triage #3``: how the checklist and timeline name it."""
        return f"{self.kind} #{self.id}"

"""The alert engine's records: alert states, silences, notifications, transitions. Plain data, serialisable.

Times are epoch seconds (floats) from the clock the caller passes in, so a watch can store a
state, restart, and resume it: ``AlertState.from_dict(state.to_dict()) == state``.

    >>> s = AlertState("HighResponseTime", "/api/v1/users", "pending", active_since=100.0, last_held_at=100.0)
    >>> AlertState.from_dict(s.to_dict()) == s
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

StateName = Literal["pending", "firing", "resolved"]
NotificationKind = Literal["firing", "repeat", "resolved"]


@dataclass
class AlertState:
    """One alert: a rule and one subject. Inactive alerts have no state at all.

    ``active_since``: when the condition began to hold in this episode (``for`` counts from it);
    ``last_held_at``: the last evaluation it held (``keep_firing_for`` counts from it);
    ``notified_at``: the last firing or repeat notification of this episode (None: none sent yet);
    ``muted_by``: why the last evaluation sent nothing although it fires (a silence, an inhibition).
    """

    rule: str
    subject: str
    state: StateName
    active_since: float
    last_held_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float | None = None
    threshold: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    notified_at: float | None = None
    repeats: int = 0
    muted_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> AlertState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True)
class Silence:
    """Hold back a rule's notifications (for one subject, or all) from ``starts_at`` until ``until``.

    The alert still changes state; only its firing and repeat notifications wait.
    """

    id: str
    rule: str
    until: float
    subject: str | None = None
    comment: str = ""
    created_by: str = ""
    created_at: float = 0.0
    starts_at: float = 0.0

    def matches(self, rule: str, subject: str, now: float) -> bool:
        """True while active (``starts_at <= now < until``) for this rule and subject."""
        return self.starts_at <= now < self.until and rule == self.rule and self.subject in (None, subject)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Silence:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True)
class Notification:
    """A message to send: ``firing`` once, ``repeat`` every repeat interval, ``resolved`` once.

    ``key`` is stable for one event of one episode, so a sender can refuse to send it twice.
    """

    kind: NotificationKind
    rule: str
    subject: str
    severity: str
    summary: str
    description: str
    runbook_url: str
    value: float | None
    threshold: float | None
    since: float
    at: float
    labels: dict[str, str] = field(default_factory=dict)
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Transition:
    """One alert changing state (``inactive`` is the absence of a state)."""

    rule: str
    subject: str
    old: str
    new: str
    at: float
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evaluation:
    """What one evaluation returns: the states to keep, the notifications to send, what changed."""

    states: list[AlertState]
    notifications: list[Notification]
    transitions: list[Transition]

    def to_dict(self) -> dict[str, Any]:
        return {
            "states": [s.to_dict() for s in self.states],
            "notifications": [n.to_dict() for n in self.notifications],
            "transitions": [t.to_dict() for t in self.transitions],
        }

"""The runbook's "Performance Checklist": 20 items in four sections, ticked from evidence (pure).

perfbook ticks an item only when an attached artifact proves it, and names that artifact; a
person ticks the others (or marks them n/a). A verification tick that later evidence contradicts
(p95 worse again, a later load run missing its SLO, CPU high again) stays, flagged, never
silently kept. docs/incidents.md has the table of which evidence ticks which item.

    states = evaluate(artifacts, marks)   # one ItemState per item, in the runbook's order
    find_item("benchmarks")               # 11
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfbook.errors import UsageError
from perfbook.incidents.model import Artifact
from perfbook.incidents.proofs import RULES, contradiction

# Verbatim from the runbook's "📋 Performance Checklist" (its order is the item numbers).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Investigation",
        (
            "Performance issue identified and classified",
            "Initial metrics collected",
            "Root cause analysis initiated",
            "Impact assessment completed",
            "Resolution plan developed",
        ),
    ),
    (
        "Resolution",
        (
            "Immediate fixes applied",
            "Performance optimizations implemented",
            "Resource limits adjusted",
            "Monitoring enhanced",
            "Performance testing completed",
        ),
    ),
    (
        "Verification",
        (
            "Performance benchmarks met",
            "Response times improved",
            "Resource usage optimized",
            "User experience verified",
            "Monitoring alerts configured",
        ),
    ),
    (
        "Post-Resolution",
        (
            "Performance analysis completed",
            "Optimization recommendations documented",
            "Team debrief completed",
            "Documentation updated",
            "Follow-up monitoring scheduled",
        ),
    ),
)


@dataclass(frozen=True)
class Item:
    number: int
    section: str
    text: str
    evidence: str | None  # what perfbook ticks it from; None: a person ticks it


@dataclass(frozen=True)
class Mark:
    """A person's tick (``done``) or ``na`` on an item."""

    item: int
    state: str
    actor: str
    at: str
    note: str | None = None


@dataclass(frozen=True)
class ItemState:
    """An item as ``checklist`` shows it: ticked or not, by whom, from what, and any contradiction."""

    item: Item
    state: str  # done | na | open
    by: str | None = None  # "perfbook" or the person
    artifact: str | None = None  # "triage #3": what proves it
    artifact_id: int | None = None
    why: str | None = None
    at: str | None = None
    contradicted: str | None = None  # "triage #9: p95 4.30 s, not below the first triage's 4.10 s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.item.number,
            "section": self.item.section,
            "text": self.item.text,
            "state": self.state,
            "by": self.by,
            "artifact": self.artifact,
            "artifact_id": self.artifact_id,
            "why": self.why,
            "at": self.at,
            "contradicted": self.contradicted,
            "auto": self.item.evidence,
        }


ITEMS: tuple[Item, ...] = tuple(
    Item(n, section, text, RULES[n][1] if n in RULES else None)
    for n, (section, text) in enumerate(((s, t) for s, texts in SECTIONS for t in texts), start=1)
)

VERIFICATION = frozenset(i.number for i in ITEMS if i.section == "Verification")


def evaluate(arts: Sequence[Artifact], marks: Sequence[Mark]) -> list[ItemState]:
    """Every item's state: evidence first (naming the artifact), else a person's mark, else open."""
    arts = sorted(arts, key=lambda a: a.id)
    by_item = {m.item: m for m in marks}
    states = []
    for item in ITEMS:
        proof = RULES[item.number][0](arts) if item.number in RULES else None
        mark = by_item.get(item.number)
        if proof is not None:
            art, why = proof
            state = ItemState(
                item,
                "done",
                "perfbook",
                art.label,
                art.id,
                why,
                art.at,
                contradiction(item.number, arts, after_id=art.id),
            )
        elif mark is not None:
            flag = contradiction(item.number, arts, after_at=mark.at) if mark.state == "done" else None
            state = ItemState(item, mark.state, mark.actor, None, None, mark.note, mark.at, flag)
        else:
            state = ItemState(item, "open")
        states.append(state)
    return states


def find_item(text: str) -> int:
    """An item by number (``11``) or by unambiguous words (``benchmarks``); else a usage error."""
    text = text.strip()
    if text.isdigit():
        number = int(text)
        if 1 <= number <= len(ITEMS):
            return number
        raise UsageError(f"checklist item {number} does not exist (items are 1..{len(ITEMS)})")
    words = text.lower().split()
    hits = [i for i in ITEMS if words and all(w in i.text.lower() for w in words)]
    if len(hits) == 1:
        return hits[0].number
    if not hits:
        raise UsageError(f"no checklist item matches {text!r}", hint="see: perfbook incident checklist ID")
    names = "; ".join(f"{i.number} {i.text}" for i in hits[:5])
    raise UsageError(
        f"{text!r} matches {len(hits)} checklist items: {names}", hint="give the number or more words"
    )

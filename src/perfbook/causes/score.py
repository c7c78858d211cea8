"""Explainable confidence: a cause's confidence is the sum of named contributions, clamped to 0–1.

    score = Score()
    score.add(0.4, "GET /api/v1/users slow in the window (p95 2.40 s)")
    score.add(-0.2, "few requests (12)")
    score.confidence   # 0.2
    score.reasons()    # ('+0.40 GET /api/v1/users slow …', '-0.20 few requests (12)')

No I/O. Every number a cause carries comes from here, so ``reasons`` always add up to the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfbook.model import Action, Cause, Finding, Level
from perfbook.units import format_pct

# What one finding is worth on its own, by level: critical findings are broken now.
LEVEL_WEIGHT = {Level.CRITICAL: 0.4, Level.WARNING: 0.3, Level.INFO: 0.0}
FEW_SAMPLES = -0.15  # a finding from fewer samples than its rule asks for
SYMPTOM_MATCHED = 0.25  # the user-facing symptom joins this subject (route, statement, process)
SYMPTOM_UNMATCHED = 0.1  # requests suffer in the same window, but nothing ties them to this subject


@dataclass
class Score:
    """Named contributions to a cause's confidence, in the order they were added."""

    parts: list[tuple[float, str]] = field(default_factory=list)

    def add(self, delta: float, reason: str) -> None:
        """Add ``delta`` (may be negative) with the words that justify it; a zero delta is skipped."""
        if delta:
            self.parts.append((round(delta, 2), reason))

    def finding(self, f: Finding, reason: str) -> None:
        """A finding's own weight (by level), less when it comes from few samples."""
        self.add(LEVEL_WEIGHT.get(f.level, 0.0), f"{reason} [{f.code}, {f.level.value}]")
        if f.low_confidence:
            self.add(FEW_SAMPLES, f"{f.code} comes from few samples")

    @property
    def confidence(self) -> float:
        """The sum of the contributions, clamped to 0–1 and rounded to two places."""
        return round(min(1.0, max(0.0, sum(d for d, _ in self.parts))), 2)

    def reasons(self) -> tuple[str, ...]:
        """Each contribution as ``+0.40 why`` (what raised or lowered the confidence)."""
        return tuple(f"{d:+.2f} {why}" for d, why in self.parts)


def make_cause(
    summary: str,
    score: Score,
    findings: list[Finding] | list[str],
    layer: str,
    evidence: dict[str, Any] | None = None,
    action: Action | None = None,
) -> Cause:
    """A Cause from its summary and score; ``findings`` may be Findings or ``code:subject`` keys."""
    keys: list[str] = []
    for f in findings:
        key = f if isinstance(f, str) else f.key
        if key not in keys:
            keys.append(key)
    return Cause(
        summary=sentence(summary),
        confidence=score.confidence,
        findings=tuple(keys),
        evidence=dict(evidence or {}),
        action=action,
        reasons=score.reasons(),
        layer=layer,
    )


def sentence(text: str) -> str:
    """Capitalise a summary that starts with a plain word (never a name like ``public.users``)."""
    head = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if head.isalpha() and head.islower() else text


def first_action(findings: list[Finding], prefer: tuple[str, ...] = ()) -> Action | None:
    """The first action of the findings, preferring one whose id is in ``prefer`` (in that order)."""
    actions = [a for f in findings for a in f.actions]
    for wanted in prefer:
        for a in actions:
            if a.id == wanted:
                return a
    return actions[0] if actions else None


def pct(share: float | None) -> str:
    """A 0–1 share as a whole percentage, as every perfbook report writes it: ``0.75`` → ``75 %``."""
    return format_pct(share, 0)

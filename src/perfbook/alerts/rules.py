"""The effective alert rules: built-ins, replaced or turned off by ``[[alerts.rules]]``, and your own. Pure.

    >>> from perfbook.config import Config
    >>> [r.name for r in effective_rules(Config())][:4]
    ['HighResponseTime', 'HighErrorRate', 'HighCPUUsage', 'HighMemoryUsage']
    >>> effective_rules(Config())[0].condition
    KpiCondition(figure='p95_s', op='>', threshold=2.0)

A user rule named like a built-in replaces it; keys it leaves out keep the built-in's values, so
``when = "p95_s > 1.5"`` alone moves only the limit, and ``enabled = false`` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfbook.alerts.defaults import DefaultRule, default_rules
from perfbook.alerts.when import Condition, KpiCondition, parse_when, unit_of, value_text
from perfbook.units import parse_duration

if TYPE_CHECKING:
    from perfbook.config import AlertRuleConfig, Config

GENERIC_SUMMARY = "{rule}: {value} on {subject} (limit {threshold})"


@dataclass(frozen=True)
class AlertRule:
    """One rule as the engine and the exporters use it.

    ``origin``: ``built-in``, ``config`` (your own) or ``config, replaces built-in``.
    """

    name: str
    condition: Condition
    for_s: float
    keep_firing_for_s: float
    severity: str
    summary: str
    description: str
    runbook_url: str
    origin: str = "built-in"

    @property
    def when(self) -> str:
        """The condition as text, as ``[[alerts.rules]] when`` writes it."""
        return self.condition.text

    @property
    def unit(self) -> str:
        return unit_of(self.condition)

    def render(self, template: str, *, value: float | None, threshold: float | None, subject: str) -> str:
        """``template`` with this rule's placeholders filled in (values written in the rule's unit)."""
        if threshold is None and isinstance(self.condition, KpiCondition):
            threshold = self.condition.threshold
        fields = {
            "value": value_text(self.unit, value),
            "threshold": value_text(self.unit, threshold),
            "subject": subject,
            "rule": self.name,
            "severity": self.severity,
        }
        return template.format_map(fields)

    def to_dict(self) -> dict[str, Any]:
        """The rule as ``perfbook alerts rules --json`` prints it."""
        return {
            "name": self.name,
            "when": self.when,
            "for_s": self.for_s,
            "keep_firing_for_s": self.keep_firing_for_s,
            "severity": self.severity,
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
            "origin": self.origin,
        }


def effective_rules(cfg: Config) -> list[AlertRule]:
    """Built-ins in their order, each replaced by a user rule of its name; then the user's new rules."""
    users = {r.name: r for r in cfg.alerts.rules}
    rules: list[AlertRule] = []
    for default in default_rules(cfg):
        user = users.pop(default.name, None)
        if user is not None and not user.enabled:
            continue
        rules.append(_build(default, user, cfg))
    rules += [_build(None, user, cfg) for user in users.values() if user.enabled]
    return rules


def _build(default: DefaultRule | None, user: AlertRuleConfig | None, cfg: Config) -> AlertRule:
    def pick(key: str, fallback: str) -> str:
        mine = getattr(user, key) if user is not None else None
        if mine is not None:
            return str(mine)
        built_in = getattr(default, key, None)
        return fallback if built_in is None else str(built_in)

    name = user.name if user is not None else default.name  # type: ignore[union-attr]
    origin = "built-in" if user is None else ("config, replaces built-in" if default else "config")
    anchor = f"{cfg.alerts.runbook_base_url}#{name.lower()}" if default is not None else ""
    return AlertRule(
        name=name,
        condition=parse_when(pick("when", "")),  # checked when the config loaded
        for_s=parse_duration(pick("for_", "0s")),
        keep_firing_for_s=parse_duration(pick("keep_firing_for", "0s")),
        severity=pick("severity", "warning"),
        summary=pick("summary", GENERIC_SUMMARY),
        description=pick("description", ""),
        runbook_url=pick("runbook_url", anchor),
        origin=origin,
    )

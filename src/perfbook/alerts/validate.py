"""Checks of ``[alerts]`` run while the config loads, so a bad rule is one line naming it. Pure.

Each check raises ValueError with the rule's name, the bad value and what is allowed; the config
loader turns it into ``perfbook.toml:LINE: alerts.rules: …`` and exit 2.
"""

from __future__ import annotations

import re
from typing import Protocol

from perfbook.alerts.names import DEFAULT_NAMES
from perfbook.alerts.when import ALERT_NAME, ALLOWED, SEVERITIES, check_template, parse_when
from perfbook.units import parse_duration


class RuleKeys(Protocol):
    """The keys of one ``[[alerts.rules]]`` table (the config's model has them; no import of it here)."""

    name: str
    when: str | None
    for_: str | None
    keep_firing_for: str | None
    severity: str | None
    summary: str | None
    description: str | None


PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
MATCHERS = re.compile(rf"^(?:{_MATCHER}(?:,{_MATCHER})*,?)?\s*$")


def check_rule(rule: RuleKeys) -> None:
    """ValueError naming the rule when any of its keys is wrong."""
    name = rule.name
    if not ALERT_NAME.match(name):
        raise ValueError(
            f"rule name {name!r} must be letters, digits and _ (not starting with a digit), "
            "as Prometheus alert names are"
        )
    label = f'rule "{name}"'
    if rule.when is None and name not in DEFAULT_NAMES:
        raise ValueError(f"{label} needs a when: {ALLOWED} (only a built-in rule may leave it out)")
    if rule.when is not None:
        try:
            parse_when(rule.when)
        except ValueError as err:
            raise ValueError(f'{label}: when "{rule.when}": {err}') from None
    for key, text in (("for", rule.for_), ("keep_firing_for", rule.keep_firing_for)):
        if text is not None:
            _duration(f"{label}: {key}", text)
    if rule.severity is not None and rule.severity not in SEVERITIES:
        raise ValueError(f"{label}: severity {rule.severity!r} is not one of {', '.join(SEVERITIES)}")
    for key, text in (("summary", rule.summary), ("description", rule.description)):
        if text is not None:
            try:
                check_template(text)
            except ValueError as err:
                raise ValueError(f"{label}: {key}: {err}") from None


def check_alerts_key(key: str, value: object) -> None:
    """ValueError when an ``[alerts]`` key is wrong: duplicate rules, durations, selectors, metric names."""
    if key == "rules":
        seen: set[str] = set()
        for rule in value:  # type: ignore[attr-defined]
            if rule.name in seen:
                raise ValueError(f'rule "{rule.name}" is defined twice (one [[alerts.rules]] table per name)')
            seen.add(rule.name)
    elif key == "repeat_interval":
        _duration("", str(value))
    elif key == "prometheus_range" and not PROM_DURATION.match(str(value)):
        raise ValueError(f"{value!r} is not a Prometheus duration (e.g. 5m, 1h30m)")
    elif key in ("prometheus_selector", "container_selector") and not MATCHERS.match(str(value)):
        raise ValueError(f'{value!r} is not a list of label matchers (e.g. job="api", instance=~"web-.*")')
    elif key in ("duration_histogram", "requests_counter") and not METRIC_NAME.match(str(value)):
        raise ValueError(f"{value!r} is not a Prometheus metric name")


def _duration(what: str, text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise ValueError(f"{what}: {err}" if what else str(err)) from None  # the message quotes the text
    if seconds < 0:
        raise ValueError(f"{what} cannot be negative, got {text!r}")
    return seconds

"""``promtool test rules`` cases for each exported rule: a world where it fires, one where it must not. Pure.

Each case is synthetic series in promtool's notation (``0+60x12``: a counter growing 60 a
minute) built from the rule's own threshold, so a rule you changed is tested at its new limit.
The expected alerts carry the exact labels and annotations Prometheus will render, computed here
the way perfbook writes the same values; ``promtool`` checks both.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from perfbook.alerts.prometheus import Exported
from perfbook.alerts.promforms import Names, subject_text
from perfbook.alerts.promtool_cases import FIGURE_CASES, FINDING_CASES, Case, World, sides
from perfbook.alerts.when import KpiCondition
from perfbook.units import parse_duration

if TYPE_CHECKING:
    from perfbook.config import Config

_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def promtool_tests(
    exported: list[Exported], rules_file: str, cfg: Config
) -> tuple[dict[str, Any], list[str]]:
    """The tests document, and the rules that could not be tested (with why)."""
    names = Names.from_config(cfg)
    app, containers = required_labels(names.selector), required_labels(names.containers)
    tests, untested = [], []
    for e in exported:
        minutes = math.ceil(e.rule.for_s / 60) + math.ceil(parse_duration(names.range) / 60) + 12
        needs = _needs(e)
        if (needs == "app" and app is None) or (needs == "containers" and containers is None):
            untested.append(f"{e.rule.name}: cannot make series that match the selector")
            continue
        world = World(minutes, app or {}, containers or {})
        for case in cases(e, world, names, cfg):
            tests.append(_test_doc(e, case, minutes))
    return {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": tests}, untested


def _needs(e: Exported) -> str:
    key = e.rule.condition.figure if isinstance(e.rule.condition, KpiCondition) else e.rule.condition.code
    return {
        "p95_s": "app",
        "error_rate": "app",
        "http.unreachable": "app",
        "cpu_pct": "containers",
        "memory_pct": "containers",
        "container.restarting": "containers",
    }.get(key, "")


def required_labels(selector: str) -> dict[str, str | None] | None:
    """Labels a synthetic series needs to match ``selector``: a value, or None for "any non-empty value".

    None when that cannot be worked out (a regex that is not a list of words).

    >>> required_labels('job="api", instance!=""'), required_labels('job=~"api|web"')
    ({'job': 'api', 'instance': None}, {'job': 'api'})
    >>> print(required_labels('job=~"a.*"'))
    None
    """
    labels: dict[str, str | None] = {}
    for name, op, value in _MATCHER.findall(selector):
        if op == "=":
            labels[name] = value
        elif op == "=~" and re.fullmatch(r"[\w/:-]+(\|[\w/:-]+)*", value):
            labels[name] = value.split("|")[0]
        elif op in ("!=", "!~") and re.fullmatch(value, ""):
            labels[name] = None  # the label must exist: any value but the excluded one
        elif op == "=~":
            return None
    return labels


def _test_doc(e: Exported, case: Case, minutes: int) -> dict[str, Any]:
    expected = []
    for labels in case.alerts:
        subject = subject_text(e.form.subject, labels)
        annotations = {
            "summary": e.rule.render(e.rule.summary, value=case.value, threshold=e.threshold, subject=subject)
        }
        if e.rule.description:
            annotations["description"] = e.rule.render(
                e.rule.description, value=case.value, threshold=e.threshold, subject=subject
            )
        if e.rule.runbook_url:
            annotations["runbook_url"] = e.rule.runbook_url
        expected.append(
            {"exp_labels": {**labels, "severity": e.rule.severity}, "exp_annotations": annotations}
        )
    series = [
        {"series": metric + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "values": values}
        for metric, labels, values in case.series
    ]
    return {
        "name": f"{e.rule.name}: {case.title}",
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": f"{minutes - 1}m", "alertname": e.rule.name, "exp_alerts": expected}
        ],
    }


def cases(e: Exported, w: World, n: Names, cfg: Config) -> list[Case]:
    """The firing and quiet cases of one exported rule."""
    cond = e.rule.condition
    if not isinstance(cond, KpiCondition):
        return FINDING_CASES[cond.code](w, e, cfg)
    bad, good = sides(cond, e.rule.unit)
    return FIGURE_CASES[cond.figure](w, n, bad, good)

"""The effective rules as a Prometheus alerting-rules file (``perfbook alerts export --prometheus``). Pure.

    doc, skipped = prometheus_rules(effective_rules(cfg), cfg)
    text = to_yaml(doc)            # what `promtool check rules` reads

Each rule keeps its name, ``for``, ``keep_firing_for``, ``labels.severity`` and its templates,
translated to Go templates: ``{value}`` becomes ``$value`` written in the rule's unit,
``{subject}`` the labels that name the subject, ``{threshold}`` the number itself. A rule over a
finding no standard exporter measures is left out and listed in ``skipped`` with the reason.
"""

from __future__ import annotations

import string
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfbook.alerts.promforms import Form, Names, figure_form, finding_form, subject_template
from perfbook.alerts.rules import AlertRule
from perfbook.alerts.when import KpiCondition, value_text

if TYPE_CHECKING:
    from perfbook.config import Config

GROUP = "perfbook"
VALUE_TEMPLATES = {  # $value as perfbook writes the same unit (when.value_text)
    "s": '{{ printf "%.2f" $value }} s',
    "share": "{{ $value | humanizePercentage }}",
    "pct": '{{ printf "%.1f" $value }} %',
    "ms": '{{ printf "%.0f" $value }} ms',
    "count": '{{ printf "%.0f" $value }}',
}


@dataclass(frozen=True)
class Exported:
    """One rule with its PromQL form (what the rules file and the promtool tests are built from)."""

    rule: AlertRule
    form: Form
    expr: str
    threshold: float | None


def exported_rules(rules: list[AlertRule], cfg: Config) -> tuple[list[Exported], list[tuple[str, str]]]:
    """The rules that have a Prometheus form, and ``(name, why not)`` for the others."""
    names = Names.from_config(cfg)
    out: list[Exported] = []
    skipped: list[tuple[str, str]] = []
    for rule in rules:
        cond = rule.condition
        if isinstance(cond, KpiCondition):
            form = figure_form(cond.figure, names)
            out.append(Exported(rule, form, kpi_expr(form, cond), cond.threshold))
            continue
        found = finding_form(cond.code, names, cfg)
        if found is None:
            skipped.append((rule.name, f"no standard exporter metric for finding {cond.code}"))
        else:
            out.append(Exported(rule, found, found.value, found.threshold))
    return out, skipped


def kpi_expr(form: Form, cond: KpiCondition) -> str:
    """``(figure) op threshold``, ``and`` the guard that asks for enough requests or lookups."""
    expr = f"(\n{textwrap.indent(form.value, '  ')}\n)\n{cond.op} {cond.threshold!r}"
    return f"{expr}\nand\n{form.guard}" if form.guard else expr


def prometheus_rules(rules: list[AlertRule], cfg: Config) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The rules file as a document (``groups`` of one group), and the rules left out with why."""
    exported, skipped = exported_rules(rules, cfg)
    return {"groups": [{"name": GROUP, "rules": [rule_doc(e) for e in exported]}]}, skipped


def rule_doc(e: Exported) -> dict[str, Any]:
    """One ``- alert:`` entry."""
    rule = e.rule
    doc: dict[str, Any] = {"alert": rule.name, "expr": e.expr + "\n", "for": prom_duration(rule.for_s)}
    if rule.keep_firing_for_s:
        doc["keep_firing_for"] = prom_duration(rule.keep_firing_for_s)
    doc["labels"] = {"severity": rule.severity}
    annotations = {"summary": go_template(rule.summary, e)}
    if rule.description:
        annotations["description"] = go_template(rule.description, e)
    if rule.runbook_url:
        annotations["runbook_url"] = rule.runbook_url
    doc["annotations"] = annotations
    return doc


def go_template(template: str, e: Exported) -> str:
    """A perfbook template (``{value}`` …) as a Prometheus annotation template."""
    rule = e.rule
    fields = {
        "value": VALUE_TEMPLATES[rule.unit],
        "threshold": value_text(rule.unit, e.threshold),
        "subject": subject_template(e.form.subject),
        "rule": rule.name,
        "severity": rule.severity,
    }
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal.replace("{{", '{{ "{{" }}'))  # a literal "{{" must not open a Go action
        if field is not None:
            out.append(fields[field])
    return "".join(out)


def prom_duration(seconds: float) -> str:
    """A Prometheus duration: ``120`` -> ``2m``, ``90`` -> ``1m30s``, ``0.5`` -> ``500ms``.

    >>> prom_duration(120), prom_duration(90), prom_duration(0), prom_duration(0.5), prom_duration(7200)
    ('2m', '1m30s', '0s', '500ms', '2h')
    """
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def to_yaml(doc: Any) -> str:
    """YAML with multi-line strings as ``|`` blocks (expressions stay readable)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=1000, allow_unicode=True)

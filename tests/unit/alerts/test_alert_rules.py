"""Rules as data: the built-ins, [[alerts.rules]] replacing or adding, and bad rules refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfbook.alerts.names import DEFAULT_NAMES, RUNBOOK_NAMES
from perfbook.alerts.prometheus import exported_rules
from perfbook.alerts.rules import effective_rules
from perfbook.alerts.when import FIGURES, KpiCondition, check_template, parse_when
from perfbook.config import Config, load_config
from perfbook.errors import ConfigError


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "perfbook.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_the_runbooks_four_keep_their_names_and_come_first():
    names = [r.name for r in effective_rules(Config())]
    assert (
        names[:4]
        == ["HighResponseTime", "HighErrorRate", "HighCPUUsage", "HighMemoryUsage"]
        == list(RUNBOOK_NAMES)
    )
    assert names == list(DEFAULT_NAMES)


def test_every_kpi_has_a_built_in_rule_and_every_built_in_exports_to_prometheus():
    rules = effective_rules(Config())
    figures = {r.condition.figure for r in rules if isinstance(r.condition, KpiCondition)}
    assert figures == set(FIGURES)
    exported, skipped = exported_rules(rules, Config())
    assert skipped == [] and len(exported) == len(rules)


def test_thresholds_move_the_built_ins():
    cfg = Config.model_validate({"thresholds": {"p95_s": 1.5, "error_rate": 0.05}})
    by_name = {r.name: r for r in effective_rules(cfg)}
    assert by_name["HighResponseTime"].when == "p95_s > 1.5"
    assert by_name["HighErrorRate"].when == "error_rate > 0.05"


def test_a_user_rule_with_a_built_in_name_replaces_it_keeping_what_it_leaves_out(tmp_path):
    cfg = config(
        tmp_path, '[[alerts.rules]]\nname = "HighResponseTime"\nwhen = "p95_s > 0.5"\nseverity = "critical"\n'
    )
    rule = next(r for r in effective_rules(cfg) if r.name == "HighResponseTime")
    assert (rule.when, rule.severity, rule.for_s, rule.origin) == (
        "p95_s > 0.5",
        "critical",
        120.0,
        "config, replaces built-in",
    )
    assert rule.runbook_url == "docs/alerts.md#highresponsetime"
    assert [r.name for r in effective_rules(cfg)].count("HighResponseTime") == 1


def test_enabled_false_turns_a_built_in_off_and_new_rules_come_last(tmp_path):
    cfg = config(
        tmp_path,
        '[[alerts.rules]]\nname = "HighDiskUsage"\nenabled = false\n\n'
        '[[alerts.rules]]\nname = "SlowCheckout"\nwhen = "p95_s >= 0.8"\nfor = "90s"\n'
        'summary = "checkout {value} on {subject}"\n',
    )
    rules = effective_rules(cfg)
    assert "HighDiskUsage" not in [r.name for r in rules]
    last = rules[-1]
    assert (last.name, last.for_s, last.keep_firing_for_s, last.severity, last.origin) == (
        "SlowCheckout",
        90.0,
        0.0,
        "warning",
        "config",
    )
    assert (
        last.render(last.summary, value=1.234, threshold=None, subject="/checkout")
        == "checkout 1.23 s on /checkout"
    )


@pytest.mark.parametrize(
    "text, words",
    [
        (
            'name = "SlowApi"\nwhen = "p95 > 2"',
            ['rule "SlowApi"', "unknown figure 'p95'", "p95_s, error_rate"],
        ),
        ('name = "SlowApi"\nwhen = "p95_s >> 2"', ['rule "SlowApi"', "not a condition", "'finding CODE'"]),
        ('name = "SlowApi"\nwhen = "p95_s == 2"', ['rule "SlowApi"', "operator '=='", "> >= < <="]),
        ('name = "SlowApi"\nwhen = "p95_s > fast"', ["threshold 'fast' is not a number"]),
        ('name = "Errors"\nwhen = "error_rate > 5"', ["error_rate is a share from 0 to 1", "1 % is 0.01"]),
        (
            'name = "Locks"\nwhen = "finding pg.locks"',
            ["unknown finding code 'pg.locks'", "pg.blocked_queries"],
        ),
        ('name = "New"', ['rule "New" needs a when', "only a built-in rule may leave it out"]),
        ('name = "New"\nwhen = "p95_s > 1"\nfor = "soon"', ['rule "New": for: not a duration']),
        (
            'name = "New"\nwhen = "p95_s > 1"\nseverity = "page"',
            ["severity 'page' is not one of critical, warning, info"],
        ),
        (
            'name = "New"\nwhen = "p95_s > 1"\nsummary = "{p95}"',
            ["unknown placeholder {p95}", "{value} {threshold}"],
        ),
        ('name = "New-Rule"\nwhen = "p95_s > 1"', ["letters, digits and _"]),
        (
            'name = "New"\nwhen = "p95_s > 1"\nsevrity = "warning"',
            ["unknown key alerts.rules.sevrity", "for, keep_firing_for"],
        ),
    ],
)
def test_a_bad_rule_is_one_line_naming_file_line_rule_and_what_is_allowed(tmp_path, text, words):
    with pytest.raises(ConfigError) as err:
        config(
            tmp_path,
            '[http]\nbase_url = "http://x:1"\n\n[[alerts.rules]]\nname = "Ok"\nwhen = "p95_s > 1"\n\n'
            f"[[alerts.rules]]\n{text}\n",
        )
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'perfbook.toml'}:8: ")  # the line of the second [[alerts.rules]]
    for w in words:
        assert w in message


def test_duplicate_rule_names_and_bad_export_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match='rule "A" is defined twice'):
        config(
            tmp_path,
            '[[alerts.rules]]\nname = "A"\nwhen = "p95_s > 1"\n'
            '[[alerts.rules]]\nname = "A"\nwhen = "p95_s > 2"\n',
        )
    with pytest.raises(
        ConfigError, match=r"alerts.prometheus_selector: 'job=api' is not a list of label matchers"
    ):
        config(tmp_path, '[alerts]\nprometheus_selector = "job=api"\n')
    with pytest.raises(ConfigError, match="PERFBOOK_ALERTS_PROMETHEUS_RANGE: alerts.prometheus_range"):
        load_config(env={"PERFBOOK_ALERTS_PROMETHEUS_RANGE": "5 minutes"})


@pytest.mark.parametrize(
    "text",
    [
        "p95_s > 2",
        "p95_s>=2.5",
        " cache_hit_rate < 0.9 ",
        "disk_pct <= 90",
        "finding pg.blocked_queries",
        "finding   redis.oom_rejections",
    ],
)
def test_conditions_round_trip_through_their_text(text):
    assert parse_when(parse_when(text).text) == parse_when(text)


def test_templates_escape_literal_braces():
    check_template("{{literal}} {value}")
    with pytest.raises(ValueError, match="bad template"):
        check_template("{value")


def test_docs_alerts_md_lists_every_built_in_rule_as_perfbook_exports_it():
    from perfbook.alerts.reference import BEGIN, END, render

    doc = (Path(__file__).resolve().parents[3] / "docs" / "alerts.md").read_text()
    block = doc[doc.index(BEGIN) : doc.index(END) + len(END)] + "\n"
    assert block == render(), "regenerate: python -m perfbook.alerts.reference docs/alerts.md"
    for name in DEFAULT_NAMES:  # the built-ins' runbook_url anchors
        assert f"\n### {name}\n" in block


def test_the_sample_config_shows_a_rule_that_loads_when_uncommented(tmp_path):
    from perfbook.config_sample import sample_toml

    text = sample_toml()
    example = text[text.index("# [[alerts.rules]]") :]
    assert text.rstrip().endswith(example.rstrip())  # last in the file: tables after it would belong to it
    uncommented = "\n".join(
        line[2:].split("  #")[0] for line in example.splitlines() if line.startswith("# ")
    )
    cfg = config(tmp_path, text + "\n" + uncommented + "\n")
    assert [r.name for r in effective_rules(cfg)][-1] == "SlowApi"

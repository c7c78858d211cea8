"""docs/findings.md is generated from the code registry and the rules, and every code is judged on some probe."""

from pathlib import Path

from perfbook.codes import CODES
from perfbook.codes_docs import offered_fixes, render
from perfbook.fix.catalog import CATALOG
from perfbook.probes import probes_seeing

DOC = Path(__file__).resolve().parents[2] / "docs" / "findings.md"


def test_docs_findings_md_is_current():
    assert DOC.read_text() == render(), "regenerate: python -m perfbook.codes_docs > docs/findings.md"


def test_the_table_has_one_row_per_code_in_registry_order():
    rows = [line.split("|")[1].strip().strip("`") for line in render().splitlines() if line.startswith("| `")]
    assert rows == list(CODES)


def test_every_code_is_judged_on_some_probe():
    # else an alert rule on the code is never "measured": it neither fires nor resolves
    assert [code for code in CODES if not probes_seeing(code)] == []


def test_the_fixes_offered_are_read_from_the_rules_and_are_catalog_entries():
    fixes = offered_fixes()
    assert fixes["pg.missing_index"] == ("pg.analyze", "pg.create_index")  # a local list, then .append
    # helpers of rules.redis_advice
    assert fixes["redis.evictions"] == ("redis.set_maxmemory", "redis.set_policy")
    assert fixes["process.cpu_hog"] == ("process.restart",)  # a helper of the same module
    assert "http.slow_response" not in fixes  # advice only (actions without a command)
    assert set(fixes) <= set(CODES)
    assert {f for offered in fixes.values() for f in offered} <= set(CATALOG)

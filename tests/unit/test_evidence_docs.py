"""Evidence fields are declared once, with unit and meaning, and docs/evidence.md is generated from them."""

from pathlib import Path

from perfbook.evidence_docs import class_docs, evidence_modules, render
from perfbook.probes import probe_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"


def test_every_probe_has_its_evidence_documented_and_every_field_its_meaning():
    modules = evidence_modules()
    assert list(modules) == probe_names()
    assert all(m == f"perfbook.evidence.{probe}" for probe, m in modules.items())
    undocumented = [
        f"{m}:{c.name}.{f.name}"
        for m in modules.values()
        for c in class_docs(m)
        for f in c.fields
        if not f.meaning
    ]
    assert undocumented == []


def test_docs_evidence_md_is_current():
    assert DOC.read_text() == render(), "regenerate: python -m perfbook.evidence_docs > docs/evidence.md"

"""Evidence fields are declared once, with unit and meaning, and docs/evidence.md is generated from them."""

from pathlib import Path

from perfbook.evidence_docs import EVIDENCE_MODULES, class_docs, render
from perfbook.probes import PROBES

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"


def test_every_probe_has_its_evidence_documented_and_every_field_its_meaning():
    assert set(EVIDENCE_MODULES) == set(PROBES)
    undocumented = [f"{m}:{c.name}.{f.name}" for mods in EVIDENCE_MODULES.values() for m in mods
                    for c in class_docs(m) for f in c.fields if not f.meaning]
    assert undocumented == []


def test_docs_evidence_md_is_current():
    assert DOC.read_text() == render(), "regenerate: python -m perfbook.evidence_docs > docs/evidence.md"

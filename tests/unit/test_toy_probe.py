"""docs/architecture.md "How to add a probe", followed step by step for a toy layer, ``spool``
(files waiting in a directory), with its evidence, probe and rules defined here: registered the way
the doc says, its finding shows in ``perfbook triage``'s report — JSON (valid against the shipped
schema) and terminal.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from perfbook import codes, probes
from perfbook.cli import main
from perfbook.cli.env import Env
from perfbook.codes import CodeInfo, finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.model import Evidence, Finding, IssueType, Level
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped
from perfbook.report.json import validate_report

BACKLOG_FILES = 100  # the toy threshold: more files than this waiting is a backlog


# Step 1: the evidence (in perfbook/evidence/spool.py for a real layer): pure, every field with its unit.
@dataclass
class SpoolEvidence:
    """Files waiting in the spool directory."""

    directory: str  # the directory read
    files: int  # regular files in it
    oldest_age_s: float | None  # age of the oldest file; None when empty


# Step 2: the probe (probes/spool.py): declares itself, does the I/O, returns evidence.
class SpoolProbe(BaseProbe):
    name = "spool"
    evidence = SpoolEvidence
    rules = __name__  # "perfbook.rules.spool" for a real layer
    local = True  # it reads this machine's disk
    directory: ClassVar[Path | None] = None  # a real layer reads its target from config (target_key)

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cls.directory is not None else "no spool directory"

    async def collect(self, ctx: ProbeContext) -> Evidence[SpoolEvidence]:
        if self.directory is None:
            raise ProbeSkipped("no spool directory")
        files = [p for p in self.directory.iterdir() if p.is_file()]
        now = time.time()
        oldest = max((now - p.stat().st_mtime for p in files), default=None)
        data = SpoolEvidence(
            str(self.directory), len(files), round(oldest, 3) if oldest is not None else None
        )
        return Evidence(self.name, "ok", 0.0, data=data)


# Step 3: the rules (rules/spool.py): evidence -> findings, pure.
def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    spool = usable(evidence.get("spool"), SpoolEvidence)
    if spool is None or spool.files <= BACKLOG_FILES:
        return []
    return [
        finding(
            "spool.backlog",
            spool.directory,
            f"{spool.files} files wait in {spool.directory}",
            value=spool.files,
            threshold=BACKLOG_FILES,
            unit="files",
            evidence={"files": spool.files, "oldest_age_s": spool.oldest_age_s},
        )
    ]


@pytest.fixture
def spool_layer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Steps 4 and 5: the finding code in perfbook.codes.CODES, the probe in perfbook.probes.BUILTIN."""
    monkeypatch.setitem(
        codes.CODES,
        "spool.backlog",
        CodeInfo(Level.WARNING, IssueType.SCALABILITY, "more files wait than the consumer keeps up with"),
    )
    monkeypatch.setattr(probes, "BUILTIN", (*probes.BUILTIN, f"{__name__}:SpoolProbe"))
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(SpoolProbe, "directory", spool)
    monkeypatch.chdir(tmp_path)  # no ./perfbook.toml: the built-in defaults
    probes.probe_classes.cache_clear()
    yield spool
    probes.probe_classes.cache_clear()


def perfbook(*argv: str) -> tuple[int, str, str]:
    env = Env(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"NO_COLOR": "1"})
    with pytest.raises(SystemExit) as done:
        main(list(argv), env=env)
    return int(done.value.code or 0), env.stdout.wrapped.getvalue(), env.stderr.wrapped.getvalue()


def test_the_toy_probe_is_a_layer_like_the_others(spool_layer: Path):
    assert probes.probe_names()[-1] == "spool"
    assert probes.rules_of("spool") is not None and probes.rules_of("spool").evaluate is evaluate
    assert probes.probes_seeing("spool.backlog") == ("spool",)  # alerts and fix verification read it


def test_its_finding_is_in_the_triage_report(spool_layer: Path):
    for i in range(BACKLOG_FILES + 20):
        (spool_layer / f"job-{i}.json").write_text("{}")
    code, out, err = perfbook("triage", "--only", "spool", "--json", "--fail-on", "warning")
    doc = json.loads(out)
    validate_report(doc)
    assert doc["probes"]["spool"]["status"] == "ok"
    assert doc["probes"]["spool"]["evidence"]["files"] == BACKLOG_FILES + 20
    (backlog,) = doc["findings"]
    assert backlog["code"] == "spool.backlog" and backlog["level"] == "warning"
    assert backlog["subject"] == str(spool_layer) and backlog["value"] == BACKLOG_FILES + 20
    assert doc["issue_types"] == ["scalability"]
    assert code == 3  # a warning, at the --fail-on cut

    code, out, _ = perfbook("triage", "--only", "spool", "--fail-on", "never")
    assert code == 0 and "spool.backlog" in out and f"{BACKLOG_FILES + 20} files wait" in out


def test_a_quiet_spool_has_no_finding(spool_layer: Path):
    (spool_layer / "job-1.json").write_text("{}")
    code, out, _ = perfbook("triage", "--only", "spool", "--json")
    doc = json.loads(out)
    assert doc["findings"] == [] and doc["probes"]["spool"]["evidence"]["files"] == 1
    assert code == 0

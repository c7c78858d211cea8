"""Read a saved triage report (``perfbook triage --json > report.json``) and list the fixes it recommends.

The ranked causes' fixes come first (a cause joins findings across layers), then the findings'
own actions, most severe first; each fix with the same parameters once, and only actions the
catalog can perform.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.catalog import CATALOG


@dataclass(frozen=True)
class RecommendedFix:
    """One catalog action a report recommends, and the findings that recommend it."""

    fix_id: str
    params: dict[str, Any]
    summary: str
    findings: tuple[str, ...] = field(default=())


def load_report(path: Path) -> dict[str, Any]:
    """The report at ``path``; UsageError (one line) when it is missing or not a triage report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--from-report: no file {path}",
                         hint="save one with: perfbook triage --json > report.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"--from-report: cannot read {path} as JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise UsageError(f"--from-report: {path} is not a perfbook triage report (no findings list)")
    return data


def recommended_fixes(report: dict[str, Any]) -> list[RecommendedFix]:
    """The catalog actions of the report: its ranked causes' first, then its findings', duplicates merged."""
    merged: dict[str, RecommendedFix] = {}
    sources = [(tuple(c.get("findings") or ()), [c["action"]]) for c in report.get("causes") or [] if c.get("action")]
    sources += [((f"{f.get('code')}:{f.get('subject')}",), f.get("actions") or []) for f in report["findings"]]
    for keys, actions in sources:
        for action in actions:
            if action.get("id") not in CATALOG or not action.get("command"):
                continue
            params = dict(action.get("params") or {})
            ident = json.dumps([action["id"], params], sort_keys=True, default=str)
            prev = merged.get(ident)
            findings = tuple(dict.fromkeys((prev.findings if prev else ()) + keys))
            merged[ident] = RecommendedFix(action["id"], params, action.get("summary", ""), findings)
    return list(merged.values())

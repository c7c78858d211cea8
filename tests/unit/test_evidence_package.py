"""The evidence contract is pure: every perfbook.evidence module imports only the standard library,
perfbook.model and its sibling modules, so rules, causes and renderers never pull in a probe's I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import perfbook.evidence

PACKAGE = Path(perfbook.evidence.__file__).parent
ALLOWED = ("perfbook.model", "perfbook.evidence")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
    return names


def test_every_evidence_module_imports_only_the_standard_library_and_the_contract():
    modules = sorted(PACKAGE.glob("*.py"))
    layers = {
        "http",
        "metrics",
        "host",
        "process",
        "containers",
        "postgres",
        "redis",
        "websocket",
        "frontend",
    }
    assert {p.stem for p in modules} >= layers
    foreign = [
        f"{p.name}: {name}"
        for p in modules
        for name in _imports(p)
        if name != "__future__"
        and name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith(ALLOWED)
    ]
    assert foreign == []

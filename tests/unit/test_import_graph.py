"""The import graph of perfbook has no circle, and nothing below ``cli/`` imports ``cli/``.

Every import counts, at the top of a module, inside a function or under TYPE_CHECKING: a circle
hidden by a lazy import is still a circle (two modules that cannot be understood apart).
"""

from __future__ import annotations

import ast
from pathlib import Path

import perfbook

ROOT = Path(perfbook.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("perfbook", *path.relative_to(ROOT).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + [base]).strip(".")
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            resolved = {resolve(t) for t in targets if t.startswith("perfbook")}
            graph[name] |= {r for r in resolved if r is not None and r != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert _circles(_graph()) == []


def test_nothing_below_cli_imports_cli():
    def in_cli(name: str) -> bool:
        return name == "perfbook.cli" or name.startswith("perfbook.cli.")

    upward = [
        f"{m} -> {t}"
        for m, targets in _graph().items()
        if not in_cli(m) and m != "perfbook.__main__"
        for t in targets
        if in_cli(t)
    ]
    assert upward == []


def test_the_check_sees_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

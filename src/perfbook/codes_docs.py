"""The findings table (docs/findings.md), generated from :data:`perfbook.codes.CODES` and the rules' source.

One row per finding code: its default level, issue type and meaning from the registry, the probes whose
evidence it is judged on (:func:`perfbook.probes.probes_seeing`), and the catalog fixes the rules offer
for it. The fixes are read from the rules' source, without running a rule: a ``finding("code", …,
actions=…)`` call offers the ``action("fix.id", …)`` calls its ``actions`` reach — directly, through a
local variable of the same function, or through a helper function of the rules package — and only ids
of the fix catalog count (an ``Action`` without a command is advice). ``python -m perfbook.codes_docs >
docs/findings.md`` rewrites it; a test checks it is current.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import perfbook.rules
from perfbook.codes import CODES
from perfbook.fix.catalog import CATALOG
from perfbook.probes import probes_seeing

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def rules_modules() -> list[str]:
    """Every module of the rules package, sorted.

    >>> "perfbook.rules.postgres" in rules_modules()
    True
    """
    return sorted(f"perfbook.rules.{m.name}" for m in pkgutil.iter_modules(perfbook.rules.__path__))


def offered_fixes() -> dict[str, tuple[str, ...]]:
    """Finding code -> the catalog fix ids its rules offer, sorted (codes without one are left out).

    >>> offered_fixes()["pg.dead_tuples"]
    ('pg.vacuum',)
    """
    functions: dict[str, _Function] = {}  # "module.name" and imported aliases -> the definition
    trees = {m: ast.parse(inspect.getsource(importlib.import_module(m))) for m in rules_modules()}
    for module, tree in trees.items():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[f"{module}.{node.name}"] = node
    scopes = {module: _scope(module, tree) for module, tree in trees.items()}
    offers: dict[str, set[str]] = {}
    for module, tree in trees.items():
        for fn in (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for call in _calls(fn):
                code = _literal_call(call, "finding")
                actions = next((k.value for k in call.keywords if k.arg == "actions"), None)
                if code and actions is not None:
                    fixes = _fixes(actions, fn, module, scopes, functions, set())
                    offers.setdefault(code, set()).update(f for f in fixes if f in CATALOG)
    return {code: tuple(sorted(fixes)) for code, fixes in sorted(offers.items()) if fixes}


def _scope(module: str, tree: ast.Module) -> dict[str, str]:
    """Bare name -> "module.name" for the module's own functions and those it imports from the rules package."""
    scope = {
        n.name: f"{module}.{n.name}"
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("perfbook.rules."):
            scope.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return scope


def _fixes(
    expr: ast.AST,
    fn: _Function,
    module: str,
    scopes: dict[str, dict[str, str]],
    functions: dict[str, _Function],
    seen: set[str],
) -> set[str]:
    """The ``action("id")`` ids ``expr`` (inside ``fn`` of ``module``) reaches through locals and helpers."""
    out: set[str] = set()
    scope = scopes[module]
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            if fix := _literal_call(node, "action"):
                out.add(fix)
            elif isinstance(node.func, ast.Name) and (target := scope.get(node.func.id)) in functions:
                if target not in seen:
                    seen.add(target)
                    helper = functions[target]
                    out |= _fixes(helper, helper, target.rpartition(".")[0], scopes, functions, seen)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            local = f"{module}.{fn.name}:{node.id}"
            if local not in seen:
                seen.add(local)
                for value in _assigned(fn, node.id):
                    out |= _fixes(value, fn, module, scopes, functions, seen)
    return out


def _assigned(fn: _Function, name: str) -> Iterator[ast.AST]:
    """What ``fn`` puts into its local ``name``: assignments, walrus, ``.append`` / ``.insert`` / ``.extend``."""
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                yield node.value
        elif isinstance(node, ast.NamedExpr) and node.target.id == name:
            yield node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("append", "insert", "extend")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
        ):
            yield from node.args


def _calls(fn: _Function) -> Iterator[ast.Call]:
    return (n for n in ast.walk(fn) if isinstance(n, ast.Call))


def _literal_call(call: ast.Call, name: str) -> str | None:
    """The first argument of ``name("literal", …)``, else None."""
    if isinstance(call.func, ast.Name) and call.func.id == name and call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def render() -> str:
    """docs/findings.md: one table of every finding code."""
    fixes = offered_fixes()
    out = [
        "# Findings reference",
        "",
        "Every finding code triage can report (`findings[].code` in the JSON report), generated from",
        "`perfbook/codes.py` and the rules by `python -m perfbook.codes_docs`. The level is the default: a code",
        "may go up (or down) a level with its value, as its meaning says. *Judged on* names the probes whose",
        'evidence the code is judged on: when none of them ran, the finding\'s absence means "not measured",',
        'not "healthy". *Fixes* are the `perfbook fix` catalog entries the rules offer in the finding\'s',
        "actions (each also carries its `manual` equivalent); codes without one offer advice only.",
        "",
        "| code | level | issue type | meaning | judged on | fixes |",
        "|---|---|---|---|---|---|",
    ]
    for code, info in CODES.items():
        seeing = ", ".join(f"`{p}`" for p in probes_seeing(code)) or "—"
        offered = ", ".join(f"`{f}`" for f in fixes.get(code, ())) or "—"
        out.append(
            f"| `{code}` | {info.level.value} | `{info.issue_type.value}` | {_cell(info.meaning)} "
            f"| {seeing} | {offered} |"
        )
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Table-cell safe: a ``|`` would end the cell."""
    return text.replace("|", "\\|")


if __name__ == "__main__":
    print(render(), end="")

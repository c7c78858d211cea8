"""The evidence reference (docs/evidence.md), generated from the dataclasses of :mod:`perfbook.evidence`.

Each evidence field is declared once, with its unit in its name and its meaning in the comment
after it (docs/architecture.md); this module turns those declarations into the reference, so the docs cannot
drift from the code. ``python -m perfbook.evidence_docs > docs/evidence.md`` rewrites it; a test
checks it is current and that every field has its meaning.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass

from perfbook.probes import probe_classes


def evidence_modules() -> dict[str, str]:
    """The module holding each probe's evidence dataclasses, from the probe's declared ``evidence``.

    >>> evidence_modules()["postgres"]
    'perfbook.evidence.postgres'
    """
    return {name: cls.evidence.__module__ for name, cls in probe_classes().items()}


@dataclass(frozen=True)
class FieldDoc:
    """One evidence field: its name, its annotation and its meaning (the comment after it)."""

    name: str
    annotation: str
    meaning: str


@dataclass(frozen=True)
class ClassDoc:
    """One evidence dataclass: its name, its docstring's first line and its fields."""

    name: str
    summary: str
    fields: tuple[FieldDoc, ...]


def class_docs(module_name: str) -> list[ClassDoc]:
    """Every ``@dataclass`` defined in ``module_name``, in source order, with its fields' comments."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    lines = source.splitlines()
    out = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef) or not _is_dataclass(node) or node.name.startswith("_"):
            continue
        fields = []
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                comment = _comment(lines[(item.end_lineno or item.lineno) - 1]) or _above(lines, item.lineno)
                fields.append(FieldDoc(item.target.id, ast.unparse(item.annotation), comment))
        summary = (ast.get_docstring(node) or "").strip().splitlines()
        out.append(ClassDoc(node.name, summary[0] if summary else "", tuple(fields)))
    return out


def _is_dataclass(node: ast.ClassDef) -> bool:
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if (isinstance(target, ast.Name) and target.id == "dataclass") or (
            isinstance(target, ast.Attribute) and target.attr == "dataclass"
        ):
            return True
    return False


def _above(lines: list[str], lineno: int) -> str:
    """The ``#:`` comment lines right above a field (a meaning too long for the field's own line), or ""."""
    above: list[str] = []
    row = lineno - 2
    while row >= 0 and lines[row].lstrip().startswith("#:"):
        above.insert(0, lines[row].lstrip()[2:].strip())
        row -= 1
    return " ".join(above)


def _comment(line: str) -> str:
    """The text after the ``#`` of a field's line (outside strings), or ""."""
    in_string: str | None = None
    for i, ch in enumerate(line):
        if in_string:
            if ch == in_string:
                in_string = None
        elif ch in "\"'":
            in_string = ch
        elif ch == "#":
            return line[i + 1 :].strip()
    return ""


def render() -> str:
    """docs/evidence.md: per probe, each evidence class and its fields with unit and meaning."""
    out = [
        "# Evidence reference",
        "",
        "What each probe gathers: `probes.<name>.evidence` in the JSON report, and what `perfbook probe",
        "NAME` shows. Generated from the evidence dataclasses by `python -m perfbook.evidence_docs`;",
        "units are in the field names (`_s`, `_ms`, `_bytes`, `_pct` 0–100, `rate` / `ratio` / `share` 0–1).",
        "",
    ]
    for probe, module in evidence_modules().items():
        out += [f"## {probe}", ""]
        for cls in class_docs(module):
            out += [f"### `{cls.name}`", "", cls.summary, "", "| field | type | meaning |", "|---|---|---|"]
            out += [f"| `{f.name}` | `{_cell(f.annotation)}` | {_cell(f.meaning)} |" for f in cls.fields]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    """Table-cell safe: a ``|`` (as in ``float | None``) would end the cell."""
    return text.replace("|", "\\|")


if __name__ == "__main__":
    print(render(), end="")

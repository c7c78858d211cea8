"""Any probe's evidence as tables (``perfbook probe LAYER``): scalars as a field / value table,
nested records as their own tables, lists of records as rows. Pure builders; nothing is left out
but long lists, which say how many rows they hide ("… N more (see --json)"). Names are never cut
(values wrap instead), and figures carry their unit: from the field's name (``_bytes``, ``_s``,
``_ms``, ``_pct``) or, for a mapping such as ``top_tables_by_size``, from the meaning declared
beside the field (``schema.table -> bytes``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from perfbook.units import format_bytes, format_duration

MAX_ROWS = 20
MAX_ITEMS = 20  # of a mapping shown in one cell


def build_evidence(data: Any, title: str = "evidence") -> RenderableType:
    """Tables for one evidence dataclass (and, recursively, the records inside it)."""
    scalars, nested = Table(title=title, title_justify="left", show_edge=False), []
    scalars.add_column("field", no_wrap=True)
    scalars.add_column("value", overflow="fold")
    units = _declared_units(type(data))
    for name, value in _items(data):
        if _is_record(value):
            nested.append(build_evidence(value, f"{title}.{name}"))
        elif isinstance(value, list) and value and all(_is_record(v) for v in value):
            nested.append(_rows(value, f"{title}.{name}"))
        else:
            scalars.add_row(name, Text(_cell(value, name, units.get(name, ""))))
    return Group(scalars, *nested)


def _rows(records: list[Any], title: str) -> RenderableType:
    return _Records(records, title)


class _Records:
    """A list of records: one row each when the columns fit the terminal, else one field / value
    block each (so no column is squeezed until its name is unreadable)."""

    def __init__(self, records: list[Any], title: str) -> None:
        self.records, self.title = records, title
        self.columns = [
            name
            for name, value in _items(records[0])
            if not _is_record(value) and not isinstance(value, list)
        ]
        self.units = _declared_units(type(records[0]))
        self.shown = records[:MAX_ROWS]
        self.more = len(records) - len(self.shown)

    def _cells(self, record: Any) -> list[str]:
        values = dict(_items(record))
        return [_cell(values.get(col), col, self.units.get(col, "")) for col in self.columns]

    def __rich_console__(self, console: Any, options: Any) -> Any:
        rows = [self._cells(r) for r in self.shown]
        natural = sum(
            max(len(col), *(max(map(len, row[i].splitlines() or [""])) for row in rows)) + 3
            for i, col in enumerate(self.columns)
        )
        more = f" (first {MAX_ROWS} of {len(self.records)})" if self.more else ""
        caption = f"… {self.more} more (see --json)" if self.more else None
        if natural <= options.max_width:
            table = Table(
                title=self.title + more,
                title_justify="left",
                show_edge=False,
                caption=caption,
                caption_justify="left",
            )
            for col in self.columns:
                table.add_column(col, overflow="fold")
            for row in rows:
                table.add_row(*(Text(c) for c in row))
            yield table
            return
        for i, row in enumerate(rows):
            table = Table(
                title=f"{self.title}[{i}]" + (more if i == 0 else ""), title_justify="left", show_edge=False
            )
            table.add_column("field", no_wrap=True)
            table.add_column("value", overflow="fold")
            for col, cell in zip(self.columns, row, strict=True):
                table.add_row(col, Text(cell))
            yield table
        if caption:
            yield Text(caption)


def _declared_units(cls: type) -> dict[str, str]:
    """``{"top_tables_by_size": "bytes"}``: fields whose declared meaning says their figures are bytes."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return _module_units(cls.__module__).get(cls.__name__, {})


@functools.cache
def _module_units(module_name: str) -> dict[str, dict[str, str]]:
    """Per evidence class of ``module_name``: its fields whose meaning says bytes (read once)."""
    from perfbook.evidence_docs import class_docs

    try:
        docs = class_docs(module_name)
    except (OSError, TypeError):  # no source (a frozen build): the names' units still apply
        return {}
    return {
        c.name: {
            f.name: "bytes" for f in c.fields if re.search(r"-> bytes\b|\bin bytes\b|^bytes\b", f.meaning)
        }
        for c in docs
    }


def _items(record: Any) -> list[tuple[str, Any]]:
    if dataclasses.is_dataclass(record):
        return [(f.name, getattr(record, f.name)) for f in dataclasses.fields(record)]
    return list(record.items()) if isinstance(record, dict) else []


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _cell(value: Any, name: str = "", unit: str = "") -> str:
    """A value as a person reads it: ``*_bytes`` (or a ``bytes`` ``unit``) in KiB / MiB / GiB,
    ``*_s`` / ``*_ms`` as durations, ``*_pct`` with %, mappings one item a line, nothing cut.

    >>> _cell(0.123456789), _cell(None), _cell([1, 2]), _cell({"a": 1}), _cell(3 * 1024**3, "rss_bytes")
    ('0.1235', '-', '1, 2', 'a = 1', '3.0 GiB')
    >>> _cell({"public.users": 45899776}, "top_tables_by_size", "bytes"), _cell(0.25, "p95_s"), _cell(41.0, "cpu_pct")
    ('public.users = 43.8 MiB', '250.0 ms', '41.0 %')
    """
    if value is None:
        return "-"
    if value == [] or value == {}:
        return "(none)"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and (name.endswith("_bytes") or unit == "bytes"):
        return format_bytes(value)
    if number and name.endswith(("_ms", "_s")):
        seconds = value / 1000 if name.endswith("_ms") else value
        return ("0 ms" if name.endswith("_ms") else "0 s") if seconds == 0 else format_duration(seconds)
    if number and name.endswith("_pct"):
        return f"{value:.1f} %"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        items = [
            f"{k} = {_cell(v, name if name.endswith('_bytes') else '', unit)}"
            for k, v in list(value.items())[:MAX_ITEMS]
        ]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more (see --json)")
        return "\n".join(items)
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return _setting(str(value))


_SIZE_SETTING = re.compile(r"^(\d+)(kB|MB|GB|TB)$")
_SIZE_SCALE = {"kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _setting(text: str) -> str:
    """A PostgreSQL size setting in the unit a person reads, its own form beside it.

    >>> _setting("5242888kB"), _setting("128MB"), _setting("on")
    ('5.0 GiB (5242888kB)', '128.0 MiB (128MB)', 'on')
    """
    m = _SIZE_SETTING.match(text)
    return f"{format_bytes(int(m.group(1)) * _SIZE_SCALE[m.group(2)])} ({text})" if m else text

"""Any probe's evidence as tables (``perfbook probe LAYER``): scalars as a field / value table,
nested records as their own tables, lists of records as rows. Pure builders; nothing is left out
but long lists, which say how many rows they hide.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from perfbook.units import format_bytes

MAX_ROWS = 20
MAX_TEXT = 90


def build_evidence(data: Any, title: str = "evidence") -> RenderableType:
    """Tables for one evidence dataclass (and, recursively, the records inside it)."""
    scalars, nested = Table(title=title, title_justify="left", show_edge=False), []
    scalars.add_column("field")
    scalars.add_column("value")
    for name, value in _items(data):
        if _is_record(value):
            nested.append(build_evidence(value, f"{title}.{name}"))
        elif isinstance(value, list) and value and all(_is_record(v) for v in value):
            nested.append(_rows(value, f"{title}.{name}"))
        else:
            scalars.add_row(name, Text(_cell(value, name)))
    return Group(scalars, *nested)


def _rows(records: list[Any], title: str) -> Table:
    columns = [name for name, value in _items(records[0]) if not _is_record(value) and not isinstance(value, list)]
    shown = records[:MAX_ROWS]
    more = f" (first {MAX_ROWS} of {len(records)})" if len(records) > MAX_ROWS else ""
    table = Table(title=title + more, title_justify="left", show_edge=False)
    for col in columns:
        table.add_column(col)
    for record in shown:
        values = dict(_items(record))
        table.add_row(*(Text(_cell(values.get(col), col)) for col in columns))
    return table


def _items(record: Any) -> list[tuple[str, Any]]:
    if dataclasses.is_dataclass(record):
        return [(f.name, getattr(record, f.name)) for f in dataclasses.fields(record)]
    return list(record.items()) if isinstance(record, dict) else []


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _cell(value: Any, name: str = "") -> str:
    """A value as one short line (``*_bytes`` fields in KiB / MiB / GiB).

    >>> _cell(0.123456789), _cell(None), _cell([1, 2]), _cell({"a": 1}), _cell(3 * 1024**3, "rss_bytes")
    ('0.1235', '-', '1, 2', 'a=1', '3.0 GiB')
    """
    if value is None:
        return "-"
    if name.endswith("_bytes") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_bytes(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_cell(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

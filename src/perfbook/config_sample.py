"""The commented sample ``perfbook.toml`` that ``perfbook config init`` writes, built from the config model.

Every key's comment is its field description, declared once in ``config.py``. Pure.
"""

from __future__ import annotations

import json
from typing import Any

from perfbook.config import Config, Endpoint

HEADER = """# perfbook.toml — what perfbook triages, and the limits it judges by.
# Precedence: command line > environment > this file > defaults. Every key can also be set from
# the environment as PERFBOOK_<SECTION>_<KEY>, e.g. PERFBOOK_POSTGRES_DSN (keep secrets there,
# not in this file). Thresholds default to the runbook's KPIs.
"""


def toml_value(value: Any) -> str:
    """A Python value as TOML (strings, numbers, booleans, lists, inline tables).

    >>> toml_value(["/health", "/api"]), toml_value(True), toml_value({"api": "systemctl restart api"})
    ('["/health", "/api"]', 'true', '{ api = "systemctl restart api" }')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Endpoint):
        return toml_value(value.model_dump(exclude_none=True))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def sample_toml(cfg: Config | None = None) -> str:
    """The sample file: every section and key with its description, values from ``cfg`` (or defaults)."""
    cfg = cfg or Config()
    lines = [HEADER]
    for section in Config.model_fields:
        model = getattr(cfg, section)
        lines.append(f"[{section}]")
        for key, info in type(model).model_fields.items():
            if info.description:
                lines.append(f"# {info.description}")
            extra = info.json_schema_extra
            if isinstance(extra, dict) and "sample" in extra and not getattr(model, key):
                lines.append(str(extra["sample"]).rstrip("\n"))  # an array of tables: a commented example
                continue
            lines.append(f"{key} = {toml_value(getattr(model, key))}")
        lines.append("")
    return "\n".join(lines)

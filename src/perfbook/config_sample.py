"""The commented sample ``perfbook.toml`` that ``perfbook config init`` writes, built from the config model.

Every key's comment is its field description, declared once in ``config.py``. Pure.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from perfbook.config import Config

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
    if isinstance(value, BaseModel):
        return toml_value(value.model_dump(exclude_none=True, by_alias=True))
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
        lines += _table(section, getattr(cfg, section))
    return "\n".join(lines)


def _table(name: str, model: BaseModel) -> list[str]:
    """``[name]`` with its keys, then its sub-tables (``[notify.email]``), then its commented example."""
    lines = [f"[{name}]"]
    nested = []
    for key, info in type(model).model_fields.items():
        value = getattr(model, key)
        if isinstance(value, BaseModel):
            nested.append((f"{name}.{key}", value))
            continue
        if info.description:
            lines.append(f"# {info.description}")
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "sample" in extra and not value:
            lines.append(str(extra["sample"]).rstrip("\n"))  # an array of tables: a commented example
            continue
        lines.append(f"{info.alias or key} = {toml_value(value)}")
    lines += [f"# {line}".rstrip() for line in EXAMPLES.get(name, "").splitlines()]
    lines.append("")
    for sub_name, sub in nested:
        lines += _table(sub_name, sub)
    return lines


# Examples shown as comments under their table: the runbook's routing, a status page's components.
EXAMPLES = {
    "notify": """
Example: chat and a JSON web hook for the team, and a customer list that gets only external texts.
The URLs hold tokens: better set them in PERFBOOK_NOTIFY_URLS / PERFBOOK_NOTIFY_EXTERNAL_URLS
(comma-separated) than in this file; perfbook shows them redacted.
urls = ["mmosts://perfbook@chat.example.com/hooktoken", "json://hooks.example.com/perfbook"]
external_urls = ["mailtos://notify:PASSWORD@mail.example.com?to=customers@example.com"]""",
    "notify.email": """
Example, the runbook's routing: detected and resolved go to performance@ with ops@ and dev@ in
copy; updates to performance@ with ops@ only. The password comes from the environment.
smtp_host = "mail.example.com"
smtp_port = 587
starttls = true
user = "perfbook"
password_env = "PERFBOOK_SMTP_PASSWORD"
from = "perfbook@example.com"
to = ["performance@example.com"]
cc = ["ops@example.com", "dev@example.com"]
routes = { update = { cc = ["ops@example.com"] } }""",
    "pgbouncer": """
Example: PgBouncer's admin console (the `pgbouncer` virtual database) on its own port. The user
must be in admin_users (SHOW and the pgbouncer.raise_pool_size fix) or stats_users (SHOW only);
keep a password in PERFBOOK_PGBOUNCER_DSN rather than here. [postgres] dsn may point at PgBouncer
too: perfbook then sets its timeouts per transaction and says a pooler is in the path.
dsn = "postgresql://pgbouncer_stats@localhost:6432/pgbouncer"
""",
    "status": """
Example:
dir = "/var/www/status"
components = [
  { name = "API", endpoints = ["/api/v1/*"], layers = ["backend", "postgres", "redis"] },
  { name = "Web app", layers = ["frontend"] },
  { name = "Realtime", layers = ["websocket"] },
]""",
}

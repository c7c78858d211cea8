"""The fix catalog: every action perfbook can perform, in one explicit list (id -> "module:Class").

Imported lazily, so ``perfbook fix --list`` never imports psycopg, redis-py or the docker SDK.
The ids are the ones triage findings name in their actions (``perfbook.codes.action``).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.base import Fix
from perfbook.importing import import_object

CATALOG: dict[str, str] = {
    "pg.analyze": "perfbook.fix.pg_maintenance:PgAnalyze",
    "pg.vacuum": "perfbook.fix.pg_maintenance:PgVacuum",
    "pg.cancel": "perfbook.fix.pg_sessions:PgCancel",
    "pg.terminate": "perfbook.fix.pg_sessions:PgTerminate",
    "pg.create_index": "perfbook.fix.pg_index:PgCreateIndex",
    "pgbouncer.raise_pool_size": "perfbook.fix.pgbouncer_pool:PgbouncerRaisePoolSize",
    "redis.set_policy": "perfbook.fix.redis_config:RedisSetPolicy",
    "redis.set_maxmemory": "perfbook.fix.redis_config:RedisSetMaxmemory",
    "redis.flush_cache": "perfbook.fix.redis_keys:RedisFlushCache",
    "redis.delete_pattern": "perfbook.fix.redis_keys:RedisDeletePattern",
    "container.restart": "perfbook.fix.containers:ContainerRestart",
    "container.update_limits": "perfbook.fix.containers_limits:ContainerUpdateLimits",
    "engine.prune": "perfbook.fix.containers:EnginePrune",
    "process.restart": "perfbook.fix.process:ProcessRestart",
}


def fix_class(fix_id: str) -> type[Fix]:
    """The class of catalog entry ``fix_id``; UsageError naming --list when there is none."""
    target = CATALOG.get(fix_id)
    if target is None:
        raise UsageError(f"no fix {fix_id!r} in the catalog", hint="see: perfbook fix --list")
    cls: type[Fix] = import_object(target)
    return cls


def make_fix(fix_id: str, params: dict[str, Any]) -> Fix:
    """An instance of ``fix_id`` with ``params`` (snake_case keys) checked and converted."""
    return fix_class(fix_id)(**params)


def manual(fix_id: str) -> dict[str, Any]:
    """Everything ``perfbook fix ID --help`` shows: the summary, what it changes, its parameters, and
    its safety rules (the fix module's own account of what it does differently from the runbook)."""
    cls = fix_class(fix_id)
    module = importlib.import_module(cls.__module__)
    doc = inspect.getdoc(cls) or ""
    summary, _, details = doc.partition("\n\n")
    module_doc = (inspect.getdoc(module) or "").partition("\n\n")[2]
    params = [
        {"flag": p.flag, "kind": p.kind, "required": p.required, "default": p.default, "help": p.help}
        for p in cls.params
    ]
    safety = [
        para.replace("``", "") for para in (details + "\n\n" + module_doc).split("\n\n") if para.strip()
    ]
    return {
        "id": fix_id,
        "layer": cls.layer,
        "summary": summary.replace("\n", " ").replace("``", ""),
        "changes": cls.changes,
        "params": params,
        "safety": safety,
    }


def describe() -> list[dict[str, Any]]:
    """The catalog for ``--list``: id, what it changes, its parameters."""
    rows = []
    for fix_id in CATALOG:
        cls = fix_class(fix_id)
        params = [
            {"flag": p.flag, "kind": p.kind, "required": p.required, "default": p.default, "help": p.help}
            for p in cls.params
        ]
        rows.append({"id": fix_id, "layer": cls.layer, "changes": cls.changes, "params": params})
    return rows

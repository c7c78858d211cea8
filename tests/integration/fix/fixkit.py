"""Helpers for the fix tests: a Config on the private servers and a Runner that plans / applies like --yes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfbook.config import Config
from perfbook.fix.catalog import make_fix
from perfbook.fix.context import FixContext
from perfbook.fix.runner import FixResult, make_plan, perform
from perfbook.store import Store, audit_history


def make_cfg(tmp_path: Path, **sections: Any) -> Config:
    data = {"store": {"url": f"sqlite:///{tmp_path / 'perfbook.db'}"}, "http": {"base_url": ""}, **sections}
    return Config.model_validate(data)


class Runner:
    """Plan and apply a fix like the CLI does with --yes, without verify (fast)."""

    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg, self.store = cfg, store

    def plan(self, fix_id: str, **params: Any):
        with FixContext(self.cfg, os_user="tester") as ctx:
            return make_plan(make_fix(fix_id, params), ctx, self.store)

    def apply(self, fix_id: str, confirm=lambda plan: True, before_apply=None, **params: Any) -> FixResult:
        fix = make_fix(fix_id, params)
        with FixContext(self.cfg, os_user="tester") as ctx:
            plan = make_plan(fix, ctx, self.store)
            if before_apply:
                before_apply(plan)
            return perform(fix, ctx, self.store, plan, confirm=confirm)

    def audit(self, action: str | None = None) -> list[dict]:
        return audit_history(self.store, action=action)


def write_config(tmp_path: Path, **sections: dict[str, Any]) -> Path:
    """A perfbook.toml in ``tmp_path`` with a store there too; returns its path."""
    # no HTTP target: verify must not time whatever happens to listen on localhost:8001
    sections = {
        "store": {"url": f"sqlite:///{tmp_path / 'perfbook.db'}"},
        "http": {"base_url": ""},
        **sections,
    }
    lines = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            lines.append(f"{key} = {_toml(value)}")
    path = tmp_path / "perfbook.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)

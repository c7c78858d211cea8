"""Parameters of fixes: the kebab-case flags triage's actions emit are accepted, converted, checked."""

from __future__ import annotations

import shlex

import pytest

from perfbook.codes import action
from perfbook.errors import UsageError
from perfbook.fix.base import parse_cli_args
from perfbook.fix.catalog import CATALOG, describe, fix_class, make_fix


def _from_command(command: str):
    """Build the fix a triage action's ``command`` names, exactly as the CLI parses it."""
    argv = shlex.split(command)
    assert argv[:2] == ["perfbook", "fix"]
    cls = fix_class(argv[2])
    return cls(**parse_cli_args(cls.params, argv[3:], argv[2]))


@pytest.mark.parametrize(
    ("fix_id", "params", "expected"),
    [
        (
            "pg.create_index",
            {"table": "public.users", "columns": ["email", "name"]},
            {"table": "public.users", "columns": ["email", "name"]},
        ),
        ("pg.vacuum", {"table": "public.users"}, {"table": ["public.users"], "full": False}),
        ("pg.analyze", {"table": "public.users"}, {"table": ["public.users"]}),
        (
            "pg.terminate",
            {"idle_in_transaction": True, "older_than_s": 60.0},
            {"idle_in_transaction": True, "older_than_s": 60.0},
        ),
        ("pg.terminate", {"blocking": True}, {"blocking": True}),
        ("pg.terminate", {"pid": [41, 42]}, {"pid": [41, 42]}),
        ("pg.cancel", {"pid": 41}, {"pid": [41]}),
        ("redis.set_policy", {"policy": "allkeys-lru"}, {"policy": "allkeys-lru"}),
        ("redis.set_maxmemory", {"maxmemory": 104857600}, {"maxmemory": "104857600"}),
        ("redis.flush_cache", {"db": 0}, {"db": 0}),
        ("redis.delete_pattern", {"pattern": "cache:user:*", "db": 0}, {"pattern": "cache:user:*", "db": 0}),
        (
            "container.update_limits",
            {"container": "api", "memory": "768m"},
            {"container": "api", "memory": "768m"},
        ),
        ("container.update_limits", {"container": "api", "cpus": 1.5}, {"cpus": 1.5}),
        ("container.restart", {"container": "api"}, {"container": "api"}),
        ("engine.prune", {}, {}),
        ("process.restart", {"pid": 1234, "name": "backend"}, {"name": "backend", "pid": 1234}),
    ],
)
def test_triage_action_commands_parse(fix_id: str, params: dict, expected: dict) -> None:
    act = action(fix_id, "summary", "manual", **params)
    from_cli = _from_command(act.command)
    from_report = make_fix(fix_id, act.params)
    for key, value in expected.items():
        assert from_cli.values[key] == value
        assert from_report.values[key] == value


def test_unknown_and_missing_parameters_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"unknown parameter --tabel \(allowed: --table"):
        _from_command("perfbook fix pg.vacuum --tabel x")
    with pytest.raises(UsageError, match="pg.create_index needs --columns"):
        make_fix("pg.create_index", {"table": "t"})
    with pytest.raises(UsageError, match="--pid expects comma-separated integers"):
        _from_command("perfbook fix pg.terminate --pid abc")
    with pytest.raises(UsageError, match="--older-than-s needs a value"):
        _from_command("perfbook fix pg.terminate --older-than-s")
    with pytest.raises(UsageError, match="no fix 'pg.vacum'"):
        fix_class("pg.vacum")


def test_inline_values_and_flags() -> None:
    fix = _from_command("perfbook fix pg.terminate --older-than-s=30 --blocking")
    assert fix.values["older_than_s"] == 30.0 and fix.values["blocking"] is True
    older = _from_command("perfbook fix pg.terminate --idle-in-transaction True --older-than-s 60")
    assert older.values["idle_in_transaction"] is True and older.values["older_than_s"] == 60.0


def test_catalog_lists_every_action_with_the_same_shape() -> None:
    rows = describe()
    assert [r["id"] for r in rows] == list(CATALOG)
    for row in rows:
        cls = fix_class(row["id"])
        assert (
            cls.id == row["id"]
            and cls.changes
            and cls.layer in {"postgres", "pgbouncer", "redis", "containers", "process"}
        )
        for method in ("plan", "apply", "verify"):
            assert getattr(cls, method) is not getattr(cls.__mro__[-2], method), f"{cls.id} lacks {method}"

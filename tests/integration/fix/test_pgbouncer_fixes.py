"""pgbouncer.raise_pool_size performed for real on a private PgBouncer, checked on its admin console."""

from __future__ import annotations

import psycopg
import pytest
from fixkit import Runner, make_cfg, write_config


def config_value(bouncer, key: str) -> str:
    with psycopg.connect(bouncer.admin_dsn(), autocommit=True) as admin:
        return {row[0]: row[1] for row in admin.execute("SHOW CONFIG").fetchall()}[key]


@pytest.fixture
def bouncer(pgbouncer):
    return pgbouncer(pool_mode="transaction", default_pool_size="2")


def test_the_dry_run_shows_the_exact_set_and_the_ini_edit_and_changes_nothing(
    perfbook, tmp_path, bouncer
) -> None:
    cfg = write_config(tmp_path, pgbouncer={"dsn": bouncer.admin_dsn()})
    res = perfbook("fix", "pgbouncer.raise_pool_size", "--pool-size", "4", "--config", str(cfg))
    assert res.exit_code == 0, res.stderr
    assert "SET default_pool_size = 4" in res.stdout and "dry run: nothing changed" in res.stdout
    assert "edit pgbouncer.ini (default_pool_size = 4) to keep it" in " ".join(res.stdout.split())
    assert config_value(bouncer, "default_pool_size") == "2"
    hist = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"]
    assert [(e["action"], e["mode"], e["outcome"]) for e in hist] == [
        ("pgbouncer.raise_pool_size", "plan", "planned")
    ]
    assert f"127.0.0.1:{bouncer.port}" in hist[0]["target"]


def test_apply_changes_show_config_and_is_audited_with_before_and_after(
    perfbook, tmp_path, pgbouncer
) -> None:
    bouncer = pgbouncer(pool_mode="transaction", default_pool_size="2", max_db_connections="3")
    cfg = write_config(tmp_path, pgbouncer={"dsn": bouncer.admin_dsn()})
    res = perfbook(
        "fix",
        "pgbouncer.raise_pool_size",
        "--pool-size",
        "4",
        "--max-db-connections",
        "8",
        "--apply",
        "--yes",
        "--no-verify",
        "--config",
        str(cfg),
    )
    assert res.exit_code == 0, res.stderr
    assert (
        config_value(bouncer, "default_pool_size") == "4"
        and config_value(bouncer, "max_db_connections") == "8"
    )
    entry = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"][0]
    assert (entry["mode"], entry["outcome"]) == ("apply", "done")
    assert entry["before"]["default_pool_size"] == "2" and entry["after"]["default_pool_size"] == "4"
    assert entry["plan"]["steps"] == ["SET default_pool_size = 4", "SET max_db_connections = 8"]
    again = perfbook("fix", "pgbouncer.raise_pool_size", "--pool-size", "4", "--config", str(cfg))
    assert again.exit_code == 0 and "nothing to do" in again.stdout  # acts on what is live


def test_lowering_is_refused_and_audited(perfbook, tmp_path, bouncer) -> None:
    cfg = write_config(tmp_path, pgbouncer={"dsn": bouncer.admin_dsn()})
    res = perfbook(
        "fix", "pgbouncer.raise_pool_size", "--pool-size", "1", "--apply", "--yes", "--config", str(cfg)
    )
    assert res.exit_code == 1 and "only raises" in res.stderr and len(res.stderr.strip().splitlines()) <= 2
    assert config_value(bouncer, "default_pool_size") == "2"
    outcomes = [
        e["outcome"] for e in perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"]
    ]
    assert outcomes == ["refused"]
    res = perfbook("fix", "pgbouncer.raise_pool_size", "--max-db-connections", "8", "--config", str(cfg))
    assert res.exit_code == 1 and "max_db_connections 0 -> 8 lowers it" in res.stderr  # 0 is no cap at all


def test_a_pg_fix_through_pgbouncer_says_pgbouncer_refused_it_in_one_line(
    perfbook, tmp_path, bouncer
) -> None:
    cfg = write_config(tmp_path, postgres={"dsn": bouncer.dsn("postgres")})
    res = perfbook("fix", "pg.terminate", "--idle-in-transaction", "--config", str(cfg))
    assert res.exit_code == 1
    assert "PgBouncer" in res.stderr and "unsupported startup parameter: options" in res.stderr
    assert "PostgreSQL itself" in res.stderr and "Traceback" not in res.stderr


def test_a_value_changed_since_the_plan_is_re_read_and_re_planned(tmp_path, store, bouncer) -> None:
    run = Runner(make_cfg(tmp_path, pgbouncer={"dsn": bouncer.admin_dsn()}), store)

    def someone_else_raises_it(plan) -> None:
        assert plan.steps == ["SET default_pool_size = 4"]
        with psycopg.connect(bouncer.admin_dsn(), autocommit=True) as admin:
            admin.execute("SET default_pool_size = 3")

    result = run.apply("pgbouncer.raise_pool_size", before_apply=someone_else_raises_it, pool_size=4)
    assert result.replanned and "default_pool_size: 2 -> 4" in result.replanned
    assert result.plan.affects == [{"setting": "default_pool_size", "old": 3, "new": 4}]
    assert result.outcome.status == "done" and result.outcome.figures["default_pool_size"] == {
        "before": "3",
        "after": "4",
    }
    assert config_value(bouncer, "default_pool_size") == "4"

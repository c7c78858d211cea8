"""perfbook fix history as someone asks "what did we do to prod": a header, a target column, applies
with their reason and ticket, dry runs collapsed, filters — against a real store and two real databases."""

from __future__ import annotations

import psycopg
import pytest
from fixkit import write_config


@pytest.fixture
def two_dbs(tmp_path, pg_server, pg_dsn):
    """Configs for two databases of one server, sharing one store; each with a table to analyze."""
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "hist_b" WITH (FORCE)')
        conn.execute('CREATE DATABASE "hist_b"')
    other = pg_server.dsn("hist_b")
    for dsn in (pg_dsn, other):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int)")
    store = {"url": f"sqlite:///{tmp_path / 'perfbook.db'}"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    yield (
        write_config(tmp_path / "a", store=store, postgres={"dsn": pg_dsn}),
        write_config(tmp_path / "b", store=store, postgres={"dsn": other}),
    )
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "hist_b" WITH (FORCE)')


def test_history_answers_what_was_done_where_and_why(perfbook, two_dbs):
    cfg_a, cfg_b = (str(c) for c in two_dbs)
    wide = {"COLUMNS": "80", "NO_COLOR": "1"}
    for _ in range(2):
        assert perfbook("fix", "pg.analyze", "--table", "public.t", "--config", cfg_a).exit_code == 0
    done = perfbook(
        "fix",
        "pg.analyze",
        "--table",
        "public.t",
        "--apply",
        "--yes",
        "--no-verify",
        "--reason",
        "planner stats stale after the import",
        "--ticket",
        "INC-7",
        "--config",
        cfg_a,
    )
    assert done.exit_code == 0, done.stderr
    assert (
        perfbook(
            "fix", "pg.analyze", "--table", "public.t", "--apply", "--yes", "--no-verify", "--config", cfg_b
        ).exit_code
        == 0
    )

    out = perfbook("fix", "history", "--config", cfg_a, env=wide).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["time", "(UTC)", "who", "action", "outcome", "target"]
    assert max(len(line) for line in lines) <= 80
    applies = [line for line in lines if " pg.analyze " in line]
    assert len(applies) == 2 and all(" done " in line for line in applies)
    # two databases told apart by the target column, newest first
    newest, older = out.split(" pg.analyze ")[1:3]
    assert "/hist_b" in newest and "/hist_b" not in older and "/t" in older
    assert any(line.strip() == "… 2 dry runs (pg.analyze)" for line in lines), out
    assert "reason: planner stats stale after the import; ticket: INC-7" in out

    every = perfbook("fix", "history", "--plans", "--config", cfg_a, env=wide).stdout
    assert every.splitlines()[0].split()[4] == "mode"
    assert sum(" plan " in line for line in every.splitlines()) >= 4  # each apply plans first, too
    assert sum(" apply " in line for line in every.splitlines()) == 2
    only_b = perfbook("fix", "history", "--target", "hist_b", "--config", cfg_a, env=wide).stdout
    assert "INC-7" not in only_b and " done " in only_b
    assert perfbook("fix", "history", "--since", "1h", "--config", cfg_a).stdout.count(" done ") == 2
    assert (
        perfbook("fix", "history", "--since", "2999-01-01", "--config", cfg_a).stdout.strip()
        == "no fixes recorded yet"
    )

    entries = perfbook("fix", "history", "--json", "--config", cfg_a).json["entries"]
    applied = [e for e in entries if e["mode"] == "apply" and e["ticket"]]
    assert applied[0]["reason"] == "planner stats stale after the import" and applied[0]["ticket"] == "INC-7"


def test_history_of_one_incident(perfbook, two_dbs):
    cfg_a, cfg_b = (str(c) for c in two_dbs)
    opened = perfbook("incident", "open", "--title", "agents slow", "--severity", "P2", "--config", cfg_a)
    assert opened.exit_code == 0, opened.stderr
    assert (
        perfbook(
            "fix",
            "pg.analyze",
            "--table",
            "public.t",
            "--apply",
            "--yes",
            "--no-verify",
            "--incident",
            "INC-1",
            "--config",
            cfg_a,
        ).exit_code
        == 0
    )
    assert (
        perfbook(
            "fix", "pg.analyze", "--table", "public.t", "--apply", "--yes", "--no-verify", "--config", cfg_b
        ).exit_code
        == 0
    )
    only = perfbook("fix", "history", "--incident", "INC-1", "--config", cfg_a, env={"COLUMNS": "80"}).stdout
    assert only.count(" pg.analyze ") == 1 and "incident: INC-1" in only and "/hist_b" not in only
    # the incident being worked on (PERFBOOK_INCIDENT) does not filter the history silently
    everything = perfbook("fix", "history", "--config", cfg_a, env={"PERFBOOK_INCIDENT": "INC-1"}).stdout
    assert everything.count(" pg.analyze ") == 2


def test_reason_needs_apply_and_since_needs_a_time(perfbook, two_dbs):
    cfg_a = str(two_dbs[0])
    res = perfbook("fix", "pg.analyze", "--table", "public.t", "--reason", "x", "--config", cfg_a)
    assert res.exit_code == 2 and "--reason and --ticket go with --apply" in res.stderr
    res = perfbook("fix", "history", "--since", "yesterday-ish", "--config", cfg_a)
    assert res.exit_code == 2 and res.stderr.count("\n") <= 2 and "--since expects" in res.stderr

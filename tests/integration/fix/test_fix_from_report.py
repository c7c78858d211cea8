"""The loop the runbook promises: triage finds it, fix --from-report applies it, verify shows it gone."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import psycopg
from fixkit import write_config

from perfbook.config import Config
from perfbook.report.json import report_to_dict
from perfbook.triage import run_triage


def _seqscan_table(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.io' FROM generate_series(1, 20000) g")
        for i in range(15):
            conn.execute("SELECT id FROM users WHERE email = %s", (f"u{i}@x.io",))
    time.sleep(1.1)  # PostgreSQL flushes a backend's table statistics at most once a second


def _traffic(dsn: str, stop: threading.Event) -> None:
    """Look-ups by e-mail, as the app would make them, until told to stop (bounded to 30 s)."""
    deadline = time.monotonic() + 30
    with psycopg.connect(dsn, autocommit=True) as conn:
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            conn.execute("SELECT id FROM users WHERE email = %s", (f"u{i % 20000}@x.io",))
            i += 1
            time.sleep(0.002)


def test_missing_index_fixed_from_the_report_and_gone_after(perfbook, tmp_path, pg_dsn: str) -> None:
    _seqscan_table(pg_dsn)
    report = report_to_dict(
        asyncio.run(
            run_triage(Config.model_validate({"postgres": {"dsn": pg_dsn}}), only=["postgres"], window_s=0.5)
        )
    )
    assert [f["code"] for f in report["findings"]] == ["pg.missing_index"]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    cfg = write_config(tmp_path, postgres={"dsn": pg_dsn})

    dry = perfbook("fix", "--from-report", str(path), "--config", str(cfg))
    assert dry.exit_code == 0, dry.stderr
    assert "# pg.create_index for pg.missing_index:public.users" in dry.stdout
    assert 'CREATE INDEX CONCURRENTLY "users_email_idx" ON "public"."users" ("email")' in dry.stdout

    stop = threading.Event()
    app = threading.Thread(target=_traffic, args=(pg_dsn, stop), daemon=True)
    app.start()
    try:
        res = perfbook(
            "fix",
            "--from-report",
            str(path),
            "--apply",
            "--yes",
            "--window",
            "2s",
            "--json",
            "--config",
            str(cfg),
        )
    finally:
        stop.set()
        app.join()
    assert res.exit_code == 0, res.stderr
    results = res.json["results"]
    index = next(r for r in results if r["action"] == "pg.create_index")
    assert index["outcome"]["status"] == "done"
    assert index["verify"]["findings"] == [
        {"finding": "pg.missing_index:public.users", "before": 1.0, "after": "absent", "limit": 0.9}
    ]
    assert index["verify"]["gone"] is True
    assert next(r for r in results if r["action"] == "pg.analyze")["skipped"] == "already gone"
    history = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"]
    assert [(e["action"], e["outcome"]) for e in history[:3]] == [
        ("pg.analyze", "skipped"),
        ("pg.create_index", "done"),
        ("pg.create_index", "planned"),
    ]
    applied = [e for e in history if e["mode"] == "apply" and e["action"] == "pg.create_index"]
    assert applied and applied[0]["before"]["pg.missing_index:public.users"] == 1.0
    assert applied[0]["after"]["pg.missing_index:public.users"] == "absent"


def _report_of(dsn: str, tmp_path, name: str = "report.json", **extra) -> tuple[dict, object]:
    report = report_to_dict(
        asyncio.run(
            run_triage(
                Config.model_validate({"postgres": {"dsn": dsn}, **extra}),
                only=["postgres", *extra],
                window_s=0.5,
            )
        )
    )
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return report, path


def _relfilenode(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT pg_relation_filenode('users')").fetchone()[0]


def test_a_report_of_another_database_is_refused_with_both_named(
    perfbook, tmp_path, pg_server, pg_dsn
) -> None:
    """#12: a report of the lab, applied with another config, must not create an index elsewhere."""
    _seqscan_table(pg_dsn)
    _, path = _report_of(pg_dsn, tmp_path)
    other = pg_server.dsn("postgres")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text)")
    cfg = write_config(tmp_path, postgres={"dsn": other})
    res = perfbook("fix", "--from-report", str(path), "--apply", "--yes", "--no-verify", "--config", str(cfg))
    assert res.exit_code == 2 and "Traceback" not in res.stderr
    line = res.stderr.splitlines()[0]
    assert line.startswith("error: --from-report refused: postgres: the report was taken against ")
    assert pg_dsn.rsplit("/", 1)[-1] in line and line.endswith(
        other.replace("postgresql://postgres@", "postgresql://postgres@")
    )
    with psycopg.connect(other) as conn:
        # pkey only
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'").fetchone() == (1,)
        conn.execute("DROP TABLE users")
    history = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"]
    assert [(e["action"], e["outcome"]) for e in history] == [("fix.from_report", "refused")]
    assert "another system" in history[0]["summary"]


def test_a_hand_edited_report_cannot_add_an_action_or_a_parameter(perfbook, tmp_path, pg_dsn) -> None:
    """The live finding decides the fix and its parameters; VACUUM FULL never comes from a file alone."""
    _seqscan_table(pg_dsn)
    report, path = _report_of(pg_dsn, tmp_path)
    finding = report["findings"][0]
    finding["actions"][0]["params"]["columns"] = ["id", "email"]  # another parameter
    finding["actions"].append(
        {
            "id": "pg.vacuum",
            "summary": "x",
            "manual": "x",
            "command": "perfbook fix pg.vacuum",
            "params": {"table": "public.users", "full": True},
        }
    )  # another action
    # another finding
    report["findings"].append(
        {
            **finding,
            "code": "pg.dead_tuples",
            "subject": "public.users",
            "actions": [
                {
                    "id": "pg.vacuum",
                    "summary": "x",
                    "manual": "x",
                    "command": "x",
                    "params": {"table": "public.users", "full": True, "lock_timeout_ms": 5},
                }
            ],
        }
    )
    path.write_text(json.dumps(report))
    before = _relfilenode(pg_dsn)
    cfg = write_config(tmp_path, postgres={"dsn": pg_dsn})
    res = perfbook(
        "fix", "--from-report", str(path), "--apply", "--yes", "--no-verify", "--json", "--config", str(cfg)
    )
    assert res.exit_code == 0, res.stderr
    results = res.json["results"]
    index = next(r for r in results if r["action"] == "pg.create_index" and "plan" in r)
    # live params
    assert index["plan"]["params"]["columns"] == ["email"] and index["outcome"]["status"] == "done"
    skipped = {(r["action"], r["skipped"]) for r in results if r.get("skipped")}
    assert skipped >= {
        (
            "pg.create_index",
            "the report's parameters are not what the live finding recommends: the live ones are used",
        ),
        (
            "pg.vacuum",
            "the report's parameters are not what the live finding recommends: the live ones are used",
        ),
        ("pg.vacuum", "not present now"),
    }
    assert not [r for r in results if r["action"] == "pg.vacuum" and "plan" in r]
    assert _relfilenode(pg_dsn) == before, "VACUUM FULL rewrote the table"


def test_a_finding_gone_since_the_report_is_skipped_and_audited(perfbook, tmp_path, pg_dsn) -> None:
    _seqscan_table(pg_dsn)
    _, path = _report_of(pg_dsn, tmp_path)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # fixed by hand meanwhile
        conn.execute("CREATE INDEX ON users (email)")
        conn.execute("SELECT pg_stat_reset()")
    cfg = write_config(tmp_path, postgres={"dsn": pg_dsn})
    res = perfbook("fix", "--from-report", str(path), "--apply", "--yes", "--no-verify", "--config", str(cfg))
    assert res.exit_code == 0, res.stderr
    assert "skipped pg.create_index for pg.missing_index:public.users: not present now" in res.stdout
    assert "nothing to fix now" in res.stdout
    history = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"]
    assert ("pg.create_index", "skipped") in [(e["action"], e["outcome"]) for e in history]
    assert not [e for e in history if e["mode"] == "apply"]


def test_a_hand_made_flush_or_delete_never_runs(perfbook, tmp_path, pg_dsn, redis_url) -> None:
    """A redis.delete_pattern '*' written into a report of an empty-looking Redis deletes nothing."""
    import redis as redis_py

    from perfbook.fix.context import url_with_db

    other = redis_py.Redis.from_url(url_with_db(redis_url, 2))
    other.mset({f"k{i}": i for i in range(200)})
    report, path = _report_of(pg_dsn, tmp_path, redis={"url": redis_url, "queue_db": 5})
    act = {"summary": "x", "manual": "x", "command": "perfbook fix x"}  # a valid action, by the contract
    report["findings"].append(
        {
            "code": "redis.big_keys",
            "level": "info",
            "issue_type": "cache",
            "subject": "db 2",
            "title": "big",
            "evidence": {},
            "value": None,
            "threshold": None,
            "unit": None,
            "low_confidence": False,
            "actions": [
                {**act, "id": "redis.delete_pattern", "params": {"pattern": "*", "db": 2}},
                {**act, "id": "redis.flush_cache", "params": {"db": 2}},
            ],
        }
    )
    path.write_text(json.dumps(report))
    cfg = write_config(tmp_path, postgres={"dsn": pg_dsn}, redis={"url": redis_url, "queue_db": 5})
    res = perfbook(
        "fix", "--from-report", str(path), "--apply", "--yes", "--no-verify", "--json", "--config", str(cfg)
    )
    assert res.exit_code == 0, res.stderr
    assert {r["action"]: r["skipped"] for r in res.json["results"] if r.get("skipped")} == {
        "redis.delete_pattern": "not present now",
        "redis.flush_cache": "not present now",
    }
    assert other.dbsize() == 200
    other.close()

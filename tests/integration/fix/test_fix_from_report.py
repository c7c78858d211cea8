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
    report = report_to_dict(asyncio.run(run_triage(Config.model_validate({"postgres": {"dsn": pg_dsn}}),
                                                   only=["postgres"], window_s=0.5)))
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
        res = perfbook("fix", "--from-report", str(path), "--apply", "--yes", "--window", "2s", "--json",
                       "--config", str(cfg))
    finally:
        stop.set()
        app.join()
    assert res.exit_code == 0, res.stderr
    results = res.json["results"]
    index = next(r for r in results if r["action"] == "pg.create_index")
    assert index["outcome"]["status"] == "done"
    assert index["verify"]["findings"] == [
        {"finding": "pg.missing_index:public.users", "before": 1.0, "after": "absent", "limit": 0.9}]
    assert index["verify"]["gone"] is True
    assert next(r for r in results if r["action"] == "pg.analyze")["skipped"] == "already gone"
    history = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"]
    assert [(e["action"], e["outcome"]) for e in history[:3]] == [
        ("pg.analyze", "skipped"), ("pg.create_index", "done"), ("pg.create_index", "planned")]
    applied = [e for e in history if e["mode"] == "apply" and e["action"] == "pg.create_index"]
    assert applied and applied[0]["before"]["pg.missing_index:public.users"] == 1.0
    assert applied[0]["after"]["pg.missing_index:public.users"] == "absent"

"""``fix --from-report`` with reports that lie: another system's, hand-edited, malformed (#12)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
import redis

from hostile import perfbook


def _config(tmp_path: Path, **sections: dict) -> Path:
    lines = [f'[store]\nurl = "sqlite:///{tmp_path}/audit.db"', '[http]\nbase_url = ""']
    for name, table in sections.items():
        lines.append(f"[{name}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items()))
    path = tmp_path / "perfbook.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _seqscan(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.io' FROM generate_series(1, 20000) g")
        for i in range(15):
            conn.execute("SELECT id FROM users WHERE email = %s", (f"u{i}@x.io",))
    time.sleep(1.1)  # table statistics are flushed at most once a second


def _report(cfg: Path, tmp_path: Path, name: str = "report.json", only: str = "postgres") -> Path:
    run = perfbook(
        "triage", "--config", str(cfg), "--only", only, "--window", "0.5s", "--json", "--fail-on", "never"
    )
    assert run.code == 0, run.stderr
    path = tmp_path / name
    path.write_text(run.stdout)
    return path


def _indexes(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'").fetchone()[0]


def _filenode(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT pg_relation_filenode('users')").fetchone()[0]


def test_a_report_of_another_database_is_refused(attempt, tmp_path, pg_server, pg_dsn):
    _seqscan(pg_dsn)
    report = _report(_config(tmp_path, postgres={"dsn": pg_dsn}), tmp_path)
    other = pg_server.dsn("postgres")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS users")
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
    try:
        cfg = _config(tmp_path, postgres={"dsn": other})
        run = perfbook(
            "fix", "--from-report", str(report), "--apply", "--yes", "--no-verify", "--config", str(cfg)
        )
        attempt.check(
            run,
            codes={2},
            error=True,
            protect=[lambda: None if _indexes(other) == 1 else "an index was created on the other database"],
        )
    finally:
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS users")


def _edited(report: Path, edit) -> Path:
    doc = json.loads(report.read_text())
    edit(doc)
    report.write_text(json.dumps(doc))
    return report


def _action(fix_id: str, **params) -> dict:
    return {
        "id": fix_id,
        "summary": "x",
        "manual": "x",
        "command": f"perfbook fix {fix_id}",
        "params": params,
    }


def test_a_hand_added_vacuum_full_never_runs(attempt, tmp_path, pg_dsn):
    _seqscan(pg_dsn)
    cfg = _config(tmp_path, postgres={"dsn": pg_dsn})

    def edit(doc):
        doc["findings"][0]["actions"].append(_action("pg.vacuum", table="public.users", full=True))
        doc["findings"].append(
            {
                **doc["findings"][0],
                "code": "pg.dead_tuples",
                "actions": [_action("pg.vacuum", table="public.users", full=True, lock_timeout_ms=9)],
            }
        )

    report = _edited(_report(cfg, tmp_path), edit)
    before = _filenode(pg_dsn)
    run = perfbook(
        "fix", "--from-report", str(report), "--apply", "--yes", "--no-verify", "--config", str(cfg)
    )
    attempt.check(
        run, codes={0}, protect=[lambda: None if _filenode(pg_dsn) == before else "VACUUM FULL rewrote users"]
    )


def test_a_hand_changed_index_parameter_is_not_used(attempt, tmp_path, pg_dsn):
    _seqscan(pg_dsn)
    cfg = _config(tmp_path, postgres={"dsn": pg_dsn})
    report = _edited(
        _report(cfg, tmp_path),
        lambda doc: doc["findings"][0]["actions"][0]["params"].update(columns=["id", "email"]),
    )
    run = perfbook(
        "fix", "--from-report", str(report), "--apply", "--yes", "--no-verify", "--config", str(cfg)
    )

    def no_index_on_id_email() -> str | None:
        with psycopg.connect(pg_dsn) as conn:
            defs = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'users'")]
        return "an index from the file's parameters" if any("(id, email)" in d for d in defs) else None

    attempt.check(run, codes={0}, protect=[no_index_on_id_email])


@pytest.fixture
def db2(redis_url: str):
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/2")
    client.mset({f"k{i}": i for i in range(200)})
    yield client
    client.flushdb()
    client.close()


@pytest.mark.parametrize(
    "fix_id, params",
    [
        ("redis.delete_pattern", {"pattern": "*", "db": 2}),
        ("redis.flush_cache", {"db": 2}),
        ("redis.delete_pattern", {"pattern": "k*", "db": 2}),
    ],
)
def test_a_hand_made_delete_or_flush_never_runs(attempt, tmp_path, pg_dsn, redis_url, db2, fix_id, params):
    cfg = _config(tmp_path, postgres={"dsn": pg_dsn}, redis={"url": redis_url, "cache_db": 2, "queue_db": 5})
    report = _report(cfg, tmp_path, only="postgres,redis")
    _edited(
        report,
        lambda doc: doc["findings"].append(
            {
                "code": "redis.big_keys",
                "level": "info",
                "issue_type": "cache",
                "subject": "db 2",
                "title": "big",
                "value": None,
                "threshold": None,
                "unit": None,
                "low_confidence": False,
                "evidence": {},
                "actions": [_action(fix_id, **params)],
            }
        ),
    )
    run = perfbook(
        "fix", "--from-report", str(report), "--apply", "--yes", "--no-verify", "--config", str(cfg)
    )
    attempt.check(
        run,
        codes={0},
        protect=[lambda: None if db2.dbsize() == 200 else f"{200 - db2.dbsize()} keys deleted"],
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json {",
        "[1, 2]",
        '{"findings": {"a": 1}}',
        '{"findings": [1, "x"]}',
        '{"findings": [{"code": "pg.x", "actions": "pg.vacuum"}], "target": {}}',
        '{"findings": [{"code": "pg.x", "actions": [{"id": "pg.vacuum", "command": "x",'
        ' "params": "FULL"}]}], "target": {"postgres": 3}}',
    ],
)
def test_a_malformed_report_is_one_line(attempt, tmp_path, pg_dsn, text):
    report = tmp_path / "report.json"
    report.write_text(text)
    cfg = _config(tmp_path, postgres={"dsn": pg_dsn})
    run = perfbook(
        "fix", "--from-report", str(report), "--apply", "--yes", "--no-verify", "--config", str(cfg)
    )
    attempt.check(run, codes={2}, error=True)

"""Config that means nothing, and verdicts that must not hide trouble (#12)."""

from __future__ import annotations

import time

import psycopg
import pytest
from servers import Hostile

from hostile import perfbook

BAD = {
    "base_url without a scheme": '[http]\nbase_url = "localhost:8001"',
    "base_url ftp": '[http]\nbase_url = "ftp://127.0.0.1/"',
    "websocket url http": '[websocket]\nurl = "http://127.0.0.1:1/ws"',
    "severity bands out of order": "[thresholds]\nseverity_p0_s = 0.5",
    "p95 infinite": "[thresholds]\np95_s = inf",
    "redis db out of range": '[redis]\nurl = "redis://127.0.0.1:6379/99"',
    "endpoint without a slash": '[http]\nendpoints = ["api/v1/users"]',
    "dsn that is no dsn": '[postgres]\ndsn = "localhost:5432/app"',
}


@pytest.mark.parametrize("case", list(BAD))
def test_meaningless_config_is_exit_2_before_any_probe(attempt, tmp_path, case):
    path = tmp_path / "perfbook.toml"
    path.write_text(BAD[case] + "\n")
    run = perfbook("triage", "--config", str(path), "--window", "0.2s", "--json")
    attempt.check(run, codes={2}, error=True)


def test_a_misspelt_variable_is_named(attempt):
    run = perfbook("triage", "--only", "postgres", "--window", "0.2s", env={"PERFBOOK_POSTGRES_DSNN": "x"})
    attempt.check(
        run,
        codes={2},
        error=True,
        verify=[lambda: None if "PERFBOOK_POSTGRES_DSN" in run.stderr.replace("DSNN", "") else "no hint"],
    )


@pytest.mark.parametrize("url", ["not a url", "localhost:1", "ftp://x/"])
def test_a_bad_url_flag(attempt, url):
    run = perfbook("triage", "--url", url, "--only", "http", "--window", "0.2s")
    attempt.check(run, codes={2}, error=True)


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/"])
def test_a_bad_load_url(attempt, url):
    run = perfbook("load", url, "-n", "1")
    attempt.check(run, codes={2}, error=True)


@pytest.fixture
def blocked(pg_dsn: str):
    """A lock holder and a session waiting behind it: pg.blocked_queries, critical."""
    holder = psycopg.connect(pg_dsn)
    holder.execute("CREATE TABLE IF NOT EXISTS t (i int)")
    holder.commit()
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    waiter = psycopg.connect(pg_dsn, autocommit=True)
    import threading

    thread = threading.Thread(target=lambda: _quietly(waiter, "SELECT count(*) FROM t"), daemon=True)
    thread.start()
    time.sleep(0.5)
    yield pg_dsn
    holder.rollback()
    holder.close()
    thread.join(5)
    waiter.close()


def _quietly(conn, sql: str) -> None:
    try:
        conn.execute(sql)
    except psycopg.Error:
        pass


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_critical_finding_is_never_a_green_ok(attempt, tmp_path, blocked, output):
    with Hostile("ok") as srv:
        path = tmp_path / "perfbook.toml"
        path.write_text(
            f'[http]\nbase_url = "{srv.url}"\nendpoints = ["/health"]\n[frontend]\nurl = ""\n'
            f'[postgres]\ndsn = "{blocked}"\n'
        )
        run = perfbook(
            "triage",
            "--config",
            str(path),
            "--only",
            "http,postgres",
            "--window",
            "0.5s",
            *(["--json"] if output == "json" else []),
            env={"COLUMNS": "200"},
        )
    verify = [lambda: None if "pg.blocked_queries" in run.stdout else "the blocked queries were not found"]
    if output == "text":
        verify.append(
            lambda: None if "but 1 critical finding" in run.stdout else "the banner says OK, no caveat"
        )
    attempt.check(run, codes={3}, verify=verify)

"""``perfbook watch`` against a real HTTP app on 127.0.0.1: runs stored, alerts fire and resolve, e-mail once."""

from __future__ import annotations

import re
import time

from probes.servers import AppServer, Route
from sqlalchemy import select

from perfbook.store import alert_states, kpi_aggregates, kpi_samples, watch_runs
from receivers import smtp_inbox
from watch.watch_kit import RECIPIENT, SLOW_RULE, lines, store_of, write_config


def _rows(store, table):
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(table))])


def test_a_slow_endpoint_fires_once_survives_a_restart_and_resolves(perfbook, tmp_path):
    with smtp_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=SLOW_RULE)
        started = time.monotonic()
        first = perfbook(
            "watch",
            "--config",
            str(cfg),
            "--interval",
            "1s",
            "--window",
            "0.4s",
            "--duration",
            "6s",
            "--json",
        )
        elapsed_s = time.monotonic() - started
        assert first.exit_code == 0, first.stderr
        docs = lines(first.stdout)
        runs = [d for d in docs if d["type"] == "run"]
        assert 3 <= len(runs) <= 6 and elapsed_s < 15
        moves = [
            (d["old"], d["new"])
            for d in docs
            if d["type"] == "transition" and (d["rule"], d["subject"]) == ("HighResponseTime", "/api/v1/slow")
        ]
        assert moves[:2] == [("inactive", "pending"), ("pending", "firing")]
        assert runs[0]["skipped_probes"] == [] and runs[1]["skipped_probes"] == [
            "containers",
            "postgres",
            "process",
        ]
        assert len(inbox.mails) == 1
        rcpt, mail = inbox.mails[0]
        assert rcpt == [RECIPIENT] and "FIRING: HighResponseTime on /api/v1/slow" in mail["Subject"]
        body = mail.get_content()
        assert "Threshold:  0.50 s" in body and "perfbook triage --config" in body
        value = re.search(r"Value:\s+([0-9.]+)", body)
        assert value and 1.0 <= float(value.group(1)) < 3.0, body  # a 1 s route; a busy machine adds to it

        store = store_of(tmp_path)
        try:
            assert len(_rows(store, watch_runs)) == len(runs)
            samples = [r for r in _rows(store, kpi_samples) if r["kpi"] == "p95_s"]
            # the stack's, for the dashboard
            assert len([r for r in samples if r["subject"] == ""]) == len(runs)
            slow = [r["value"] for r in samples if r["subject"] == "/api/v1/slow"]
            assert len(slow) == len(runs) and min(slow) > 0.5
            assert any(
                a["kpi"] == "p95_s" and a["subject"] == "" and a["samples"] >= 1
                for a in _rows(store, kpi_aggregates)
            )
            (state,) = [s for s in _rows(store, alert_states) if s["rule"] == "HighResponseTime"]
            assert (
                state["state"] == "firing" and state["subject"] == "/api/v1/slow" and state["last_notified_s"]
            )
        finally:
            store.close()

        again = perfbook(
            "watch",
            "--config",
            str(cfg),
            "--interval",
            "1s",
            "--window",
            "0.4s",
            "--duration",
            "2s",
            "--json",
        )
        assert again.exit_code == 0 and len(inbox.mails) == 1  # resumed from the store: no second firing mail
        assert all(
            a["state"] == "firing"
            for d in lines(again.stdout)
            if d["type"] == "run"
            for a in d["alerts"]
            if a["rule"] == "HighResponseTime"
        )

        app.routes["/api/v1/slow"] = Route(delay_s=0.0)  # the fault is off
        last = perfbook("watch", "--config", str(cfg), "--once", "--json")
        assert last.exit_code == 0
        assert ("firing", "resolved") in [
            (d["old"], d["new"]) for d in lines(last.stdout) if d["type"] == "transition"
        ]
    assert len(inbox.mails) == 2
    assert "RESOLVED: HighResponseTime on /api/v1/slow" in inbox.mails[1][1]["Subject"]


def test_without_a_terminal_each_run_is_one_line(perfbook, tmp_path):
    with AppServer() as app:
        cfg = write_config(tmp_path, app.url)
        result = perfbook("watch", "--config", str(cfg), "--once")
    assert result.exit_code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ severity OK \(\d+\.\d\d s\): .+", line), line


def test_bad_flags_are_one_line_and_exit_2(perfbook, tmp_path):
    cfg = write_config(tmp_path, "http://127.0.0.1:9")
    for args, text in (
        (["--interval", "soon"], "--interval: not a duration"),
        (["--duration", "0s"], "--duration must be more than 0"),
        (["--metrics-listen", "nowhere"], "--metrics-listen takes HOST:PORT"),
    ):
        result = perfbook("watch", "--config", str(cfg), "--once", *args)
        assert result.exit_code == 2 and result.stderr.startswith(f"error: {text}"), result.stderr
        assert "Traceback" not in result.stderr


def test_an_unreachable_backend_is_a_state_of_the_watch(perfbook, tmp_path):
    cfg = write_config(tmp_path, "http://127.0.0.1:9")  # nothing listens on the discard port
    result = perfbook(
        "watch", "--config", str(cfg), "--interval", "1s", "--window", "0.4s", "--duration", "2s", "--json"
    )
    assert result.exit_code == 0, result.stderr
    runs = [d for d in lines(result.stdout) if d["type"] == "run"]
    assert len(runs) >= 2 and all(r["probes"]["http"]["status"] == "unavailable" for r in runs)
    assert any(a["rule"] == "BackendUnreachable" for a in runs[-1]["alerts"])

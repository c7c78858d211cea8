"""``perfbook load --rate`` keeps its promise or says so: against a 50 ms service on 127.0.0.1, the
default --max-connections holds 500 rps within -d plus the drain; 5 connections cannot (at most
100 rps), and the run says the rate was missed, names the limit and exits 3."""

from __future__ import annotations

import re
import time

from load_servers import LocalServer, ServerConfig

DURATION_S = 4.0
DRAIN_S = 10.0  # --timeout's default: what requests in flight get after the schedule


def test_500_rps_against_a_50_ms_service_is_kept_with_the_default_connections(perfbook):
    with LocalServer(ServerConfig(delay_s=0.05)) as srv:
        started = time.monotonic()
        res = perfbook("load", srv.url + "/health", "--rate", "500", "-d", "4s", "--json")
        took_s = time.monotonic() - started
    assert res.exit_code == 0, res.stderr
    doc = res.json
    rate = doc["rate"]
    assert rate["kept"] and rate["limit"] is None and doc["failed"] is None
    assert rate["scheduled"] == 2000 and rate["sent"] >= 1980 and rate["achieved_rps"] >= 475
    assert doc["responses"] >= 1980 and doc["status_codes"] == {"200": doc["responses"]}
    assert doc["rps"] >= 450  # responses over the whole run, drain included
    # ~25 connections busy at 500 rps × 50 ms: opened as needed, far under the default 1000
    assert 20 <= rate["peak_connections"] < 1000 and rate["max_connections"] == 1000
    assert rate["drain_s"] == DRAIN_S and doc["duration_s"] <= DURATION_S + 1.0  # 50 ms answers drain at once
    assert took_s < DURATION_S + DRAIN_S
    assert doc["latency"]["p50_s"] < 0.2  # from the intended send times: nothing queued


def test_too_few_connections_miss_the_rate_say_which_limit_and_exit_3(perfbook):
    with LocalServer(ServerConfig(delay_s=0.05)) as srv:
        started = time.monotonic()
        res = perfbook("load", srv.url + "/health", "--rate", "500", "-d", "4s", "--max-connections", "5")
        took_s = time.monotonic() - started
        as_json = perfbook(
            "load", srv.url + "/health", "--rate", "500", "-d", "2s", "--max-connections", "5", "--json"
        )
    assert res.exit_code == 3 and as_json.exit_code == 3
    out = " ".join(res.stdout.split())
    achieved = re.search(r"rate MISSED: target 500 rps, achieved (\d+) rps", out)
    assert achieved and int(achieved.group(1)) < 150  # 5 connections × 20 rps each
    assert "limit: --max-connections — " in out and "requests waited for a free connection" in out
    assert "load: rate missed: target 500 rps" in res.stderr and "--max-connections 5 reached" in res.stderr
    assert took_s < DURATION_S + DRAIN_S + 2  # the schedule, the drain, and start-up
    rate = as_json.json["rate"]
    assert not rate["kept"] and rate["limit"] == "--max-connections" and rate["peak_connections"] == 5
    assert rate["achieved_rps"] < 150 and rate["not_sent"] > 700 and rate["waited"] > 700
    assert as_json.json["failed"] == rate["reason"] and as_json.json["duration_s"] <= 2.0 + 1.0

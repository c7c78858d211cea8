"""A Flask service instrumented by prometheus-flask-exporter (PyPI) over a real private PostgreSQL
whose ``orders.customer_email`` has no index, configured the way a user would:
``endpoints = ["/api/orders?email=…", "/api/orders/42", "/api/report"]``.

What triage said wrong before: the same route twice (``/api/orders`` from the metrics and
``/api/orders?email=…`` from perfbook's requests) with a contradicting cause; 5xx on
``/api/report`` (which never touches the database) joined at 30 % to the database's buffer cache
hit ratio; ``docker logs … codexos-backend`` on a stack with no Docker. What stays right: the
slow route is joined to the missing index.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from perfbook import services

from .apps import flask_orders, seed_orders, traffic
from .conftest import start, write_config

EMAIL = "/api/orders?email=customer7@example.com"


@pytest.fixture(scope="module")
def shop_dsn() -> Iterator[str]:
    """A private PostgreSQL with a small buffer cache (16 MB, so sequential scans of the 60 MB table
    read from outside it) and the seeded ``shop`` database."""
    import psycopg

    try:
        server = services.start_postgres(settings={"shared_buffers": "16MB"})
    except services.ServiceUnavailable as err:
        if services.require_services():
            pytest.fail(f"required service could not start: {err}")
        pytest.skip(f"service not available here: {err}")
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE shop")
        dsn = server.dsn("shop")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        seed_orders(dsn)
        yield dsn
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shop(shop_dsn: str) -> Iterator[str]:
    yield from start(flask_orders(shop_dsn))


def triage_shop(perfbook, tmp_path, base: str, dsn: str):
    cfg = write_config(
        tmp_path,
        f"""
[http]
base_url = "{base}"
endpoints = ["{EMAIL}", "/api/orders/42", "/api/report"]
min_window_requests = 5

[frontend]
url = ""

[postgres]
dsn = "{dsn}"

[thresholds]
severity_p3_s = 0.05
p95_s = 0.08
db_query_mean_ms = 50
""",
    )
    with (
        traffic([base + EMAIL], concurrency=1),
        traffic([base + "/api/orders/42", base + "/api/report"], concurrency=2),
    ):
        time.sleep(1.0)
        result = perfbook(
            "triage",
            "--config",
            cfg,
            "--only",
            "http,metrics,postgres",
            "--window",
            "4s",
            "--json",
            "--fail-on",
            "never",
        )
    assert result.exit_code == 0, result.stderr
    return result.json


def test_one_subject_per_route_joined_to_the_missing_index(perfbook, tmp_path, shop, shop_dsn):
    doc = triage_shop(perfbook, tmp_path, shop, shop_dsn)
    slow = {f["subject"]: f for f in doc["findings"] if f["code"] == "http.slow_response"}
    # one finding for the route, with both sources; none for perfbook's own spelling of it
    assert "/api/orders" in slow, [f["code"] + ":" + f["subject"] for f in doc["findings"]]
    assert not any("?" in subject for subject in slow)
    orders = slow["/api/orders"]
    assert set(orders["evidence"]["sources"]) == {"metrics", "http"}
    assert orders["evidence"]["sources"]["http"]["path"] == "/api/orders?email=…"
    # the slow route is still joined to the missing index, first; nothing contradicts it (before: a
    # second subject blamed "the application itself")
    of_orders = [c for c in doc["causes"] if "http.slow_response:/api/orders" in c["findings"]]
    top = of_orders[0]
    assert top["layer"] == "postgres" and "pg.missing_index:public.orders" in top["findings"]
    assert top["summary"].startswith(
        "GET /api/orders?email=… is slow because search by customer_email scans "
        "public.orders (no usable index)"
    )
    assert not any(c["layer"] == "app" for c in of_orders)
    # no parameter the configured endpoint does not have
    texts = [c["summary"] for c in doc["causes"] + doc["also_seen"]] + [f["title"] for f in doc["findings"]]
    assert not any("customer_email=" in t or "email=customer7" in t for t in texts)


def test_5xx_on_a_route_that_never_touches_the_database_is_not_the_cache_hit_ratio(
    perfbook, tmp_path, shop, shop_dsn
):
    doc = triage_shop(perfbook, tmp_path, shop, shop_dsn)
    codes = {f["code"] + ":" + f["subject"] for f in doc["findings"]}
    assert "http.error_rate_high:/api/report" in codes
    assert "pg.cache_hit_low:shop" in codes  # the figure that was wrongly joined is there ...
    for cause in doc["causes"]:  # ... but explains nothing about /api/report
        on_report = any(k.endswith(":/api/report") for k in cause["findings"])
        assert not (on_report and any(k.startswith("pg.") for k in cause["findings"])), cause
    # the ratio is linked only to what reads the table read from outside the cache (if anything)
    (cache,) = [c for c in doc["causes"] + doc["also_seen"] if "pg.cache_hit_low:shop" in c["findings"]]
    assert not any(k.endswith(":/api/report") for k in cache["findings"])
    assert not cache["summary"].startswith("GET /api/report")
    # manual commands in names this stack has: no Docker here, and no example container
    manuals = [a["manual"] for f in doc["findings"] for a in f["actions"]]
    assert not any("codexos" in m or "docker" in m for m in manuals), manuals
    (logs,) = [
        a["manual"] for f in doc["findings"] if f["code"] == "http.error_rate_high" for a in f["actions"]
    ]
    assert "BACKEND_LOG" in logs and "[http] backend_logs" in logs

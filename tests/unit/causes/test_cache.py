"""Joins: latency or errors ↔ cache collapse (hit rate with the database's rate; OOM with the 5xx share)."""

from __future__ import annotations

from dataclasses import replace

from causes_stack import USERS_PAGE, handler, healthy, keys, metrics_ev, redis_data, statement, with_pg

from perfbook.model import Evidence


def nocache(db_calls: int = 900):
    ev = healthy()
    ev["redis"] = Evidence("redis", "ok", 2.0, data=redis_data(hits=10, misses=990))
    by_id = statement(
        "SELECT id, name, email FROM users WHERE id = $1",
        calls=db_calls,
        tables=["public.users"],
        filter_columns=["id"],
        queryid=31,
    )
    return with_pg(ev, statements=[by_id, USERS_PAGE])


def test_misses_join_the_database_rate_in_the_same_window(rank):
    _, causes = rank(nocache())
    top = causes[0]
    assert top.layer == "redis" and top.findings == ("redis.hit_rate_low:redis://127.0.0.1:6379/0",)
    assert top.summary.startswith("The cache misses: hit rate 1 % over 1000 lookups")
    assert any("the misses go to the database" in r for r in top.reasons)
    assert top.confidence >= 0.5


def test_near_miss_misses_the_database_does_not_see_join_weaker(rank):
    _, strong = rank(nocache())
    _, weak = rank(nocache(db_calls=5))
    assert weak[0].layer == "redis"
    assert not any("the misses go to the database" in r for r in weak[0].reasons)
    assert weak[0].confidence < strong[0].confidence


def test_oom_rejections_join_the_5xx_share_and_fold_in_the_misses(rank):
    ev = healthy()
    ev["redis"] = Evidence(
        "redis",
        "ok",
        2.0,
        data=redis_data(
            hits=100, misses=400, oom=40, used_pct=100.0, policy="noeviction", maxmemory=2 * 1024 * 1024
        ),
    )
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=100, errors_5xx=30), handler("/api/v1/agents")
    )
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "redis"
    assert {
        "redis.oom_rejections:redis://127.0.0.1:6379/0",
        "redis.hit_rate_low:redis://127.0.0.1:6379/0",
        "http.error_rate_high:/api/v1/users",
    } <= keys(top)
    assert (
        "Redis is full and refuses writes (40 write(s) refused with OOM, maxmemory-policy noeviction)"
        in top.summary
    )
    assert top.action is not None and top.action.id in ("redis.set_policy", "redis.set_maxmemory")
    assert top.confidence >= 0.8
    assert not any(c.layer == "app" for c in causes), "the 5xx are explained by the full cache"
    assert sum(1 for c in causes if c.layer == "redis") == 1


def test_oom_without_errors_is_still_the_top_cause(rank):
    ev = healthy()
    ev["redis"] = replace(ev["redis"], data=redis_data(oom=12, used_pct=99.0, policy="noeviction"))
    _, causes = rank(ev)
    assert causes[0].layer == "redis" and 0.45 <= causes[0].confidence < 0.8


def test_a_refused_redis_explains_the_5xx(rank):
    ev = healthy()
    ev["redis"] = Evidence("redis", "unavailable", 0.01, reason="connection refused 127.0.0.1:6379")
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=100, errors_5xx=60), handler("/api/v1/agents")
    )
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "redis" and top.summary.startswith(
        "GET /api/v1/users is failing (5xx 60 %): Redis unreachable"
    )
    assert "http.error_rate_high:/api/v1/users" in top.findings
    assert not any(c.layer == "app" for c in causes)


def test_near_miss_a_redis_probe_timeout_does_not_claim_the_5xx(rank):
    ev = healthy()
    ev["redis"] = Evidence("redis", "unavailable", 4.5, reason="no answer within 4.5 s")
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=100, errors_5xx=60), handler("/api/v1/agents")
    )
    _, causes = rank(ev)
    assert causes[0].layer == "app", [(c.confidence, c.summary) for c in causes]

"""Window figures from two recorded scrapes: lifetime-fast but slow now, +Inf, finer histograms,
label spellings, 5xx classes, resets, perfbook's own handlers left out of the total."""

import pytest

from perfbook.probes.metrics_build import window_figures
from perfbook.probes.metrics_parse import parse_page

EXCLUDED = {"/metrics", "/health"}
BOUNDS = ("0.1", "0.5", "1.0", "+Inf")


def hist(name, labels, counts, bounds=BOUNDS):
    """Cumulative bucket lines + _count for one series (``counts`` per bucket, not cumulative)."""
    lines, total = [], 0
    for le, n in zip(bounds, counts, strict=True):
        total += n
        lines.append(f'{name}_bucket{{{labels},le="{le}"}} {total}')
    lines.append(f"{name}_count{{{labels}}} {total}")
    return "\n".join(lines) + "\n"


def users_page(fast, slow, over, errors, ok):
    """An instrumentator-style page: /api/v1/users, /metrics and a requests counter."""
    return (
        "# TYPE http_request_duration_seconds histogram\n"
        + hist("http_request_duration_seconds", 'handler="/api/v1/users",method="GET"', [fast, 0, slow, over])
        + hist("http_request_duration_seconds", 'handler="/metrics",method="GET"', [50, 0, 0, 0])
        + "# TYPE http_requests_total counter\n"
        + f'http_requests_total{{handler="/api/v1/users",method="GET",status="2xx"}} {ok}\n'
        + f'http_requests_total{{handler="/api/v1/users",method="GET",status="5xx"}} {errors}\n'
        + 'http_requests_total{handler="/metrics",method="GET",status="2xx"} 50\n'
    )


def test_lifetime_fast_service_that_is_slow_now_shows_slow():
    start = parse_page(users_page(fast=100_000, slow=0, over=0, errors=0, ok=100_000))
    end = parse_page(users_page(fast=100_010, slow=90, over=0, errors=0, ok=100_100))
    w = window_figures(start, end, 2.0, EXCLUDED)
    users = next(h for h in w.handlers if h.handler == "/api/v1/users")
    assert users.requests == 100 and users.rate_rps == 50.0
    assert users.p95_s == pytest.approx(0.5 + 0.5 * (95 - 10) / 90)
    assert not users.p95_over_bound
    assert w.total.requests == 100  # /metrics left out
    assert w.total.p95_s == pytest.approx(users.p95_s)


def test_five_xx_share_from_status_classes_in_the_window():
    start = parse_page(users_page(fast=1000, slow=0, over=0, errors=1000, ok=0))  # lifetime: all errors
    end = parse_page(users_page(fast=1100, slow=0, over=0, errors=1010, ok=90))
    w = window_figures(start, end, 2.0, EXCLUDED)
    assert w.total.errors_5xx == 10
    assert w.total.error_share == pytest.approx(0.1)


def test_over_the_top_bound_reports_the_bound_and_prefers_a_finer_histogram():
    coarse = users_page(fast=10, slow=0, over=90, errors=0, ok=100)
    fine_bounds = ("0.1", "1.0", "2.5", "5.0", "10.0", "+Inf")

    def fine(n: int) -> str:
        head = "# TYPE http_request_duration_highr_seconds histogram\n"
        return head + hist(
            "http_request_duration_highr_seconds", 'x="y"', [10 + 50, 0, 0, n, 0, 0], fine_bounds
        )

    start = parse_page(users_page(0, 0, 0, 0, 0) + fine(0))
    only_coarse = window_figures(start, parse_page(coarse), 2.0, EXCLUDED)
    users = only_coarse.handlers[-1]
    assert (users.p95_s, users.p95_over_bound, users.histogram) == (
        1.0,
        True,
        "http_request_duration_seconds",
    )
    with_fine = window_figures(start, parse_page(coarse + fine(90)), 2.0, EXCLUDED)
    assert with_fine.total.histogram == "http_request_duration_highr_seconds"
    assert not with_fine.total.p95_over_bound
    assert 2.5 < with_fine.total.p95_s <= 5.0


def test_other_label_spellings_and_millisecond_histograms():
    def page(n_fast, n_slow, n_500):
        return hist(
            "http_server_request_latency_ms",
            'path="/x",code="200"',
            [n_fast, n_slow, 0],
            ("100", "2000", "+Inf"),
        ) + hist(
            "http_server_request_latency_ms", 'path="/x",code="500"', [n_500, 0, 0], ("100", "2000", "+Inf")
        )

    w = window_figures(parse_page(page(0, 0, 0)), parse_page(page(10, 80, 10)), 1.0, EXCLUDED)
    (x,) = w.handlers
    assert (x.handler, x.method, x.requests, x.errors_5xx, x.error_share) == ("/x", None, 100, 10, 0.1)
    # bounds read in ms, reported in s; 100 ms – 2 s is 20x wide: a range, its lower bound the figure
    assert (x.p95_s, x.p95_range_s, x.p95_over_bound) == (0.1, [0.1, 2.0], False)


def test_counter_reset_leaves_the_series_out_and_never_goes_negative():
    start = parse_page(users_page(fast=5000, slow=0, over=0, errors=10, ok=5000))
    end = parse_page(users_page(fast=20, slow=0, over=0, errors=0, ok=20))  # restarted
    w = window_figures(start, end, 2.0, EXCLUDED)
    assert w.reset_series
    assert all(h.requests >= 0 and h.rate_rps >= 0 for h in w.handlers)
    assert w.total.requests == 0 and w.total.error_share is None


def test_no_http_metrics_says_so():
    w = window_figures(parse_page("up 1\n"), parse_page("up 1\n"), 2.0, EXCLUDED)
    assert w.total is None and w.handlers == []
    assert "no request-duration histogram" in w.notes[0]


def test_per_handler_finer_family_with_the_same_labels_is_preferred_over_the_inf_bucket():
    labels = 'handler="/api/v1/users",method="GET"'
    fine_bounds = ("0.5", "1.0", "2.0", "4.0", "+Inf")

    def page(n_slow):
        return hist("http_request_duration_seconds", labels, [0, 0, 0, n_slow]) + hist(
            "http_request_duration_highr_seconds", labels, [0, 0, 0, n_slow, 0], fine_bounds
        )

    w = window_figures(parse_page(page(0)), parse_page(page(40)), 2.0, EXCLUDED)
    (users,) = w.handlers
    assert users.histogram == "http_request_duration_highr_seconds"
    assert not users.p95_over_bound and 2.0 < users.p95_s <= 4.0
    assert users.requests == 40


def express_page(slow: int, fast: int) -> str:
    """express-prom-bundle's default buckets and labels (``path``, ``status_code``)."""
    bounds = ("0.003", "0.03", "0.1", "0.3", "1.5", "10", "+Inf")
    return (
        "# TYPE http_request_duration_seconds histogram\n"
        + hist(
            "http_request_duration_seconds",
            'status_code="200",method="GET",path="/slow"',
            [0, 0, 0, 0, 0, slow, 0],
            bounds,
        )
        + hist(
            "http_request_duration_seconds",
            'status_code="200",method="GET",path="/api/items/#val"',
            [0, fast, 0, 0, 0, 0, 0],
            bounds,
        )
    )


def test_a_quantile_in_a_coarse_bucket_is_the_bucket_not_an_interpolation():
    w = window_figures(parse_page(express_page(0, 0)), parse_page(express_page(20, 40)), 2.0, EXCLUDED)
    slow = next(h for h in w.handlers if h.handler == "/slow")
    # linear interpolation would say 9.57 s for a route that takes 2.5 s
    assert (slow.p95_s, slow.p95_range_s, slow.p99_range_s, slow.p95_over_bound) == (
        1.5,
        [1.5, 10.0],
        [1.5, 10.0],
        False,
    )
    items = next(h for h in w.handlers if h.handler == "/api/items/#val")
    assert (items.p95_s, items.p95_range_s) == (0.003, [0.003, 0.03])


def test_a_quantile_in_a_bucket_at_most_twice_its_lower_bound_is_interpolated():
    bounds = ("1.0", "2.0", "+Inf")
    start = parse_page(hist("http_request_duration_seconds", 'handler="/a"', [0, 0, 0], bounds))
    end = parse_page(hist("http_request_duration_seconds", 'handler="/a"', [50, 50, 0], bounds))
    (a,) = window_figures(start, end, 2.0, EXCLUDED).handlers
    assert (a.p95_s, a.p95_range_s) == (1.9, None)


def test_a_finer_histogram_of_the_same_requests_is_preferred_to_a_coarse_bucket():
    coarse = ("0.3", "1.5", "10", "+Inf")
    fine = ("1.5", "2.0", "2.5", "3.0", "10", "+Inf")

    def page(n: int) -> str:
        return hist("http_request_duration_seconds", 'handler="/slow"', [0, 0, n, 0], coarse) + hist(
            "http_request_duration_highr_seconds", 'handler="/slow"', [0, 0, n, 0, 0, 0], fine
        )

    (slow,) = window_figures(parse_page(page(0)), parse_page(page(40)), 2.0, EXCLUDED).handlers
    assert slow.histogram == "http_request_duration_highr_seconds"
    assert slow.p95_range_s is None and 2.0 < slow.p95_s <= 2.5


def test_prometheus_flask_exporter_grouped_by_url_rule_names_the_route():
    """prometheus-flask-exporter (PyPI) with ``group_by="url_rule"``, as its docs suggest against
    path cardinality: the label is ``url_rule`` and holds the route template, not the path."""
    flask = pytest.importorskip("flask")
    exporter = pytest.importorskip("prometheus_flask_exporter")
    from prometheus_client import CollectorRegistry

    app = flask.Flask("orders")
    exporter.PrometheusMetrics(app, group_by="url_rule", registry=CollectorRegistry())

    @app.get("/api/orders/<int:order_id>")
    def order(order_id: int) -> str:
        return "ok"

    web = app.test_client()
    start = parse_page(web.get("/metrics").get_data(as_text=True))
    for order_id in range(12):
        web.get(f"/api/orders/{order_id}")
    end = parse_page(web.get("/metrics").get_data(as_text=True))
    w = window_figures(start, end, 2.0, EXCLUDED)
    assert [(h.handler, h.requests) for h in w.handlers] == [("/api/orders/<int:order_id>", 12)]

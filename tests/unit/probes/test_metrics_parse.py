"""Prometheus maths on recorded pages: histogram_quantile, parsing, counter deltas, label spellings."""

import math

import pytest

from perfbook.probes.metrics_parse import counter_deltas, histogram_quantile, is_5xx, parse_page

INF = math.inf


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        # rank 95 of 100 falls in (0.5, 1.0]: 0.5 + 0.5 * (95 - 90) / (100 - 90)
        (0.95, [(0.1, 50), (0.5, 90), (1.0, 100), (INF, 100)], (0.75, False)),
        # the first bucket starts at 0: rank 25 of 50 in (0, 0.1]
        (0.5, [(0.1, 50), (0.5, 90), (1.0, 100), (INF, 100)], (0.1, False)),
        (0.25, [(0.1, 50), (0.5, 90), (1.0, 100), (INF, 100)], (0.05, False)),
        # rank in +Inf: "over the top bound", reported as the top finite bound
        (0.95, [(0.1, 10), (1.0, 20), (INF, 100)], (1.0, True)),
        # nothing observed / no +Inf bucket: no answer rather than a made-up one
        (0.95, [(0.1, 0), (INF, 0)], (None, False)),
        (0.95, [(0.1, 5), (1.0, 10)], (None, False)),
        # non-monotonic cumulative counts (scrape skew) are flattened as Prometheus does
        (0.5, [(0.1, 10), (0.5, 8), (1.0, 20), (INF, 20)], (0.1, False)),
    ],
)
def test_histogram_quantile_follows_prometheus(q, buckets, expected):
    value, over = histogram_quantile(q, buckets)
    assert over is expected[1]
    assert value == pytest.approx(expected[0]) if expected[0] is not None else value is None


def test_parse_page_keeps_good_lines_and_names_bad_ones():
    text = (
        "# TYPE up gauge\n"
        "up 1\n"
        'http_requests_total{handler="/a",status="200"} 5\n'
        "broken{handler=/a} 3\n"
        "also broken here\n"
        'http_requests_total{handler="/b",status="500"} 2\n'
    )
    page = parse_page(text)
    assert [n for n, _ in page.bad_lines] == [4, 5]
    assert page.values[("http_requests_total", (("handler", "/b"), ("status", "500")))] == 2.0
    assert page.values[("up", ())] == 1.0


def test_parse_page_of_garbage_is_empty_not_an_exception():
    page = parse_page("<html><body>not metrics</body></html>\n")
    assert page.values == {}
    assert page.bad_lines[0][0] == 1


def test_counter_deltas_leave_resets_out_and_count_new_series_from_zero():
    start = parse_page('c_total{a="x"} 100\nc_total{a="y"} 50\n')
    end = parse_page('c_total{a="x"} 3\nc_total{a="y"} 60\nc_total{a="z"} 4\n')
    deltas, resets = counter_deltas(start, end, ["c_total"])
    assert {dict(k[1])["a"]: v for k, v in deltas.items()} == {"y": 10.0, "z": 4.0}
    assert [dict(k[1])["a"] for k in resets] == ["x"]
    assert all(v >= 0 for v in deltas.values())


def test_status_classes_count_as_5xx():
    assert [is_5xx(s) for s in ("500", "503", "5xx", "5XX", "200", "2xx", "")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


TRICKY_LINES = [
    'http_request_duration_seconds_bucket{handler="/a",le="+Inf"} 12',
    'x{a="b\\\\c",d="e\\"f",g="h\\ni"} 1.5e3',
    "up 1 1700000000000",
    "y{} NaN",
    'z{a="1",} -Inf',
    'w{ a = "1" , b="2"} +Inf',
    'v{a="}"} 3',
    'c_total{path="/x" code=500} 1',
    "broken{handler=/a} 3",
    "also broken here",
    "<html>",
]


@pytest.mark.parametrize("line", TRICKY_LINES)
def test_the_fast_reader_agrees_with_prometheus_client_line_by_line(line):
    """The regex reader is an accelerator, never a second opinion: same answer as the reference."""
    from perfbook.probes.metrics_parse import _fast_sample, _reference_sample

    fast, reference = _fast_sample(line, {}), _reference_sample(line)
    if fast is not None:
        assert fast[0] == reference[0] and (
            fast[1] == reference[1] or math.isnan(fast[1]) and math.isnan(reference[1])
        )
    assert parse_page(line + "\n").values.keys() == ({reference[0]} if reference else set())


def test_keep_reads_only_the_wanted_series_and_leaves_other_lines_unjudged():
    page = parse_page(
        'a_total 1\nnot a metric line\n<html>\nb_total{x="1"} 2\n', keep=lambda n: n.startswith("b")
    )
    assert page.values == {("b_total", (("x", "1"),)): 2.0}
    assert page.bad_lines == [(3, "<html>")]  # no readable name: reported; "not a …" is a name not wanted

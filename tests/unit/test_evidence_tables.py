"""``perfbook probe LAYER`` shows any evidence as tables: every scalar, nested records, record lists."""

from rich.console import Console

from perfbook.evidence.http import EndpointTiming, HealthCheck, HttpEvidence
from perfbook.report.evidence import MAX_ROWS, build_evidence


def render(data) -> str:
    console = Console(width=180, record=True, color_system=None)
    console.print(build_evidence(data, "http"))
    return console.export_text()


def test_scalars_nested_records_and_lists_are_all_shown():
    ev = HttpEvidence(
        "http://127.0.0.1:8001",
        True,
        HealthCheck("http://127.0.0.1:8001/health", True, 200, 0.004),
        [
            EndpointTiming(
                "/api/v1/users",
                "GET",
                "http://127.0.0.1:8001/api/v1/users",
                5,
                p95_s=0.0123456,
                statuses={"200": 5},
            )
        ],
    )
    text = render(ev)
    assert "base_url" in text and "http://127.0.0.1:8001" in text
    assert "http.health" in text and "http.endpoints" in text
    assert "/api/v1/users" in text and "12.3 ms" in text and "200 = 5" in text  # p95_s as a duration


def test_long_lists_say_how_many_rows_they_hide():
    eps = [EndpointTiming(f"/e{i}", "GET", f"http://x/e{i}", 1) for i in range(MAX_ROWS + 5)]
    text = render(HttpEvidence("http://x", True, None, eps))
    assert (
        f"(first {MAX_ROWS} of {MAX_ROWS + 5})" in text
        and f"/e{MAX_ROWS - 1}" in text
        and f"/e{MAX_ROWS}" not in text
    )


def test_at_80_columns_records_become_blocks_and_nothing_is_cut():
    ev = HttpEvidence(
        "http://127.0.0.1:8001",
        True,
        None,
        [
            EndpointTiming(
                "/api/v1/users",
                "GET",
                "http://127.0.0.1:8001/api/v1/users",
                5,
                p95_s=0.5,
                statuses={"200": 5},
            )
        ],
    )
    console = Console(width=80, record=True, color_system=None)
    console.print(build_evidence(ev, "http"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "http.endpoints[0]" in text and " first_byte_s " in text and "500.0 ms" in text and "…" not in text

"""Servers that answer too much, too slowly, in a loop or not at all (#12): bounded reads, true verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import Hostile

from hostile import perfbook


def _cfg(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "perfbook.toml"
    path.write_text(
        f'[http]\nbase_url = "{url}"\nendpoints = ["/health"]\ntimeout_s = 3\n[frontend]\nurl = ""\n{extra}'
    )
    return path


def _triage(cfg: Path, only: str, window: str = "1s"):
    return perfbook(
        "triage",
        "--config",
        str(cfg),
        "--only",
        only,
        "--window",
        window,
        "--json",
        "--fail-on",
        "never",
        timeout_s=120,
    )


def _probe(run, name: str) -> dict:
    return run.json["probes"][name]


def test_a_50_mb_metrics_page_is_cut_and_said(attempt, tmp_path):
    with Hostile("big_metrics", mb=50) as srv:
        run = _triage(_cfg(tmp_path, srv.url), "http,metrics")
    attempt.check(
        run,
        codes={0},
        verify=[
            lambda: (
                None
                if "metrics page over" in (_probe(run, "metrics").get("reason") or "")
                else f"no cut said: {_probe(run, 'metrics')}"
            ),
            lambda: None if run.took_s < 1 + 3 + 8 else f"took {run.took_s:.1f} s (window 1 s, timeout 3 s)",
            lambda: (
                None
                if run.took_s - run.json["duration_s"] < 6
                else f"reported {run.json['duration_s']} s, took {run.took_s:.1f} s"
            ),
        ],
    )


def test_a_200_mb_response_is_read_in_part(attempt, tmp_path):
    with Hostile("big_body", mb=200) as srv:
        run = _triage(_cfg(tmp_path, srv.url), "http")

    def cut_said() -> str | None:
        notes = [n for e in _probe(run, "http")["evidence"]["endpoints"] for n in e["notes"]]
        return None if any("over" in n for n in notes) else f"no cut in the notes: {notes}"

    attempt.check(
        run, codes={0}, verify=[cut_said, lambda: None if run.took_s < 20 else f"took {run.took_s:.1f} s"]
    )


@pytest.mark.parametrize(
    "mode", ["many_headers", "garbage", "never", "drip", "chunked_forever", "redirect_loop"]
)
def test_triage_of_a_hostile_backend_is_evidence_never_a_crash(attempt, tmp_path, mode):
    with Hostile(mode) as srv:
        run = _triage(_cfg(tmp_path, srv.url), "http,metrics")
    attempt.check(
        run,
        codes={0},
        verify=[
            lambda: (
                None
                if all(p["status"] != "error" for p in run.json["probes"].values())
                else f"a probe failed as a perfbook bug: {run.json['probes']}"
            ),
            lambda: None if run.took_s < 1 + 3 + 8 else f"took {run.took_s:.1f} s",
        ],
    )


def test_one_bad_asset_url_fails_that_asset_only(attempt, tmp_path):
    with Hostile("bad_asset") as srv:
        cfg = (
            _cfg(tmp_path, srv.url)
            .read_text()
            .replace('[frontend]\nurl = ""', f'[frontend]\nurl = "{srv.url}/"')
        )
        (tmp_path / "perfbook.toml").write_text(cfg)
        run = _triage(tmp_path / "perfbook.toml", "frontend")

    def frontend_kept() -> str | None:
        probe = _probe(run, "frontend")
        if probe["status"] == "error":
            return f"the whole probe failed: {probe.get('reason')}"
        return None if probe["evidence"]["assets_fetched"] >= 3 else "assets missing"

    attempt.check(run, codes={0}, verify=[frontend_kept])


@pytest.mark.parametrize("mode", ["never", "drip", "chunked_forever", "redirect_loop", "garbage"])
def test_load_against_a_backend_that_never_succeeds_fails(attempt, mode):
    with Hostile(mode) as srv:
        run = perfbook(
            "load", srv.url + "/x", "-d", "2s", "-c", "2", "--timeout", "1s", "--json", timeout_s=60
        )
    attempt.check(
        run, codes={3}, verify=[lambda: None if run.json.get("requests") is not None else "no result"]
    )


def test_load_counts_interim_responses_right(attempt):
    with Hostile("interim") as srv:
        run = perfbook("load", srv.url + "/x", "-n", "300", "-c", "3", "--json")
        sent = srv.requests

    def exact() -> str | None:
        doc = run.json
        if doc["requests"] != 300 or sent != 300:
            return f"-n 300 gave {doc['requests']} requests, {sent} sent"
        return (
            None
            if doc["status_codes"] == {"200": 300} and doc["error_rate"] == 0
            else f"{doc['status_codes']}"
        )

    attempt.check(run, codes={0}, verify=[exact])

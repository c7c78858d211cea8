"""A sample says what it covers in every output: ``perfbook triage --only redis`` over 150,000 keys
whose big-key scan is given too little time (terminal, JSON, Markdown and HTML all say "sampled")."""

from __future__ import annotations

import re

import redis

from perfbook.report.json import validate_report


def test_a_big_key_sample_states_its_coverage_in_every_output(perfbook, redis_url, tmp_path):
    sync = redis.Redis.from_url(redis_url)
    sync.execute_command("DEBUG", "POPULATE", 150_000, "user", 20)
    env = {
        "PERFBOOK_REDIS_URL": redis_url,
        "PERFBOOK_REDIS_BIG_KEYS_BUDGET_S": "0.02",
        "PERFBOOK_REDIS_QUEUE_DB": "2",
    }
    md, html = tmp_path / "triage.md", tmp_path / "triage.html"
    shown = perfbook(
        "triage",
        "--only",
        "redis",
        "--window",
        "1s",
        "--markdown",
        str(md),
        "--html",
        str(html),
        "--fail-on",
        "never",
        env=env,
    )
    as_json = perfbook("triage", "--only", "redis", "--window", "1s", "--json", "--fail-on", "never", env=env)
    assert shown.exit_code == 0 and as_json.exit_code == 0, shown.stderr + as_json.stderr
    report = as_json.json
    validate_report(report)
    (f,) = [f for f in report["findings"] if f["code"] == "redis.big_keys_sampled"]
    (scan,) = f["evidence"]["coverage"]
    assert (
        scan["db"] == 0 and scan["keys"] == 150_000 and 0 < scan["scanned"] < 150_000 and not scan["complete"]
    )
    wording = re.compile(r"sampled [\d.]+ % of keys of db 0 \([\d,]+ of 150,000 within the 20\.0 ms budget\)")
    assert (
        wording.search(f["title"])
        and "none over 10 MB among those read, the rest not looked at" in f["title"]
    )
    for text in (" ".join(shown.stdout.split()), md.read_text(), html.read_text()):
        assert wording.search(text), text[:2000]

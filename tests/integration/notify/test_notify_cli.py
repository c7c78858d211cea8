"""``perfbook incident notify | report`` and ``perfbook status build`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfbook.incidents import records
from perfbook.services import free_port


@pytest.fixture
def setup(tmp_path: Path, smtp_server, store, lab_incident):
    port, inbox = smtp_server
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text(f"""
[store]
url = "{store.url}"
[notify]
attempts = 2
backoff_s = 0.01
[notify.email]
smtp_host = "127.0.0.1"
smtp_port = {port}
from = "perfbook@example.com"
to = ["performance@example.com"]
cc = ["ops@example.com", "dev@example.com"]
routes = {{ update = {{ cc = ["ops@example.com"] }} }}
[status]
dir = "{tmp_path / "site"}"
components = [{{ name = "API", endpoints = ["/api/v1/*"] }}]
""")
    return cfg, inbox, tmp_path


def test_notify_twice_from_the_command_line_sends_once(perfbook, setup, store, lab_incident) -> None:
    cfg, inbox, tmp = setup
    first = perfbook("incident", "notify", "INC-1", "update", "--config", str(cfg), "--as", "ana")
    assert first.exit_code == 0, first.stderr
    assert "[INC-1] P2 update (investigating): Agents API slow" in first.stdout
    assert "internal" in first.stdout and "external" in first.stdout and "sent" in first.stdout
    second = perfbook("incident", "notify", "inc-1", "update", "--config", str(cfg), "--json")
    assert second.exit_code == 0, second.stderr
    doc = second.json
    assert {d["channel"]: d["outcome"] for d in doc["deliveries"]} == {
        "email": "already_sent",
        "status_page": "already_sent",
    }
    assert len(inbox.mails) == 1 and inbox.mails[0][1]["Cc"] == "ops@example.com"
    assert doc["status_page"] == [str(tmp / "site" / n) for n in ("status.json", "index.html", "status.txt")]
    page = json.loads((tmp / "site" / "status.json").read_text())  # rebuilt by the send
    assert page["components"] == [{"name": "API", "status": "degraded_performance"}]


def test_dry_run_sends_and_records_nothing(perfbook, setup, store, lab_incident) -> None:
    cfg, inbox, _ = setup
    before = records.timeline(store, lab_incident.number)
    result = perfbook("incident", "notify", "INC-1", "detected", "--dry-run", "--json", "--config", str(cfg))
    assert result.exit_code == 0, result.stderr
    assert result.json["dry_run"] is True and {d["outcome"] for d in result.json["deliveries"]} == {"dry_run"}
    assert "PERFORMANCE ISSUE DETECTED" in result.json["messages"]["internal"]["body"]
    assert inbox.mails == [] and records.timeline(store, lab_incident.number) == before


def test_bad_input_is_one_line_and_exit_2(perfbook, setup) -> None:
    cfg, inbox, _ = setup
    for args, words in (
        (["INC-1", "party"], "EVENT must be one of"),
        (["INC-9", "update"], "no incident INC-9"),
        (["INC-1", "resolved"], "is not resolved"),
        (["nope", "update"], "not an incident id"),
        (["INC-1", "update", "--message", "index on public.users is back"], "names internals"),
    ):
        result = perfbook("incident", "notify", *args, "--config", str(cfg))
        assert result.exit_code == 2, (args, result.stderr)
        assert (
            result.stderr.startswith("error: ")
            and words in result.stderr
            and "Traceback" not in result.stderr
        )
    assert inbox.mails == []
    ok = perfbook(
        "incident",
        "notify",
        "INC-1",
        "update",
        "--message",
        "index on public.users is back",
        "--internal-only",
        "--config",
        str(cfg),
        "--json",
    )
    assert ok.exit_code == 0 and set(ok.json["messages"]) == {"internal"} and len(inbox.mails) == 1


def test_a_failed_channel_exits_1_and_says_which(perfbook, setup, tmp_path) -> None:
    cfg, _, _ = setup
    dead = free_port()
    cfg.write_text(
        cfg.read_text().replace("[notify]\n", f'[notify]\nurls = ["json://127.0.0.1:{dead}/hook"]\n')
    )
    pytest.importorskip("apprise")
    result = perfbook("incident", "notify", "INC-1", "detected", "--config", str(cfg), "--json")
    assert result.exit_code == 1
    outcomes = {d["channel"]: (d["outcome"], d["attempts"]) for d in result.json["deliveries"]}
    assert outcomes == {"email": ("sent", 1), "json": ("failed", 2), "status_page": ("sent", 1)}


def test_report_and_status_build(perfbook, setup, tmp_path) -> None:
    cfg, _, _ = setup
    out = tmp_path / "INC-1.html"
    result = perfbook("incident", "report", "INC-1", "--format", "html", "-o", str(out), "--config", str(cfg))
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("<!doctype html>") and "Postmortem INC-1" in out.read_text()
    md = perfbook("incident", "report", "INC-1", "--config", str(cfg))
    assert md.exit_code == 0 and md.stdout.startswith("# Postmortem INC-1: Agents API slow")
    bad = perfbook("incident", "report", "INC-1", "--format", "pdf", "--config", str(cfg))
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --format must be one of md|html")
    site = perfbook("status", "build", "--out", str(tmp_path / "other"), "--json", "--config", str(cfg))
    assert site.exit_code == 0, site.stderr
    assert site.json["page"]["status"]["state"] == "degraded_performance"
    assert sorted(Path(f).name for f in site.json["files"]) == ["index.html", "status.json", "status.txt"]


def test_status_build_needs_a_directory(perfbook, tmp_path) -> None:
    cfg = tmp_path / "bare.toml"
    cfg.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n')
    result = perfbook("status", "build", "--config", str(cfg))
    assert result.exit_code == 2
    assert (
        result.stderr == "error: no directory to write the status page into\n"
        "hint: give --out DIR, or set [status] dir in perfbook.toml\n"
    )

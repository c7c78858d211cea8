"""``perfbook incident`` as a user runs it, on a private SQLite store: the record, the checklist, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ID_COMMANDS = [
    ("show", []),
    ("note", ["text"]),
    ("status", ["identified"]),
    ("severity", ["P1"]),
    ("checklist", []),
    ("check", ["5"]),
    ("resolve", []),
    ("reopen", []),
]


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    return {"PERFBOOK_STORE_URL": f"sqlite:///{tmp_path / 'store' / 'perfbook.db'}", "PERFBOOK_INCIDENT": ""}


@pytest.fixture
def run(perfbook, store_env):
    def call(*args: str):
        return perfbook("incident", *args, env=store_env)

    return call


REPORT = {
    "schema_version": 1,
    "severity": "P2",
    "severity_reason": "p95 4.1 s on /api/v1/users (metrics)",
    "issue_types": ["high_response_time"],
    "kpis": {"p95_s": 4.1, "p95_subject": "/api/v1/users", "error_rate": 0.0, "error_requests": 200},
    "causes": [{"summary": "GET /api/v1/users is slow", "confidence": 0.7, "findings": []}],
    "findings": [
        {
            "code": "http.slow_response",
            "level": "critical",
            "subject": "/api/v1/users",
            "issue_type": "high_response_time",
            "title": "slow",
        }
    ],
    "probes": {"metrics": {"status": "ok", "duration_s": 2.0}},
}


def test_open_from_a_report_takes_severity_title_and_ticks_investigation(run, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(REPORT))
    doc = run("open", "--from-report", str(path), "--as", "ana", "--json").json
    inc = doc["incident"]
    assert (inc["id"], inc["severity"], inc["title"], inc["owner"]) == (
        "INC-1",
        "P2",
        "GET /api/v1/users is slow",
        "ana",
    )
    assert inc["endpoints"] == ["/api/v1/users"] and inc["impact"] == "minor"
    done = {c["number"]: c for c in doc["checklist"] if c["state"] == "done"}
    assert sorted(done) == [1, 2, 3, 4] and {c["artifact"] for c in done.values()} == {"triage #1"}
    assert [e["kind"] for e in doc["timeline"]] == ["opened", "triage", "check", "check", "check", "check"]


def test_a_day_of_an_incident(run) -> None:
    assert run("open", "--title", "Checkout slow", "--severity", "p3", "--as", "ana").exit_code == 0
    assert run("severity", "INC-1", "P1", "--reason", "checkout affected").exit_code == 0
    assert run("note", "INC-1", "rolled back 2026.12.1", "--followup").exit_code == 0
    assert run("status", "INC-1", "identified", "-m", "bad release").exit_code == 0
    assert run("check", "INC-1", "resolution plan", "--note", "rollback").exit_code == 0
    assert run("check", "INC-1", "user experience", "--na").exit_code == 0
    assert run("resolve", "INC-1", "-m", "rolled back").exit_code == 0
    doc = run("show", "INC-1", "--json").json
    assert doc["incident"]["status"] == "resolved" and doc["incident"]["severity"] == "P1"
    assert doc["incident"]["impact"] == "major"  # raised with the severity
    summaries = [(e["kind"], e["summary"]) for e in doc["timeline"]]
    assert summaries == [
        ("opened", "opened INC-1: Checkout slow"),
        ("severity", "severity P3 → P1 (checkout affected)"),
        ("note", "rolled back 2026.12.1"),
        ("status", "status investigating → identified: bad release"),
        ("check", "ticked 5 Resolution plan developed: rollback"),
        ("check", "marked n/a 14 User experience verified"),
        ("resolved", "resolved: rolled back"),
    ]
    marks = {c["number"]: c["state"] for c in doc["checklist"] if c["state"] != "open"}
    assert marks == {5: "done", 14: "na"}
    assert doc["timeline"][2]["data"]["followup"] is True
    listed = run("list", "--json").json["incidents"]
    assert listed == []  # resolved: not listed by default
    assert [i["id"] for i in run("list", "--all", "--json").json["incidents"]] == ["INC-1"]
    assert run("reopen", "INC-1").exit_code == 0
    assert run("list", "--status", "investigating", "--json").json["incidents"][0]["id"] == "INC-1"


def test_show_on_a_terminal_is_a_readable_page(run) -> None:
    run("open", "--title", "Search slow", "--severity", "P2", "--as", "ana")
    run("check", "INC-1", "18", "--as", "bo")
    out = run("show", "INC-1").stdout
    assert out.splitlines()[0].strip() == "INC-1  Search slow"
    assert "P2 · investigating · impact minor · owner ana" in out
    assert "[x]  Team debrief completed" in out and "Post-Resolution" in out and "Timeline" in out


def test_overdue_updates_exit_3_for_cron(run, store_env) -> None:
    from sqlalchemy import create_engine, text

    run("open", "--title", "Old", "--severity", "P0")
    assert run("list", "--overdue").exit_code == 0  # just opened: the first update is 15 min away
    engine = create_engine(store_env["PERFBOOK_STORE_URL"])
    with engine.begin() as conn:  # as if the last update were long ago
        conn.execute(text("UPDATE incidents SET last_update_at = '2026-01-01T10:00:00Z'"))
    engine.dispose()
    result = run("list", "--overdue", "--json")
    assert result.exit_code == 3 and result.json["incidents"][0]["overdue"] is True
    assert "OVERDUE" in run("list").stdout


@pytest.mark.parametrize(("command", "extra"), ID_COMMANDS)
def test_every_command_refuses_an_unknown_id_in_one_line(run, command: str, extra: list[str]) -> None:
    run("open", "--title", "x", "--severity", "P3")
    for ref in ("INC-99", "nonsense"):
        result = run(command, ref, *extra)
        assert result.exit_code == 2, (command, ref, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
        assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
        assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["status", "INC-1", "fixed"],
        ["status", "INC-1", "resolved"],
        ["status", "INC-1", "investigating"],
        ["severity", "INC-1", "P5"],
        ["severity", "INC-1", "P3"],
        ["check", "INC-1", "monitoring"],
        ["check", "INC-1", "21"],
        ["check", "INC-1", "5", "--na", "--undo"],
        ["check", "INC-1", "6", "--undo"],
        ["note", "INC-1", "  "],
        ["open", "--title", ""],
        ["open"],
        ["open", "--title", "x", "--severity", "P9"],
        ["open", "--title", "x", "--impact", "huge"],
        ["list", "--status", "done"],
        ["reopen", "INC-1"],
        ["open", "--from-report", "/nonexistent/report.json"],
        ["open", "--triage", "--from-report", "r.json"],
        ["note", "INC-1", "x", "--as", ""],
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(run, args: list[str]) -> None:
    run("open", "--title", "x", "--severity", "P3")
    before = run("show", "INC-1", "--json").json
    result = run(*args)
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    assert run("show", "INC-1", "--json").json["timeline"] == before["timeline"]
    assert [i["id"] for i in run("list", "--all", "--json").json["incidents"]] == ["INC-1"]


def test_resolving_a_resolved_incident_is_exit_2(run) -> None:
    run("open", "--title", "x", "--severity", "P3")
    assert run("resolve", "INC-1").exit_code == 0
    result = run("resolve", "INC-1")
    assert result.exit_code == 2 and result.stderr.startswith("error: INC-1 is already resolved")


def test_a_store_that_cannot_be_written_is_one_line_and_leaves_nothing(perfbook, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = {"PERFBOOK_STORE_URL": f"sqlite:///{blocker}/perfbook.db"}
    for args in (["open", "--title", "x"], ["list"], ["show", "INC-1"]):
        result = perfbook("incident", *args, env=env)
        assert result.exit_code == 2 and result.stderr.startswith("error: store: cannot create"), (
            result.stderr
        )
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


def test_store_upgrade_and_status(perfbook, tmp_path: Path) -> None:
    import shutil

    from perfbook.store.migrate import HEAD

    shutil.copy(Path(__file__).parents[2] / "fixtures" / "store" / "v0.1.0.db", tmp_path / "old.db")
    env = {"PERFBOOK_STORE_URL": f"sqlite:///{tmp_path / 'old.db'}"}
    status = perfbook("store", "status", "--json", env=env).json
    assert (status["revision"], status["current"]) == (None, False)
    done = perfbook("store", "upgrade", "--json", env=env).json
    assert (done["before"], done["after"], done["changed"]) == (None, HEAD, True)
    assert perfbook("store", "upgrade", env=env).stdout.strip().endswith(f"already at {HEAD}")
    history = perfbook("fix", "history", "--json", env=env).json["entries"]
    assert len(history) == 3


@pytest.mark.parametrize(
    "args",
    [
        ["triage", "--only", "host", "--window", "200ms"],
        ["fix", "pg.analyze", "--table", "public.t", "--apply", "--yes"],
        ["load", "http://127.0.0.1:9/health", "-n", "5"],
        ["capacity", "http://127.0.0.1:9/health", "--max-duration", "1s"],
    ],
)
def test_evidence_for_an_unknown_or_resolved_incident_is_refused_before_any_work(
    perfbook, store_env, args
) -> None:
    env = {**store_env, "PERFBOOK_POSTGRES_DSN": "postgresql://nobody@127.0.0.1:9/x"}
    for ref, message in (("INC-3", "no incident INC-3"), ("INC-1", "INC-1 is resolved")):
        perfbook("incident", "open", "--title", "x", "--severity", "P3", env=store_env)
        perfbook("incident", "resolve", "INC-1", env=store_env)
        result = perfbook(*args, "--incident", ref, env=env)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith(f"error: {message}") and result.stdout == "", result.stderr


def test_triage_attaches_itself_through_the_environment(perfbook, store_env) -> None:
    perfbook("incident", "open", "--title", "x", "--severity", "P3", env=store_env)
    result = perfbook(
        "triage",
        "--only",
        "host",
        "--window",
        "300ms",
        "--fail-on",
        "never",
        "--json",
        env={**store_env, "PERFBOOK_INCIDENT": "INC-1"},
    )
    assert result.exit_code == 0, result.stderr
    assert result.json["probes"]["host"]["status"] == "ok"
    assert result.stderr.startswith("INC-1: triage #1: ")
    doc = perfbook("incident", "show", "INC-1", "--json", env=store_env).json
    assert [a["label"] for a in doc["artifacts"]] == ["triage #1"]
    ticked = {c["number"]: c["artifact"] for c in doc["checklist"] if c["state"] == "done"}
    # host only: metrics collected, a cause only if the host showed one, but no severity and no p95
    expected = {2: "triage #1", **({3: "triage #1"} if result.json["causes"] else {})}
    assert ticked == expected


def test_every_incident_change_rebuilds_the_status_page_when_a_dir_is_set(
    run, perfbook, store_env, tmp_path: Path
) -> None:
    page = tmp_path / "status"
    env = {**store_env, "PERFBOOK_STATUS_DIR": str(page)}
    assert (
        perfbook("incident", "open", "--title", "Checkout slow", "--severity", "P1", env=env).exit_code == 0
    )
    opened = json.loads((page / "status.json").read_text())
    assert [(i["id"], i["status"]) for i in opened["incidents"]] == [("INC-1", "investigating")], opened
    assert opened["status"]["state"] != "operational"
    assert perfbook("incident", "resolve", "INC-1", "-m", "rolled back", env=env).exit_code == 0
    resolved = json.loads((page / "status.json").read_text())
    assert resolved["incidents"] == [] and resolved["status"]["state"] == "operational", resolved
    assert [i["id"] for i in resolved["history"]] == ["INC-1"]
    # without [status] dir nothing is written anywhere
    assert run("open", "--title", "y", "--severity", "P3").exit_code == 0
    assert sorted(p.name for p in page.iterdir()) == ["index.html", "status.json", "status.txt"]

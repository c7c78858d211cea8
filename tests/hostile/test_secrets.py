"""A seeded secret in every config form, every command: it must be in no output and no file (#12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import Hostile, closed_port

from hostile import SECRET, perfbook

DEAD = closed_port()


def _cfg(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "perfbook.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/audit.db"\n{text}\n')
    return path


def _files(tmp_path: Path) -> list[Path]:
    """Every file the command may have written: reports, results, the audit store."""
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "perfbook.toml"]


TRIAGE_FORMS = {
    "base_url userinfo": (
        f'[http]\nbase_url = "http://ops:{SECRET}@127.0.0.1:{DEAD}"\n[frontend]\nurl = ""',
        "http",
    ),
    "base_url token as user": (
        f'[http]\nbase_url = "http://{SECRET}@127.0.0.1:{DEAD}"\n[frontend]\nurl = ""',
        "http,metrics",
    ),
    "websocket access_key": (
        f'[websocket]\nurl = "ws://127.0.0.1:{DEAD}/ws?access_key={SECRET}"',
        "websocket",
    ),
    "frontend token": (f'[frontend]\nurl = "http://127.0.0.1:{DEAD}/?token={SECRET}"', "frontend"),
    "keyword DSN, quoted password": (
        f"[postgres]\ndsn = \"host=127.0.0.1 port={DEAD} dbname=app user=app password='a {SECRET}'\"",
        "postgres",
    ),
    "DSN URL password": (f'[postgres]\ndsn = "postgresql://app:{SECRET}@127.0.0.1:{DEAD}/app"', "postgres"),
    "redis password": (f'[redis]\nurl = "redis://:{SECRET}@127.0.0.1:{DEAD}/0"', "redis"),
}


@pytest.mark.parametrize("form", list(TRIAGE_FORMS))
@pytest.mark.parametrize("output", ["json", "text", "markdown"])
def test_triage_never_shows_a_secret(attempt, tmp_path, form, output):
    text, only = TRIAGE_FORMS[form]
    cfg = _cfg(tmp_path, text)
    args = ["triage", "--config", str(cfg), "--only", only, "--window", "0.3s", "--fail-on", "never"]
    args += {"json": ["--json"], "text": [], "markdown": ["--markdown", str(tmp_path / "incident.md")]}[
        output
    ]
    run = perfbook(*args, env={"COLUMNS": "60"})  # a narrow terminal: Rich wraps lines mid-URL
    attempt.check(run, codes={0}, files=_files(tmp_path))


@pytest.mark.parametrize(
    "form", ["keyword DSN, quoted password", "DSN URL password", "redis password", "base_url userinfo"]
)
@pytest.mark.parametrize("as_json", [False, True])
def test_config_show_never_shows_a_secret(attempt, tmp_path, form, as_json):
    cfg = _cfg(tmp_path, TRIAGE_FORMS[form][0])
    run = perfbook(
        "config", "show", "--config", str(cfg), *(["--json"] if as_json else []), env={"COLUMNS": "70"}
    )
    attempt.check(run, codes={0})


def test_a_dsn_from_the_environment(attempt, tmp_path):
    run = perfbook(
        "config", "show", "--json", env={"PERFBOOK_POSTGRES_DSN": f"postgresql://u:{SECRET}@db/app"}
    )
    attempt.check(run, codes={0})


@pytest.mark.parametrize(
    "text",
    [
        f'[postgres]\ndsn = ["postgresql://u:{SECRET}@h/db"]',
        f'[http]\nendpoints = [["postgresql://u:{SECRET}@h/db"]]',
        f'[redis]\nurl = "redis://:{SECRET}@h:6379/99"',
    ],
)
def test_a_config_error_never_echoes_a_secret(attempt, tmp_path, text):
    run = perfbook("config", "show", "--config", str(_cfg(tmp_path, text)))
    attempt.check(run, codes={2}, error=True)


def test_a_token_in_a_restart_command(attempt, tmp_path):
    cfg = _cfg(
        tmp_path,
        f'[http]\nbase_url = ""\n[fix]\nrestart_commands = {{ api = "curl -s -H '
        f"'Authorization: Bearer {SECRET}' http://127.0.0.1:{DEAD}/restart\" }}",
    )
    plan = perfbook("fix", "process.restart", "--name", "api", "--config", str(cfg))
    shown = perfbook("config", "show", "--config", str(cfg))
    history = perfbook("fix", "history", "--json", "--config", str(cfg))
    outcomes = [attempt.judge(run, codes={0}, files=_files(tmp_path)) for run in (plan, shown, history)]
    assert set(outcomes) <= {"correct"}, outcomes  # three attempts: every one is counted, then judged


def test_the_audit_store_never_keeps_a_dsn_password(attempt, tmp_path, pg_dsn):
    # trust: the password is unused
    dsn = pg_dsn.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")
    cfg = _cfg(tmp_path, f'[http]\nbase_url = ""\n[postgres]\ndsn = {json.dumps(dsn)}')
    perfbook("fix", "pg.analyze", "--config", str(cfg))
    run = perfbook("fix", "history", "--json", "--config", str(cfg))
    attempt.check(
        run,
        codes={0},
        files=_files(tmp_path),
        verify=[lambda: None if run.json["entries"] else "nothing was audited"],
    )


@pytest.fixture(scope="module")
def app():
    with Hostile("ok") as srv:
        yield srv


@pytest.mark.parametrize("secret_url", ["userinfo", "token"])
@pytest.mark.parametrize("as_json", [False, True])
def test_load_never_shows_a_secret_of_its_url(attempt, tmp_path, app, secret_url, as_json):
    url = (
        f"http://ops:{SECRET}@127.0.0.1:{app.port}/health"
        if secret_url == "userinfo"
        else f"{app.url}/health?token={SECRET}"
    )
    run = perfbook(
        "load",
        url,
        "-n",
        "20",
        "-c",
        "2",
        "-o",
        str(tmp_path / "result.json"),
        *(["--json"] if as_json else []),
        env={"COLUMNS": "60"},
    )
    attempt.check(run, codes={0}, files=_files(tmp_path))


def test_triage_url_flag_with_userinfo(attempt, tmp_path):
    run = perfbook(
        "triage",
        "--url",
        f"http://ops:{SECRET}@127.0.0.1:{DEAD}",
        "--only",
        "http",
        "--window",
        "0.2s",
        "--json",
        "--fail-on",
        "never",
    )
    attempt.check(run, codes={0})


def test_headers_from_the_environment_are_never_shown(attempt, tmp_path, app):
    cfg = _cfg(
        tmp_path,
        f'[http]\nbase_url = "{app.url}"\n[[http.endpoints]]\npath = "/health"\n'
        'headers_env = "API_HEADERS"\n[frontend]\nurl = ""',
    )
    run = perfbook(
        "triage",
        "--config",
        str(cfg),
        "--only",
        "http",
        "--window",
        "0.2s",
        "--json",
        "--fail-on",
        "never",
        env={"API_HEADERS": f"Authorization: Bearer {SECRET}"},
    )
    attempt.check(run, codes={0})


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_stress_against_an_unreachable_target(attempt, kind):
    flag, url = (
        ("--dsn", f"postgresql://app:{SECRET}@127.0.0.1:{DEAD}/app")
        if kind == "postgres"
        else ("--url", f"redis://:{SECRET}@127.0.0.1:{DEAD}/0")
    )
    run = perfbook("stress", kind, flag, url, "-d", "0.3s")
    attempt.check(run, codes={1}, error=True)


def test_probe_with_userinfo(attempt, tmp_path, app):
    cfg = _cfg(
        tmp_path, f'[http]\nbase_url = "http://ops:{SECRET}@127.0.0.1:{app.port}"\nendpoints = ["/health"]'
    )
    run = perfbook("probe", "http", "--config", str(cfg), "--window", "0.2s", "--json")
    attempt.check(run, codes={0})

"""The CLI's one I/O seam: interactivity, prompts, one JSON document, colour, config — and that
every command takes --config / PERFBOOK_CONFIG, with no short -c that could mean two things."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import typer

from perfbook.cli.env import Env


class _Terminal(io.StringIO):
    """An in-memory stream that says it is a terminal (what a person's shell gives)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "stdin_tty, stderr_tty, ci, expected",
    [
        (True, True, None, True),
        (True, True, "true", False),
        (False, True, None, False),
        (True, False, None, False),
    ],
)
def test_interactive_needs_a_terminal_on_stdin_and_stderr_and_no_ci(stdin_tty, stderr_tty, ci, expected):
    env = Env(
        stdin=_Terminal() if stdin_tty else io.StringIO(),
        stdout=io.StringIO(),
        stderr=_Terminal() if stderr_tty else io.StringIO(),
        environ={"CI": ci} if ci else {},
    )
    assert env.interactive is expected


@pytest.mark.parametrize(
    "typed, expected", [("y\n", True), ("yes\n", True), ("\n", False), ("n\n", False), ("maybe\ny\n", True)]
)
def test_confirm_reads_the_answer_from_stdin_and_asks_on_stderr(typed, expected):
    env = Env(stdin=io.StringIO(typed), stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    assert env.confirm("apply pg.terminate?") is expected
    assert env.stderr.getvalue().startswith("apply pg.terminate? [y/N]: ")
    assert env.stdout.getvalue() == ""
    assert ("Error: invalid input" in env.stderr.getvalue()) is typed.startswith("maybe")


def test_confirm_at_end_of_input_aborts():
    env = Env(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    with pytest.raises(typer.Abort):
        env.confirm("apply?")


def test_exactly_one_json_document_on_stdout():
    env = Env(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    env.json({"severity": "P2", "title": "p95 2.4 s on /api/v1/users…"})
    with pytest.raises(RuntimeError):
        env.json({"second": True})
    assert json.loads(env.stdout.getvalue()) == {"severity": "P2", "title": "p95 2.4 s on /api/v1/users…"}


def test_no_color_turns_colour_off_even_on_a_terminal():
    assert Env(stdout=_Terminal(), environ={}).color is True
    env = Env(stdout=_Terminal(), environ={"NO_COLOR": "1"})
    assert env.color is False and env.out.no_color


def test_config_comes_from_the_env_of_the_run(tmp_path: Path):
    env = Env(environ={"PERFBOOK_REDIS_URL": "redis://127.0.0.1:1/0"})
    cfg = env.config(None)
    assert cfg.redis.url == "redis://127.0.0.1:1/0" and cfg.source_of("redis.url") == "env PERFBOOK_REDIS_URL"


COMMANDS_READING_CONFIG = [
    ["triage", "--only", "http"],
    ["probe", "http"],
    ["config", "show"],
    ["fix", "history"],
    ["load", "http://127.0.0.1:9/", "-n", "1", "--slo", "kpi"],
    ["capacity", "http://127.0.0.1:9/", "--slo", "kpi"],
    ["stress", "postgres"],
    ["stress", "redis"],
    ["stress", "connections"],
]


@pytest.mark.parametrize("args", COMMANDS_READING_CONFIG, ids=" ".join)
def test_every_command_reads_perfbook_config(perfbook, tmp_path: Path, args):
    bad = tmp_path / "broken.toml"
    bad.write_text("[http\n")
    by_env = perfbook(*args, env={"PERFBOOK_CONFIG": str(bad)})
    assert by_env.exit_code == 2 and f"{bad}: not valid TOML" in by_env.stderr, by_env.stderr
    by_flag = perfbook(*args, "--config", str(bad))
    assert by_flag.exit_code == 2 and f"{bad}: not valid TOML" in by_flag.stderr, by_flag.stderr


@pytest.mark.parametrize("args", [["triage"], ["probe", "http"], ["config", "show"]], ids=" ".join)
def test_short_c_is_not_config(perfbook, tmp_path: Path, args):
    result = perfbook(*args, "-c", str(tmp_path / "perfbook.toml"))
    assert result.exit_code == 2 and "No such option: -c" in result.stderr, result.stderr

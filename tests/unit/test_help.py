"""Help that teaches: every command and option described, no ``<type>`` metavars, nothing past 80 columns."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import typer

from perfbook.cli import _register, app, help, main
from perfbook.cli.env import Env


def _commands() -> list[tuple[list[str], Any]]:
    _register()
    root = typer.main.get_command(app)
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], cmd: Any) -> None:
        found.append((path, cmd))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            if not sub.hidden:
                walk([*path, name], sub)

    walk([], root)
    return found


def run(*argv: str, columns: int = 80) -> tuple[int, str, str]:
    env = Env(
        stdin=io.StringIO(),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        environ={"COLUMNS": str(columns), "NO_COLOR": "1"},
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("COLUMNS", str(columns))
    try:
        main(list(argv), env=env)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        mp.undo()
    return code, env.stdout.getvalue(), env.stderr.getvalue()


COMMANDS = _commands()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "perfbook")
def test_every_command_and_option_is_described(path):
    cmd = dict((tuple(p), c) for p, c in COMMANDS)[tuple(path)]
    assert (cmd.help or cmd.short_help or "").strip(), f"perfbook {' '.join(path)} has no description"
    for param in cmd.params:
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False):
            assert (param.help or "").strip(), f"perfbook {' '.join(path)} {param.opts[0]} has no description"
    code, out, err = run(*path, "--help")
    assert code == 0, err
    assert not re.search(r"<[a-z][a-z |]*>", out), out
    assert [line for line in out.splitlines() if len(line) > 80] == []


def test_help_sentences_are_not_broken_mid_line():
    code, out, _ = run("--help")
    assert code == 0
    assert "the performance-incident runbook as software." in out
    lines = [line.strip() for line in out.splitlines()]
    assert (
        "breaks" not in lines
        and "(load, capacity, stress), apply" not in " ".join(lines[:12]).split("breaks")[0]
    )
    # the prose paragraph fills lines: no line of it ends far short of the width but the last
    prose = out.split("Diagnose", 1)[1].split("Examples:", 1)[0]
    body = [line for line in prose.splitlines() if line.strip()]
    assert all(len(line) > 60 for line in body[:-1]), body


def test_load_usage_names_compare_plainly():
    code, out, _ = run("load", "--help")
    assert code == 0
    assert "{url}" not in out and "[files]" not in out
    assert "Usage: perfbook load [OPTIONS] URL | compare BEFORE.json AFTER.json" in out


def test_reflow_keeps_examples_as_written():
    text = "One sentence\nwrapped here.\n\nExamples:\n\n  perfbook triage  # note"
    assert help.reflow(text) == "One sentence wrapped here.\n\nExamples:\n\n  perfbook triage  # note"


def test_every_fix_has_its_own_help():
    from perfbook.fix.catalog import CATALOG, fix_class

    for fix_id in CATALOG:
        code, out, err = run("fix", fix_id, "--help")
        assert code == 0, err
        assert f"Usage: perfbook fix {fix_id}" in out and "Safety:" in out and "Examples:" in out
        for p in fix_class(fix_id).params:
            assert p.flag in out, f"{fix_id} --help does not show {p.flag}"
        assert [line for line in out.splitlines() if len(line) > 80] == []


def test_fix_list_fits_100_columns():
    code, out, _ = run("fix", "--list", columns=200)
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    # wrapped descriptions continue under their own column, never at the start of the line
    ids = [line for line in lines if line and not line.startswith(" ")]
    assert all(line.split()[0].count(".") == 1 or line.startswith("Each action") for line in ids), ids

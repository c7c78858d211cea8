"""perfbook's command line: one module per command group, registered in one explicit list.

Only this package prints to the terminal and exits, and it does both through one seam,
:class:`perfbook.cli.env.Env` (streams, consoles, JSON, files, prompts, config: see that module
for how a new command uses it). Errors a user can act on are
:class:`perfbook.errors.PerfbookError`: one line (``error: …``), an optional ``hint: …``,
and their exit code; ``--debug`` (or ``PERFBOOK_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import typer

try:  # Typer >= 0.2x vendors its own Click; catch ITS exceptions
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older Typer on real Click
    from click import exceptions as click_exc  # type: ignore[no-redef]

from perfbook import __version__, interrupts
from perfbook.cli import help
from perfbook.cli.env import Env, current, using
from perfbook.cli.exit import ExitCode
from perfbook.errors import PerfbookError
from perfbook.files import OutputError, silence_stdout, stdout_failure
from perfbook.redact import redact

HELP = """perfbook: the performance-incident runbook as software.

Diagnose a slow web stack in seconds (triage), load-test it and find where it breaks
(load, capacity, stress), apply the runbook's fixes safely (fix), keep the incident record and the
runbook's checklist (incident), and run a lab to see it all.

Examples:

  perfbook triage        # every layer, default window 2 s

  perfbook triage --only postgres,redis --json | jq '.findings[].code'

  perfbook load http://127.0.0.1:8001/health -n 1000 -c 10
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # a traceback's locals may hold a DSN: never show them
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        current().echo(f"perfbook {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors (env PERFBOOK_DEBUG=1)."),
) -> None:
    if debug:
        current().debug = True
        os.environ["PERFBOOK_DEBUG"] = "1"  # the commands perfbook runs (lab demo's triage) inherit it


def _register() -> None:
    # One explicit list: every command group, in the order --help shows them.
    if app.registered_commands or app.registered_groups:  # main() runs many times in one test process
        return
    from perfbook.cli import (
        alerts_cmd,
        alerts_watch_cmd,
        config_cmd,
        fix_cmd,
        incident_cmd,
        incident_comms_cmd,
        lab_cmd,
        load_cmd,
        serve_cmd,
        status_cmd,
        store_cmd,
        triage_cmd,
        watch_cmd,
    )

    # incident_comms_cmd adds notify / report to the incident group: after incident_cmd in this list
    # alerts_watch_cmd adds list / silence to the alerts group: after alerts_cmd
    for module in (
        triage_cmd,
        load_cmd,
        fix_cmd,
        incident_cmd,
        incident_comms_cmd,
        status_cmd,
        alerts_cmd,
        alerts_watch_cmd,
        watch_cmd,
        serve_cmd,
        lab_cmd,
        config_cmd,
        store_cmd,
    ):
        module.register(app)


def print_error(err: PerfbookError, env: Env) -> None:
    """Write ``error: …`` and an optional ``hint: …`` to stderr, redacted."""
    try:
        env.echo(f"error: {redact(str(err))}", err=True)
        if err.hint:
            env.echo(f"hint: {redact(err.hint)}", err=True)
    except (OSError, OutputError):  # stderr is gone too: the exit code is all that is left to say it
        pass


def main(argv: list[str] | None = None, env: Env | None = None) -> None:
    """Console-script entry point: runs the app in ``env`` (the process' own streams by default)
    and maps errors to exit codes.

    Everything written to stdout and stderr goes through the one redaction pass (the Env's
    streams are :class:`perfbook.files.OutputStream`); SIGTERM ends a command like Ctrl-C does
    (143 instead of 130); a failed write to stdout is one line.
    """
    _register()
    help.install()
    interrupts.install()
    env = env if env is not None else Env()
    with using(env):
        code = _run(argv, env)
    sys.exit(code)


def _run(argv: list[str] | None, env: Env) -> int:
    try:
        # Not standalone: Click would turn Ctrl-C into exit 1, and we promise 130.
        code = app(args=argv, prog_name="perfbook", standalone_mode=False)
        env.stdout.flush()  # a full disk or a closed pipe shows here, not at interpreter exit
        if code == ExitCode.INTERRUPTED:  # Typer returns 130 for any KeyboardInterrupt, SIGTERM's too
            terminated = interrupts.last_signal() == signal.SIGTERM
            env.echo("terminated" if terminated else "interrupted", err=True)
            code = interrupts.exit_code_for(signal.SIGTERM) if terminated else code
    except click_exc.ClickException as err:
        err.show(file=env.stderr)
        return err.exit_code
    except getattr(click_exc, "Abort", typer.Abort):
        env.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    except (KeyboardInterrupt, asyncio.CancelledError) as err:
        if isinstance(err, asyncio.CancelledError) and interrupts.last_signal() is None:
            raise  # a cancellation no signal asked for is a bug: show it
        code = interrupts.exit_code(err)
        env.echo(
            "terminated" if code == interrupts.exit_code_for(signal.SIGTERM) else "interrupted", err=True
        )
        return code
    except PerfbookError as err:
        if env.debug:
            raise
        print_error(err, env)
        if isinstance(err, OutputError):
            silence_stdout()
        return err.exit_code
    except OSError as err:
        failure = stdout_failure(err)
        if failure is None:
            raise
        print_error(failure, env)
        silence_stdout()
        return failure.exit_code
    return code if isinstance(code, int) else ExitCode.OK

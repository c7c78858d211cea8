"""The one I/O seam of the CLI: every command reads and writes through an :class:`Env`.

Modelled on httpie's ``Environment``: the streams, the Rich consoles on them (colour only on a
terminal, ``NO_COLOR`` honoured), the JSON writer (exactly one document on stdout), atomic file
output, whether a person can answer a prompt, and the config. :func:`perfbook.cli.main` builds one
per run (or takes the one a test passes: ``main(argv, env=Env(stdout=io.StringIO(), …))``) and
:func:`current` hands it to the command. A new command uses it like this::

    from perfbook.cli.env import CONFIG_OPTION, JSON_OPTION, current

    def status(config: Path | None = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
        \"\"\"Show … (first line: the summary; then examples).\"\"\"
        env = current()
        doc = build_status(env.config(config))      # the core: returns data, raises PerfbookError
        if as_json:
            env.json(doc)                           # the one JSON document on stdout
        else:
            env.out.print(status_table(doc))        # Rich renderable; progress and notes go to env.err
        raise typer.Exit(ExitCode.OK)

Prompts go through :meth:`Env.confirm` (refused when :attr:`Env.interactive` is False: add
``--yes``), files through :meth:`Env.write` (their paths checked first with :meth:`Env.check_output`,
before the command's work), plain lines through :meth:`Env.echo`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console

from perfbook.config import Config, load_config
from perfbook.files import OutputStream, check_output, write_atomic, write_text

CONFIG_OPTION = typer.Option(
    None,
    "--config",
    envvar="PERFBOOK_CONFIG",
    dir_okay=False,
    help="perfbook.toml to read (env PERFBOOK_CONFIG; default ./perfbook.toml, else built-in defaults).",
)
JSON_OPTION = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")

_CURRENT: ContextVar[Env | None] = ContextVar("perfbook_cli_env", default=None)


@dataclass
class Env:
    """The streams and environment of one CLI run (the process' own by default).

    env = Env(stdin=io.StringIO("y\\n"), stdout=io.StringIO(), stderr=io.StringIO())
    main(["fix", "--list", "--json"], env=env)   # a test's run, nothing patched
    """

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    debug: bool = False  # show tracebacks instead of one-line errors (--debug)
    _json_written: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.debug = self.debug or self.environ.get("PERFBOOK_DEBUG") == "1"
        # Every write redacted, a failed write one line (perfbook.files.OutputStream)
        self.stdout = OutputStream.around(self.stdout)  # type: ignore[assignment]  # a TextIO by its methods
        self.stderr = OutputStream.around(self.stderr)  # type: ignore[assignment]

    @property
    def no_color(self) -> bool:
        """``NO_COLOR`` set to anything but "" (https://no-color.org)."""
        return self.environ.get("NO_COLOR", "") != ""

    @cached_property
    def out(self) -> Console:
        """The report console on stdout."""
        return Console(file=self.stdout, soft_wrap=False, highlight=False, no_color=self.no_color)

    @cached_property
    def err(self) -> Console:
        """Progress, warnings and notes: never on stdout, so ``--json`` stays one document."""
        return Console(file=self.stderr, highlight=False, no_color=self.no_color)

    @property
    def color(self) -> bool:
        """True when stdout is a terminal and colour is not turned off."""
        return self.out.is_terminal and not self.no_color

    @property
    def interactive(self) -> bool:
        """True when a person can answer a prompt and watch progress: stdin and stderr are
        terminals, and this is not a CI job (``CI=true``)."""
        return _isatty(self.stdin) and _isatty(self.stderr) and self.environ.get("CI", "").lower() != "true"

    def config(self, path: Path | None, overrides: dict[str, tuple[Any, str]] | None = None) -> Config:
        """The effective config for a command (``--config`` / ``PERFBOOK_CONFIG``, env, flags)."""
        return load_config(path, env=self.environ, overrides=overrides)

    def json(self, doc: Any) -> None:
        """Write THE JSON document of this run to stdout (a second one is a bug)."""
        if self._json_written:
            raise RuntimeError("a command wrote a second JSON document to stdout")
        self._json_written = True
        self.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
        self.stdout.flush()

    def echo(self, text: str, *, err: bool = False) -> None:
        """One plain line (no markup) to stdout, or to stderr with ``err``."""
        stream = self.stderr if err else self.stdout
        stream.write(text + "\n")
        stream.flush()

    def check_output(self, path: Path, what: str) -> Path:
        """Before the work: ``path`` can be written (a regular file or none, in a writable directory);
        UsageError naming ``what`` otherwise (see :func:`perfbook.files.check_output`)."""
        return check_output(path, what)

    def write(self, path: Path, text: str, *, what: str = "file", secret: bool = False) -> None:
        """Write a file atomically, 0600 when new, checked again, redacted — unless ``secret``: a file
        whose job is to carry a credential (see :mod:`perfbook.files`)."""
        if secret:
            write_atomic(path, text, what=what)
        else:
            write_text(path, text, what=what)

    def confirm(self, question: str) -> bool:
        """Ask ``question [y/N]`` on stderr and read the answer from stdin (default no).

        Callers check :attr:`interactive` first and refuse without ``--yes`` when it is False.
        End of input aborts (exit 130), as Ctrl-C does.
        """
        while True:
            self.stderr.write(f"{question} [y/N]: ")
            self.stderr.flush()
            line = self.stdin.readline()
            if not line:
                self.stderr.write("\n")
                raise typer.Abort()
            answer = line.strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("", "n", "no"):
                return False
            self.stderr.write("Error: invalid input\n")


def current() -> Env:
    """The Env of the running command (the process' own outside :func:`perfbook.cli.main`)."""
    env = _CURRENT.get()
    if env is None:
        env = Env()
        _CURRENT.set(env)
    return env


@contextlib.contextmanager
def using(env: Env) -> Iterator[Env]:
    """Make ``env`` the current one for a run. Click and Typer write their own help and usage
    errors to ``sys.stdout`` / ``sys.stderr``: those point at the Env's streams meanwhile."""
    token = _CURRENT.set(env)
    try:
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            yield env
    finally:
        _CURRENT.reset(token)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False

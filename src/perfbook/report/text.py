"""The one rendering rule for perfbook's terminal text (reports and the CLI's listings).

A tired person reads it at a glance, so:

- a wrapped line continues under the start of its own text (a hanging indent), never at column 0;
- nothing runs past the terminal width (80 columns works; long words are folded, not cut);
- a reason said once is not said again: repeats are grouped with the places they apply to.

Rich renderables come from :func:`hang`; plain lines (``fix --list``, ``fix history``) from
:func:`hanging_lines`. Pure: nothing here prints.

    >>> hanging_lines("fix: ", "see whether the backend runs and why it does not answer", width=30)
    ['fix: see whether the backend', '     runs and why it does not', '     answer']
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Iterable
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

DEFAULT_WIDTH = 80
P = TypeVar("P")


def hang(prefix: str | Text, body: str | Text, *, indent: int = 0, style: str = "") -> RenderableType:
    """``prefix`` then ``body``; the body's wrapped lines continue under the body's first character.

    ``indent`` columns of margin go before the prefix (and so before every continuation too).
    """
    body_text = body if isinstance(body, Text) else Text(body, style=style)
    if not (prefix.plain if isinstance(prefix, Text) else prefix):
        body_text.overflow = "fold"
        return Padding(body_text, (0, 0, 0, indent)) if indent else body_text
    grid = Table.grid(padding=0)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(prefix if isinstance(prefix, Text) else Text(prefix, style=style), body_text)
    return Padding(grid, (0, 0, 0, indent)) if indent else grid


def paragraph(text: str | Text, *, indent: int = 0, style: str = "") -> RenderableType:
    """A sentence that continues under its own text: ``label: rest`` hangs after the label (when
    it is short), anything else two columns in from its start."""
    plain = text.plain if isinstance(text, Text) else text
    head, sep, _ = plain.partition(": ")
    cut = len(head) + len(sep) if sep and len(head) <= 40 else 0
    whole = text if isinstance(text, Text) else Text(text, style=style)
    if cut:
        return hang(whole[:cut], whole[cut:], indent=indent)
    first, _, rest = plain.partition(" ")
    if not rest:
        return hang("", whole, indent=indent)
    return hang(whole[: len(first) + 1], whole[len(first) + 1 :], indent=indent)


def hanging_lines(
    prefix: str, text: str, width: int = DEFAULT_WIDTH, indent: int = 0, more: int = 0
) -> list[str]:
    """``prefix`` + ``text`` wrapped to ``width``: continuations start under the text (``more``
    columns further in for a command, so its continuation is not read as a new one).

    >>> hanging_lines("- ", "a" * 12, width=12)
    ['- aaaaaaaaaa', '  aa']
    """
    lead = " " * indent + prefix
    room = max(width - len(lead), 10)
    first, *rest = textwrap.wrap(text, room, break_on_hyphens=False) or [""]
    if rest and more:
        rest = textwrap.wrap(" ".join(rest), max(room - more, 10), break_on_hyphens=False)
    return [lead + first] + [" " * (len(lead) + more) + line for line in rest]


def table_lines(
    header: list[str], rows: list[list[str]], width: int = DEFAULT_WIDTH, wrap: int | None = None
) -> list[str]:
    """Plain columns with a header row; the ``wrap`` column (default: the last) takes what width is left
    and wraps under itself, so no line passes ``width``.

    >>> table_lines(["id", "what"], [["a", "one two three four"]], width=14)
    ['id  what', 'a   one two', '    three four']
    """
    return [line for block in table_blocks(header, rows, width, wrap) for line in block]


def table_blocks(
    header: list[str], rows: list[list[str]], width: int = DEFAULT_WIDTH, wrap: int | None = None
) -> list[list[str]]:
    """:func:`table_lines` as one list of lines per row (the header's first), so a caller can put
    lines of its own under a row while the columns stay aligned."""
    wrap = len(header) - 1 if wrap is None else wrap
    cols = list(zip(header, *rows, strict=True))
    widths = [max(len(c) for c in col) for col in cols]
    fixed = sum(w + 2 for i, w in enumerate(widths) if i != wrap)
    widths[wrap] = max(min(widths[wrap], width - fixed), 10)
    blocks = []
    for row in [header, *rows]:
        cells = [
            textwrap.wrap(c, widths[i], break_on_hyphens=False) or [""] if i == wrap else [c]
            for i, c in enumerate(row)
        ]
        blocks.append(
            [
                "  ".join((c[n] if n < len(c) else "").ljust(widths[i]) for i, c in enumerate(cells)).rstrip()
                for n in range(max(len(c) for c in cells))
            ]
        )
    return blocks


def grouped(pairs: Iterable[tuple[P, str]]) -> list[tuple[str, list[P]]]:
    """Each distinct reason once, with the places it applies to, in first-seen order.

    >>> grouped([("http", "refused"), ("metrics", "refused"), ("redis", "timeout")])
    [('refused', ['http', 'metrics']), ('timeout', ['redis'])]
    """
    seen: dict[str, list[P]] = {}
    for place, reason in pairs:
        seen.setdefault(reason, []).append(place)
    return list(seen.items())


def waiting_line(running: dict[str, float], done: int, total: int) -> str:
    """The triage spinner's text: the probes still running, with their remaining budget.

    >>> waiting_line({"postgres": 3.24, "redis": 0.0}, 5, 8)
    'triage: waiting for postgres (3.2 s left), redis (at its budget) — 5 of 8 probes done'
    >>> waiting_line({}, 0, 0)
    'triage: starting the probes…'
    """
    if not running:
        return (
            "triage: starting the probes…" if done < total or not total else "triage: judging the evidence…"
        )
    names = ", ".join(
        f"{name} ({left:.1f} s left)" if left > 0 else f"{name} (at its budget)"
        for name, left in running.items()
    )
    return f"triage: waiting for {names} — {done} of {total} probes done"


def said_in(phrase: str, text: str) -> bool:
    """True when ``phrase`` (case and spacing aside) already appears in ``text``.

    >>> said_in("Connection refused  127.0.0.1:5", "pg: connection refused 127.0.0.1:5 now")
    True
    """
    norm = _norm(phrase)
    return bool(norm) and norm in _norm(text)


def plain_render(renderable: RenderableType, width: int) -> str:
    """What ``renderable`` looks like on a ``width``-column terminal without colour (for tests and
    for plain-text listings)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, soft_wrap=False, highlight=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()

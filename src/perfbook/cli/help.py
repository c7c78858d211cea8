"""How ``--help`` reads: sentences that wrap where the terminal wraps them, and plain metavars.

Typer's Rich help keeps the single line breaks of a docstring (a sentence then breaks mid-line at
any width but the one it was typed at) and shows ``<bool>`` beside every flag. :func:`install`
adjusts both, once, before the first help is drawn: prose paragraphs are reflowed (lines that
start indented, like the examples, stay as written) and a flag shows no metavar, other options an
upper-case one (``PATH``, ``INTEGER``). When Typer changes these internals the help keeps Typer's
own look: nothing breaks.

    >>> reflow("Diagnose a slow stack\\nin seconds.\\n\\n  perfbook triage\\n  perfbook load URL")
    'Diagnose a slow stack in seconds.\\n\\n  perfbook triage\\n  perfbook load URL'
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False
_TYPE_WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "bool": "",
    "directory": "DIR",
    "float range": "NUMBER",
    "int range": "INTEGER",
}


def reflow(text: str) -> str:
    """Join the single line breaks of prose paragraphs; keep indented and ``\\b`` paragraphs as they are."""
    out = []
    for para in text.split("\n\n"):
        lines = para.split("\n")
        if para.startswith("\b") or any(line.startswith((" ", "\t")) for line in lines if line):
            out.append(para)
        else:
            out.append(" ".join(line.strip() for line in lines if line.strip()))
    return "\n\n".join(out)


def metavar_word(display: str | None) -> str | None:
    """``<bool>`` -> None (a flag takes no value), ``<path>`` -> ``PATH``, ``<a|b>`` -> ``a|b``.

    >>> metavar_word("<bool>"), metavar_word("<int>"), metavar_word("<json|md>"), metavar_word("N")
    (None, 'INTEGER', 'json|md', 'N')
    """
    if not display or not (display.startswith("<") and ">" in display):
        return display
    inner, rest = display[1:].split(">", 1)
    if "|" in inner:
        return inner + rest
    word = _TYPE_WORDS.get(inner, inner.upper())
    return (word + rest) or None


def install() -> None:
    """Make Typer's help use :func:`reflow` and :func:`metavar_word` (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    try:
        from typer import core, rich_utils
    except ImportError:  # pragma: no cover - Typer without Rich help
        return
    _plain_arguments(core)
    option_display = getattr(core.TyperOption, "display_type_rich", None)
    if option_display is not None:

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            if getattr(self, "is_bool_flag", False) and self.metavar is None:
                return None
            return metavar_word(option_display(self, ctx))

        core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    fix_linebreaks = getattr(rich_utils, "_fix_linebreaks", None)
    if fix_linebreaks is not None:

        def reflowed(paragraphs: list[str], markup_mode: Any) -> str:
            return fix_linebreaks([reflow(p) for p in paragraphs], markup_mode)

        rich_utils._fix_linebreaks = reflowed
    make_text = getattr(rich_utils, "_make_rich_text", None)
    if make_text is not None:

        def folded(**kwargs: Any) -> Any:  # a path longer than the column folds instead of ending in "…"
            text = make_text(**kwargs)
            if hasattr(text, "overflow"):
                text.overflow = "fold"
            return text

        rich_utils._make_rich_text = folded


def _plain_arguments(core: Any) -> None:
    """Arguments as ``URL`` / ``[FILES]...`` in usage lines (not ``{url}``), and no ``<str>`` beside them;
    an explicit metavar is shown exactly as written."""
    argument = getattr(core, "TyperArgument", None)
    if argument is None or not hasattr(argument, "_usage_display_name"):
        return
    arg_display = getattr(argument, "display_type_rich", None)

    def usage_name(self: Any) -> str:
        if self.metavar is not None:
            return str(self.metavar)
        name = str(self.name).upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    argument._usage_display_name = usage_name
    if arg_display is not None:
        argument.display_type_rich = lambda self, ctx: (
            metavar_word(arg_display(self, ctx)) if self.metavar is None else None
        )

"""Jinja2 templates shipped in ``perfbook/templates``, overridable file by file from a directory.

Messages (``messages/internal/*.txt.j2``, ``messages/external/*.txt.j2``), the status page
(``status/``) and the HTML / Markdown reports (``report/``) are all rendered here. A file of the
same name in ``[notify] templates_dir`` wins over the shipped one. HTML templates are autoescaped;
text templates are not. Undefined variables are errors, so a typo in an override fails loudly.

    env = environment("")
    text = render(env, "messages/internal/detected.txt.j2", ctx)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfbook.errors import ConfigError


def environment(override_dir: str = "") -> Any:
    """A Jinja2 environment over ``override_dir`` (when set) then the shipped templates."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if override_dir:
        path = Path(override_dir).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"[notify] templates_dir: {path} is not a directory",
                hint='set it to a directory of templates, or "" for the shipped ones',
            )
        loaders.append(jinja2.FileSystemLoader(str(path)))
    loaders.append(jinja2.PackageLoader("perfbook", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=lambda name: name is not None and ".html" in name,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=_pct, seconds=_seconds, when=_when, stamp=_stamp)
    env.globals["perfbook_override_dir"] = override_dir
    return env


def render(env: Any, name: str, context: dict[str, Any]) -> str:
    """Render template ``name``; a broken override is a config error naming the file."""
    import jinja2

    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise ConfigError(f"template not found: {name}") from None
    except jinja2.TemplateError as err:
        override = env.globals.get("perfbook_override_dir")
        raise ConfigError(
            f"template {name}: {err}",
            hint=f"check the templates in {override} ([notify] templates_dir)" if override else None,
        ) from None


def split_subject(text: str) -> tuple[str, str]:
    """A rendered message's first line is its subject, the rest (after a blank line) its body.

    >>> split_subject("[INC-7] P2 detected\\n\\nbody\\n")
    ('[INC-7] P2 detected', 'body\\n')
    """
    subject, _, body = text.partition("\n")
    return subject.strip(), body.lstrip("\n")


def _pct(value: float | None, digits: int = 1) -> str:
    """``0.0512`` -> ``5.1 %``; None -> ``-``."""
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _seconds(value: float | None) -> str:
    """``4.1`` -> ``4.10 s``, ``0.12`` -> ``120 ms``; None -> ``-``."""
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _when(iso: str | None) -> str:
    """``2026-12-01T20:14:05Z`` -> ``20:14 UTC, 1 Dec 2026`` (no seconds: people read it)."""
    if not iso:
        return "-"
    from perfbook.incidents.reminders import parse_iso

    t = parse_iso(iso)
    return f"{t:%H:%M} UTC, {t.day} {t:%b %Y}"


def _stamp(iso: str | None) -> str:
    """``2026-12-01T20:14:05Z`` -> ``1 Dec 20:14:05`` (a timeline row)."""
    if not iso:
        return "-"
    from perfbook.incidents.reminders import parse_iso

    t = parse_iso(iso)
    return f"{t.day} {t:%b %H:%M:%S}"

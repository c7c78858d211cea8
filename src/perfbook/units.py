"""Parse and format the units perfbook reads and prints: durations, sizes, shares.

>>> parse_duration("2s"), parse_duration("500ms"), parse_duration("1m30s"), parse_duration("3")
(2.0, 0.5, 90.0, 3.0)
>>> format_duration(0.0123), format_duration(2.5), format_duration(125)
('12.3 ms', '2.50 s', '2m05s')
>>> format_bytes(1536), format_bytes(3 * 1024**3)
('1.5 KiB', '3.0 GiB')
"""

from __future__ import annotations

import re

from perfbook.errors import UsageError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)?")
_SCALE = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, None: 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from ``2s``, ``500ms``, ``1m30s``, ``1.5`` (plain numbers are seconds).

    Raises ValueError with the text on anything else.
    """
    raw = text.strip().lower()
    pos, total = 0, 0.0
    while pos < len(raw):
        m = _DURATION_PART.match(raw, pos)
        if not m:
            raise ValueError(f"not a duration: {text!r} (use e.g. 2s, 500ms, 1m30s)")
        total += float(m.group(1)) * _SCALE[m.group(2)]
        pos = m.end()
    if not raw:
        raise ValueError("empty duration")
    return total


def parse_duration_s(text: str, flag: str = "", max_s: float | None = None) -> float:
    """A duration given on the command line, in seconds: a usage error naming ``flag`` otherwise.

    With ``max_s``, the value must also be more than 0 and at most ``max_s``. The one parser of
    ``--window``, ``-d``, ``--timeout``, ``--step-duration`` and the ``--stages`` durations.

    >>> parse_duration_s("2m"), parse_duration_s("250ms"), parse_duration_s("2s", "--window", max_s=3600)
    (120.0, 0.25, 2.0)
    """
    try:
        value = parse_duration(str(text))
    except ValueError as err:
        raise UsageError(f"{flag or 'duration'}: {err}", hint="e.g. 30s, 2m, 500ms") from None
    if max_s is not None and not 0 < value <= max_s:
        limit = f"{max_s / 3600:g}h" if max_s % 3600 == 0 else f"{max_s:g}s"
        raise UsageError(f"{flag or 'a duration'} must be between 0 and {limit}, got {text}")
    return value


def format_duration(seconds: float | None) -> str:
    """Human form with a sensible unit: ``12.3 ms``, ``2.50 s``, ``2m05s``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s"


def format_duration_range(low_s: float, high_s: float) -> str:
    """A figure known only to lie in a bucket: ``between 1.50 s and 10.00 s``, or ``under 3.0 ms``
    for the first bucket (which starts at 0).

    >>> format_duration_range(1.5, 10.0), format_duration_range(0.0, 0.003)
    ('between 1.50 s and 10.00 s', 'under 3.0 ms')
    """
    if low_s <= 0:
        return f"under {format_duration(high_s)}"
    return f"between {format_duration(low_s)} and {format_duration(high_s)}"


def format_bytes(n: float | None) -> str:
    """``1.5 KiB``, ``3.0 GiB``; ``-`` for None."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_pct(share: float | None, digits: int = 1) -> str:
    """A 0–1 share as a percentage; ``-`` for None.

    >>> format_pct(0.0523)
    '5.2 %'
    """
    return "-" if share is None else f"{share * 100:.{digits}f} %"


BARS = "▁▂▃▄▅▆▇█"  # the eighth blocks of a terminal sparkline


def sparkline(values: list[float | None], floor: float | None = None) -> str:
    """Values as bars from ``floor`` (default: the smallest value) to the largest; a gap for None.

    From the smallest value a small swing fills the height (a KPI over the last runs); from 0 a
    steady rate stays a flat line (a load's requests per second).

    >>> sparkline([1.0, 2.0, None, 3.0]), sparkline([0.0, 50.0, None, 100.0], floor=0.0)
    ('▁▅ █', '▁▅ █')
    >>> sparkline([295.0, 303.0]), sparkline([295.0, 303.0], floor=0.0), sparkline([None])
    ('▁█', '██', '')
    """
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low = min(known) if floor is None else floor
    span = (max(known) - low) or 1.0
    top = len(BARS) - 1
    return "".join(
        " " if v is None else BARS[min(top, max(0, int((v - low) / span * top + 0.5)))] for v in values
    )

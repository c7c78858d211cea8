"""Inline SVG drawn on the server (pure): KPI sparklines, latency over time, and status badges.

No JavaScript and nothing fetched: each figure is a string in the page, with a ``<title>`` that
says in words what it shows, so a screen reader and a tired eye both get it. A sample series is
drawn as a band (its low–high range per bucket) with the mean as a line.

    >>> svg = sparkline([(0, 1.0, 1.0, 1.0), (60, 3.0, 2.0, 4.0)], target=2.0, label="p95")
    >>> svg.startswith("<svg") and "p95" in svg
    True
    >>> "Operational" in badge("API", "operational")
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

Series = Sequence[tuple[float, float, float, float]]  # (t, mean, low, high)

BADGE_COLOURS = {
    "operational": "#1a7f37",
    "degraded_performance": "#9a6700",
    "partial_outage": "#bc4c00",
    "major_outage": "#cf222e",
}
BADGE_WORDS = {
    "operational": "Operational",
    "degraded_performance": "Degraded",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


def _scale(values: Sequence[float], size: float, pad: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        high = low + (abs(low) or 1.0)
    return low, (size - 2 * pad) / (high - low)


def sparkline(
    points: Series, *, target: float | None = None, label: str, width: int = 120, height: int = 32
) -> str:
    """A small line of ``points`` with its range as a band and ``target`` as a dashed line."""
    title = f"<title>{escape(label)}</title>"
    if not points:
        return (
            f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="{escape(label)}: no samples">'
            f'{title}<text x="4" y="{height // 2 + 4}" font-size="11" fill="#57606a">no samples</text></svg>'
        )
    ts = [p[0] for p in points]
    ys = [v for p in points for v in (p[2], p[3])] + ([target] if target is not None else [])
    t0, tx = _scale(ts, width, 2)
    y0, ty = _scale(ys, height, 3)
    bottom = height - 3
    # one formatted x per point and one y per value (an Overview draws 14 of these per refresh);
    # f"{v:.1f}" writes what str(round(v, 1)) does for these in-range coordinates
    xs = [f"{2 + (t - t0) * tx:.1f}" for t in ts]
    high = [f"{x},{bottom - (p[3] - y0) * ty:.1f}" for x, p in zip(xs, points, strict=True)]
    low = [f"{x},{bottom - (p[2] - y0) * ty:.1f}" for x, p in zip(xs, points, strict=True)]
    band = " ".join(high) + " " + " ".join(reversed(low))
    line = " ".join([f"{x},{bottom - (p[1] - y0) * ty:.1f}" for x, p in zip(xs, points, strict=True)])

    def y(v: float) -> float:
        return round(height - 3 - (v - y0) * ty, 1)

    parts = [
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">{title}',
        f'<polygon points="{band}" fill="#0969da" fill-opacity=".15"/>',
        f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="1.5"/>',
    ]
    if target is not None:
        parts.append(
            f'<line x1="0" x2="{width}" y1="{y(target)}" y2="{y(target)}" stroke="#cf222e" '
            f'stroke-dasharray="3 3" stroke-width="1"/>'
        )
    return "".join(parts) + "</svg>"


def line_plot(
    series: dict[str, Sequence[tuple[float, float | None]]],
    *,
    label: str,
    x_unit: str = "s",
    y_unit: str = "ms",
    width: int = 640,
    height: int = 220,
) -> str:
    """Lines of (x, y) per named series on shared axes, with the axes' ranges written at their ends."""
    colours = ("#0969da", "#bc4c00", "#8250df", "#1a7f37")
    pts = {name: [(x, y) for x, y in values if y is not None] for name, values in series.items()}
    xs = [x for values in pts.values() for x, _ in values]
    ys = [y for values in pts.values() for _, y in values]
    head = (
        f'<svg class="plot" width="100%" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
    )
    if not xs:
        return head + f'<text x="10" y="{height // 2}" fill="#57606a">no samples</text></svg>'
    left, bottom = 48, 22
    x0, sx = _scale(xs, width - left, 4)
    y0, sy = _scale([0.0, *ys], height - bottom, 6)
    parts = [
        head,
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#d0d7de"/>',
        f'<line x1="{left}" y1="0" x2="{left}" y2="{height - bottom}" stroke="#d0d7de"/>',
        f'<text x="{left - 4}" y="12" font-size="11" text-anchor="end">{max(ys):.3g} {y_unit}</text>',
        f'<text x="{left - 4}" y="{height - bottom}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{width - 2}" y="{height - 6}" font-size="11" text-anchor="end">{max(xs):.3g} {x_unit}</text>',
    ]
    for i, (name, values) in enumerate(pts.items()):
        coords = " ".join(
            f"{left + 4 + (x - x0) * sx:.1f},{height - bottom - 6 - (y - y0) * sy:.1f}" for x, y in values
        )
        colour = colours[i % len(colours)]
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts.append(
            f'<text x="{left + 10 + 70 * i}" y="{height - 6}" font-size="11" fill="{colour}">{escape(name)}</text>'
        )
    return "".join(parts) + "</svg>"


def badge(name: str, state: str) -> str:
    """A shields.io-style badge: the component's name, and its state in its colour."""
    word = BADGE_WORDS.get(state, state)
    colour = BADGE_COLOURS.get(state, "#57606a")
    left_w, right_w = 7 * len(name) + 12, 7 * len(word) + 12
    total = left_w + right_w
    text = escape(f"{name}: {word}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{text}">'
        f"<title>{text}</title>"
        f'<rect width="{left_w}" height="20" fill="#555"/>'
        f'<rect x="{left_w}" width="{right_w}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{left_w / 2}" y="14">{escape(name)}</text>'
        f'<text x="{left_w + right_w / 2}" y="14">{escape(word)}</text>'
        "</g></svg>"
    )

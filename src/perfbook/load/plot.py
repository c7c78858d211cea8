"""Plots of a capacity search: latency percentiles and error rate against offered rate.

plotext draws in the terminal, matplotlib writes ``--plot FILE.png``; both are the ``plot`` extra.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any

from perfbook.errors import PerfbookError, UsageError
from perfbook.files import check_output, write_bytes

PLOT_FORMATS = (".png", ".svg", ".pdf")
_SERIES = (("p50", "p50_s"), ("p95", "p95_s"), ("p99", "p99_s"))
_MARKERS = {"p50": "•", "p95": "+", "p99": "x"}  # told apart without colour; the legend sits under the plot


def plot_title(report: dict[str, Any]) -> str:
    """What the search found, said truthfully: a knee only when a step missed the SLO.

    >>> plot_title({"target": "http://x/", "slo": ["p95<200ms"], "knee_rps": 1600.0, "failed_rps": None,
    ...             "reason": "met the SLO up to --max-rate 1600 rps"})
    'http://x/: no knee: SLO held up to 1,600 rps (--max-rate) (p95<200ms)'
    >>> plot_title({"target": "t", "slo": ["p95<200ms"], "knee_rps": 420.0, "failed_rps": 440.0, "reason": ""})
    't: knee at 420 rps (p95<200ms)'
    """
    slo = ", ".join(report.get("slo") or [])
    knee, failed = report.get("knee_rps"), report.get("failed_rps")
    if knee and failed is None:
        why = "--max-rate" if "--max-rate" in (report.get("reason") or "") else "step limit"
        found = f"no knee: SLO held up to {knee:,.0f} rps ({why})"
    elif knee:
        found = f"knee at {knee:,.0f} rps"
    elif failed:
        found = f"SLO missed already at {failed:,.0f} rps"
    else:
        found = "no step ran"
    return f"{report.get('target', '')}: {found} ({slo})" if slo else f"{report.get('target', '')}: {found}"


def _ticks(rates: list[float], most: int = 6) -> list[float]:
    """At most ``most`` of the step rates, spread out, for plain-number x ticks.

    >>> _ticks([50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1200.0, 1600.0], most=4)
    [50.0, 200.0, 1000.0, 1600.0]
    """
    if len(rates) <= most:
        return rates
    step = (len(rates) - 1) / (most - 1)
    return sorted({rates[round(i * step)] for i in range(most)})


def _points(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(steps, key=lambda s: s["rate_rps"])


def terminal_plot(
    report: dict[str, Any], width: int = 80, height: int = 18, color: bool = False
) -> str | None:
    """The plot as text (latency in ms against offered rps), or None without plotext or steps."""
    try:
        import plotext as plt
    except ImportError:
        return None
    steps = _points(report["steps"])
    if not steps:
        return None
    rates = [s["rate_rps"] for s in steps]
    series = [(name, [(s["latency"][key] or 0) * 1e3 for s in steps]) for name, key in _SERIES]
    title = "latency (ms) against offered rate (rps)"
    ticks = _ticks(sorted(set(rates)))
    labels = [f"{r:,.0f}" for r in ticks]  # 50, 1,600 — not 5.0e1
    if hasattr(plt, "plot"):  # plotext 5
        plt.clear_figure()
        plt.plotsize(width, height)
        for name, values in series:
            plt.plot(rates, values, marker=_MARKERS[name])
        plt.xticks(ticks, labels)
        plt.title(title)
        text = plt.build()
    else:  # plotext 6: the figure object's signal / draw API
        fig = plt.figure
        fig.clear.all()
        fig.plot_size(width, height)
        for name, values in series:
            fig.draw(fig.signal(rates, values, marker=_MARKERS[name]).lines(True))
        fig.ruler("x").ticks(ticks, labels)
        fig.title(title)
        text = str(fig.build())
    legend = "   ".join(f"{_MARKERS[name]} {name}" for name, _ in _SERIES)
    found = textwrap.wrap(plot_title(report), width, subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join([(text if color else plt.uncolorize(text)).rstrip("\n"), legend, *found])


def _minor_tick(value: float, _pos: object) -> str:
    """Label only the 2s and 5s between powers of ten, so a log axis stays readable.

    >>> _minor_tick(20.0, None), _minor_tick(0.5, None), _minor_tick(7.0, None)
    ('20', '0.5', '')
    """
    mantissa = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def _slo_lines(report: dict[str, Any], ax_lat: Any, ax_err: Any) -> None:
    """The SLO's latency and error limits as dotted lines, so the knee reads against them."""
    from perfbook.load.slo import LATENCY_KEYS, parse_slo

    for objective in parse_slo(",".join(report.get("slo") or [])):
        if objective.metric in LATENCY_KEYS:
            ax_lat.axhline(
                objective.value * 1e3, color="black", linestyle=":", label=f"SLO {objective.text()}"
            )
        elif objective.metric == "errors":
            ax_err.axhline(objective.value * 100, color="black", linestyle=":")


def save_png(report: dict[str, Any], path: Path) -> None:
    """Latency percentiles (log scale) and error rate against offered rate, with the knee marked."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise PerfbookError("--plot needs matplotlib", hint="pip install 'perfbook[plot]'") from None
    steps = _points(report["steps"])
    rates = [s["rate_rps"] for s in steps]
    fig, (ax_lat, ax_err) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(3, 1))
    for name, key in _SERIES:
        ax_lat.plot(rates, [(s["latency"][key] or 0) * 1e3 for s in steps], marker="o", label=name)
    ax_lat.set_yscale("log")
    ax_lat.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 20, not 2×10¹
    ax_lat.yaxis.set_minor_formatter(FuncFormatter(_minor_tick))
    ax_lat.set_ylabel("latency (ms)")
    ax_err.plot(rates, [s["error_rate"] * 100 for s in steps], marker="o", color="tab:red")
    ax_err.set_ylabel("errors (%)")
    ax_err.set_xlabel("offered rate (rps)")
    ax_err.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # plain numbers
    if report.get("knee_rps") and report.get("failed_rps"):  # a knee only where a step missed the SLO
        for ax in (ax_lat, ax_err):
            ax.axvline(report["knee_rps"], color="grey", linestyle="--")
    ax_lat.set_title(plot_title(report), fontsize=10)
    _slo_lines(report, ax_lat, ax_err)
    ax_lat.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # outside the data
    fig.tight_layout()
    buf = io.BytesIO()  # drawn in memory, then written like every other output (files.write_bytes)
    try:
        fig.savefig(buf, format=path.suffix.lstrip(".").lower(), dpi=100)
    finally:
        plt.close(fig)
    write_bytes(path, buf.getvalue(), what="--plot")


def check_plot_path(path: Path) -> None:
    """Before the search: matplotlib is there, the suffix names a format it writes, the path is writable."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib", hint="pip install 'perfbook[plot]'")
    if path.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(
            f"--plot {path}: the file name must end in {', '.join(PLOT_FORMATS)}", hint="e.g. --plot knee.png"
        )
    check_output(path, "--plot")

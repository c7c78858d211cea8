"""KPIs over an incident as one PNG (matplotlib, the ``plot`` extra), embedded as a data URI.

One small chart per KPI the attached triages measured — p95, 5xx share, CPU, mean query time,
cache hit rate — with its target as a dashed line, over the incident's time. A KPI no triage
measured gets no chart (never a made-up zero). Without matplotlib the report says how to get
the plots instead.

    series = kpi_series(triage_artifacts)      # pure
    uri = kpi_plot_uri(series, thresholds)     # "data:image/png;base64,…" or None
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from perfbook.config import Thresholds
from perfbook.incidents.model import Artifact
from perfbook.incidents.reminders import parse_iso

# (KPI key in the report, title, unit scale, target attribute on Thresholds, "below" / "above" the target is good)
KPIS = (
    ("p95_s", "p95 response time (s)", 1.0, "p95_s", "below"),
    ("error_rate", "5xx share (%)", 100.0, "error_rate", "below"),
    ("cpu_pct", "CPU (%)", 1.0, "cpu_pct", "below"),
    ("db_query_mean_ms", "mean query time (ms)", 1.0, "db_query_mean_ms", "below"),
    ("cache_hit_rate", "cache hit rate (%)", 100.0, "cache_hit_rate", "above"),
)
MISSING_EXTRA = "plots need matplotlib: pip install 'perfbook[plot]'"


def kpi_series(triages: Sequence[Artifact]) -> dict[str, list[tuple[str, float]]]:
    """``{kpi: [(at, value), …]}`` over the triages, oldest first, only measured values."""
    out: dict[str, list[tuple[str, float]]] = {}
    for art in sorted(triages, key=lambda a: a.id):  # when attached: the timeline's clock
        for key, *_ in KPIS:
            value = (art.document.get("kpis") or {}).get(key)
            if isinstance(value, (int, float)):
                out.setdefault(key, []).append((art.at, float(value)))
    return out


def kpi_plot_uri(series: dict[str, list[tuple[str, float]]], th: Thresholds) -> str | None:
    """The charts as a ``data:image/png;base64`` URI; None when nothing was measured or matplotlib is missing."""
    shown = [k for k in KPIS if series.get(k[0])]
    if not shown:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.dates import DateFormatter
    except ImportError:
        return None
    fig, axes = plt.subplots(len(shown), 1, figsize=(7.5, 1.9 * len(shown)), sharex=True, squeeze=False)
    for ax, (key, title, scale, target, good) in zip(axes[:, 0], shown, strict=True):
        times = [parse_iso(at) for at, _ in series[key]]
        values = [v * scale for _, v in series[key]]
        ax.plot(times, values, marker="o", color="#0969da", linewidth=1.6)
        ax.axhline(
            getattr(th, target) * scale,
            color="#cf222e",
            linestyle="--",
            linewidth=1,
            label=f"target ({'<' if good == 'below' else '>'} {getattr(th, target) * scale:g})",
        )
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    axes[-1, 0].xaxis.set_major_formatter(DateFormatter("%H:%M"))
    axes[-1, 0].set_xlabel("time (UTC)", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plots_available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True

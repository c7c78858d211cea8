"""One p95 per route from the two sources of the same truth: the app's metrics and perfbook's own
timed requests. Pure; read by the HTTP rules (findings) and their KPIs (severity).

- **One subject per route.** A configured endpoint (``/api/orders?email=…``, ``/api/items/42``)
  is matched to the route label the app's metrics use (``/api/orders``, ``/api/items/#val``,
  :mod:`perfbook.routing`), so a route is one subject with both sources.
- **Coarse buckets are ranges.** When the metrics' p95 fell in a bucket more than 2x wide, all the
  histogram knows is the bucket (``p95_range_s``); its figure is the lower bound. perfbook's timed
  requests of the same route then give the precise figure: the route's p95 is the larger of the two
  trustworthy figures, so a timed p95 inside the range is the figure, and one under it leaves the
  lower bound.
- **perfbook's own stalls do not set the verdict.** A timed request measured while perfbook's event
  loop was stalled looks slower; with the stalls measured, ``p95_net_s`` is the figure without
  them (a lower bound). When the two figures fall in different severity bands, the stalls could
  be why, and the lower one is judged (as a coarse bucket's lower bound is); otherwise the measured one.

    figures = route_figures(metrics, http, cfg)
    worst = max(figures, key=lambda f: f.value_s)   # RouteFigure("/slow", 2.54, "http", range_s=[1.5, 10.0], …)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perfbook.config import Config, Thresholds
from perfbook.evidence.http import EndpointTiming, HttpEvidence
from perfbook.evidence.metrics import HandlerWindow, MetricsEvidence
from perfbook.routing import route_for
from perfbook.severity import severity_for_p95


@dataclass(frozen=True)
class RouteFigure:
    """The judged p95 of one route, where it came from, and both sources behind it."""

    subject: str  # the metrics' route label, else the configured endpoint (query values masked)
    value_s: float  # the judged p95
    source: str  # "metrics" | "http": which source gave value_s
    over_bound: bool = False  # the metrics' rank fell in +Inf: the truth is at least value_s
    range_s: list[float] | None = None  # the metrics' coarse bucket holding the p95, when it had one
    requests: int = 0  # requests behind value_s (window requests, or perfbook's timed requests)
    low_confidence: bool = False  # only a metrics figure from fewer than min_window_requests requests
    handler: HandlerWindow | None = None  # the metrics side (the worst method of the route)
    timing: EndpointTiming | None = None  # perfbook's side (the worst configured endpoint of the route)
    endpoints: list[str] = field(default_factory=list)  # configured endpoints matched to this route

    @property
    def timed_raw_s(self) -> float | None:
        """perfbook's measured p95 before its own event-loop stalls were taken out."""
        return self.timing.p95_s if self.timing is not None else None


def timed_p95(ep: EndpointTiming, th: Thresholds) -> float | None:
    """The p95 of perfbook's timed requests as judged: the measured one, unless perfbook's own
    event-loop stalls could be what puts it in a worse severity band (then the one without them)."""
    if ep.p95_s is None:
        return None
    net = ep.p95_net_s
    if net is not None and net < ep.p95_s and severity_for_p95(net, th) is not severity_for_p95(ep.p95_s, th):
        return net
    return ep.p95_s


def judged_handlers(metrics: MetricsEvidence, cfg: Config) -> list[HandlerWindow]:
    """Handlers that count for latency: with requests in the window, not /metrics or /health."""
    skip = {cfg.http.metrics_path, cfg.http.health_path}
    return [h for h in metrics.handlers if h.handler not in skip and h.handler != "*" and h.requests > 0]


def endpoint_subject(ep: EndpointTiming, metrics: MetricsEvidence | None) -> str:
    """The subject of a configured endpoint: the metrics route serving it, else its own path."""
    routes = [h.handler for h in metrics.handlers if h.handler != "*"] if metrics is not None else []
    return route_for(ep.path, routes) or ep.path


def route_figures(
    metrics: MetricsEvidence | None, http: HttpEvidence | None, cfg: Config
) -> list[RouteFigure]:
    """The judged p95 of every route with a figure from either source, one per route."""
    min_n = cfg.http.min_window_requests
    handlers: dict[str, HandlerWindow] = {}
    for h in judged_handlers(metrics, cfg) if metrics is not None else []:
        if h.p95_s is not None:
            old = handlers.get(h.handler)
            if old is None or _rank_handler(h, min_n) > _rank_handler(old, min_n):
                handlers[h.handler] = h
    timings: dict[str, list[EndpointTiming]] = {}
    for ep in http.endpoints if http is not None else []:
        if ep.p95_s is not None:
            timings.setdefault(endpoint_subject(ep, metrics), []).append(ep)
    out = []
    for subject in sorted(set(handlers) | set(timings)):
        eps = timings.get(subject, [])
        worst = max(eps, key=lambda e: timed_p95(e, cfg.thresholds) or 0.0) if eps else None
        out.append(
            _combine(subject, handlers.get(subject), worst, [e.path for e in eps], min_n, cfg.thresholds)
        )
    return out


def _rank_handler(h: HandlerWindow, min_n: int) -> tuple[bool, float, bool]:
    return h.requests >= min_n, h.p95_s or 0.0, h.p95_over_bound


def _combine(
    subject: str,
    h: HandlerWindow | None,
    ep: EndpointTiming | None,
    endpoints: list[str],
    min_n: int,
    th: Thresholds,
) -> RouteFigure:
    """The larger trustworthy figure of the two sources (a metrics figure from too few requests
    only when it is all there is)."""
    candidates: list[tuple[bool, float, bool, str, int]] = []  # (trusted, value, over, source, requests)
    if h is not None and h.p95_s is not None:
        candidates.append((h.requests >= min_n, h.p95_s, h.p95_over_bound, "metrics", h.requests))
    timed = timed_p95(ep, th) if ep is not None else None
    if ep is not None and timed is not None:
        candidates.append((True, timed, False, "http", ep.requests))
    trusted, value, over, source, requests = max(candidates, key=lambda c: (c[0], c[1], c[2]))
    return RouteFigure(
        subject=subject,
        value_s=value,
        source=source,
        over_bound=over,
        range_s=h.p95_range_s if h is not None else None,
        requests=requests,
        low_confidence=not trusted,
        handler=h,
        timing=ep,
        endpoints=endpoints,
    )

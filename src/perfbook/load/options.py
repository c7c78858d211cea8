"""From command-line values to a :class:`~perfbook.load.runner.LoadRun` (checks and defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from perfbook.errors import UsageError
from perfbook.load.engine import WorkerPlan
from perfbook.load.runner import LoadRun
from perfbook.load.schedule import Stage, parse_duration_s, parse_rate, parse_stages, peak_rps
from perfbook.load.spec import Target, build_request, parse_header, read_body
from perfbook.locality import resolves_local as is_local
from perfbook.redact import redact_url

DEFAULT_DURATION_S = 10.0  # safe by default: a run with neither -n nor -d stops by itself
DEFAULT_MAX_RATE_RPS = 20_000.0
# Event-loop timers have 1 ms resolution; above this per connection an open-loop schedule slips.
MAX_RPS_PER_CONNECTION = 250.0


@dataclass
class LoadOptions:
    """The ``perfbook load`` flags, as typed values."""

    url: str
    requests: int | None = None
    duration: str | None = None
    connections: int = 10
    max_connections: int = 1000  # open loop: the most it may open as latency asks (k6's maxVUs)
    method: str = "GET"
    headers: list[str] = field(default_factory=list)
    body: str | None = None
    json_body: str | None = None
    content_type: str | None = None
    timeout: str = "10s"
    keepalive: bool = True
    rate: str | None = None
    stages: str | None = None
    max_rate: float = DEFAULT_MAX_RATE_RPS
    workers: int | None = None
    abort_on_errors: float = 0.5
    verify_tls: bool = True


def parse_share(text: str) -> float:
    """``'50%'`` or ``'0.5'`` → 0.5 (``--abort-on-errors``)."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"bad share {text!r}", hint="e.g. 50% or 0.5; 0 turns it off") from None
    if not 0 <= value <= 1:
        raise UsageError(f"share {text!r} must be between 0 and 100%")
    return value


def stages_of(opts: LoadOptions) -> list[Stage]:
    """The open-loop stages from --rate / --stages (empty: closed loop)."""
    if opts.rate and opts.stages:
        raise UsageError("give --rate or --stages, not both")
    duration_s = parse_duration_s(opts.duration) if opts.duration else DEFAULT_DURATION_S
    stages = (
        parse_rate(opts.rate, duration_s) if opts.rate else parse_stages(opts.stages) if opts.stages else []
    )
    if stages and peak_rps(stages) > opts.max_rate:
        raise UsageError(
            f"rate {peak_rps(stages):g} rps is over --max-rate {opts.max_rate:g}",
            hint="raise --max-rate if you mean it",
        )
    return stages


def connections_for(rate_rps: float) -> int:
    """The fewest connections that can hold ``rate_rps`` on schedule (open loop)."""
    return max(1, int(-(-rate_rps // MAX_RPS_PER_CONNECTION)))


def pacing_warning(stages: list[Stage], connections: int) -> str | None:
    """Why this open-loop run may fall behind its schedule, if it may (``connections``: the most it may open)."""
    if stages and peak_rps(stages) / connections > MAX_RPS_PER_CONNECTION:
        need = connections_for(peak_rps(stages))
        return (
            f"{peak_rps(stages):g} rps over at most {connections} connections is more than "
            f"{MAX_RPS_PER_CONNECTION:g} per connection: the schedule may slip; use --max-connections {need} or more"
        )
    return None


def make_run(opts: LoadOptions) -> tuple[LoadRun, Target]:
    """Check the options and build the run (the target is returned for the safety prompt)."""
    target = Target.parse(opts.url)
    if opts.connections < 1:
        raise UsageError(f"-c must be at least 1, got {opts.connections}")
    if opts.max_connections < 1:
        raise UsageError(f"--max-connections must be at least 1, got {opts.max_connections}")
    if opts.requests is not None and opts.requests < 1:
        raise UsageError(f"-n must be at least 1, got {opts.requests}")
    stages = stages_of(opts)
    duration_s = None
    if not stages:
        duration_s = parse_duration_s(opts.duration) if opts.duration else None
        if duration_s is None and opts.requests is None:
            duration_s = DEFAULT_DURATION_S
    body, content_type = read_body(opts.body, opts.json_body)
    request = build_request(
        target,
        opts.method,
        [parse_header(h) for h in opts.headers],
        body,
        opts.content_type or content_type,
        opts.keepalive,
    )
    timeout_s = parse_duration_s(opts.timeout)
    if timeout_s <= 0:
        raise UsageError("--timeout must be > 0")
    plan = WorkerPlan(
        host=target.host,
        port=target.port,
        request=request,
        connections=min(opts.connections, opts.max_connections) if stages else opts.connections,
        max_connections=opts.max_connections if stages else 0,
        requests=opts.requests,
        duration_s=duration_s,
        stages=tuple(stages),
        timeout_s=timeout_s,
        keepalive=opts.keepalive,
        head=opts.method.upper() == "HEAD",
        ssl=target.scheme == "https",
        verify_tls=opts.verify_tls,
        server_hostname=target.host,
    )
    workers = opts.workers if opts.workers else default_workers(target)
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    run = LoadRun(
        plan=plan,
        workers=workers,
        target=redact_url(target.url),  # the URL may carry userinfo or a ?token=: never in a result
        method=opts.method.upper(),
        abort_on_errors=opts.abort_on_errors,
    )
    return run, target


def default_workers(target: Target) -> int:
    """1 for a target on this machine (more would starve it of cores), else one per core."""
    return 1 if is_local(target.host) else (os.cpu_count() or 1)


def needs_confirmation(target: Target, method: str) -> str | None:
    """Why sending this load deserves a yes (non-local target, or not a GET), else None."""
    reasons = []
    if not is_local(target.host):
        reasons.append(f"{target.host} is not on this machine")
    if method.upper() not in ("GET", "HEAD"):
        reasons.append(f"{method.upper()} may change data")
    return " and ".join(reasons) or None

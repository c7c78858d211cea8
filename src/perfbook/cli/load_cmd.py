"""perfbook load / capacity / stress: load tests, the capacity search, and bounded stress tests."""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import typer

from perfbook import interrupts
from perfbook.cli.env import CONFIG_OPTION, Env, current
from perfbook.cli.exit import ExitCode
from perfbook.cli.incident_common import INCIDENT_OPTION, attach_and_publish
from perfbook.cli.progress import StepProgress
from perfbook.errors import UsageError
from perfbook.redact import redact_url
from perfbook.report.text import paragraph
from perfbook.units import parse_duration_s

LOAD_HELP = """Load-test a URL: closed loop like ab / wrk, or open loop at a fixed --rate like wrk2.

Latency percentiles come from an HdrHistogram; with --rate they are corrected for coordinated
omission (measured from each request's intended start) and shown beside the uncorrected ones.
Safe by default: 10 s unless -n / -d say otherwise, --max-rate, --abort-on-errors, and a
confirmation (or --yes) before loading another machine or sending anything but GET.

Examples:

  perfbook load http://127.0.0.1:8001/health -n 1000 -c 10

  perfbook load http://127.0.0.1:8001/api/v1/users -m POST --json-body @test_data.json --yes

  perfbook load http://127.0.0.1:8001/health --rate 100:2000:30s --slo 'p95<2s,errors<1%'

  perfbook load http://127.0.0.1:8001/health -d 10s --json > after.json

  perfbook load compare before.json after.json
"""


CAPACITY_HELP = """Find the highest rate that still meets the SLO: open-loop steps, doubling then bisecting.

Prints each step, the table and the knee, and a terminal plot (plotext) of latency against
offered rate; --plot FILE.png draws latency percentiles and error rate (matplotlib).
Exit 3 when even the first step misses the SLO.

Examples:

  perfbook capacity http://127.0.0.1:8001/health --slo 'p95<200ms,errors<1%'

  perfbook capacity http://127.0.0.1:8001/api/v1/users --slo kpi --max-rate 2000 --plot knee.png
"""


STRESS_HELP = """Bounded stress tests: database reads, Redis pipelines, concurrent connections.

Each reports throughput and latency percentiles; exit 3 when any operation failed.

Examples:

  perfbook stress postgres -c 20 -d 10s

  perfbook stress redis --pipeline 100 -d 5s --json

  perfbook stress connections -c 100
"""


def register(app: typer.Typer) -> None:
    """Add ``load``, ``capacity`` and ``stress`` to the root app."""
    app.command("load", help=LOAD_HELP)(load)
    app.command("capacity", help=CAPACITY_HELP)(capacity)
    stress_app = typer.Typer(help=STRESS_HELP, no_args_is_help=True)
    stress_app.command("postgres")(stress_postgres)
    stress_app.command("redis")(stress_redis)
    stress_app.command("connections")(stress_connections)
    app.add_typer(stress_app, name="stress")


def load(
    url: str = typer.Argument(
        ..., metavar="URL", help="The URL to load, or the word compare followed by two saved --json files."
    ),
    files: list[str] = typer.Argument(None, hidden=True, metavar="| compare BEFORE.json AFTER.json"),
    requests: int | None = typer.Option(
        None, "-n", "--requests", help="Total requests (all workers).", rich_help_panel="Load"
    ),
    duration: str | None = typer.Option(
        None, "-d", "--duration", help="How long, e.g. 30s (default 10s without -n).", rich_help_panel="Load"
    ),
    connections: int = typer.Option(
        10, "-c", "--connections", help="Concurrent connections (all workers).", rich_help_panel="Load"
    ),
    rate: str | None = typer.Option(
        None, "--rate", help="Open loop: RPS, or FROM:TO:OVER to ramp (100:2000:30s).", rich_help_panel="Load"
    ),
    max_connections: int = typer.Option(
        1000,
        "--max-connections",
        help="Open loop: connections opened as the target's latency asks, at most this many (all workers; "
        "-c are opened at the start). A rate that still cannot be kept fails the run (exit 3).",
        rich_help_panel="Load",
    ),
    stages: str | None = typer.Option(
        None, "--stages", help="Open loop in steps: 30s@100,60s@500,30s@1000.", rich_help_panel="Load"
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Worker processes (default 1 for this machine, else one per core); with --cluster, "
        "how many of the cluster's workers (default all).",
        rich_help_panel="Load",
    ),
    cluster: str | None = typer.Option(
        None,
        "--cluster",
        help="Run on a Dask cluster: the scheduler's address, tcp://HOST:8786 (default \\[load] cluster, "
        "env PERFBOOK_LOAD_CLUSTER; '' = this machine). One engine per worker process, results merged.",
        rich_help_panel="Load",
    ),
    method: str = typer.Option("GET", "-m", "--method", help="HTTP method.", rich_help_panel="Request"),
    header: list[str] = typer.Option(
        [], "-H", "--header", help="'Name: value' (repeatable).", rich_help_panel="Request"
    ),
    body: str | None = typer.Option(
        None, "--body", help="Request body: @file or text.", rich_help_panel="Request"
    ),
    json_body: str | None = typer.Option(
        None,
        "--json-body",
        help="JSON body (@file or text), Content-Type application/json.",
        rich_help_panel="Request",
    ),
    content_type: str | None = typer.Option(
        None, "-T", "--content-type", help="Content-Type of --body.", rich_help_panel="Request"
    ),
    timeout: str = typer.Option(
        "10s", "--timeout", help="Per request (and connect).", rich_help_panel="Request"
    ),
    no_keepalive: bool = typer.Option(
        False, "--no-keepalive", help="A new connection per request.", rich_help_panel="Request"
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Do not verify TLS certificates.", rich_help_panel="Request"
    ),
    slo: str | None = typer.Option(
        None,
        "--slo",
        help="'p95<2s,errors<1%,rps>1000' or kpi (config thresholds); exit 3 when missed.",
        rich_help_panel="Judge",
    ),
    max_rate: float = typer.Option(
        20_000.0, "--max-rate", help="Refuse a --rate above this.", rich_help_panel="Safety"
    ),
    abort_on_errors: str = typer.Option(
        "50%",
        "--abort-on-errors",
        help="Stop when errors exceed this share (0 = never).",
        rich_help_panel="Safety",
    ),
    yes: bool = typer.Option(
        False,
        "-y",
        "--yes",
        help="Do not ask before loading another machine or sending non-GET.",
        rich_help_panel="Safety",
    ),
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Sample the host and the \\[process] match processes during the test.",
        rich_help_panel="Output",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="One JSON document on stdout.", rich_help_panel="Output"
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Also save the JSON result to this file.", rich_help_panel="Output"
    ),
    fail_on_regression: bool = typer.Option(
        False,
        "--fail-on-regression",
        help="compare: exit 3 when a figure of B is worse than A's beyond noise.",
        rich_help_panel="Output",
    ),
    config: Path | None = CONFIG_OPTION,
    incident: str | None = INCIDENT_OPTION,
) -> None:
    if url == "compare":
        raise typer.Exit(_compare(files or [], json_out, fail_on_regression))
    if files:
        hint = "one URL; options go after it"
        if any(f.startswith("@") for f in files):
            hint = "a JSON body is --json-body @file (--json alone prints the result as JSON)"
        raise UsageError(f"load: unexpected arguments {' '.join(files)}", hint=hint)
    from perfbook.load.options import LoadOptions, make_run, pacing_warning, parse_share

    if output is not None:
        current().check_output(output, "-o")  # before the run, not after a minute of it

    opts = LoadOptions(
        url=url,
        requests=requests,
        duration=duration,
        connections=connections,
        max_connections=max_connections,
        method=method,
        headers=header,
        body=body,
        json_body=json_body,
        content_type=content_type,
        timeout=timeout,
        keepalive=not no_keepalive,
        rate=rate,
        stages=stages,
        max_rate=max_rate,
        workers=workers,
        abort_on_errors=parse_share(abort_on_errors),
        verify_tls=not insecure,
    )
    run, target = make_run(opts)
    env = current()
    from perfbook.load.cluster import cluster_address
    from perfbook.load.cluster_run import connected, runner_for

    attach_to = _incident(incident, config)
    with connected(
        cluster_address(cluster, lambda: env.config(config)), workers, target.host, method
    ) as grid:
        confirm(target, method, yes, reason=grid.confirmation if grid else "")
        warning = pacing_warning(list(run.plan.stages), run.plan.max_connections or run.plan.connections)
        if warning:
            env.echo(f"warning: {warning}", err=True)
        code = _run_session(
            env, run, slo, watch, json_out, output, config, runner_for(grid), attach_to("load")
        )
    raise typer.Exit(code)


def _run_session(
    env: Env,
    run: Any,
    slo: str | None,
    watch: bool,
    json_out: bool,
    output: Path | None,
    config: Path | None,
    runner: Any,
    on_result: Any = None,
) -> int:
    """Run with progress on stderr, save / print the result; the exit code (3: SLO missed or aborted,
    1: a cluster run that lost a worker)."""
    from perfbook.load.render import LiveProgress, print_summary
    from perfbook.load.session import run_session

    objectives = objectives_for(slo, config)
    patterns = list(env.config(config).process.match) if watch else None
    planned_s = run.plan.duration_s or (sum(s.duration_s for s in run.plan.stages) or None)
    with LiveProgress(
        planned_s=planned_s, planned_n=run.plan.requests, console=env.err, enabled=env.interactive
    ) as live:
        outcome = run_session(run, objectives, watch_patterns=patterns, progress=live, runner=runner)
    if on_result is not None:  # --incident: the run is evidence of the incident
        on_result(outcome.doc)
    if output is not None:  # a partial result too: it is marked interrupted
        env.write(output, json.dumps(outcome.doc, indent=2) + "\n", what="-o")
    if json_out:
        env.json(outcome.doc)
    else:
        print_summary(outcome.doc, outcome.verdicts, env.out)
    if outcome.interrupted:
        return interrupts.exit_code_for(outcome.stop_signal or signal.SIGINT)
    if outcome.partial:
        return ExitCode.FAILED
    if outcome.failed:
        env.echo(f"load: {outcome.failed}", err=True)
    return ExitCode.THRESHOLD if outcome.missed else ExitCode.OK


def objectives_for(slo: str | None, config: Path | None) -> list:
    """Parse ``--slo``; the word ``kpi`` reads the thresholds from config (only then)."""
    from perfbook.load.slo import parse_slo

    if not slo:
        return []
    kpi = None
    if "kpi" in slo.split(","):
        th = current().config(config).thresholds
        kpi = (th.p95_s, th.error_rate, th.throughput_rps)
    return parse_slo(slo, kpi)


def confirm(target, method: str, yes: bool, reason: str | None = "") -> None:
    """Ask before loading another machine or sending a non-GET; --yes skips, no terminal refuses.

    ``reason`` is already known for a cluster (its workers were asked); else it is found here.
    """
    from perfbook.load.options import needs_confirmation

    if reason == "":
        reason = needs_confirmation(target, method)
    if reason is None or yes:
        return
    env = current()
    if not env.interactive:
        raise UsageError(
            f"load: {reason}; not sending without confirmation", hint="add --yes to confirm in scripts"
        )
    if not env.confirm(f"{reason}. Send load to {redact_url(target.url)}?"):
        raise typer.Exit(ExitCode.USAGE)


def _incident(ref: str | None, config: Path | None):
    """A maker of ``on_result`` callbacks that attach a run to the incident (checked now, before any load)."""
    from perfbook.incidents.attach import check_open, incident_number

    number = incident_number(ref)
    if number is None:
        return lambda kind: lambda doc: None
    env = current()
    cfg = env.config(config)
    check_open(cfg, number)

    def maker(kind: str):
        def on_result(doc: dict) -> None:
            attach_and_publish(cfg, number, kind, doc)

        return on_result

    return maker


def _compare(files: list[str], json_out: bool, fail_on_regression: bool = False) -> int:
    from perfbook.load.compare import NOISE, changes, compare_table, read_run, verdict_line

    if len(files) != 2:
        raise UsageError(
            "load compare needs two saved runs", hint="perfbook load compare before.json after.json"
        )
    a, b = (read_run(Path(f)) for f in files)
    env = current()
    rows = changes(a, b)
    if json_out:
        env.json(
            {"a": files[0], "b": files[1], "figures": rows, "verdict": verdict_line(rows), "noise": NOISE}
        )
    else:
        env.out.print(compare_table(a, b, Path(files[0]).name, Path(files[1]).name))
        env.out.print(paragraph(verdict_line(rows)))
    worse = any(r["verdict"] == "worse" for r in rows)
    return ExitCode.THRESHOLD if fail_on_regression and worse else ExitCode.OK


def capacity(
    url: str = typer.Argument(..., help="The URL to load."),
    slo: str = typer.Option(
        "kpi", "--slo", help="What a step must meet: 'p95<200ms,errors<1%' or kpi (config)."
    ),
    start_rate: float = typer.Option(50.0, "--start-rate", help="First step's rate (rps)."),
    max_rate: float = typer.Option(5000.0, "--max-rate", help="Never offer more than this (rps)."),
    step_duration: str = typer.Option("5s", "--step-duration", help="How long each step runs."),
    max_duration: str = typer.Option("3m", "--max-duration", help="Stop the search after this long."),
    tolerance: float = typer.Option(
        0.05, "--tolerance", help="Stop bisecting when the bracket is this narrow (share)."
    ),
    connections: int = typer.Option(
        50, "-c", "--connections", help="Connections each step starts with (more open as latency asks)."
    ),
    max_connections: int = typer.Option(
        1000,
        "--max-connections",
        help="The most a step may open; a step that needs more is a miss of perfbook's, and says so.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Worker processes (default 1 for this machine); with --cluster, of the cluster's.",
    ),
    cluster: str | None = typer.Option(
        None, "--cluster", help="Run each step on a Dask cluster: tcp://HOST:8786 (default \\[load] cluster)."
    ),
    method: str = typer.Option("GET", "-m", "--method", help="HTTP method."),
    header: list[str] = typer.Option([], "-H", "--header", help="'Name: value' (repeatable)."),
    json_body: str | None = typer.Option(None, "--json-body", help="JSON body (@file or text)."),
    timeout: str = typer.Option("2s", "--timeout", help="Per request."),
    yes: bool = typer.Option(
        False, "-y", "--yes", help="Do not ask before loading another machine or non-GET."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of latency and errors against rate."),
    no_plot: bool = typer.Option(False, "--no-plot", help="No terminal plot."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    config: Path | None = CONFIG_OPTION,
    incident: str | None = INCIDENT_OPTION,
) -> None:
    from dataclasses import replace

    from perfbook.load.capacity import run_capacity
    from perfbook.load.options import LoadOptions, make_run
    from perfbook.load.plot import save_png, terminal_plot

    if plot is not None:  # before the search, not after minutes of it
        from perfbook.load.plot import check_plot_path

        check_plot_path(plot)
    from perfbook.load.render import capacity_table, step_line

    objectives = objectives_for(slo, config)
    opts = LoadOptions(
        url=url,
        connections=connections,
        method=method,
        headers=header,
        json_body=json_body,
        timeout=timeout,
        workers=workers,
        max_rate=max_rate,
        max_connections=max_connections,
        abort_on_errors=0.0,
    )
    base, target = make_run(opts)
    base = replace(base, plan=replace(base.plan, max_connections=max_connections))  # each step's limit
    env = current()
    err = env.err
    from perfbook.load.cluster import cluster_address
    from perfbook.load.cluster_run import connected, runner_for

    attach_to = _incident(incident, config)
    with connected(
        cluster_address(cluster, lambda: env.config(config)), workers, target.host, method
    ) as grid:
        confirm(target, method, yes, reason=grid.confirmation if grid else "")
        progress = StepProgress()
        showing = env.err.status(progress) if env.interactive else contextlib.nullcontext()
        with interrupts.caught(interrupts.StopFlag()) as stop, showing:  # Ctrl-C / SIGTERM end the search
            search = run_capacity(
                base,
                objectives,
                start_rps=start_rate,
                max_rps=max_rate,
                step_s=parse_duration_s(step_duration),
                max_duration_s=parse_duration_s(max_duration),
                tolerance=tolerance,
                on_step=lambda row: err.print(paragraph(step_line(row)), highlight=False),
                on_step_start=progress.start,
                runner=runner_for(grid, steps=True) if grid else None,
                stop=stop,
            )
    report = search.to_json()
    attach_to("capacity")(report)
    if plot is not None and search.stop_signal is None:
        save_png(report, plot)
    elif plot is not None:
        err.print(f"interrupted: {plot} not written (the search did not finish)")
    if json_out:
        env.json(report)
    else:
        env.out.print(capacity_table(report))
        text = None if no_plot else terminal_plot(report, width=min(env.out.width, 100), color=env.color)
        if text:
            env.echo(text)
    if search.stop_signal is not None:
        raise typer.Exit(interrupts.exit_code_for(search.stop_signal))
    raise typer.Exit(ExitCode.OK if report["knee_rps"] else ExitCode.THRESHOLD)


def _stress_out(doc: dict, json_out: bool) -> None:
    from perfbook.load.render import stress_summary

    env = current()
    if json_out:
        env.json(doc)
    else:
        env.out.print(stress_summary(doc))
    raise typer.Exit(ExitCode.THRESHOLD if any(doc["errors"].values()) else ExitCode.OK)


def _duration(text: str) -> float:
    return parse_duration_s(text, "-d", max_s=3600)


def stress_postgres(
    dsn: str | None = typer.Option(
        None, "--dsn", help="libpq URL (default \\[postgres] dsn, env PERFBOOK_POSTGRES_DSN)."
    ),
    query: str = typer.Option(
        "SELECT 1 /* perfbook stress */",
        "--query",
        help="One SELECT, run in read-only sessions with \\[postgres] timeouts; writes and functions that act on "
        "other sessions or the server (pg_terminate_backend …) are refused.",
    ),
    concurrency: int = typer.Option(10, "-c", "--concurrency", help="Concurrent sessions."),
    duration: str = typer.Option("10s", "-d", "--duration", help="How long."),
    requests: int | None = typer.Option(
        None, "-n", "--queries", help="Stop after this many queries in total."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Concurrent read queries against the configured database (runbook: stress the database)."""
    import asyncio

    from perfbook.load.stress import stress_postgres as run

    dsn = _configured(dsn, config, "postgres", "dsn")
    pg = current().config(config).postgres  # the probe's timeouts
    result = asyncio.run(
        run(
            dsn,
            query=query,
            concurrency=concurrency,
            duration_s=_duration(duration),
            operations=requests,
            statement_timeout_ms=pg.statement_timeout_ms,
            lock_timeout_ms=pg.lock_timeout_ms,
        )
    )
    _stress_out(result.to_json(), json_out)


def _configured(value: str | None, config: Path | None, section: str, key: str) -> str:
    """The flag's value, else ``[section] key`` from config / env; a UsageError naming both when neither."""
    if not value:
        value = getattr(getattr(current().config(config), section), key)
    if not value:
        env = f"PERFBOOK_{section.upper()}_{key.upper()}"
        raise UsageError(
            f"stress {section}: no {key.upper()}", hint=f"pass --{key} or set [{section}] {key} / {env}"
        )
    return value


def stress_redis(
    url: str | None = typer.Option(
        None, "--url", help="redis:// URL (default \\[redis] url, env PERFBOOK_REDIS_URL)."
    ),
    concurrency: int = typer.Option(10, "-c", "--concurrency", help="Concurrent clients."),
    pipeline: int = typer.Option(100, "--pipeline", help="SET+GET pairs per pipeline."),
    duration: str = typer.Option("10s", "-d", "--duration", help="How long."),
    requests: int | None = typer.Option(
        None, "-n", "--commands", help="Stop after about this many commands."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """SET/GET pipelines with perfbook's own keys, deleted at the end (runbook: Redis stress)."""
    import asyncio

    from perfbook.load.stress import stress_redis as run

    url = _configured(url, config, "redis", "url")
    if pipeline < 1 or concurrency < 1:
        raise UsageError("stress redis: --pipeline and -c must be at least 1")
    result = asyncio.run(
        run(
            url,
            concurrency=concurrency,
            pipeline=pipeline,
            duration_s=_duration(duration),
            operations=requests,
        )
    )
    _stress_out(result.to_json(), json_out)


def stress_connections(
    url: str | None = typer.Argument(None, help="Default: \\[http] base_url + health_path."),
    concurrency: int = typer.Option(
        100, "-c", "--concurrency", help="Concurrent connections, one request each."
    ),
    rounds: int = typer.Option(1, "--rounds", help="Repeat the burst this many times."),
    timeout: str = typer.Option("10s", "--timeout", help="Per request."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask before loading another machine."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """N concurrent connections to the health endpoint (runbook: for i in {1..100}; curl … &)."""
    from perfbook.load.options import LoadOptions, make_run
    from perfbook.load.result import SCHEMA_VERSION
    from perfbook.load.runner import run_load

    if not url:
        http = current().config(config).http
        url = http.base_url.rstrip("/") + http.health_path
    opts = LoadOptions(
        url=url,
        requests=concurrency * rounds,
        connections=concurrency,
        keepalive=False,
        timeout=timeout,
        abort_on_errors=0.0,
        workers=1,
    )
    run, target = make_run(opts)
    confirm(target, "GET", yes)
    doc = run_load(run).to_json()
    failed = doc["requests"] - sum(n for code, n in doc["status_codes"].items() if code.startswith("2"))
    _stress_out(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": "connections",
            "target": doc["target"],
            "concurrency": concurrency,
            "operations": doc["requests"],
            "duration_s": doc["duration_s"],
            "ops_per_s": round(doc["requests"] / doc["duration_s"], 3) if doc["duration_s"] else 0.0,
            "succeeded": doc["requests"] - failed,
            "status_codes": doc["status_codes"],
            "errors": doc["errors"],
            "latency": doc["latency"],
        },
        json_out,
    )

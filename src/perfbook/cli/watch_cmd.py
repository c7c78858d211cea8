"""``perfbook watch``: triage on a schedule, KPIs into the store, alert rules evaluated, firing acted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from perfbook.cli.env import CONFIG_OPTION, Env, current
from perfbook.errors import UsageError
from perfbook.units import parse_duration

MIN_INTERVAL_S = 0.5

HELP = """Watch the stack: triage every interval, keep the KPIs, evaluate the alert rules, notify.

Each run is a triage; the expensive probes (\\[watch] expensive_probes) run every expensive_every-th run.
Its KPIs go into the store (raw for 24 h, 5-minute aggregates for 30 days).

The alert rules (perfbook alerts rules) move pending -> firing -> resolved. A firing alert goes to the
internal channels (\\[notify.email], \\[notify] urls) once, again every \\[alerts] repeat_interval, and once resolved.
With \\[watch] open_incidents = true a critical alert opens an incident.

A restarted watch resumes its alerts from the store and sends nothing twice. Ctrl-C or SIGTERM stop it between runs.
One watch per store: a second one refuses to start while the first holds the store's lease (--takeover takes it).

Examples:

  perfbook watch                                   # every 30 s, a live view on a terminal

  perfbook watch --interval 10s --duration 1h --json | jq -c 'select(.type == "transition")'

  perfbook watch --once --json | jq '.alerts'

  perfbook watch --metrics-listen 127.0.0.1:9464   # perfbook's judgement for your Prometheus
"""


def _seconds(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise UsageError(f"{flag}: {err}") from None
    if value <= 0:
        raise UsageError(f"{flag} must be more than 0, got {text}")
    return value


def watch_command(
    interval: str | None = typer.Option(
        None, "--interval", "-i", help="Time between runs (default \\[watch] interval, 30s)."
    ),
    duration: str | None = typer.Option(
        None, "--duration", "-d", help="Stop after this long (default: until Ctrl-C)."
    ),
    once: bool = typer.Option(False, "--once", help="One run, then exit."),
    window: str | None = typer.Option(
        None,
        "--window",
        "-w",
        help="Each run's triage window (default \\[watch] window, "
        "else \\[triage] window_s; kept below the interval).",
    ),
    metrics_listen: str | None = typer.Option(
        None,
        "--metrics-listen",
        help="Serve perfbook's own /metrics on HOST:PORT (default \\[watch] metrics_listen).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON line per run and per alert transition on stdout."
    ),
    takeover: bool = typer.Option(
        False,
        "--takeover",
        help="Take the store's watch lease from the watch holding it (that watch stops at its next run).",
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    from perfbook import interrupts
    from perfbook.store import open_store
    from perfbook.triage import parse_probe_list
    from perfbook.watch import plan
    from perfbook.watch.loop import Watcher, run_loop
    from perfbook.watch.metrics import WatchMetrics, serve_metrics

    env = current()
    cfg = env.config(config)
    interval_s = _seconds(interval, "--interval") or parse_duration(cfg.watch.interval)
    if interval_s < MIN_INTERVAL_S:
        raise UsageError(
            f"--interval must be at least {MIN_INTERVAL_S:g} s (a run needs its window), got {interval_s:g} s"
        )
    parse_probe_list(",".join(cfg.watch.expensive_probes), "[watch] expensive_probes")
    duration_s = _seconds(duration, "--duration")
    window_s = plan.window_for(cfg, interval_s, _checked(window))
    metrics = WatchMetrics()
    listen = metrics_listen if metrics_listen is not None else cfg.watch.metrics_listen
    server = None
    if listen:
        server, port = serve_metrics(listen, metrics)
        env.echo(f"perfbook watch: /metrics on http://{_host(listen)}:{port}/metrics", err=True)
        if not _loopback(listen):
            env.echo(
                "warning: /metrics listens beyond this machine: whoever reaches it reads the findings and "
                "alerts (subjects, endpoints); prefer 127.0.0.1 and a scraping Prometheus on this host",
                err=True,
            )
    store = open_store(cfg, env.environ)
    flag = interrupts.StopFlag()
    lease = None
    try:
        lease = _lease(env, store, interval_s, takeover)
        watcher = Watcher(
            cfg, store, window_s=window_s, env=env.environ, command=_command(config), lease=lease
        )
        env.echo(
            f"perfbook watch: every {interval_s:g} s (window {window_s:g} s), {len(watcher.rules)} alert rules, "
            f"store {store.url_redacted}",
            err=True,
        )
        show, lives = _printer(env, cfg, as_json, metrics)
        try:
            with interrupts.caught(flag):
                run_loop(
                    watcher,
                    interval_s=interval_s,
                    stop=flag.__bool__,
                    duration_s=duration_s,
                    once=once,
                    on_run=show,
                    on_error=lambda err: _failed(env, metrics, err),
                )
        finally:
            for live in lives:
                live.stop()
    finally:
        try:
            if lease is not None:
                lease.release()  # the next watch starts at once (a watch that took it over keeps it)
        finally:
            store.close()
            if server is not None:
                server.shutdown()
    interrupts.raise_for(flag.signum)  # 130 / 143 once stopped cleanly


def _lease(env: Env, store: Any, interval_s: float, takeover: bool) -> Any:
    """The store's watch lease, or LeaseHeld (one line, exit 2) while another watch holds it."""
    import time

    from perfbook.watch.lease import Lease, lease_ttl

    lease = Lease.acquire(store, ttl_s=lease_ttl(interval_s), now=time.time(), takeover=takeover)
    if lease.taken_from is not None:
        old = lease.taken_from
        how = "with --takeover" if old["expires_at_s"] > time.time() else "its lease had expired"
        env.echo(f"perfbook watch: took the store's lease over from {old['holder']} ({how})", err=True)
    return lease


def _checked(window: str | None) -> str | None:
    if window is not None:
        _seconds(window, "--window")
    return window


def _host(listen: str) -> str:
    host = listen.rpartition(":")[0]
    return host if host.startswith("[") or ":" not in host else f"[{host}]"


def _loopback(listen: str) -> bool:
    import ipaddress

    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _command(config: Path | None) -> str:
    return "perfbook triage" + (f" --config {config}" if config else "")


def _failed(env: Env, metrics: Any, err: Exception) -> None:
    from perfbook.errors import PerfbookError

    if env.debug or not isinstance(err, PerfbookError | OSError):
        raise err
    metrics.failed()
    env.echo(f"warning: watch run failed: {err}", err=True)


def _printer(env: Env, cfg: Any, as_json: bool, metrics: Any):
    from perfbook.watch.view import History, build_view, run_line

    history = History()
    lives: list[Any] = []  # the Live view, once the first run is shown on a terminal

    def show(doc: dict[str, Any]) -> None:
        metrics.observe(doc)
        if as_json:
            env.echo(json.dumps({k: v for k, v in doc.items() if k != "samples"}, default=str))
            for t in doc["transitions"]:
                env.echo(json.dumps({"type": "transition", **t}, default=str))
            return
        history.add(doc)
        if env.out.is_terminal:
            from rich.live import Live

            if not lives:
                lives.append(Live(console=env.out, auto_refresh=False))
                lives[0].start()
            lives[0].update(build_view(doc, history, cfg), refresh=True)
        else:
            env.echo(run_line(doc))

    return show, lives


def register(app: typer.Typer) -> None:
    """Add ``perfbook watch`` to the root app."""
    app.command("watch", help=HELP)(watch_command)

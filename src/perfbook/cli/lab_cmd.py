"""``perfbook lab``: a reference stack shaped like the runbook's, with faults to switch on and off."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.text import Text

from perfbook.cli.env import current
from perfbook.errors import PerfbookError, UsageError
from perfbook.lab.faultstate import FAULTS
from perfbook.lab.state import STATE_DIR_ENV, LabState, default_state_dir
from perfbook.report.text import hang
from perfbook.units import parse_duration

HELP = """Run the lab: a backend, PostgreSQL, Redis and a frontend on 127.0.0.1, with faults to inject.

Examples:

  perfbook lab up --traffic                   # backend :8001, frontend :3000, background traffic

  perfbook triage --config "$(perfbook lab config)"

  perfbook lab fault seqscan on               # drop the index behind e-mail search

  perfbook lab demo --fault slow              # what `make run FAULT=slow` runs

  perfbook lab down
"""

lab_app = typer.Typer(help=HELP, no_args_is_help=True)
DIR_OPTION = typer.Option(
    None, "--dir", help=f"State directory (env {STATE_DIR_ENV}; default ~/.local/state/perfbook/lab)."
)
PORT_OPTION = typer.Option(8001, "--port", help="Backend port on 127.0.0.1; 0 picks a free one.")
FRONTEND_PORT_OPTION = typer.Option(
    3000, "--frontend-port", help="Frontend port on 127.0.0.1; 0 picks a free one."
)
PARAM_OPTION = typer.Option([], "--param", help="Tune the fault, KEY=VALUE (e.g. delay_s=5, share=0.5).")
# Variables the lab owns or that do not point at a stack; every other PERFBOOK_* is ignored here.
LAB_ENV = (STATE_DIR_ENV, "PERFBOOK_DEBUG", "PERFBOOK_REQUIRE_SERVICES")


def _dir(path: Path | None) -> Path:
    return (path or default_state_dir()).expanduser().resolve()


def _warn_env() -> None:
    env = current()
    ignored = sorted(k for k in env.environ if k.startswith("PERFBOOK_") and k not in LAB_ENV)
    if ignored:
        env.err.print(f"warning: the lab ignores {', '.join(ignored)} (it only ever runs its own stack)")


def _running_state(state_dir: Path) -> LabState:
    from perfbook.lab import supervisor

    state = LabState.load(state_dir)
    if state is None or not supervisor.running(state):
        raise PerfbookError(f"no lab is running from {state_dir}", hint="start one with: perfbook lab up")
    return state


def _seconds(text: str, flag: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise UsageError(f"{flag}: {err}") from None


@lab_app.command("up")
def up(
    port: int = PORT_OPTION,
    frontend_port: int = FRONTEND_PORT_OPTION,
    traffic: bool = typer.Option(
        False, "--traffic", help="Also send light background traffic until `lab down`."
    ),
    rate: float = typer.Option(
        40.0, "--rate", min=0.1, max=500, help="Background traffic, requests per second."
    ),
    postgres_dsn: str | None = typer.Option(
        None,
        "--postgres-dsn",
        help="Use this (empty) database instead of a private server; the lab creates and drops its tables there.",
    ),
    redis_url: str | None = typer.Option(
        None,
        "--redis-url",
        help="Use this Redis db as the cache (the next db is the WebSocket queue) instead of a private server.",
    ),
    state_dir: Path | None = DIR_OPTION,
) -> None:
    """Start the lab (private PostgreSQL and Redis, seeded; backend; frontend) and print where it runs."""
    from perfbook.lab import supervisor

    _require_lab_extra()
    _warn_env()
    started = time.monotonic()
    state = supervisor.up(
        supervisor.LabOptions(
            _dir(state_dir),
            port=port,
            frontend_port=frontend_port,
            traffic=traffic,
            traffic_rate_rps=rate,
            postgres_dsn=postgres_dsn,
            redis_url=redis_url,
        )
    )
    current().err.print(f"lab up in {time.monotonic() - started:.1f} s")
    _print_status(state)


@lab_app.command("down")
def down(state_dir: Path | None = DIR_OPTION) -> None:
    """Stop every process and server of the lab (no process and no port left behind)."""
    from perfbook.lab import supervisor

    state = supervisor.down(_dir(state_dir))
    current().err.print("lab stopped" if state else f"no lab state in {_dir(state_dir)}: nothing to stop")


@lab_app.command("status")
def status(
    state_dir: Path | None = DIR_OPTION,
    as_json: bool = typer.Option(
        False, "--json", help="One JSON document on stdout: the URLs, DSN (redacted), faults on, pids."
    ),
) -> None:
    """What runs where (exit 1 when no lab runs)."""
    state = _running_state(_dir(state_dir))
    _print_status(state, as_json)


def _print_status(state: LabState, as_json: bool = False) -> None:
    from perfbook.lab import labconfig, supervisor
    from perfbook.lab.faultstate import FaultStore
    from perfbook.lab.state import redis_dbs
    from perfbook.redact import redact_url

    rows = {
        "backend": f"{state.backend_url} (2 workers)",
        "frontend": state.frontend_url,
        "websocket": state.backend_url.replace("http", "ws", 1) + "/ws",
        "postgres": redact_url(state.app_dsn),
        "redis": f"{redact_url(state.redis_url)} (cache), db {redis_dbs(state.redis_url)[1]} (WebSocket queue)",
        "traffic": "running"
        if "gen" in state.processes and supervisor.pid_alive(state.processes["gen"].pid)
        else "off",
        "faults on": ", ".join(n for n, e in FaultStore(state.dir).read().items() if e.on) or "none",
        "config": str(labconfig.config_path(state)),
        "pids": ", ".join(f"{p.role} {p.pid}" for p in state.processes.values()),
    }
    env = current()
    if as_json:
        env.json(rows)
        return
    for key, value in rows.items():
        env.out.print(hang(f"{key:<10} ", value))


@lab_app.command("config")
def config(state_dir: Path | None = DIR_OPTION) -> None:
    """Print the path of a perfbook.toml pointing every probe at the running lab."""
    from perfbook.lab import labconfig

    state = _running_state(_dir(state_dir))
    path = labconfig.config_path(state)
    if not path.exists():
        labconfig.write(state)
    current().echo(str(path))


@lab_app.command("fault")
def fault(
    name: str = typer.Argument(..., help=f"One of: {', '.join(FAULTS)}."),
    action: str = typer.Argument(..., help="on | off"),
    param: list[str] = PARAM_OPTION,
    state_dir: Path | None = DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout: the fault's new entry."),
) -> None:
    """Switch a fault on or off through the lab's admin endpoint (off restores the healthy state).

    On again with other --param values replaces the old ones. Parameters are typed and checked
    before anything changes (slow: endpoint, delay_s; errors: share; cpu: threads; leak: mb_per_s,
    cap_mb; idle_tx: sessions; bloat: rounds).
    """
    from perfbook.lab import client
    from perfbook.lab.faultstate import FaultParamError, check_params, fault_sentence

    if name not in FAULTS:
        raise UsageError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
    if action not in ("on", "off"):
        raise UsageError(f"ACTION must be on or off, got {action!r}")
    raw = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--param must be KEY=VALUE, got {item!r}")
        raw[key] = value
    if raw and action == "off":
        raise UsageError("--param goes with on (off puts the healthy state back)")
    try:
        params = check_params(name, raw)
    except FaultParamError as err:
        raise UsageError(f"--param: {err}") from None
    entry = client.switch_fault(_running_state(_dir(state_dir)), name, action == "on", params)
    if as_json:
        current().json(entry)
    else:
        current().echo(
            fault_sentence(
                name, bool(entry.get("on")), entry.get("params") or {}, entry.get("until") or 0.0, time.time()
            )
        )


@lab_app.command("traffic")
def traffic(
    duration: str = typer.Option("60s", "--duration", "-d", help="How long to send, e.g. 60s, 5m."),
    rate: float = typer.Option(40.0, "--rate", min=0.1, max=500, help="Requests per second."),
    state_dir: Path | None = DIR_OPTION,
) -> None:
    """Send light, steady traffic (reads, searches, some writes) to the lab, in the foreground."""
    from perfbook.lab.traffic import TrafficPlan, run_traffic

    state = _running_state(_dir(state_dir))
    duration_s = _seconds(duration, "--duration")
    current().err.print(f"sending {rate:g} req/s to {state.backend_url} for {duration_s:g} s …")
    stats = asyncio.run(
        run_traffic(TrafficPlan(state.backend_url, state.frontend_url, rate_rps=rate), duration_s)
    )
    current().echo(stats.summary())


@lab_app.command("demo")
def demo(
    fault_name: str | None = typer.Option(
        None, "--fault", help=f"Switch this fault on first: {', '.join(FAULTS)}."
    ),
    keep: bool = typer.Option(False, "--keep", help="Leave the lab running afterwards."),
    window: str = typer.Option("3s", "--window", help="Triage window."),
    port: int = PORT_OPTION,
    frontend_port: int = FRONTEND_PORT_OPTION,
    state_dir: Path | None = DIR_OPTION,
) -> None:
    """Start the lab with traffic, inject --fault if given, triage it and print the report (`make run`)."""
    from perfbook.lab.demo import DemoOptions, run_demo

    if fault_name is not None and fault_name not in FAULTS:
        raise UsageError(f"--fault: unknown fault {fault_name!r} (known: {', '.join(FAULTS)})")
    _seconds(window, "--window")
    _require_lab_extra()
    _warn_env()
    console = current().err
    opts = DemoOptions(_dir(state_dir), fault_name, keep, window, port, frontend_port)
    code = run_demo(opts, lambda text: console.print(hang(Text("lab: ", style="bold"), text)))
    raise typer.Exit(code)


def _require_lab_extra() -> None:
    """The backend needs FastAPI and uvicorn (the ``lab`` extra): say so before starting anything."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"the lab needs {' and '.join(missing)}", hint="pip install 'perfbook[lab]'")


def register(app: typer.Typer) -> None:
    """Add ``perfbook lab`` to the root app."""
    app.add_typer(lab_app, name="lab")

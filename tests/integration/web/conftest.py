"""A seeded store and ``perfbook serve``'s app running on a free 127.0.0.1 port, for the web tests.

The store holds what a week of on-call leaves: incidents opened from recorded lab triages (with
their timelines, checklist ticks and causes), a resolved one, stored reports, a real load run
(``perfbook load`` against a local HTTP server), a day of KPI samples every 30 s and an alert
firing. The server is the real app under uvicorn in a thread of the test process.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab_recordings import lab_report
from perfbook.config import Config
from perfbook.incidents import artifacts, records
from perfbook.store import Store, alert_states, kpi_samples

TOKEN = "test-token-0123456789abcdef"
COMPONENTS = [
    {"name": "API", "endpoints": ["/api/v1/*", "/health"], "layers": ["postgres", "redis"]},
    {"name": "Web app", "layers": ["frontend"]},
]


@dataclass
class Served:
    url: str
    store: Store
    cfg: Config
    ids: dict[str, Any]

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kw)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


def _load_run(tmp: Path) -> dict[str, Any]:
    """A real ``perfbook load --json`` run: 1 s at 100 rps against a local HTTP server."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Quiet(*a, directory=str(tmp)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        proc = subprocess.run(
            [sys.executable, "-m", "perfbook", "load", url, "-d", "1s", "--rate", "100", "-c", "2", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    finally:
        server.shutdown()
        server.server_close()


def seed(store: Store, tmp: Path) -> dict[str, Any]:
    """The seeded records; their ids by name."""
    slow = records.open_incident(
        store, title="Agents API slow", severity="P2", actor="ana", report=lab_report("slow")
    )
    records.add_note(store, slow.number, "started after the 10:00 deploy", actor="ana")
    records.set_status(store, slow.number, records.Status.IDENTIFIED, actor="ana", message="the delay switch")
    seqscan = records.open_incident(
        store, title="User search slow", severity="P1", actor="bo", report=lab_report("seqscan")
    )
    old = records.open_incident(
        store, title="Cache misses", severity="P3", actor="cy", report=lab_report("redis_full")
    )
    records.resolve(store, old.number, actor="cy", message="warmed")
    report_id = artifacts.keep(store, "triage", lab_report("errors"), actor="web")
    run = _load_run(tmp)
    load_id = records.attach(store, slow.number, "load", run, actor="ana").artifact_id
    second = records.attach(store, slow.number, "load", run, actor="ana").artifact_id
    now = time.time()
    rows = [
        {"at_s": now - i * 30, "run_id": f"r{i}", "kpi": kpi, "subject": "", "value": value(i), "count": 100}
        for i in range(2880)
        for kpi, value in (
            ("p95_s", lambda i: 0.2 + (i % 40) / 100),
            ("error_rate", lambda i: 0.001),
            ("cpu_pct", lambda i: 30 + i % 20),
        )
    ]
    store.write(lambda conn: conn.execute(kpi_samples.insert(), rows))
    store.insert(
        alert_states,
        {
            "rule": "HighResponseTime",
            "subject": "/api/v1/agents",
            "state": "firing",
            "severity": "warning",
            "value": 3.1,
            "threshold": 2.0,
            "active_since_s": now - 600,
            "state_since_s": now - 300,
            "last_eval_s": now,
            "labels": {},
            "annotations": {"summary": "p95 3.1 s on /api/v1/agents"},
        },
    )
    return {
        "slow": slow.id,
        "seqscan": seqscan.id,
        "resolved": old.id,
        "report": report_id,
        "load": load_id,
        "load2": second,
    }


def config(tmp: Path, **overrides: Any) -> Config:
    # nothing listens on these: a triage from the page probes them and reports them unavailable, quickly
    return Config.model_validate(
        {
            **overrides,
            "status": {"title": "Example status", "components": COMPONENTS},
            "http": {"base_url": "http://127.0.0.1:9", "timeout_s": 0.5},
            "frontend": {"url": ""},
            "notify": {"service": "Example"},
            "host": {"log_dirs": [str(tmp)]},
            "process": {"match": ["perfbook-no-such"]},
        }
    )


@contextlib.contextmanager
def serving(tmp: Path, **overrides: Any) -> Iterator[Served]:
    """The app over a freshly seeded store, with a write token; ``overrides`` are config sections."""
    from perfbook.web.app import create_app
    from perfbook.web.server import start_in_thread

    store = Store(f"sqlite:///{tmp / 'perfbook.db'}")
    cfg = config(tmp, **overrides)
    ids = seed(store, tmp)
    running = start_in_thread(create_app(cfg, store, token=TOKEN, refresh_s=1.0))
    try:
        yield Served(running.url, store, cfg, ids)
    finally:
        running.stop()
        store.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app over a seeded store, with a write token."""
    with serving(tmp_path_factory.mktemp("serve")) as s:
        yield s

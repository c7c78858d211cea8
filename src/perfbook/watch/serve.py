"""``perfbook serve --watch``: the watch loop in a thread of the server, and its /metrics builder.

    metrics = start_for_serve(cfg)      # starts the loop at [watch] interval; returns a function
    body, content_type = metrics()      # perfbook's own metrics, as /metrics serves them

The thread has its own store connection and runs until the process ends (a daemon thread); a run
that fails is counted (``perfbook_watch_run_failures_total``) and the next one runs. It holds the
store's watch lease like ``perfbook watch`` (the server refuses to start while a watch holds it).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable

from perfbook.config import Config
from perfbook.redact import redact_text
from perfbook.units import parse_duration
from perfbook.watch import plan
from perfbook.watch.lease import Lease, lease_ttl
from perfbook.watch.loop import Watcher, run_loop
from perfbook.watch.metrics import WatchMetrics


def _release(lease: Lease) -> None:
    try:
        lease.release()
    except Exception:  # the store is gone at exit: the lease expires on its own
        pass


def start_for_serve(cfg: Config, *, stop: threading.Event | None = None) -> Callable[[], tuple[bytes, str]]:
    """Start watching in a daemon thread; the /metrics builder (exposition text, content type)."""
    from perfbook.store import open_store

    interval_s = parse_duration(cfg.watch.interval)
    store = open_store(cfg)
    try:  # one watch per store: LeaseHeld (exit 2) while a perfbook watch holds it
        lease = Lease.acquire(store, ttl_s=lease_ttl(interval_s), now=time.time())
    except BaseException:
        store.close()
        raise
    atexit.register(_release, lease)
    watcher = Watcher(cfg, store, window_s=plan.window_for(cfg, interval_s), lease=lease)
    metrics = WatchMetrics()
    stop = stop or threading.Event()

    def failed(err: Exception) -> None:
        metrics.failed()
        logging.getLogger("perfbook.watch").warning(
            "watch: run failed: %s: %s", type(err).__name__, redact_text(str(err))
        )

    def run() -> None:
        try:
            run_loop(
                watcher,
                interval_s=interval_s,
                stop=stop.is_set,
                on_run=metrics.observe,
                on_error=failed,
                sleep=lambda s: stop.wait(s),
            )
        finally:
            _release(lease)
            store.close()

    threading.Thread(target=run, name="perfbook-watch", daemon=True).start()
    return metrics.exposition

"""What every route of ``perfbook serve`` reads: :class:`ServeContext` (on ``app.state.serve``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from perfbook.config import Config
from perfbook.store import Store
from perfbook.web.security import Guard

MetricsFn = Callable[[], tuple[bytes, str]]
"""perfbook's own metrics: the exposition text and its content type (what /metrics serves)."""


@dataclass
class ServeContext:
    """What every route reads: the config, the store, the write guard, the lab (or None), the metrics source."""

    cfg: Config
    store: Store
    guard: Guard
    lab: Any = None  # a perfbook.lab.state.LabState when serving the lab
    refresh_s: float = 5.0  # how often the overview's live part is fetched again
    metrics: MetricsFn | None = None
    triage_lock: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    # what pages may keep between requests: the public status page (a few seconds), the Overview's
    # closed sparkline buckets and its latest triage report (an artifact never changes)
    cache: dict[str, Any] = field(default_factory=dict)


def context(request: Request) -> ServeContext:
    """The app's :class:`ServeContext` (a FastAPI dependency)."""
    return request.app.state.serve

"""The receiver's triages, in the background and bounded: the webhook answers at once.

At most ``workers`` triages run at a time; one incident has at most one waiting or running (a
second request for it meanwhile is already covered by the one to come); at most ``max_waiting``
incidents wait, and past that the request is noted on the incident's timeline instead of run.
Each triage is bounded by the probes' own budgets (the window plus their timeouts).

    runner = TriageRunner(store, workers=2)
    runner.submit(number, scope)      # "scheduled" | "already scheduled" | "too many waiting"
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from perfbook.errors import PerfbookError
from perfbook.fleet.scope import Scope
from perfbook.incidents import records
from perfbook.incidents.model import EventKind
from perfbook.store import Store

ACTOR = "perfbook (alertmanager)"


class TriageRunner:
    """A small pool of triage workers for the incidents the receiver opens or updates."""

    def __init__(self, store: Store, *, workers: int = 2, max_waiting: int = 50) -> None:
        self.store, self.max_waiting = store, max_waiting
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="perfbook-am-triage")
        self._lock = threading.Lock()
        self._pending: dict[int, Future[None]] = {}

    def submit(self, number: int, scope: Scope) -> str:
        """Schedule a triage for incident ``number`` under ``scope``; what happened, in words."""
        with self._lock:
            if number in self._pending:
                return "already scheduled"
            if len(self._pending) >= self.max_waiting:
                records.add_event(
                    self.store,
                    number,
                    EventKind.NOTE,
                    f"triage not run: {self.max_waiting} incidents "
                    "are waiting for one (run perfbook triage --incident by hand)",
                    actor=ACTOR,
                )
                return "too many waiting"
            future = self._pool.submit(self._run, number, scope)
            self._pending[number] = future
        future.add_done_callback(lambda _f: self._done(number))
        return "scheduled"

    def wait(self, timeout_s: float) -> bool:
        """Wait for every scheduled triage (tests, shutdown); True when none is left."""
        with self._lock:
            futures = list(self._pending.values())
        done, not_done = wait(futures, timeout=timeout_s)
        return not not_done

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _done(self, number: int) -> None:
        with self._lock:
            self._pending.pop(number, None)

    def _run(self, number: int, scope: Scope) -> None:
        from perfbook.report.json import report_to_dict
        from perfbook.triage import triage

        try:
            doc = report_to_dict(triage(scope.config, skip=scope.skip))
            records.attach(self.store, number, "triage", doc, actor=ACTOR)
            line = headline(doc, scope)
            records.add_event(self.store, number, EventKind.NOTE, line, actor=ACTOR)
            self._post(number, scope, line)
        except PerfbookError as err:  # the incident was resolved meanwhile, the store is away …
            self._note(number, f"triage for the alert not attached: {err}")
        except Exception as err:  # noqa: BLE001 - a bug: said on the timeline, the receiver goes on
            self._note(number, f"triage for the alert failed: {type(err).__name__}: {err}")

    def _post(self, number: int, scope: Scope, line: str) -> None:
        """The headline to the internal channels ([notify] urls, e-mail), as an incident update."""
        from perfbook.notify.channels import channels_from
        from perfbook.notify.send import notify

        if not any(c.audience == "internal" for c in channels_from(scope.config)):
            return
        result = notify(
            self.store, scope.config, number, "update", actor=ACTOR, message=line, internal_only=True
        )
        failed = [d for d in result.deliveries if d.outcome == "failed"]
        if failed:
            self._note(number, f"the triage's headline could not be posted to {len(failed)} channel(s)")

    def _note(self, number: int, text: str) -> None:
        try:
            records.add_event(self.store, number, EventKind.NOTE, text[:500], actor=ACTOR)
        except PerfbookError:
            pass


def headline(doc: dict[str, Any], scope: Scope) -> str:
    """``triage (job=api): P2 — p95 0.71 s on /api/v1/users …; cause: …; first fix: …``"""
    severity = doc.get("severity") or "no severity (nothing user-facing measured)"
    parts = [f"triage ({scope.describe()}): {severity}"]
    if doc.get("severity_reason"):
        parts[0] += f" — {doc['severity_reason']}"
    causes = doc.get("causes") or []
    if causes:
        parts.append(f"cause: {causes[0].get('summary')}")
    actions = [a for f in doc.get("findings") or [] for a in f.get("actions") or []]
    if actions:
        parts.append(f"first fix: {actions[0].get('summary')}")
    return "; ".join(parts)[:1000]

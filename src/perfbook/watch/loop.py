"""One watch run, and the schedule of runs.

    watcher = Watcher(cfg, store, window_s=2.0)
    doc = watcher.run_once()            # the run's document (what --json prints), transitions inside
    run_loop(watcher, interval_s=30.0, stop=flag.__bool__, on_run=print_it)

A run: triage (the expensive probes every ``expensive_every``-th run), its samples and row into
the store, the rules evaluated against the states of the previous run (read from the store when
the watch starts, so a restart resumes them), then incidents and notifications. A target that went
away is a state of the run (its probe is ``unavailable``, its ``*.unreachable`` alert fires), not
an error; an error of perfbook or the store fails that run only, and the next one runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from perfbook.alerts.engine import Settings, evaluate
from perfbook.alerts.observe import observe
from perfbook.alerts.rules import effective_rules
from perfbook.alerts.state import AlertState
from perfbook.config import Config
from perfbook.report.json import report_to_dict
from perfbook.store import Store
from perfbook.triage import triage
from perfbook.units import parse_duration
from perfbook.watch import act, plan, records
from perfbook.watch.lease import Lease, LeaseLost
from perfbook.watch.samples import report_identity, run_row, sample_rows

Clock = Callable[[], float]


class Watcher:
    """Runs triage and the alert rules once per call, keeping the alert states between calls."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        *,
        window_s: float,
        env: Mapping[str, str] | None = None,
        clock: Clock = time.time,
        command: str = "perfbook triage",
        lease: Lease | None = None,
    ) -> None:
        self.cfg, self.store, self.window_s, self.env, self.clock = cfg, store, window_s, env, clock
        self.lease = lease  # the store's watch lease this watch holds (None: not checked)
        self.command = command
        self.rules = effective_rules(cfg)
        self.settings = Settings(repeat_interval_s=parse_duration(cfg.alerts.repeat_interval))
        self.channels = act.internal_channels(cfg, env)
        self.states: list[AlertState] = records.load_states(store)
        self.runs = 0
        self._stored: tuple[Any, float] | None = None  # identity and time of the last watch report kept

    def run_once(self) -> dict[str, Any]:
        """One run; its document (``type: run``), with the alert transitions and notifications."""
        at_s = self.clock()
        run_id = f"{int(at_s)}-{uuid.uuid4().hex[:8]}"
        skipped = plan.skipped_probes(self.runs, self.cfg)
        self.runs += 1
        t0 = time.monotonic()
        report = triage(self.cfg, window_s=self.window_s, skip=skipped)
        duration_s = round(time.monotonic() - t0, 3)
        doc = report_to_dict(report, with_evidence=False)
        obs = observe(report, self.cfg)
        samples = sample_rows(report, obs, at_s=at_s, run_id=run_id)
        w = self.cfg.watch
        records.save_run(
            self.store,
            run_row(report, at_s=at_s, duration_s=duration_s, run_id=run_id),
            samples,
            now=at_s,
            raw_retention_s=parse_duration(w.raw_retention),
            aggregate_retention_s=parse_duration(w.aggregate_retention),
        )
        now = self.clock()
        if self.lease is not None:
            self.lease.renew(now=now)  # LeaseLost: another watch took the store over, this one stops
        result = evaluate(
            self.rules,
            obs,
            now=now,
            states=self.states,
            silences=records.active_silences(self.store, now=now),
            settings=self.settings,
        )
        before = {st.key: st for st in self.states}
        if not self.channels:
            act.unmark_unsent(result.states, result.notifications, before)
        full = report_to_dict(report)
        linked = act.escalate(
            self.store,
            self.cfg,
            act.news(result.notifications, before, result.transitions, channels=bool(self.channels)),
            full,
            self.rules,
        )
        retried = act.retry_failed(
            self.store, result.states, self.channels, repeat_interval_s=self.settings.repeat_interval_s
        )
        sent = act.notify_alerts(
            self.store,
            self.cfg,
            result.notifications,
            full,
            self.rules,
            command=self.command,
            channels=self.channels,
            incident_of=linked,
        )
        lease = self.lease
        records.save_states(
            self.store,
            result.states,
            self.rules,
            now=now,
            guard=(lambda conn: lease.check(conn, now=now)) if lease else None,
        )
        for (rule, subject), number in linked.items():
            records.link_incident(self.store, rule, subject, number)
        self.states = result.states
        kept = self._keep_report(report, full, at_s)
        by_rule = {r.name: r for r in self.rules}
        return {
            "type": "run",
            "run_id": run_id,
            "started_at": doc["started_at"],
            "started_at_s": at_s,
            "duration_s": duration_s,
            "skipped_probes": skipped,
            "severity": doc["severity"],
            "severity_reason": doc["severity_reason"],
            "kpis": doc["kpis"],
            "findings": [
                {"code": f["code"], "subject": f["subject"], "level": f["level"], "value": f["value"]}
                for f in doc["findings"]
            ],
            "top_cause": (doc["causes"][0]["summary"] if doc["causes"] else None),
            "probes": doc["probes"],
            "samples": [{k: s[k] for k in ("kpi", "subject", "value")} for s in samples],
            "alerts": [
                {**_alert(st), "severity": by_rule[st.rule].severity if st.rule in by_rule else None}
                for st in result.states
            ],
            "transitions": [t.to_dict() for t in result.transitions],
            "notifications": retried + sent,
            "incidents": [{"rule": r, "subject": s, "incident": n} for (r, s), n in linked.items()],
            "report_id": kept,
        }

    def _keep_report(self, report: Any, full: dict[str, Any], at_s: float) -> int | None:
        """Store the triage as a ``watch`` report when it is news, or every ``report_every``: its id."""
        from perfbook.incidents import artifacts

        ident = report_identity(report)
        if self._stored is not None:
            old, when = self._stored
            if old == ident and at_s - when < parse_duration(self.cfg.watch.report_every):
                return None
        self._stored = (ident, at_s)
        return artifacts.keep(
            self.store, "watch", {**full, "rules": [r.name for r in self.rules]}, actor=act.ACTOR
        )


def _alert(st: AlertState) -> dict[str, Any]:
    return {
        "rule": st.rule,
        "subject": st.subject,
        "state": st.state,
        "value": st.value,
        "threshold": st.threshold,
        "since": st.fired_at if st.state == "firing" else st.active_since,
        "muted_by": st.muted_by,
    }


def run_loop(
    watcher: Watcher,
    *,
    interval_s: float,
    stop: Callable[[], bool],
    duration_s: float | None = None,
    once: bool = False,
    on_run: Callable[[dict[str, Any]], None] = lambda doc: None,
    on_error: Callable[[Exception], None] | None = None,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Run every ``interval_s`` until ``stop()``, ``duration_s`` has passed, or after one run with ``once``.

    Stops only between runs; waits in short sleeps so a stop request is seen within 0.2 s. The
    number of runs that completed.
    """
    first = clock()
    done = 0
    while not stop():
        try:
            on_run(watcher.run_once())
            done += 1
        except Exception as err:  # one failed run is reported, the next one runs
            if on_error is None or isinstance(err, LeaseLost):  # another watch owns the store now: stop
                raise
            on_error(err)
        if once:
            break
        start = plan.next_start(first, interval_s, now=clock())
        if duration_s is not None and start >= first + duration_s:
            break
        while not stop() and clock() < start:
            sleep(min(0.2, max(0.0, start - clock())))
    return done

"""A load test's merged result and its JSON form (the ``perfbook load --json`` contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfbook.load import hist
from perfbook.load.engine import ERROR_KINDS, WorkerResult

SCHEMA_VERSION = 1  # of every load document: load, capacity and stress (--json, -o)


@dataclass
class LoadResult:
    """Totals over all workers, with merged HDR histograms (µs)."""

    target: str
    method: str
    mode: str  # "closed" | "open"
    connections: int
    workers: int
    rate_rps: float | None  # asked for (peak of the stages), None in closed loop
    stages: list[dict[str, float]] = field(default_factory=list)  # open loop: what was asked, in order
    responses: int = 0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    status_codes: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    duration_s: float = 0.0
    latency: Any = field(default_factory=hist.new_histogram)
    latency_uncorrected: Any = field(default_factory=hist.new_histogram)
    interrupted: bool = False
    aborted: str | None = None  # why the run stopped early (error spike), if it did
    error_examples: dict[str, str] = field(default_factory=dict)  # kind → first message seen
    interim: int = 0  # interim 1xx responses seen (100 Continue …); not counted as responses
    # SIGINT / SIGTERM that cut the run (not in the JSON: the exit code says it)
    stop_signal: int | None = None
    drain_s: float = 0.0  # open loop: what requests in flight get after the schedule (--timeout)
    scheduled: int = 0  # open loop: requests the schedule asked for
    sent: int = 0  # open loop: requests sent
    waited: int = 0  # open loop: requests that waited for a connection at --max-connections
    peak_connections: int = 0  # open loop: most connections at once (summed over workers)
    max_connections: int = 0  # open loop: the limit (summed over workers)
    schedule_s: float = 0.0  # open loop: how long the schedule lasts
    # per second since the start: second → [requests, errors, latency histogram], merged over workers
    series: dict[int, list[Any]] = field(default_factory=dict)

    def add(self, part: WorkerResult) -> None:
        """Merge one worker's totals in."""
        self.responses += part.responses
        for kind, n in part.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        for code, n in part.status_codes.items():
            self.status_codes[code] = self.status_codes.get(code, 0) + n
        self.bytes += part.bytes
        self.duration_s = max(self.duration_s, part.duration_s)
        hist.decode_into(self.latency, part.latency)
        hist.decode_into(self.latency_uncorrected, part.latency_uncorrected)
        self.interrupted = self.interrupted or part.interrupted
        for kind, text in part.error_examples.items():
            self.error_examples.setdefault(kind, text)
        self.interim += part.interim
        self.scheduled += part.scheduled
        self.sent += part.sent
        self.waited += part.waited
        self.peak_connections += part.peak_connections
        self.max_connections += part.max_connections
        self.schedule_s = max(self.schedule_s, part.schedule_s)
        for second, requests, errors, encoded in part.series:
            row = self.series.get(second)
            if row is None:
                row = self.series[second] = [0, 0, hist.new_histogram()]
            row[0] += requests
            row[1] += errors
            hist.decode_into(row[2], encoded)

    def series_rows(self) -> list[dict[str, Any]]:
        """One row a second from the start (a second without a completed request too): its
        requests (responses + transport errors), errors (transport + 5xx) and latency p50 / p95 / p99
        (``None`` without a response); the same latency as ``latency`` (corrected in open loop)."""
        rows = []
        for second in range(max(self.series) + 1 if self.series else 0):
            requests, errors, histogram = self.series.get(second) or (0, 0, None)
            lat = hist.latency_summary(histogram) if histogram is not None else {}
            rows.append(
                {
                    "t_s": second,
                    "requests": requests,
                    "errors": errors,
                    "p50_s": lat.get("p50_s"),
                    "p95_s": lat.get("p95_s"),
                    "p99_s": lat.get("p99_s"),
                }
            )
        return rows

    @property
    def transport_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def requests(self) -> int:
        """Requests that finished: a response or a transport error."""
        return self.responses + self.transport_errors

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.status_codes.items() if not code.startswith("2"))

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.status_codes.items() if code.startswith("5"))

    @property
    def error_rate(self) -> float:
        """(transport errors + 5xx) / requests, as ``--slo errors<1%`` judges it."""
        return (self.transport_errors + self.server_errors) / self.requests if self.requests else 0.0

    @property
    def succeeded(self) -> int:
        """Responses that did what was asked: not an error, not a redirect (a redirect loop is no success)."""
        return sum(
            n for code, n in self.status_codes.items() if 200 <= int(code) < 300 or int(code) in (101, 304)
        )

    def failure(self, abort_share: float) -> str | None:
        """Why this run failed as a whole (exit 3 even without --slo), or None.

        Every request failed (errors, 4xx / 5xx, redirects), none completed, or the error rate
        (transport + 5xx) is over ``--abort-on-errors`` — whether or not the live abort fired.
        """
        if self.requests == 0:
            return "no request completed" + (
                "" if self.interrupted else " (nothing answered within --timeout?)"
            )
        if self.succeeded == 0:
            kinds = {**{k: n for k, n in self.errors.items() if n}, **self.status_codes}
            detail = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:4])
            return f"all {self.requests} requests failed ({detail})"
        if abort_share > 0 and self.error_rate > abort_share:
            return f"error rate {self.error_rate:.1%} over --abort-on-errors {abort_share:.0%}"
        rate = self.rate_check()
        if rate is not None and not rate["kept"] and not self.interrupted and not self.aborted:
            return rate["reason"]
        return None

    def rate_check(self) -> dict[str, Any] | None:
        """Open loop: the rate asked for against the rate sent, and the limit that kept it down.

        Kept when at least 99 % of the scheduled requests were sent and the send rate is within 5 %
        of the target; else ``reason`` names the limit: ``--max-connections`` when requests waited
        for a connection there, else perfbook itself (its event loop could not send faster).
        """
        if self.mode != "open" or not self.scheduled or self.schedule_s <= 0:
            return None
        target = self.scheduled / self.schedule_s
        achieved = self.sent / self.schedule_s
        not_sent = max(0, self.scheduled - self.sent)
        kept = not_sent <= 0.01 * self.scheduled and achieved >= 0.95 * target
        limit = None
        if not kept:
            limit = "--max-connections" if self.waited else "perfbook's own event loop (CPU): use --workers"
        reason = None
        if limit is not None:
            detail = (
                f"--max-connections {self.max_connections} reached: {self.waited:,} requests waited for a "
                f"free connection, {not_sent:,} never sent"
                if self.waited
                else f"{not_sent:,} of {self.scheduled:,} requests not sent; limit: {limit}"
            )
            reason = f"rate missed: target {target:,.0f} rps, achieved {achieved:,.0f} rps ({detail})"
        return {
            "target_rps": round(target, 3),
            "achieved_rps": round(achieved, 3),
            "scheduled": self.scheduled,
            "sent": self.sent,
            "not_sent": not_sent,
            "waited": self.waited,
            "peak_connections": self.peak_connections,
            "max_connections": self.max_connections,
            "drain_s": self.drain_s,
            "kept": kept,
            "limit": limit,
            "reason": reason,
        }

    @property
    def rps(self) -> float:
        """Responses per second over the run."""
        return self.responses / self.duration_s if self.duration_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The JSON document (DESIGN/issue #5 contract); keys are stable."""
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "method": self.method,
            "mode": self.mode,
            "connections": self.connections,
            "workers": self.workers,
            "rate_rps": self.rate_rps,
            "stages": self.stages,
            "requests": self.requests,
            "responses": self.responses,
            "duration_s": round(self.duration_s, 6),
            "rps": round(self.rps, 3),
            "bytes": self.bytes,
            "status_codes": dict(sorted(self.status_codes.items())),
            "errors": {**self.errors, "non_2xx": self.non_2xx},
            "error_rate": round(self.error_rate, 6),
            "error_examples": self.error_examples,
            "latency": hist.latency_summary(self.latency),
            "latency_uncorrected": hist.latency_summary(self.latency_uncorrected),
            "interim_responses": self.interim,
            "interrupted": self.interrupted,
            "aborted": self.aborted,
            "rate": self.rate_check(),
            "series": self.series_rows(),
        }

"""What every join family reads: findings by code, the user-facing symptoms, each probe's data.

A *symptom* is what users feel on one endpoint in the window — slowness (``http.slow_response``)
and / or 5xx (``http.error_rate_high``). Join families ask "which symptoms does this subject
explain?" through :meth:`Context.symptoms_for_table` and :meth:`Context.suffering`.

Probe data is read typed (:meth:`Context.http`, :meth:`Context.postgres` …, each None when the
probe did not produce data): a missing layer lowers a cause's confidence, it never breaks ranking,
and a renamed evidence field breaks a test instead of silently lowering a confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfbook.causes.routes import (
    param_name,
    query_params,
    route_in_text,
    route_names_table,
    same_table,
)
from perfbook.causes.score import pct
from perfbook.config import Config
from perfbook.evidence import is_usable, usable
from perfbook.evidence.http import EndpointTiming, HttpEvidence
from perfbook.evidence.metrics import MetricsEvidence
from perfbook.evidence.postgres import PgStatement, PgTable, PostgresEvidence
from perfbook.evidence.process import ProcessEvidence
from perfbook.model import Evidence, Finding, Level
from perfbook.redact import mask_query
from perfbook.routing import path_only, route_matches
from perfbook.sanitize import referenced_tables

STRONG_DEPENDENCY_CODES = (
    "pg.unreachable",
    "pg.blocked_queries",
    "pg.connections_saturated",
    "pg.slow_queries",
    "pg.missing_index",
    "pg.idle_in_transaction",
    "pg.long_running_query",
    "redis.unreachable",
    "redis.oom_rejections",
    "redis.hit_rate_low",
    "container.restarting",
    "container.memory_high",
    "container.cpu_high",
    "pgbouncer.pool_exhausted",
)
TIMEOUT_WORDS = ("no answer", "timed out", "timeout")


@dataclass
class Symptom:
    """One endpoint's trouble in the window: its slow and / or error findings.

    ``endpoint`` is the finding's subject (the route the app's metrics use, or a configured
    endpoint); ``configured`` are perfbook's configured endpoints that route serves, the only
    source of the query parameters a cause may name.
    """

    endpoint: str
    slow: Finding | None = None
    errors: Finding | None = None
    configured: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for f in (self.slow, self.errors) if f is not None]

    @property
    def method(self) -> str | None:
        if self.errors is not None and self.errors.evidence.get("method"):
            return str(self.errors.evidence["method"])
        sources = self.slow.evidence.get("sources", {}) if self.slow is not None else {}
        for source in ("metrics", "http"):
            method = sources.get(source, {}).get("method") if isinstance(sources.get(source), dict) else None
            if method:
                return str(method)
        return None

    @property
    def params(self) -> set[str]:
        """The query parameter names of the route's configured endpoints (never made up)."""
        return {p for path in [self.endpoint, *self.configured] for p in query_params(path)}

    @property
    def label(self) -> str:
        """``GET /api/v1/users?email=…`` (the path alone when the method is not known): the route,
        with the query of the configured endpoint that is this very path; query values masked."""
        shown = mask_query(self.endpoint)
        if "?" not in shown:
            same = [c for c in self.configured if "?" in c and path_only(c) == path_only(self.endpoint)]
            shown = mask_query(same[0]) if len(same) == 1 else shown
        return f"{self.method} {shown}" if self.method else shown

    @property
    def p95_s(self) -> float | None:
        return self.slow.value if self.slow is not None else None

    @property
    def error_share(self) -> float | None:
        return self.errors.value if self.errors is not None else None

    @property
    def low_confidence(self) -> bool:
        return all(f.low_confidence for f in self.findings)

    def describe(self) -> str:
        """``slow (p95 2.40 s)``, ``failing (5xx 30 %)`` or both."""
        parts = []
        if self.p95_s is not None:
            parts.append(f"slow (p95 {self.p95_s:.2f} s)")
        if self.error_share is not None:
            parts.append(f"failing (5xx {pct(self.error_share)})")
        return " and ".join(parts) or "affected"


@dataclass
class Context:
    """The findings and evidence of one triage, indexed for the join families."""

    findings: list[Finding]
    evidence: Mapping[str, Evidence[Any]]
    cfg: Config
    by_code: dict[str, list[Finding]] = field(default_factory=dict)
    symptoms: dict[str, Symptom] = field(default_factory=dict)

    @classmethod
    def build(cls, findings: list[Finding], evidence: Mapping[str, Evidence[Any]], cfg: Config) -> Context:
        ctx = cls(list(findings), evidence, cfg)
        for f in findings:
            ctx.by_code.setdefault(f.code, []).append(f)
        for f in ctx.of("http.slow_response"):
            ctx.symptoms.setdefault(f.subject, Symptom(f.subject)).slow = f
        for f in ctx.of("http.error_rate_high"):
            ctx.symptoms.setdefault(f.subject, Symptom(f.subject)).errors = f
        for sym in ctx.symptoms.values():
            sym.configured = [
                ep.path
                for ep in ctx.endpoints()
                if ep.path == sym.endpoint or route_matches(sym.endpoint, ep.path)
            ]
        return ctx

    def of(self, *codes: str) -> list[Finding]:
        """Warning and critical findings with one of ``codes`` (info never makes a cause)."""
        return [f for c in codes for f in self.by_code.get(c, []) if f.level is not Level.INFO]

    def http(self) -> HttpEvidence | None:
        """The http probe's data when it ran (ok or partial), else None (and so for the others)."""
        return usable(self.evidence.get("http"), HttpEvidence)

    def metrics(self) -> MetricsEvidence | None:
        return usable(self.evidence.get("metrics"), MetricsEvidence)

    def postgres(self) -> PostgresEvidence | None:
        return usable(self.evidence.get("postgres"), PostgresEvidence)

    def process(self) -> ProcessEvidence | None:
        return usable(self.evidence.get("process"), ProcessEvidence)

    def measured(self, probe: str) -> bool:
        return is_usable(self.evidence.get(probe))

    def endpoints(self) -> list[EndpointTiming]:
        """perfbook's own timed endpoints (none when the http probe did not run)."""
        http = self.http()
        return http.endpoints if http is not None else []

    def suffering(self) -> list[Symptom]:
        """Every endpoint in trouble: well-supported first, then the worst level, the most errors, the slowest."""

        def key(s: Symptom) -> tuple[bool, int, float, float]:
            level = min(f.level.rank for f in s.findings)
            errors = s.errors.evidence.get("errors_5xx", 0) if s.errors is not None else 0
            return s.low_confidence, level, -(errors or 0), -(s.p95_s or 0)

        return sorted(self.symptoms.values(), key=key)

    def user_facing_fine(self) -> bool:
        """True when requests were measured in the window and none is slow or failing."""
        return not self.symptoms and (self.measured("http") or self.measured("metrics"))

    def symptoms_for_table(self, table: str, statements_seen: bool = False) -> list[tuple[Symptom, str]]:
        """Endpoints in trouble that read ``table``, each with how the join was made.

        A route that only fails (no slowness) joins the table only when statements on it are in the
        evidence — the window's ``pg_stat_statements``, or what the caller read (``statements_seen``:
        sessions blocked on it): a database figure never explains the 5xx of a route that may not
        touch the database.
        """
        seen = statements_seen or bool(self.statements_on(table))
        out = []
        for sym in self.suffering():
            if sym.slow is None and not seen:
                continue
            how = self._route_statement(sym.endpoint, table) or (
                f"route {mask_query(sym.endpoint)} names {table}"
                if route_names_table(sym.endpoint, table)
                else None
            )
            if how:
                out.append((sym, how))
        return out

    def _route_statement(self, endpoint: str, table: str) -> str | None:
        """A statement on ``table`` that names the route (comment, application_name)."""
        for st in self.statements_on(table):
            if route_in_text(endpoint, st.query):
                return f"a statement on {table} names the route {mask_query(endpoint)}"
        pg = self.postgres()
        for session in pg.active if pg is not None else []:
            reads = any(same_table(t, table) for t in referenced_tables(session.query or ""))
            if reads and route_in_text(endpoint, session.application):
                return f"session application_name names the route {mask_query(endpoint)}"
        return None

    def endpoint_filtering(self, table: str, columns: list[str]) -> tuple[str, float | None] | None:
        """The timed endpoint that searches ``table`` by one of ``columns`` (route names the table,
        a query parameter names the column), with its p95: ``("GET /api/v1/users?email=…", 0.14)``."""
        wanted = {param_name(c) for c in columns}
        for ep in self.endpoints():
            if query_params(ep.path) & wanted and route_names_table(ep.path, table):
                return f"{ep.method} {mask_query(ep.path)}", ep.p95_s
        return None

    # PostgreSQL helpers -------------------------------------------------------------------------

    def statements(self) -> list[PgStatement]:
        """The window's statements (slowest mean first, then most total time), each once."""
        pg = self.postgres()
        if pg is None:
            return []
        seen: dict[int, PgStatement] = {}
        for st in pg.statements.top_by_mean + pg.statements.top_by_total:
            seen.setdefault(st.queryid, st)
        return list(seen.values())

    def statements_on(self, table: str) -> list[PgStatement]:
        """Window statements that read or write ``table``."""
        return [st for st in self.statements() if any(same_table(t, table) for t in st.tables)]

    def pg_table(self, table: str) -> PgTable | None:
        """The postgres probe's PgTable for ``table`` (None when it was not among those read)."""
        pg = self.postgres()
        for t in pg.tables if pg is not None else []:
            if same_table(t.name, table):
                return t
        return None

    def window_total_ms(self) -> float:
        pg = self.postgres()
        return float(pg.statements.window_total_ms or 0.0) if pg is not None else 0.0

    def window_s(self) -> float:
        """The triage window (from the metrics probe when it measured one, else the config)."""
        metrics = self.metrics()
        return float((metrics.window_s if metrics is not None else None) or self.cfg.triage.window_s)

    def dependency_findings(self) -> list[Finding]:
        """Findings of the layers a request waits on that can make it slow or fail *now* (not hygiene,
        not lifetime ratios): what makes "the application itself" less likely."""
        return [f for c in STRONG_DEPENDENCY_CODES for f in self.of(c)]


def symptom_lead(sym: Symptom | None) -> str:
    """``GET /api/v1/users is slow (p95 2.40 s): `` — the start of a summary that names the symptom."""
    return f"{sym.label} is {sym.describe()}: " if sym is not None else ""


EXPLAINS_LITTLE = 0.05  # a mean under 5 % of a p95 cannot be its cause, even run a few times a request


def explains_little(part_ms: float | None, p95_s: float | None) -> bool:
    """True when a dependency's time (a statement's mean) is under EXPLAINS_LITTLE of an endpoint's
    p95: too small to be why the endpoint is slow, whatever else it shares with it."""
    return part_ms is not None and p95_s is not None and part_ms / 1000 < EXPLAINS_LITTLE * p95_s


def probe_timed_out(f: Finding) -> bool:
    """An ``*.unreachable`` whose probe got no answer in time (ambiguous on a loaded host), not a refusal."""
    reason = str(f.evidence.get("reason") or "").lower()
    return f.code.endswith(".unreachable") and any(w in reason for w in TIMEOUT_WORDS)

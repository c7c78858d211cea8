"""pg.cancel and pg.terminate: by pid, or by filter (older than N s, idle in transaction, blocking others).

The runbook's blanket ``pg_terminate_backend`` on everything older than five minutes also hits
autovacuum, replication and other applications' databases. Here only client backends of this
database are candidates (``--all-databases`` widens that), perfbook's own sessions never are, and
each pid is signalled only while its ``backend_start`` still matches the plan, so a pid reused by a
new session is never hit.
"""

from __future__ import annotations

from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.base import Fix, Outcome, OutcomeStatus, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import APP_NAME, FixContext
from perfbook.fix.pg_common import TAG, pg_error_line, server_version_num, strip_literals

_SESSIONS_SQL = (
    TAG
    + """
SELECT a.pid, a.usename, a.application_name, a.datname, a.state, a.backend_type, a.backend_start::text,
       extract(epoch FROM now() - coalesce(CASE WHEN a.state LIKE 'idle in transaction%%' THEN a.state_change
                                               ELSE a.query_start END, a.backend_start))::float8,
       left(a.query, 300), a.datname = current_database(),
       EXISTS (SELECT 1 FROM pg_stat_activity o WHERE a.pid = ANY (pg_blocking_pids(o.pid))),
       cardinality(pg_blocking_pids(a.pid)) > 0
FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid()
"""
)
_COLUMNS = (
    "pid",
    "user",
    "application",
    "database",
    "state",
    "backend_type",
    "backend_start",
    "age_s",
    "query",
    "this_database",
    "blocking",
    "blocked",
)

# perfbook's probe and fix sessions; the lab's own sessions (perfbook-lab…) are the workload, not us
OWN_APPLICATIONS = frozenset({"perfbook", APP_NAME})

SESSION_PARAMS = (
    Param("pid", "int_list", "backend pid[,…] to signal"),
    Param("older_than_s", "float", "only sessions whose statement (or idle transaction) is older than this"),
    Param("idle_in_transaction", "flag", "only sessions idle in a transaction"),
    Param("blocking", "flag", "only sessions other sessions wait on"),
    Param("all_databases", "flag", "also sessions of other databases (default: this database only)"),
)


def read_sessions(conn: Any) -> list[dict[str, Any]]:
    """Every backend but our own, as dicts (``age_s`` of the statement, or of the idle transaction)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return [dict(zip(_COLUMNS, row, strict=True)) for row in conn.execute(_SESSIONS_SQL).fetchall()]


def exclusion(s: dict[str, Any], all_databases: bool) -> str | None:
    """Why session ``s`` may never be signalled here, or None when it may."""
    if s["backend_type"] != "client backend":
        return f"{s['backend_type']}, not a client backend (only those are signalled)"
    if s["application"] in OWN_APPLICATIONS:
        return "perfbook's own session"
    if not s["this_database"] and not all_databases:
        return f"database {s['database']} (add --all-databases)"
    return None


def select_sessions(sessions: list[dict[str, Any]], values: dict[str, Any]) -> tuple[list[dict], list[str]]:
    """The sessions ``values`` (pid / filters) pick, and notes on the pids asked for but spared. Pure."""
    pids, notes = values["pid"] or [], []
    by_pid = {s["pid"]: s for s in sessions}
    for pid in pids:
        if pid not in by_pid:
            notes.append(f"pid {pid}: no such backend (gone already?)")
        elif why := exclusion(by_pid[pid], values["all_databases"]):
            notes.append(f"pid {pid}: spared, {why}")
    chosen = []
    for s in sessions:
        if exclusion(s, values["all_databases"]) or (pids and s["pid"] not in pids):
            continue
        if values["older_than_s"] is not None and (s["age_s"] or 0) <= values["older_than_s"]:
            continue
        if values["idle_in_transaction"] and not (s["state"] or "").startswith("idle in transaction"):
            continue
        if values["blocking"] and not s["blocking"]:
            continue
        chosen.append(s)
    return sorted(chosen, key=lambda s: -(s["age_s"] or 0)), notes


def affects_row(s: dict[str, Any]) -> dict[str, Any]:
    """What the plan shows of one session: never the full query, never its literals."""
    return {
        "pid": s["pid"],
        "user": s["user"],
        "application": s["application"],
        "database": s["database"],
        "state": s["state"],
        "age_s": round(s["age_s"] or 0, 1),
        "blocking": s["blocking"],
        "query": strip_literals(s["query"], 60),
        "backend_start": s["backend_start"],
    }


class _Signal(Fix):
    layer = "postgres"
    params = SESSION_PARAMS
    function = ""
    verb = ""

    def plan(self, ctx: FixContext) -> Plan:
        v = self.values
        if not v["pid"] and v["older_than_s"] is None and not v["idle_in_transaction"] and not v["blocking"]:
            raise UsageError(
                f"{self.id} needs --pid or a filter (--older-than-s, --idle-in-transaction, --blocking)"
            )
        conn = ctx.pg_read()
        # PG 14+: wait for the backend to be gone (its locks released), within our own statement_timeout
        wait_ms = max(100, min(5000, ctx.cfg.postgres.statement_timeout_ms - 500))
        waits = self.function == "pg_terminate_backend" and server_version_num(conn) >= 140000
        timeout = f", {wait_ms}" if waits else ""
        chosen, notes = select_sessions(read_sessions(conn), v)
        steps = [
            f"SELECT {self.function}({s['pid']}{timeout})  -- {s['user']}, {s['state']}, {s['age_s']:.0f} s"
            for s in chosen
        ]
        plan = self.new_plan(
            ctx,
            f"{self.verb} {len(chosen)} session(s)",
            steps=steps,
            affects=[affects_row(s) for s in chosen],
            notes=notes + self.notes(chosen),
            fingerprint=fingerprint(sorted((s["pid"], s["backend_start"]) for s in chosen)),
        )
        plan.data.update(targets=[(s["pid"], s["backend_start"]) for s in chosen], timeout=timeout)
        spared = [n for n in notes if ": spared, " in n]
        if v["pid"] and not chosen and spared:  # asked for by pid and refused: say so with an exit code
            plan.refusal = "; ".join(spared)
        return plan

    def notes(self, chosen: list[dict[str, Any]]) -> list[str]:
        return []

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        import psycopg

        conn = ctx.pg_write()
        blocked_before = _blocked_count(ctx)
        sql = (
            f"{TAG}SELECT {self.function}(pid{plan.data['timeout']}) FROM pg_stat_activity "
            "WHERE pid = %s AND backend_start = %s::timestamptz"
        )
        done, not_done = [], []
        for pid, started in plan.data["targets"]:
            try:
                row = conn.execute(sql, (pid, started)).fetchone()
            except psycopg.Error as err:
                not_done.append(f"pid {pid}: {pg_error_line(err)}")
                continue
            if row is None:
                not_done.append(f"pid {pid}: gone before the signal (nothing done to it)")
            elif row[0]:
                done.append(f"{self.verb} pid {pid}")
            else:
                not_done.append(
                    f"pid {pid}: {self.function} returned false (no permission, or still running)"
                )
        figures = {"blocked sessions": {"before": blocked_before, "after": _blocked_count(ctx)}}
        status: OutcomeStatus = "done" if not not_done else ("partial" if done else "failed")
        return Outcome(
            status,
            f"{self.verb}: {len(done)} of {len(plan.data['targets'])} session(s)",
            done=done,
            not_done=not_done,
            figures=figures,
            error=not_done[0] if not_done and not done else None,
        )


def _blocked_count(ctx: FixContext) -> int:
    return sum(
        1 for s in read_sessions(ctx.pg_read()) if s["blocked"] and s["backend_type"] == "client backend"
    )


class PgCancel(_Signal):
    """Cancel the running statement of the chosen sessions (the session and its transaction stay)."""

    id = "pg.cancel"
    changes = "cancels the running statement of chosen sessions (pg_cancel_backend); sessions stay"
    function = "pg_cancel_backend"
    verb = "cancel"

    def notes(self, chosen: list[dict[str, Any]]) -> list[str]:
        idle = [s["pid"] for s in chosen if (s["state"] or "").startswith("idle")]
        if idle:
            return [f"pids {idle} are idle: cancel does nothing to them; pg.terminate ends the session"]
        return []

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("postgres",), ("pg.long_running_query", "pg.blocked_queries"))


class PgTerminate(_Signal):
    """Terminate the chosen sessions (their open transactions roll back)."""

    id = "pg.terminate"
    changes = "ends chosen sessions (pg_terminate_backend); their open transactions roll back"
    function = "pg_terminate_backend"
    verb = "terminate"

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(
            ("postgres",), ("pg.idle_in_transaction", "pg.blocked_queries", "pg.long_running_query")
        )

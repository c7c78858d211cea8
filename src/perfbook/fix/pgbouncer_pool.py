"""pgbouncer.raise_pool_size: ``SET default_pool_size`` / ``SET max_db_connections`` on PgBouncer's admin console.

A runtime change: PgBouncer keeps it until it restarts, and a ``RELOAD`` (or SIGHUP) re-reads
pgbouncer.ini and puts the file's value back. The plan says so and names the line to edit; this
fix never edits the file. It only raises (lowering a pool under load queues clients), acts on the
values SHOW CONFIG reports now (re-read before the apply, so a stale plan is re-planned), and says
which databases keep a pool_size of their own that default_pool_size does not change.
"""

from __future__ import annotations

from typing import Any

from perfbook.errors import UsageError
from perfbook.evidence.pgbouncer import ADMIN_DATABASE
from perfbook.fix.base import Fix, Outcome, OutcomeStatus, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext

SETTINGS = (("pool_size", "default_pool_size"), ("max_db_connections", "max_db_connections"))


def show(conn: Any, what: str) -> list[dict[str, Any]]:
    """``SHOW <what>`` on the admin console, as dicts."""
    cur = conn.execute(f"SHOW {what}")
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def live_config(conn: Any) -> dict[str, dict[str, Any]]:
    """SHOW CONFIG by key: ``{"default_pool_size": {"value": "2", "changeable": "yes", …}}``."""
    return {str(r["key"]): r for r in show(conn, "CONFIG")}


def _raises(key: str, old: int, new: int) -> bool:
    """True when ``new`` allows at least as many server connections as ``old`` (0 is no cap for max_db_connections)."""
    if key == "max_db_connections":
        return new == 0 or (old != 0 and new >= old)
    return new >= old


class PgbouncerRaisePoolSize(Fix):
    """Raise default_pool_size (and / or max_db_connections) on the running PgBouncer."""

    id = "pgbouncer.raise_pool_size"
    changes = (
        "raises default_pool_size / max_db_connections on PgBouncer's admin console (SET, until a restart "
        "or RELOAD: edit pgbouncer.ini to keep it)"
    )
    layer = "pgbouncer"
    params = (
        Param("pool_size", "int", "new default_pool_size (server connections per database/user pool)"),
        Param(
            "max_db_connections", "int", "new max_db_connections (per database, all its pools; 0 = no cap)"
        ),
    )

    def plan(self, ctx: FixContext) -> Plan:
        wanted = {key: self.values[name] for name, key in SETTINGS if self.values[name] is not None}
        if not wanted:
            raise UsageError(f"{self.id} needs --pool-size or --max-db-connections")
        if wanted.get("default_pool_size", 1) < 1 or wanted.get("max_db_connections", 0) < 0:
            raise UsageError(f"{self.id}: --pool-size must be at least 1, --max-db-connections 0 or more")
        conn = ctx.pgbouncer()
        live = live_config(conn)
        steps, affects, notes, refusals = [], [], [], []
        for key, new in wanted.items():
            row = live.get(key)
            if row is None:
                refusals.append(f"this PgBouncer has no setting {key}")
                continue
            old = int(row["value"])
            affects.append({"setting": key, "old": old, "new": new})
            if old == new:
                notes.append(f"{key} is already {new}")
            elif not _raises(key, old, new):
                refusals.append(
                    f"{key} {old} -> {new} lowers it: this fix only raises (SET it by hand to lower)"
                )
            elif str(row.get("changeable", "yes")) != "yes":
                refusals.append(f"{key} cannot be changed at runtime here")
            else:
                steps.append(f"SET {key} = {new}")
        if steps:
            notes += self._notes(conn, wanted, live)
        current = {k: live[k]["value"] for k in wanted if k in live}
        summary = (
            ", ".join(f"{a['setting']}: {a['old']} -> {a['new']}" for a in affects) or "nothing to change"
        )
        plan = self.new_plan(
            ctx,
            summary if steps else f"nothing to do: {summary}",
            steps=steps,
            affects=affects,
            notes=notes,
            fingerprint=fingerprint(current),
            refusal="; ".join(refusals) or None,
        )
        plan.data.update(before=current)
        return plan

    def _notes(self, conn: Any, wanted: dict[str, int], live: dict[str, dict[str, Any]]) -> list[str]:
        notes = [
            f"a runtime change: PgBouncer forgets it when it restarts, and RELOAD puts pgbouncer.ini's value back: "
            f"edit pgbouncer.ini ({', '.join(f'{k} = {v}' for k, v in wanted.items())}) to keep it"
        ]
        default = str(wanted.get("default_pool_size", live.get("default_pool_size", {}).get("value", "")))
        if "default_pool_size" in wanted:
            own = [
                f"{d['name']} (pool_size {d['pool_size']})"
                for d in show(conn, "DATABASES")
                if d.get("name") != ADMIN_DATABASE
                and str(d.get("pool_size")) not in (str(live["default_pool_size"]["value"]), "-1")
            ]
            if own:
                notes.append("databases with a pool_size of their own keep it: " + ", ".join(own))
            notes.append(
                f"each database/user pool may now open {default} server connections: keep the pools' sum "
                "under PostgreSQL's max_connections"
            )
        return notes

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        import psycopg

        conn = ctx.pgbouncer()
        done, not_done = [], []
        for step in plan.steps:
            try:
                conn.execute(step)
                done.append(step)
            except psycopg.Error as err:
                not_done.append(f"{step}: {str(err).strip().splitlines()[0]}")
        now = {k: live_config(conn).get(k, {}).get("value") for k in plan.data["before"]}
        figures = {k: {"before": v, "after": now.get(k)} for k, v in plan.data["before"].items()}
        status: OutcomeStatus = "done" if not not_done else ("partial" if done else "failed")
        summary = ", ".join(f"{k}: {v['before']} -> {v['after']}" for k, v in figures.items())
        return Outcome(
            status,
            summary + " (runtime only: edit pgbouncer.ini to keep it)",
            done=done,
            not_done=not_done,
            figures=figures,
            error=not_done[0] if not_done and not done else None,
        )

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("pgbouncer",), ("pgbouncer.pool_exhausted", "pgbouncer.pool_saturated"))

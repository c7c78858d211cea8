"""Does PgBouncer sit at the postgres probe's address? Ask its admin console (the ``pgbouncer`` database).

Only PgBouncer's own words name it: ``SHOW VERSION`` answering ``PgBouncer …``, or a refusal in its
vocabulary (:func:`perfbook.evidence.postgres.pooler_refusal`). PostgreSQL's ``database
"pgbouncer" does not exist``, a silence, or a real database that happens to be called pgbouncer
are no PgBouncer. Each question is one short connection with its own timeout.
"""

from __future__ import annotations

import asyncio

from perfbook.evidence.postgres import pooler_refusal
from perfbook.probes import postgres_sql as sql
from perfbook.probes.postgres_build import connect_reason


async def pgbouncer_answer(dsn: str, admin_dsn: str, timeout_s: float) -> tuple[str, str]:
    """What PgBouncer's admin console (the ``pgbouncer`` database) at perfbook's address says:
    ``("version", "PgBouncer 1.18.0")``; ``("refused", why)`` when the refusal is PgBouncer's own
    words; ``("absent", why)`` otherwise (PostgreSQL answering, a silence, a database that happens to
    be named pgbouncer): only PgBouncer's own answer names PgBouncer. ``admin_dsn``: ``[pgbouncer] dsn``
    when it names the same address (it has the admin user), else ``dsn`` with dbname=pgbouncer."""
    import psycopg

    try:
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                admin_dsn or make_admin_dsn(dsn), autocommit=True, connect_timeout=max(1, int(timeout_s))
            ),
            timeout_s,
        )
    except psycopg.Error as err:
        reason = connect_reason(str(err))
        return ("refused" if pooler_refusal(reason) is not None else "absent"), reason
    except TimeoutError:
        return "absent", f"no answer within {timeout_s:.1f} s"
    try:
        cur = await conn.execute(sql.PGBOUNCER_VERSION)
        row = await cur.fetchone()
        version = str(row[0]) if row else ""
        return (
            ("version", version)
            if version.startswith("PgBouncer")
            else ("absent", f"SHOW VERSION: {version}")
        )
    except psycopg.Error as err:  # e.g. PostgreSQL with a database named pgbouncer: no such setting
        return "absent", connect_reason(str(err))
    finally:
        await conn.close()


async def pgbouncer_pool_mode(dsn: str, admin_dsn: str, timeout_s: float) -> str | None:
    """The pool mode of perfbook's own pool (its database and user in SHOW POOLS), when the admin
    console lets this user read it (admin_users / stats_users); None otherwise."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    try:
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                admin_dsn or make_admin_dsn(dsn), autocommit=True, connect_timeout=max(1, int(timeout_s))
            ),
            timeout_s,
        )
    except (psycopg.Error, TimeoutError):
        return None
    try:
        cur = await conn.execute("SHOW POOLS")
        names = [c.name for c in cur.description or []]
        for row in await cur.fetchall():
            pool = dict(zip(names, row, strict=True))
            if pool.get("database") == params.get("dbname") and pool.get("user") == params.get("user"):
                return str(pool.get("pool_mode")) or None
    except psycopg.Error:  # a user outside admin_users / stats_users: the mode stays unknown
        return None
    finally:
        await conn.close()
    return None


def make_admin_dsn(dsn: str) -> str:
    """``dsn`` pointed at the ``pgbouncer`` admin database, without startup options."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = {k: v for k, v in conninfo_to_dict(dsn).items() if k != "options"}
    params["dbname"] = "pgbouncer"
    return make_conninfo("", **params)


def same_address_key(dsn: str) -> tuple[str, str]:
    """(host, port) a DSN names, defaults filled (to tell whether two DSNs reach the same server)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # an invalid DSN names no address
        return "", ""
    host = str(params.get("host") or "localhost")
    return ("localhost" if host in ("127.0.0.1", "::1") else host), str(params.get("port") or 5432)

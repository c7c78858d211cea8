"""The watch lease: one ``perfbook watch`` per store evaluates the alerts and writes their states.

Two watches on one store would each evaluate the alerts against their own states and replace the
stored ones in turn. So a watch takes the store's lease (a ``watch_leases`` row: holder, expiry)
before its first run, renews it every run, checks it in the transaction that writes the alert
states, and gives it back when it stops. A second watch refuses to start while the lease is held
and not expired, unless it takes it over; the watch it took it from stops at its next run.

    lease = Lease.acquire(store, ttl_s=lease_ttl(30.0), now=time.time())   # LeaseHeld: another holds it
    lease.renew(now=t)                                                      # LeaseLost: taken over
    lease.release()
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from perfbook.errors import ConflictError
from perfbook.store import Store, watch_leases

NAME = "watch"


class LeaseHeld(ConflictError):
    """Another watch holds this store's lease (exit 2)."""


class LeaseLost(ConflictError):
    """This watch's lease was taken over (or expired and taken): it must stop writing (exit 2)."""


def lease_ttl(interval_s: float) -> float:
    """How long a lease lasts unrenewed: three intervals, and at least a minute (a slow run is not a dead watch).

    >>> lease_ttl(30.0), lease_ttl(1.0)
    (90.0, 60.0)
    """
    return max(3 * interval_s, 60.0)


def holder_name() -> str:
    """Who holds it, as the refusal names it: ``pid 1234 on web-1``."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


@dataclass
class Lease:
    """This watch's hold on the store's lease (its ``token`` tells it from any other holder)."""

    store: Store
    token: str
    holder: str
    ttl_s: float
    taken_from: dict[str, Any] | None = None  # the lease this one replaced (expired, or --takeover)

    @classmethod
    def acquire(
        cls, store: Store, *, ttl_s: float, now: float, takeover: bool = False, holder: str | None = None
    ) -> Lease:
        """Take the lease: free, expired, or (``takeover``) held by another; else :class:`LeaseHeld`."""
        lease = cls(store, uuid.uuid4().hex, holder or holder_name(), ttl_s)

        def run_tx(conn: Connection) -> dict[str, Any] | None:
            row = _row(conn)
            values = {
                "holder": lease.holder,
                "token": lease.token,
                "acquired_at_s": now,
                "renewed_at_s": now,
                "expires_at_s": now + ttl_s,
            }
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(watch_leases).values(name=NAME, **values))
                    return None
                except IntegrityError:  # another watch inserted it between our read and our insert
                    row = _row(conn)
            assert row is not None
            if row["expires_at_s"] > now and not takeover:
                raise LeaseHeld(
                    f"another perfbook watch holds this store's lease: {row['holder']} "
                    f"(renewed {_iso(row['renewed_at_s'])}, "
                    f"expires {_iso(row['expires_at_s'])}); stop it, or take over with --takeover"
                )
            conn.execute(update(watch_leases).where(watch_leases.c.name == NAME).values(**values))
            return row

        lease.taken_from = store.write(run_tx)
        return lease

    def renew(self, *, now: float) -> None:
        """Extend the lease to ``now + ttl_s``; :class:`LeaseLost` when another watch holds it now."""
        self.store.write(lambda conn: self.check(conn, now=now, renew=True))

    def check(self, conn: Connection, *, now: float, renew: bool = False) -> None:
        """Inside a write transaction: :class:`LeaseLost` unless this watch still holds the lease."""
        row = _row(conn)
        if row is None or row["token"] != self.token:
            by = f"{row['holder']} since {_iso(row['acquired_at_s'])}" if row else "nobody (it was released)"
            raise LeaseLost(f"this watch's lease on the store was taken over by {by}: this watch stops")
        if renew:
            conn.execute(
                update(watch_leases)
                .where(watch_leases.c.name == NAME, watch_leases.c.token == self.token)
                .values(renewed_at_s=now, expires_at_s=now + self.ttl_s)
            )

    def release(self) -> None:
        """Give the lease back (only when this watch still holds it), so the next watch starts at once."""
        self.store.write(
            lambda conn: conn.execute(
                delete(watch_leases).where(watch_leases.c.name == NAME, watch_leases.c.token == self.token)
            )
        )


def current(store: Store) -> dict[str, Any] | None:
    """The lease row (holder, times), or None when no watch holds it."""
    return store.read(lambda conn: _row(conn, lock=False))


def _row(conn: Connection, *, lock: bool = True) -> dict[str, Any] | None:
    query = select(watch_leases).where(watch_leases.c.name == NAME)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return dict(row._mapping) if row else None


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""A small async PostgreSQL connection pool for the backend workers (psycopg 3, no extra package).

    pool = ConnectionPool(dsn, size=5)
    async with pool.connection() as conn:
        rows = await (await conn.execute("SELECT 1")).fetchall()

Connections open lazily up to ``size``; a connection that fails is dropped, not handed out again.
Every session gets a ``statement_timeout`` and a ``lock_timeout``, so a fault that holds a lock
makes requests fail after seconds instead of pinning every connection forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg

APP_NAME = "perfbook-lab"
SESSION_OPTIONS = f"-c statement_timeout=15000 -c lock_timeout=8000 -c application_name={APP_NAME}"


class ConnectionPool:
    """At most ``size`` autocommit connections, handed out one request at a time."""

    def __init__(self, dsn: str, size: int = 5) -> None:
        self.dsn = dsn
        self.size = size
        self._idle: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
        self._slots = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        async with self._slots:
            conn = self._idle.get_nowait() if not self._idle.empty() else await self._open()
            broken = True
            try:
                yield conn
                broken = False
            except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError):
                broken = False  # the statement failed, the session is fine
                raise
            finally:
                idle = not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if broken or not idle:
                    await conn.close()
                else:
                    self._idle.put_nowait(conn)

    async def _open(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, options=SESSION_OPTIONS)

    async def discard_idle(self) -> None:
        """Close every idle connection: after one was found dead, the others likely are too."""
        while not self._idle.empty():
            await self._idle.get_nowait().close()

    async def close(self) -> None:
        """Close every idle connection (those in use close when they come back)."""
        while not self._idle.empty():
            await self._idle.get_nowait().close()

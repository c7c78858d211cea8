"""Helpers for the store tests: a private PostgreSQL database as a store URL, and raw SQLite reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def pg_store_url(pg_dsn: str) -> str:
    """The private test database as a SQLAlchemy URL on psycopg 3."""
    return pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table`` read with the standard library (not through perfbook)."""
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()

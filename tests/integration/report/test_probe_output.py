"""``perfbook probe postgres`` as a person reads it: sizes with units, setting names in full, 80 columns."""

from __future__ import annotations

import re

import psycopg


def test_probe_postgres_shows_units_and_full_names(perfbook, pg_dsn, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int, email text)")
        conn.execute(
            "INSERT INTO users SELECT g, 'user' || g || '@example.org' FROM generate_series(1, 20000) g"
        )
        conn.execute("ANALYZE users")
    res = perfbook(
        "probe",
        "postgres",
        "--window",
        "0.2s",
        env={"PERFBOOK_POSTGRES_DSN": pg_dsn, "COLUMNS": "80", "NO_COLOR": "1", "PERFBOOK_CONFIG": None},
    )
    assert res.exit_code in (0, 3), res.stderr
    out = res.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert re.search(r"public\.users = \d+\.\d (KiB|MiB)", out), out  # about 1.3 MiB, not 1359872
    assert "effective_cache_size" in out and "effective_cach…" not in out

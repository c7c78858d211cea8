"""Create and seed the lab's database: the runbook's ``codexos_db`` with users and agents.

Rows come from ``generate_series`` in one INSERT per table (200,000 users in about a second with
fsync off); the indexes are built after the data, as a bulk load should. The indexes are those a
well-run service has for its queries: users(email) unique, users(lower(name)) for name search,
agents(owner_id) and agents(status).
"""

from __future__ import annotations

import psycopg

from perfbook.errors import PerfbookError

APP_ROLE = "codexos"
APP_DB = "codexos_db"
USERS_ROWS = 200_000
AGENTS_ROWS = 5_000
EMAIL_INDEX = "users_email_key"  # the index the seqscan fault drops

FIRST_NAMES = (
    "Anna Ben Carla David Elena Farid Greta Hugo Ines Jonas Kira Luca Maya Nils Olga Pavel Queenie Rosa "
    "Samir Tara Umar Vera Wim Xenia Yusuf Zoe Amir Bianca Chen Dana Emil Fatima Gabriel Hana Ivan Julia "
    "Kenji Lena Mateo Nora Oscar Priya Rafael Sofia Tomas Ursula Victor Wen Yara Zeno"
).split()
LAST_NAMES = (
    "Schmidt Garcia Rossi Novak Kowalski Nguyen Okafor Silva Jensen Dubois Tanaka Haddad Petrov Larsen "
    "Moreau Costa Fischer Meyer Weber Wagner Becker Hoffmann Schulz Koch Richter Klein Wolf Neumann Braun "
    "Zimmermann Hartmann Lange Werner Krause Lehmann Walter Peters Kaiser Fuchs Scholz Vogel Friedrich "
    "Keller Berger Roth Frank Beck Lorenz Baumann Franke"
).split()
DOMAINS = ("example.com", "example.org", "mail.test", "corp.example")

SCHEMA = """
CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE agents (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    owner_id    bigint NOT NULL REFERENCES users (id),
    status      text NOT NULL DEFAULT 'idle',
    config      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
"""

INDEXES = {
    EMAIL_INDEX: "CREATE UNIQUE INDEX {c} users_email_key ON users (email)",
    "users_lower_name_idx": "CREATE INDEX {c} users_lower_name_idx ON users (lower(name) text_pattern_ops)",
    "agents_owner_id_idx": "CREATE INDEX {c} agents_owner_id_idx ON agents (owner_id)",
    "agents_status_idx": "CREATE INDEX {c} agents_status_idx ON agents (status)",
}


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


def users_insert_sql(rows: int) -> str:
    """One INSERT … SELECT over generate_series: names cycle through first × last, e-mails unique."""
    first, last, dom = _array(FIRST_NAMES), _array(LAST_NAMES), _array(DOMAINS)
    return f"""
INSERT INTO users (id, name, email, created_at, updated_at)
SELECT i, f || ' ' || l,
       lower(f) || '.' || lower(l) || i || '@' || d,
       ts, ts
FROM (SELECT i,
             ({first})[1 + i % {len(FIRST_NAMES)}] AS f,
             ({last})[1 + (i / {len(FIRST_NAMES)}) % {len(LAST_NAMES)}] AS l,
             ({dom})[1 + i % {len(DOMAINS)}] AS d,
             now() - (i % 8760) * interval '1 hour' AS ts
      FROM generate_series(1, {rows}) AS i) AS s
"""


def agents_insert_sql(rows: int, users: int) -> str:
    return f"""
INSERT INTO agents (id, name, owner_id, status, config, created_at)
SELECT i, 'agent-' || lpad(i::text, 5, '0'), 1 + (i * 7919) % {users},
       (ARRAY['idle','running','paused','error'])[1 + i % 4],
       jsonb_build_object('model', 'm' || (i % 5), 'max_steps', 10 + i % 90),
       now() - (i % 720) * interval '1 hour'
FROM generate_series(1, {rows}) AS i
"""


def create_database(admin_dsn: str, password: str | None = None) -> None:
    """Create the app role (with pg_monitor, so triage sees every session; with ``password`` if given)
    and its database."""
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        secret = sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL("")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN{}").format(sql.Identifier(APP_ROLE), secret))
        conn.execute(f"GRANT pg_monitor TO {APP_ROLE}")
        conn.execute(f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE}")


def seed(admin_db_dsn: str, app_dsn: str, users: int = USERS_ROWS, agents: int = AGENTS_ROWS) -> None:
    """Tables, rows, indexes and statistics; then reset the statistics so the seed is not 'traffic'.

    On a given (not private) server the role may lack the rights for the extension and the
    resets: those steps are skipped, the tables are still the lab's own.
    """
    _best_effort(admin_db_dsn, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        try:
            conn.execute(SCHEMA)
        except psycopg.errors.DuplicateTable:
            raise PerfbookError(
                "the lab's database already has a users or agents table",
                hint="give the lab an empty database of its own (--postgres-dsn)",
            ) from None
        conn.execute(users_insert_sql(users))
        conn.execute(agents_insert_sql(agents, users))
        for table in ("users", "agents"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for sql in INDEXES.values():
            conn.execute(sql.format(c=""))
        conn.execute("VACUUM ANALYZE users")
        conn.execute("VACUUM ANALYZE agents")
    _best_effort(admin_db_dsn, "SELECT pg_stat_statements_reset()")
    _best_effort(admin_db_dsn, "SELECT pg_stat_reset()")


def drop(app_dsn: str) -> None:
    """Remove the lab's tables from a given database (``lab down`` on a server the lab did not start)."""
    with psycopg.connect(app_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP TABLE IF EXISTS agents, users")


def _best_effort(dsn: str, sql: str) -> bool:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)
    except (
        psycopg.errors.InsufficientPrivilege,
        psycopg.errors.UndefinedFunction,
        psycopg.errors.UndefinedFile,
        psycopg.errors.ObjectNotInPrerequisiteState,
    ):
        return False
    return True


def email_of(user_id: int) -> str:
    """The seeded e-mail of ``user_id`` (the same formula as users_insert_sql)."""
    first = FIRST_NAMES[user_id % len(FIRST_NAMES)]
    last = LAST_NAMES[(user_id // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return f"{first.lower()}.{last.lower()}{user_id}@{DOMAINS[user_id % len(DOMAINS)]}"

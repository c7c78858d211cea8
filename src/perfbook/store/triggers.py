"""The DDL that keeps history from being rewritten: append-only tables and final sent messages.

Used by the migrations (``op.execute``). No ``%`` appears in any statement: psycopg reads a
percent sign as a parameter placeholder (the PostgreSQL store of 0.1.0 failed to start on
``RAISE EXCEPTION '% is append-only'``), so the messages are built with ``||`` instead.
"""

from __future__ import annotations

PG_APPEND_ONLY_FN = """
CREATE OR REPLACE FUNCTION perfbook_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only';
END $$"""

PG_MESSAGE_GUARD_FN = """
CREATE OR REPLACE FUNCTION perfbook_message_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION USING MESSAGE = 'messages is append-only';
  END IF;
  IF OLD.outcome = 'sent' OR NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key
     OR NEW.channel IS DISTINCT FROM OLD.channel OR NEW.incident_id IS DISTINCT FROM OLD.incident_id THEN
    RAISE EXCEPTION USING MESSAGE = 'messages: a sent message is final, and a key never changes';
  END IF;
  RETURN NEW;
END $$"""


def append_only_ddl(dialect: str, table: str) -> list[str]:
    """Statements that make ``table`` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            PG_APPEND_ONLY_FN,
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION perfbook_append_only()",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION perfbook_append_only()",
        ]
    return []  # another database: the guard is perfbook's own code only


def message_guard_ddl(dialect: str) -> list[str]:
    """``messages``: never deleted; a row may change (pending → sent / failed → pending …) until it is sent."""
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER IF NOT EXISTS messages_no_delete BEFORE DELETE ON messages "
            "BEGIN SELECT RAISE(ABORT, 'messages is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS messages_sent_is_final BEFORE UPDATE ON messages "
            "WHEN OLD.outcome = 'sent' OR NEW.idempotency_key IS NOT OLD.idempotency_key "
            "OR NEW.channel IS NOT OLD.channel OR NEW.incident_id IS NOT OLD.incident_id "
            "BEGIN SELECT RAISE(ABORT, 'messages: a sent message is final, and a key never changes'); END",
        ]
    if dialect == "postgresql":
        return [
            PG_MESSAGE_GUARD_FN,
            "DROP TRIGGER IF EXISTS messages_guard ON messages",
            "CREATE TRIGGER messages_guard BEFORE UPDATE OR DELETE ON messages "
            "FOR EACH ROW EXECUTE FUNCTION perfbook_message_guard()",
        ]
    return []

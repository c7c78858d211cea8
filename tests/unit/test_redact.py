"""One table of every secret form perfbook may meet, through the one redaction pass."""

from __future__ import annotations

import io
import json

import pytest

from perfbook.files import OutputStream
from perfbook.redact import redact, redact_doc

SECRET = "Zq9-s3cr3t"

# (what, text with SECRET in it, the redacted text)
CASES = [
    ("URL password", f"postgresql://app:{SECRET}@db:5432/app", "postgresql://app:***@db:5432/app"),
    ("URL password with @ in it", f"postgresql://app:p@{SECRET}@db/app", "postgresql://app:***@db/app"),
    ("URL password, empty user", f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
    ("http URL, token as user", f"https://{SECRET}@git.example/x", "https://***@git.example/x"),
    ("ws URL userinfo", f"ws://u:{SECRET}@h:8001/ws", "ws://u:***@h:8001/ws"),
    (
        "postgres user kept",
        "postgresql://codexos@localhost:5432/codexos_db",
        "postgresql://codexos@localhost:5432/codexos_db",
    ),
    (
        "DSN query password",
        f"postgresql://u@h/db?sslmode=require&password={SECRET}",
        "postgresql://u@h/db?sslmode=require&password=***",
    ),
    (
        "keyword DSN",
        f"host=db user=app password={SECRET} dbname=app",
        "host=db user=app password=*** dbname=app",
    ),
    ("keyword DSN quoted", f"host=db password='a {SECRET}' dbname=app", "host=db password=*** dbname=app"),
    ("keyword DSN quoted, doubled quote", f"password='it''s {SECRET}' port=5", "password=*** port=5"),
    ("keyword DSN quoted, backslash", f"password='a\\' {SECRET}' port=5", "password=*** port=5"),
    ("keyword DSN spaced", f"host=db password = '{SECRET} x'", "host=db password = ***"),
    ("query token", f"http://h/x?token={SECRET}&n=1", "http://h/x?token=***&n=1"),
    ("query access_key", f"ws://h/ws?access_key={SECRET}", "ws://h/ws?access_key=***"),
    ("query api_key", f"/v1?api_key={SECRET}", "/v1?api_key=***"),
    ("query apikey", f"/v1?apikey={SECRET}", "/v1?apikey=***"),
    ("query secret", f"/cb?client_secret={SECRET}", "/cb?client_secret=***"),
    ("query sig (Azure SAS)", f"/blob?sv=2020&sig={SECRET}", "/blob?sv=2020&sig=***"),
    (
        "query AWS signature",
        f"/o?X-Amz-Signature={SECRET}&X-Amz-Credential={SECRET}",
        "/o?X-Amz-Signature=***&X-Amz-Credential=***",
    ),
    ("query password", f"/login?password={SECRET}", "/login?password=***"),
    ("query session", f"/x?session={SECRET}", "/x?session=***"),
    ("env assignment", f"PGPASSWORD={SECRET} psql", "PGPASSWORD=*** psql"),
    ("Authorization header", f"Authorization: Bearer {SECRET}", "Authorization: ***"),
    ("Authorization basic", f"authorization: Basic {SECRET}", "authorization: ***"),
    ("Cookie header", f"Cookie: sid={SECRET}; theme=dark", "Cookie: ***"),
    ("X-Api-Key header", f"X-Api-Key: {SECRET}", "X-Api-Key: ***"),
    (
        "header inside a quoted command",
        f"curl -H 'Authorization: Bearer {SECRET}' http://h/",
        "curl -H 'Authorization: ***' http://h/",
    ),
    ("header as JSON", f'{{"Authorization": "Bearer {SECRET}"}}', '{"Authorization": "***"}'),
    ("bearer in prose", f"sent bearer {SECRET} to the API", "sent bearer *** to the API"),
    ("flag with =", f"deploy --token={SECRET} --now", "deploy --token=*** --now"),
    ("flag with space", f"deploy --token {SECRET} --now", "deploy --token *** --now"),
    ("flag password quoted", f"tool --password '{SECRET} x' run", "tool --password *** run"),
    ("flag api-key", f"tool --api-key {SECRET}", "tool --api-key ***"),
    ("JSON password field", f'{{"password": "{SECRET}", "user": "u"}}', '{"password": "***", "user": "u"}'),
    ("repr token field", f"{{'token': '{SECRET}'}}", "{'token': '***'}"),
    ("JWT", "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.Zq9s3cr3tSIGNATURE", "id ***"),
    ("GitHub token", "ghp_" + "Zq9s3cr3t" * 4, "***"),
    ("AWS access key id", "AKIAZQ9S3CR3TEXAMPLE", "***"),
    (
        "YAML credentials",
        f"http_config:\n  authorization:\n    credentials: {SECRET}\n",
        "http_config:\n  authorization:\n    credentials: ***\n",
    ),
    ("YAML password", f"  password: {SECRET}", "  password: ***"),
    ("apprise Slack URL", f"slack://T1JJ3T3L2/A1BRTD4JD/{SECRET}/#general", "slack://***"),
    ("apprise Telegram URL", f"notify tgram://123456789:{SECRET}/987654 failed", "notify tgram://*** failed"),
    (
        "list repr holding a DSN",
        f"got ['postgresql://u:{SECRET}@h/db', 3]",
        "got ['postgresql://u:***@h/db', 3]",
    ),
]

# (what, text that must come out unchanged)
KEPT = [
    ("plain URL", "http://127.0.0.1:8001/health"),
    ("e-mail in prose", "write to bob@example.com"),
    ("sslmode", "postgresql://u@h/db?sslmode=require"),
    ("redis key names", '{"key": "user:42", "pattern": "user:*"}'),
    ("words ending like secrets", "monkey=1 passage=2 tokenizer=3"),
    ("flag followed by a flag", "tool --token --verbose"),
    ("a JSON field describing a secret", '{"token": "read by Alertmanager from /etc/am/token"}'),
    ("YAML file references", "credentials_file: /etc/am/token\npassword_file: /run/pw"),
    ("header name then a new line", "authorization:\n  type: Bearer"),
    ("already redacted", "postgresql://u:***@h/db password=*** Authorization: ***"),
]


@pytest.mark.parametrize("what,text,expected", CASES, ids=[c[0] for c in CASES])
def test_every_secret_form_is_redacted(what: str, text: str, expected: str) -> None:
    out = redact(text)
    assert out == expected
    assert "s3cr3t" not in out.lower()
    assert redact(out) == out  # idempotent: redacting twice changes nothing


@pytest.mark.parametrize("what,text", KEPT, ids=[k[0] for k in KEPT])
def test_what_is_not_secret_is_kept(what: str, text: str) -> None:
    assert redact(text) == text


def test_a_json_document_stays_valid_json() -> None:
    doc = {
        "dsn": f"host=db password='{SECRET} x'",
        "url": f"http://u:{SECRET}@h/x?token={SECRET}",
        "headers": {"Cookie": f"a={SECRET}"},
        "cmd": f"curl -H 'Authorization: Bearer {SECRET}'",
    }
    text = redact(json.dumps(doc, indent=2))
    assert SECRET not in text
    assert json.loads(text)["url"] == "http://u:***@h/x?token=***"


def test_redact_doc_reaches_every_string() -> None:
    doc = {"a": [f"token={SECRET}", {"b": (f"redis://:{SECRET}@h",)}], "n": 3, None: True}
    assert SECRET not in repr(redact_doc(doc))
    assert redact_doc(doc)["n"] == 3


def test_the_stream_redacts_what_is_written_through_it() -> None:
    buf = io.StringIO()
    stream = OutputStream(buf)
    stream.write(f"postgresql://u:{SECRET}@h/db\n")
    stream.writelines([f"password={SECRET}\n"])
    assert SECRET not in buf.getvalue()
    assert stream.getvalue() == buf.getvalue()  # everything else is the wrapped stream's

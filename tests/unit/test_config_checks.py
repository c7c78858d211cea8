"""Config checked by meaning (#12): each value that means nothing is one line naming where it came from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perfbook.config import load_config
from perfbook.errors import ConfigError

CASES = [
    (
        '[http]\nbase_url = "localhost:8001"\n',
        "perfbook.toml:2: http.base_url must be an http:// or https:// URL",
        "did you mean http://localhost:8001?",
    ),
    ('[http]\nbase_url = "ftp://h/"\n', "scheme ftp:// is not http or https", None),
    ('[websocket]\nurl = "http://h/ws"\n', "websocket.url: scheme http:// is not ws or wss", None),
    ('[frontend]\nurl = "http://bad host/"\n', "frontend.url: no valid host", None),
    (
        "[thresholds]\nseverity_p0_s = 0.5\n",
        "perfbook.toml:2: thresholds.severity_p0_s (0.5) must be more than",
        "the severity bands go P0 > P1 > P2 > P3",
    ),
    ("[thresholds]\np95_s = inf\n", "thresholds.p95_s: input should be a finite number", None),
    ("[thresholds]\nerror_rate = nan\n", "thresholds.error_rate: input should be a finite number", None),
    ('[redis]\nurl = "redis://h:6379/99"\n', "redis.url: db '99' is out of range", "databases 0..15"),
    ('[redis]\nurl = "redis://h:6379/20"\ndatabases = 32\n', None, None),
    ("[redis]\ncache_db = 16\n", "redis.cache_db = 16 is out of range", None),
    (
        '[postgres]\ndsn = "localhost:5432/app"\n',
        "postgres.dsn is neither a postgresql:// URL nor key=value",
        None,
    ),
    ('[postgres]\ndsn = "host=db dbname=app"\n', None, None),
    ('[http]\nendpoints = ["api/v1"]\n', "http.endpoints: 'api/v1' must start with /", None),
    (
        '[postgres]\ndsn = ["postgresql://u:hunter2@h/db"]\n',
        "postgres.dsn: input should be a valid string",
        None,
    ),
]


@pytest.mark.parametrize("text, message, hint", CASES, ids=[c[0].strip() for c in CASES])
def test_meaning(tmp_path: Path, text: str, message: str | None, hint: str | None) -> None:
    path = tmp_path / "perfbook.toml"
    path.write_text(text)
    if message is None:
        load_config(path, env={})
        return
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert message in str(err.value)
    assert "hunter2" not in str(err.value)
    if hint:
        assert hint in (err.value.hint or "")


def test_a_variable_that_names_no_key() -> None:
    with pytest.raises(ConfigError, match="PERFBOOK_POSTGRES_DSNN names no config key") as err:
        load_config(env={"PERFBOOK_POSTGRES_DSNN": "x"})
    assert err.value.hint == "did you mean PERFBOOK_POSTGRES_DSN?"
    load_config(env={"PERFBOOK_DEBUG": "1", "PERFBOOK_LAB_DIR": "/x"})  # perfbook's own, not keys


def test_a_variable_a_key_names_is_no_stray(tmp_path: Path) -> None:
    path = tmp_path / "perfbook.toml"
    path.write_text('[[http.endpoints]]\npath = "/x"\nheaders_env = "PERFBOOK_API_HEADERS"\n')
    load_config(path, env={"PERFBOOK_API_HEADERS": "Authorization: Bearer x"})


def test_references_come_from_the_environment_or_env_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# comment\nexport DB_PASSWORD='s3'\n")
    secrets.chmod(0o600)
    path = tmp_path / "perfbook.toml"
    path.write_text(
        'env_file = "secrets.env"\n[postgres]\ndsn = "postgresql://app:${DB_PASSWORD}@db/app"\n'
        '[redis]\nurl = "redis://:${REDIS_PW}@h:6379/0"\n'
    )
    cfg = load_config(path, env={"REDIS_PW": "r1"})
    assert cfg.postgres.dsn == "postgresql://app:s3@db/app" and cfg.redis.url == "redis://:r1@h:6379/0"
    with pytest.raises(
        ConfigError, match=r"perfbook.toml:5: redis.url refers to \$\{REDIS_PW\}, which is not set"
    ):
        load_config(path, env={})
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other users"):
        load_config(path, env={"REDIS_PW": "r1"})
    assert os.environ.get("DB_PASSWORD") is None  # the file is read, not exported

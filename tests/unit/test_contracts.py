"""The shared contracts: the code registry, config loading and errors, and the CLI's exit codes."""

from pathlib import Path

import pytest

from perfbook.codes import CODES, finding
from perfbook.config import Config, load_config
from perfbook.errors import ConfigError
from perfbook.model import Level

DESIGN_CODES = """http.unreachable http.health_failed http.slow_response http.error_rate_high ws.latency_high
frontend.slow_assets host.cpu_high host.memory_high host.disk_high host.large_logs process.cpu_hog
process.memory_growth container.cpu_high container.memory_high container.restarting pg.unreachable
pg.stat_statements_missing pg.slow_queries pg.missing_index pg.dead_tuples pg.long_running_query
pg.blocked_queries pg.idle_in_transaction pg.connections_saturated pg.unused_index pg.duplicate_index
pg.cache_hit_low redis.unreachable redis.hit_rate_low redis.memory_high redis.oom_rejections
redis.evictions redis.latency_high redis.fragmentation_high redis.big_keys redis.slowlog""".split()


def test_registry_has_every_design_code_with_its_default_level():
    assert set(DESIGN_CODES) <= set(CODES)
    assert CODES["pg.blocked_queries"].level is Level.CRITICAL
    assert CODES["pg.unused_index"].level is Level.INFO
    assert finding("host.disk_high", "/", "disk 96 %", level=Level.CRITICAL).level is Level.CRITICAL


def test_defaults_match_the_runbook_stack():
    cfg = load_config(env={})
    assert cfg.http.base_url == "http://localhost:8001"
    assert cfg.frontend.url == "http://localhost:3000"
    assert [e.path for e in cfg.http.endpoint_list()] == ["/health", "/api/v1/users", "/api/v1/agents"]
    assert cfg.thresholds.p95_s == 2.0 and cfg.thresholds.error_rate == 0.01


def test_precedence_flag_over_env_over_file(tmp_path: Path):
    path = tmp_path / "perfbook.toml"
    path.write_text('[http]\nbase_url = "http://file:1"\ntimeout_s = 3\n')
    cfg = load_config(
        path, env={"PERFBOOK_HTTP_BASE_URL": "http://env:2"}, overrides={"http.timeout_s": (9.0, "--timeout")}
    )
    assert cfg.http.base_url == "http://env:2"
    assert cfg.source_of("http.base_url") == "env PERFBOOK_HTTP_BASE_URL"
    assert cfg.http.timeout_s == 9.0 and cfg.source_of("http.timeout_s") == "flag --timeout"
    assert cfg.source_of("http.health_path") == "default"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[thresholds]\np95_s = -1\n", "perfbook.toml:2: thresholds.p95_s"),
        ("[http]\nbase_url = 'x'\nbogus = 1\n", "perfbook.toml:3: unknown key http.bogus (allowed: base_url"),
        ("[nosuch]\na = 1\n", "perfbook.toml:1: unknown section [nosuch]"),
        ("[http\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "perfbook.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_env_value_names_the_variable():
    with pytest.raises(ConfigError, match="PERFBOOK_HTTP_TIMEOUT_S: http.timeout_s"):
        load_config(env={"PERFBOOK_HTTP_TIMEOUT_S": "soon"})


def test_config_model_has_every_design_section():
    assert {
        "http",
        "frontend",
        "websocket",
        "postgres",
        "redis",
        "containers",
        "host",
        "process",
        "thresholds",
    } <= set(Config.model_fields)


def test_version_and_unknown_command_exit_codes(perfbook):
    assert perfbook("--version").exit_code == 0
    assert perfbook("no-such-command").exit_code == 2


def test_help_names_config_sections_literally(perfbook):
    """Rich reads [http] as markup unless escaped: the help must still say which key a flag overrides."""
    out = perfbook("triage", "--help", env={"COLUMNS": "200"}).stdout
    assert "[http] base_url" in out and "[triage] window_s" in out

"""``[prometheus]`` read like every section: from the file or PERFBOOK_PROMETHEUS_*, a URL that means
nothing refused."""

from __future__ import annotations

import pytest

from perfbook.config import load_config
from perfbook.errors import ConfigError


def test_the_url_comes_from_the_environment_and_says_so():
    cfg = load_config(
        env={"PERFBOOK_PROMETHEUS_URL": "http://prom:9090", "PERFBOOK_PROMETHEUS_SELECTOR": 'job="api"'}
    )
    assert cfg.prometheus.url == "http://prom:9090" and cfg.prometheus.selector == 'job="api"'
    assert cfg.source_of("prometheus.url") == "env PERFBOOK_PROMETHEUS_URL"


def test_a_url_without_a_scheme_is_one_line_with_a_hint(tmp_path):
    path = tmp_path / "perfbook.toml"
    path.write_text('[prometheus]\nurl = "prometheus:9090"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "prometheus.url must be an http:// or https:// URL" in str(err.value)
    assert err.value.hint == "did you mean http://prometheus:9090?"

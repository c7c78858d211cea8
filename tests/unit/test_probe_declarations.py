"""Each probe declares itself (name, what it needs, budget, target, local, evidence, rules), and
reading those declarations never imports a probe's heavy dependencies."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from perfbook.config import load_config
from perfbook.probes import probe_classes, probe_names, rule_modules
from perfbook.probes.base import BaseProbe
from perfbook.triage import configured_skip, describe_targets, target_hosts

HEAVY = ("psycopg", "docker", "requests", "redis", "websockets", "psutil", "httpx", "prometheus_client")


def test_the_builtin_probes_in_report_order():
    assert probe_names() == [
        "http",
        "metrics",
        "host",
        "process",
        "containers",
        "network",
        "postgres",
        "pgbouncer",
        "redis",
        "websocket",
        "frontend",
        "prometheus",
    ]


@pytest.mark.parametrize("name", probe_names())
def test_each_probe_declares_its_evidence_and_rules_by_its_layer_name(name):
    cls = probe_classes()[name]
    assert issubclass(cls, BaseProbe) and cls.name == name
    assert cls.evidence.__module__ == f"perfbook.evidence.{name}"
    if cls.rules is not None:
        assert cls.rules == f"perfbook.rules.{name}" and callable(importlib.import_module(cls.rules).evaluate)
    if cls.target_key is not None:
        section, key = cls.target_key.split(".")
        assert hasattr(getattr(load_config(env={}), section), key)


def test_only_metrics_is_judged_by_another_layers_rules():
    assert [n for n, c in probe_classes().items() if c.rules is None] == ["metrics"]
    assert [m.__name__.rsplit(".", 1)[1] for m in rule_modules()] == [
        n for n in probe_names() if n != "metrics"
    ]


def test_skip_reasons_budgets_and_locality_come_from_the_declarations():
    cfg = load_config(
        env={
            "PERFBOOK_HTTP_BASE_URL": "",
            "PERFBOOK_FRONTEND_URL": "",
            "PERFBOOK_POSTGRES_STATEMENT_TIMEOUT_MS": "3000",
        }
    )
    reasons = {n: configured_skip(n, cfg, local=True) for n in probe_names()}
    assert reasons == {
        "http": "no [http] base_url",
        "metrics": "no [http] metrics_path",
        "host": None,
        "process": None,
        "containers": None,
        "network": None,
        "postgres": "no [postgres] dsn",
        "pgbouncer": "no [pgbouncer] dsn",
        "redis": "no [redis] url",
        "websocket": "no [websocket] url",
        "frontend": "no [frontend] url",
        "prometheus": "no [prometheus] url",
    }
    assert [n for n in probe_names() if probe_classes()[n].local] == [
        "host",
        "process",
        "containers",
        "network",
    ]
    budgets = {n: probe_classes()[n].budget_s(cfg, 2.0) for n in ("http", "postgres", "redis", "host")}
    assert budgets == {"http": 7.5, "postgres": 5.5, "redis": 3.5, "host": 3.5}


def test_targets_are_each_probes_declared_target_with_its_source():
    cfg = load_config(
        env={
            "PERFBOOK_POSTGRES_DSN": "postgresql://app:s3cret@db.internal:5432/app",
            "PERFBOOK_REDIS_URL": "",
            "DOCKER_HOST": "unix:///run/podman.sock",
        }
    )
    target = describe_targets(cfg, local=False)
    assert target["postgres"] == "postgresql://app:***@db.internal:5432/app"
    assert target["sources"]["postgres"] == "env PERFBOOK_POSTGRES_DSN" and "redis" not in target
    assert target["host"] == "remote: host probes skipped"
    # containers describe this machine
    assert "db.internal" in target_hosts(cfg) and "run" not in target_hosts(cfg)


def test_reading_every_declaration_imports_no_heavy_dependency():
    code = (
        "import sys\n"
        "from perfbook.config import Config\n"
        "from perfbook.evidence_docs import render\n"
        "from perfbook.probes import probe_classes\n"
        "for cls in probe_classes().values():\n"
        "    cls.unconfigured(Config()); cls.budget_s(Config(), 2.0); cls.target(Config())\n"
        "render()\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_triage_only_http_never_imports_psycopg_or_the_docker_sdk():
    code = (
        "import sys\n"
        "from perfbook.config import load_config\n"
        "from perfbook.triage import triage\n"
        "triage(load_config(env={'PERFBOOK_HTTP_BASE_URL': 'http://127.0.0.1:9'}), window_s=0.1, only=['http'])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == ["httpx"]


def test_every_finding_code_is_seen_by_a_probe():
    """A code no probe declares would read as 'gone' after any fix: every prefix names a probe."""
    from perfbook.codes import CODES
    from perfbook.probes import probes_seeing

    assert [code for code in CODES if not probes_seeing(code)] == []

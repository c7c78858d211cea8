"""The built-in probes, in one explicit list (name -> "module:Class"), imported lazily.

Lazy, so ``perfbook triage --only http`` never imports psycopg or the docker SDK, and a probe
whose extra is missing is skipped with the extra to install instead of breaking triage.

One layout for every layer (``postgres`` as the example):

- ``perfbook/evidence/postgres.py``: the evidence dataclasses, pure (the contract);
- ``probes/postgres.py``: the probe, the only module that does the layer's I/O;
- ``probes/postgres_build.py``: pure builders from the probe's raw reads to its evidence
  (``metrics_build``, ``redis_build``, ``containers_build`` likewise), and
  ``probes/<layer>_parse.py`` for a raw format read on its own (``metrics_parse``: the
  Prometheus text format; ``containers_parse``: the engine's JSON);
- ``rules/postgres.py``: evidence -> findings, pure.
"""

from __future__ import annotations

import importlib

from perfbook.probes.base import Probe

PROBES: dict[str, str] = {
    "http": "perfbook.probes.http:HttpProbe",
    "metrics": "perfbook.probes.metrics:MetricsProbe",
    "host": "perfbook.probes.host:HostProbe",
    "process": "perfbook.probes.process:ProcessProbe",
    "containers": "perfbook.probes.containers:ContainersProbe",
    "postgres": "perfbook.probes.postgres:PostgresProbe",
    "redis": "perfbook.probes.redis:RedisProbe",
    "websocket": "perfbook.probes.websocket:WebsocketProbe",
    "frontend": "perfbook.probes.frontend:FrontendProbe",
}

# Probes that describe THIS machine; skipped for non-local targets unless [host] remote = "force".
LOCAL_PROBES = frozenset({"host", "process", "containers"})


def load_probe(name: str) -> Probe:
    """Instantiate the built-in probe ``name`` with the modules it ``requires`` already imported.

    ModuleNotFoundError names a missing dependency (or a probe not in this build).
    """
    module_name, _, cls_name = PROBES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    for dependency in getattr(cls, "requires", ()):
        importlib.import_module(dependency)
    return cls()

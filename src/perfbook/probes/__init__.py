"""The built-in probes, in one explicit list, and what each declares about itself.

Each probe class (a :class:`~perfbook.probes.base.BaseProbe`) declares its name, what it needs
configured (and its skip reason), its time budget, its target, whether it only describes this
machine, and its evidence type and rules module. Triage, the config checks, the evidence docs and
the CLI read those declarations: there is no other per-layer table. Reading them imports the probe
modules, which are light (stdlib and perfbook only); each probe's heavy dependencies (psycopg, the
docker SDK, httpx …) are its ``requires``, imported only when it runs, so ``perfbook triage
--only http`` never imports psycopg or the docker SDK, and a probe whose extra is missing is
skipped with the extra to install instead of breaking triage.

One layout for every layer (``postgres`` as the example):

- ``perfbook/evidence/postgres.py``: the evidence dataclasses, pure (the contract);
- ``probes/postgres.py``: the probe, the only module that does the layer's I/O;
- ``probes/postgres_build.py``: pure builders from the probe's raw reads to its evidence
  (``metrics_build``, ``redis_build``, ``containers_build`` likewise), and
  ``probes/<layer>_parse.py`` for a raw format read on its own (``metrics_parse``: the
  Prometheus text format; ``containers_parse``: the engine's JSON);
- ``rules/postgres.py``: evidence -> findings, pure.

How to add a probe (a layer ``queue``, say): write ``perfbook/evidence/queue.py`` (dataclasses
whose fields carry unit and meaning), ``probes/queue.py`` with ``class QueueProbe(BaseProbe)``
declaring ``name = "queue"``, ``evidence = QueueEvidence``, ``rules = "perfbook.rules.queue"``,
``target_key`` / ``unconfigured()`` / ``timeout_s()`` as it needs, and ``collect()`` (heavy imports
inside it, named in ``requires``), and ``rules/queue.py`` with ``evaluate(evidence, cfg)``; add
``"perfbook.probes.queue:QueueProbe"`` to :data:`BUILTIN`; regenerate the docs (``python -m
perfbook.evidence_docs > docs/evidence.md``); test the rules on recorded evidence
(``tests/unit/rules/test_queue.py``) and the probe against a real server
(``tests/integration/probes/test_queue.py``).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from perfbook.importing import import_object
from perfbook.probes.base import BaseProbe, Probe

BUILTIN: tuple[str, ...] = (  # "module:Class", in the order reports list them
    "perfbook.probes.http:HttpProbe",
    "perfbook.probes.metrics:MetricsProbe",
    "perfbook.probes.host:HostProbe",
    "perfbook.probes.process:ProcessProbe",
    "perfbook.probes.containers:ContainersProbe",
    "perfbook.probes.network:NetworkProbe",
    "perfbook.probes.postgres:PostgresProbe",
    "perfbook.probes.redis:RedisProbe",
    "perfbook.probes.websocket:WebsocketProbe",
    "perfbook.probes.frontend:FrontendProbe",
    "perfbook.probes.prometheus:PrometheusProbe",
)


@functools.cache
def probe_classes() -> dict[str, type[BaseProbe]]:
    """Every built-in probe class by its declared name, in :data:`BUILTIN` order.

    >>> list(probe_classes())[:3], probe_classes()["postgres"].evidence.__name__
    (['http', 'metrics', 'host'], 'PostgresEvidence')
    """
    classes: dict[str, type[BaseProbe]] = {}
    for spec in BUILTIN:
        cls = import_object(spec)
        classes[cls.name] = cls
    return classes


def probes_seeing(code: str) -> tuple[str, ...]:
    """The probes whose evidence findings of ``code`` are judged on, by the code's prefix as each probe
    declares it (``codes``, else its name): a finding absent because none of them ran is unmeasured, not gone.

    >>> probes_seeing("http.slow_response"), probes_seeing("pg.missing_index"), probes_seeing("x.y")
    (('http', 'metrics'), ('postgres',), ())
    """
    prefix = code.partition(".")[0]
    return tuple(name for name, cls in probe_classes().items() if (cls.codes or name) == prefix)


def probe_names() -> list[str]:
    """The --only / --skip names, in report order."""
    return list(probe_classes())


def load_probe(name: str) -> Probe:
    """Instantiate the built-in probe ``name`` with the modules it ``requires`` already imported.

    ModuleNotFoundError names a missing dependency.
    """
    cls = probe_classes()[name]
    for dependency in cls.requires:
        importlib.import_module(dependency)
    return cls()


def rules_of(name: str) -> ModuleType | None:
    """The rules module probe ``name`` declares (None: its evidence is judged by another's rules)."""
    rules = probe_classes()[name].rules
    return importlib.import_module(rules) if rules else None


def rule_modules() -> list[ModuleType]:
    """Every declared rules module, in report order."""
    return [m for name in probe_classes() if (m := rules_of(name)) is not None]

"""Rules: pure functions from evidence to findings (and KPI figures), one module per layer.

Each rules module exposes ``evaluate(evidence, cfg) -> list[Finding]`` where ``evidence`` maps
probe name -> :class:`~perfbook.model.Evidence` (a rule reads its own probe's, and may read
another's: the http rules judge both ``http`` and ``metrics``), and may expose
``kpis(evidence, cfg) -> dict`` with the :class:`~perfbook.model.Kpis` fields it measures.
No I/O, no logging, no clock: they are unit-tested on recorded evidence. A rule reads its evidence
typed with :func:`perfbook.evidence.usable` (``usable(evidence.get("host"), HostEvidence)``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType

from perfbook.config import Config
from perfbook.model import Evidence, Finding

RULE_MODULES: tuple[str, ...] = (
    "perfbook.rules.http",
    "perfbook.rules.host",
    "perfbook.rules.process",
    "perfbook.rules.containers",
    "perfbook.rules.postgres",
    "perfbook.rules.redis",
    "perfbook.rules.websocket",
    "perfbook.rules.frontend",
)

EvidenceMap = Mapping[str, Evidence]
Rule = Callable[[EvidenceMap, Config], list[Finding]]


def rule_modules() -> list[ModuleType]:
    """The rules modules that exist (a layer whose rules have not landed yet is left out)."""
    modules = []
    for name in RULE_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
    return modules

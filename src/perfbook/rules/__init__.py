"""Rules: pure functions from evidence to findings (and KPI figures), one module per layer.

Each rules module exposes ``evaluate(evidence, cfg) -> list[Finding]`` where ``evidence`` maps
probe name -> :class:`~perfbook.model.Evidence` (a rule reads its own probe's, and may read
another's: the http rules judge both ``http`` and ``metrics``), and may expose
``kpis(evidence, cfg) -> dict`` with the :class:`~perfbook.model.Kpis` fields it measures.
No I/O, no logging, no clock: they are unit-tested on recorded evidence. A rule reads its evidence
typed with :func:`perfbook.evidence.usable` (``usable(evidence.get("host"), HostEvidence)``).
Triage finds a layer's rules module from its probe's declaration (``rules = "perfbook.rules.host"``).
"""

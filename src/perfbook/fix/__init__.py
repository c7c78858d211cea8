"""perfbook fix: the runbook's remediations as a catalog of small, safe actions.

- :mod:`perfbook.fix.base` — the shape of a fix (Param, Plan, Outcome, VerifySpec, Fix);
- :mod:`perfbook.fix.catalog` — every action, in one explicit list;
- :mod:`perfbook.fix.runner` — plan → confirm → re-plan if stale → apply → verify → audit;
- :mod:`perfbook.fix.verify` — before / after through the triage engine;
- one module per layer: ``pg_*``, ``redis_*``, ``containers``, ``process``.
"""

"""Alerts: rules as data, Prometheus semantics as a pure state machine, and the same rules for Prometheus.

Nothing here does I/O or reads a clock: the caller passes ``now`` and the previous states in, and
gets the next states and the notifications out. A watch loop plugs in like this::

    from perfbook.alerts.rules import effective_rules        # cfg -> [AlertRule]
    from perfbook.alerts.observe import observe              # (Report, cfg) -> Observation
    from perfbook.alerts.engine import Settings, evaluate

    rules = effective_rules(cfg)                             # built-ins + [[alerts.rules]]
    settings = Settings(repeat_interval_s=parse_duration(cfg.alerts.repeat_interval))
    states = [AlertState.from_dict(d) for d in stored_states]      # resumed from the store
    silences = [Silence.from_dict(d) for d in stored_silences]
    while running:
        report = triage(cfg)
        result = evaluate(rules, observe(report, cfg), now=time.time(), states=states,
                          silences=silences, settings=settings)
        store(result.states, result.transitions)             # AlertState.to_dict() per row
        for n in result.notifications:                       # Notification.key is idempotent
            send(n)
        states = result.states

Signatures:

- ``effective_rules(cfg: Config) -> list[AlertRule]`` (:mod:`perfbook.alerts.rules`)
- ``observe(report: Report, cfg: Config) -> Observation`` (:mod:`perfbook.alerts.observe`);
  ``Observation.to_dict()`` / ``from_dict()`` are the KPI samples of one run.
- ``evaluate(rules, observation, now: float, states=(), silences=(), settings=Settings())
  -> Evaluation(states, notifications, transitions)`` (:mod:`perfbook.alerts.engine`);
  every record in :mod:`perfbook.alerts.state` round-trips through ``to_dict`` / ``from_dict``.
- ``prometheus_rules(rules, cfg) -> (doc, skipped)`` and ``promtool_tests(...)``
  (:mod:`perfbook.alerts.prometheus`, :mod:`perfbook.alerts.promtool_tests`);
  ``alertmanager_config(...)`` (:mod:`perfbook.alerts.alertmanager`).

The rule vocabulary (figures, finding codes, templates) is in :mod:`perfbook.alerts.when`; the
built-in rules in :mod:`perfbook.alerts.defaults`; docs/alerts.md explains them all.
"""

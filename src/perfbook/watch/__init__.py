"""``perfbook watch``: triage on a schedule, KPIs over time in the store, alert rules evaluated, firing acted on.

One run (:class:`perfbook.watch.loop.Watcher`): triage (the expensive probes only every
``[watch] expensive_every``-th run), the KPI samples and the run into the store (raw for
``raw_retention``, 5-minute aggregates for ``aggregate_retention``), the alert rules through the
pure engine (:mod:`perfbook.alerts.engine`) with the states kept in ``alert_states``, then what
firing does: internal notifications through :mod:`perfbook.notify`'s channels (once per key),
incidents for critical rules with ``[watch] open_incidents``. perfbook's own metrics
(:mod:`perfbook.watch.metrics`) show the latest run to a Prometheus.

    watcher = Watcher(cfg, store)
    result = watcher.run_once()          # RunResult: report, evaluation, deliveries
    run_loop(watcher, interval_s=30, stop=flag.__bool__)

Modules: ``plan`` (which probes a run takes, when the next starts; pure), ``samples`` (report ->
rows; pure), ``records`` (the store's watch tables and silences), ``act`` (notifications and
incidents), ``metrics`` (/metrics), ``view`` (the terminal's live table; pure), ``loop``,
``serve`` (``perfbook serve --watch``).
"""

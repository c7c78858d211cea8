"""perfbook beside Prometheus and Alertmanager: the Alertmanager receiver (:mod:`perfbook.fleet.receiver`),
the triage it scopes by an alert's labels (:mod:`perfbook.fleet.scope`) and runs in the background,
bounded (:mod:`perfbook.fleet.runner`). The figures come from the prometheus probe; perfbook keeps no
time series and speaks no cluster protocol of its own.
"""

"""Incidents: the record, its timeline and the runbook's checklist, kept by perfbook.

Pure: :mod:`.model` (ids, statuses, impact, event kinds), :mod:`.checklist` and :mod:`.proofs`
(the 20 items and which evidence ticks which), :mod:`.figures` (what matters of each artifact),
:mod:`.reminders` (when an update is due). I/O: :mod:`.records` (the store) and :mod:`.attach`
(the one call triage / fix / load / capacity make with ``--incident``).
"""

"""Communications: an incident's messages, written from its record and sent once per event.

Pure: :mod:`.context` (what templates see, per audience) and :mod:`.public` (the guard that keeps
internals out of external texts). I/O: :mod:`.channels` (SMTP, apprise, the status page's record),
:mod:`.delivery` (claims in the store's ``messages`` table, retry with backoff) and :mod:`.send`
(``incident notify``: render, deliver, record on the timeline, rebuild the status page).
"""

"""``perfbook serve``: the dashboard, the JSON API, the public status page and the hooks, in one FastAPI app.

:mod:`.app` builds it (:func:`~perfbook.web.app.create_app`); one router per area (:mod:`.pages`,
:mod:`.pages_incidents`, :mod:`.api`, :mod:`.api_incidents`, :mod:`.status`, :mod:`.lab_routes`,
:mod:`.hooks`); :mod:`.security` decides who may write; :mod:`.overview` and :mod:`.operations` are
what the routes read and do; :mod:`.svg` draws the figures; :mod:`.server` runs it under uvicorn.
Templates are in ``perfbook/templates/web/``, static files (the vendored htmx) in ``static/``.
"""

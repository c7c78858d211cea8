"""``/hooks/…``: receivers other systems post to (the slot for ``POST /hooks/alertmanager``).

A receiver is a route on this router. It authenticates with the same write token as every other
write (``Depends(perfbook.web.deps.writer)``: Alertmanager sends it with ``http_config.authorization``
as ``Authorization: Bearer …``), answers errors as JSON (paths under ``/hooks/`` never get HTML),
and may take bodies up to 20 MiB (``app.MAX_BODY_BYTES`` × 20; every other path takes 1 MiB).
It calls the library (triage, :mod:`perfbook.incidents.records`, :mod:`perfbook.notify`) the way
the JSON API does; nothing here holds logic of its own.
"""

from __future__ import annotations

from fastapi import APIRouter

from perfbook.web.schemas import ERRORS

router = APIRouter(prefix="/hooks", tags=["hooks"], responses=ERRORS)

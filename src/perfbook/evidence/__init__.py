"""The evidence contract: what each probe hands the rules, causes, reports and fixes. Pure data.

One module per layer, named as ``probes/`` and ``rules/`` are (``perfbook.evidence.postgres`` holds
``PostgresEvidence`` and the records inside it). No I/O and no third-party imports here: a rule,
a cause or a renderer imports these types without pulling in psycopg, psutil or httpx. Each field
carries its unit in its name and its meaning in the comment after it; ``python -m
perfbook.evidence_docs`` turns those into docs/evidence.md.

A probe's result is an :class:`~perfbook.model.Evidence` whose ``data`` is one of these; read it
typed with :func:`usable`::

    pg = usable(evidence.get("postgres"), PostgresEvidence)   # PostgresEvidence | None
    if pg is not None and pg.connections is not None: ...
"""

from __future__ import annotations

from typing import Any, TypeGuard, TypeVar

from perfbook.model import Evidence

T = TypeVar("T")
USABLE_STATUSES = ("ok", "partial")  # a probe that produced data (also as the JSON report's probe status)


def is_usable(ev: Evidence[Any] | None) -> TypeGuard[Evidence[Any]]:
    """The probe produced data (ok or partial): the one test of "this layer was measured"."""
    return ev is not None and ev.status in USABLE_STATUSES


def usable(ev: Evidence[Any] | None, data_type: type[T]) -> T | None:
    """The evidence's data when the probe produced some (ok or partial) of ``data_type``, else None.

    >>> from perfbook.evidence.websocket import WebsocketEvidence
    >>> data = WebsocketEvidence(url="ws://x/ws", mode="ping", connected=True)
    >>> usable(Evidence("websocket", "ok", 0.1, data=data), WebsocketEvidence) is data
    True
    >>> usable(Evidence("websocket", "unavailable", 0.1, data=data), WebsocketEvidence) is None
    True
    """
    return data_of(ev, data_type) if is_usable(ev) else None


def data_of(ev: Evidence[Any] | None, data_type: type[T]) -> T | None:
    """The evidence's data of ``data_type`` whatever its status (an unreachable target can still
    carry data: ``HttpEvidence.reachable``, ``WebsocketEvidence.connected``), else None."""
    if ev is None or not isinstance(ev.data, data_type):
        return None
    return ev.data


__all__ = ["Evidence", "data_of", "usable"]

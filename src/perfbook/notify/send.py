"""``incident notify``: render an incident's messages per audience, deliver them once, record each send.

Internal channels get ``messages/internal/<event>``; external ones (and the status page's record)
get ``messages/external/status`` for detected / update / resolved, and ``external/customer`` for
the customer notice. Every external text passes :func:`perfbook.notify.public.public_text` first:
one that names internals stops the whole run before anything is sent. Each delivery (sent or
failed) is a ``message`` event on the timeline; then the status page is rebuilt when configured.

The idempotency key is the incident, the event, the timeline event it reports on (the opening,
the resolution, or for an update the newest event that is not a message), a digest of
``--message``, the channel and the audience: the same update is sent once, however often the
command runs, and a new note or status change makes the next update a new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perfbook.config import Config
from perfbook.errors import UsageError
from perfbook.incidents.model import EventKind, Status
from perfbook.notify import delivery
from perfbook.notify.channels import Channel, Outgoing, channels_from
from perfbook.notify.context import IncidentState, external_context, internal_context, load_state
from perfbook.notify.public import internals_of, public_text
from perfbook.templating import environment, render, split_subject

EVENTS = ("detected", "update", "resolved", "customer")


@dataclass
class NotifyResult:
    """The rendered messages (one per audience) and what each channel did with them."""

    incident: str
    event: str
    dry_run: bool
    messages: dict[str, Outgoing] = field(default_factory=dict)
    deliveries: list[delivery.Delivery] = field(default_factory=list)
    status_page: list[str] = field(default_factory=list)  # the files rebuilt ([status] dir)

    @property
    def failed(self) -> list[delivery.Delivery]:
        return [d for d in self.deliveries if d.outcome == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "event": self.event,
            "dry_run": self.dry_run,
            "messages": {a: {"subject": m.subject, "body": m.body} for a, m in self.messages.items()},
            "deliveries": [d.to_dict() for d in self.deliveries],
            "status_page": self.status_page,
        }


def notify(
    store: Any,
    cfg: Config,
    number: int,
    event: str,
    *,
    actor: str,
    message: str | None = None,
    dry_run: bool = False,
    internal_only: bool = False,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    """Render ``event``'s messages for incident ``number`` and deliver them (nothing sent when ``dry_run``)."""
    if event not in EVENTS:
        raise UsageError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
    now = now or dt.datetime.now(dt.UTC)
    state = load_state(store, number)
    anchor = anchor_of(state, event)
    chans = [c for c in channels_from(cfg, env) if not (internal_only and c.audience == "external")]
    msgs = render_messages(state, cfg, event, message=message, now=now, internal_only=internal_only)
    result = NotifyResult(state.incident.id, event, dry_run, msgs)
    digest = hashlib.sha256((message or "").encode()).hexdigest()[:12]
    sends = [
        (c, msgs[c.audience], f"{state.incident.id}:{event}:{anchor}:{digest}:{c.identity}:{c.audience}")
        for c in chans
        if c.audience in msgs
    ]
    if dry_run:
        result.deliveries = [_planned(store, c, m, k) for c, m, k in sends]
        return result
    result.deliveries = delivery.deliver(
        store, number, sends, attempts=cfg.notify.attempts, backoff_s=cfg.notify.backoff_s, sleep=sleep
    )
    _record(store, number, result, actor)
    from perfbook.statuspage import rebuild_if_configured

    result.status_page = rebuild_if_configured(store, cfg)
    return result


def render_messages(
    state: IncidentState,
    cfg: Config,
    event: str,
    *,
    message: str | None,
    now: dt.datetime,
    internal_only: bool = False,
) -> dict[str, Outgoing]:
    """``{"internal": …, "external": …}`` for ``event``; external texts checked by the public_text guard."""
    env = environment(cfg.notify.templates_dir)
    out: dict[str, Outgoing] = {}
    if event != "customer":
        ctx = internal_context(state, cfg, event=event, now=now, message=message)
        out["internal"] = Outgoing(
            event, "internal", *split_subject(render(env, f"messages/internal/{event}.txt.j2", ctx))
        )
    if internal_only:
        return out
    name = "customer" if event == "customer" else "status"
    text = render(
        env,
        f"messages/external/{name}.txt.j2",
        external_context(state, cfg, event=event, now=now, message=message),
    )
    internals = internals_of(a.document for a in state.artifacts)
    public_text(text, internals, what=f"the external {name} text" + (" (with --message)" if message else ""))
    out["external"] = Outgoing(event, "external", *split_subject(text))
    return out


def anchor_of(state: IncidentState, event: str) -> int:
    """The timeline event a message reports on (part of its idempotency key)."""
    inc = state.incident
    if event == "resolved" and inc.status is not Status.RESOLVED:
        raise UsageError(
            f"{inc.id} is not resolved (it is {inc.status.value})",
            hint=f"resolve it first: perfbook incident resolve {inc.id}",
        )
    if event == "update" and inc.status is Status.RESOLVED:
        raise UsageError(
            f"{inc.id} is resolved: send the resolution instead",
            hint=f"perfbook incident notify {inc.id} resolved",
        )
    kinds = {"detected": {"opened", "reopened"}, "resolved": {"resolved"}}.get(event)
    ids = [e.id for e in state.events if (e.kind in kinds if kinds else e.kind != EventKind.MESSAGE.value)]
    return ids[-1] if ids else 0


def _planned(store: Any, channel: Channel, msg: Outgoing, key: str) -> delivery.Delivery:
    row = delivery.previous(store, key)
    sent = row is not None and row["outcome"] == "sent"
    sent_at = row["sent_at"] if row is not None and sent else None
    return delivery.Delivery(
        channel.name,
        channel.audience,
        channel.recipients(msg.event),
        key,
        "already_sent" if sent else "dry_run",
        sent_at=sent_at,
    )


def _record(store: Any, number: int, result: NotifyResult, actor: str) -> None:
    from perfbook.incidents import records

    for d in result.deliveries:
        if d.outcome not in ("sent", "failed"):
            continue
        to = ", ".join(d.recipients)
        tries = f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}"
        line = f"{result.event} message via {d.channel} to {to}: {d.outcome} ({tries})" + (
            f": {d.error}" if d.error else ""
        )
        records.add_event(
            store,
            number,
            EventKind.MESSAGE,
            line,
            actor=actor,
            data={**d.to_dict(), "event": result.event, "subject": result.messages[d.audience].subject},
        )

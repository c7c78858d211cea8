"""Alert semantics as a pure state machine: Prometheus' rule evaluation, Alertmanager's notifications.

    result = evaluate(rules, observation, now=clock(), states=previous, silences=active)
    store(result.states); send(result.notifications)

Per rule and subject: inactive → pending when the condition holds → firing once it has held for
``for`` → resolved when it has not held for ``keep_firing_for`` (then dropped after
``resolved_retention_s``). A pending alert whose condition stops goes back to inactive and sends
nothing, so a fault that flaps inside ``for`` is silent. A figure that was not measured (probe
down, too few samples) changes nothing: it neither promotes, nor resolves.

Notifications: ``firing`` once per episode, ``repeat`` every ``repeat_interval_s`` while firing,
``resolved`` once — only after a firing one was sent. A silence or an inhibition holds the firing
and repeat notifications back (the state still moves); once it ends, a still-firing alert is
notified. Inhibition: while an inhibiting alert is pending or firing (an unreachable backend), the
alerts it names with equal labels (that backend's latency and errors) are muted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from perfbook.alerts.observe import Observation, Observed, key_of
from perfbook.alerts.rules import AlertRule
from perfbook.alerts.state import AlertState, Evaluation, Notification, NotificationKind, Silence, Transition
from perfbook.alerts.when import KpiCondition

HELD, CLEAR, UNKNOWN = "held", "clear", "unknown"


@dataclass(frozen=True)
class Inhibition:
    """While an alert on ``source`` is pending or firing, mute the alerts on ``targets`` with equal labels."""

    source: str
    targets: tuple[str, ...]
    equal: tuple[str, ...] = ("backend",)


DEFAULT_INHIBITIONS = (
    Inhibition(
        "finding http.unreachable",
        (
            "p95_s",
            "error_rate",
            "finding http.slow_response",
            "finding http.error_rate_high",
            "finding http.health_failed",
        ),
    ),
)


@dataclass(frozen=True)
class Settings:
    """Notification pacing and inhibitions (``[alerts] repeat_interval``; Prometheus' 15 min retention)."""

    repeat_interval_s: float = 4 * 3600.0
    resolved_retention_s: float = 15 * 60.0
    inhibitions: tuple[Inhibition, ...] = DEFAULT_INHIBITIONS


def evaluate(
    rules: Sequence[AlertRule],
    observation: Observation,
    now: float,
    states: Iterable[AlertState] = (),
    silences: Iterable[Silence] = (),
    settings: Settings = Settings(),
) -> Evaluation:
    """The next states, the notifications to send and the transitions, from one observation at ``now``."""
    by_rule = {r.name: r for r in rules}
    previous = {s.key: s for s in states}
    out = Evaluation([], [], [])
    old: AlertState | None
    for key, old in previous.items():
        if key[0] not in by_rule and old.state == "firing":  # rule removed from the config: close the episode
            out.transitions.append(Transition(old.rule, old.subject, old.state, "resolved", now, old.value))
            if old.notified_at is not None:
                out.notifications.append(_notification("resolved", None, old, now))
    current: list[tuple[AlertRule, AlertState]] = []
    for rule in rules:
        for subject, (verdict, item) in _verdicts(rule, observation, previous).items():
            old = previous.get((rule.name, subject))
            new = _step(rule, old, verdict, item, now)
            if (
                new is not None
                and new.state == "resolved"
                and now - (new.resolved_at or now) > settings.resolved_retention_s
            ):
                new = None
            old_name, new_name = (old.state if old else "inactive"), (new.state if new else "inactive")
            if old_name != new_name and old_name != "resolved":  # forgetting a resolved alert is no news
                out.transitions.append(
                    Transition(
                        rule.name,
                        subject,
                        old_name,
                        new_name,
                        now,
                        new.value if new else old.value if old else None,
                    )
                )
            if new is not None:
                current.append((rule, new))
    mutes = _mutes(current, list(silences), settings.inhibitions, now)
    for rule, st in current:
        st.muted_by = mutes.get(st.key)
        out.notifications += _notify(rule, st, now, settings, resolved_now=_resolved_now(out, st))
        out.states.append(st)
    return out


def _verdicts(
    rule: AlertRule, obs: Observation, previous: dict[tuple[str, str], AlertState]
) -> dict[str, tuple[str, Observed | None]]:
    """Per subject: held, clear or unknown, with the observed item (None for a subject gone quiet)."""
    cond = rule.condition
    verdicts: dict[str, tuple[str, Observed | None]] = {}
    for item in obs.values(key_of(cond)):
        if not item.enough or (item.value is None and isinstance(cond, KpiCondition)):
            verdict = UNKNOWN
        elif isinstance(cond, KpiCondition):
            verdict = HELD if cond.holds(item.value) else CLEAR  # type: ignore[arg-type]
        else:
            verdict = HELD
        if verdicts.get(item.subject, (None,))[0] != HELD:  # two items for one subject: holding wins
            verdicts[item.subject] = (verdict, item)
    gone = CLEAR if obs.measured(cond) else UNKNOWN
    for rule_name, subject in previous:
        if rule_name == rule.name and subject not in verdicts:
            verdicts[subject] = (gone, None)
    return verdicts


def _step(
    rule: AlertRule, old: AlertState | None, verdict: str, item: Observed | None, now: float
) -> AlertState | None:
    """One alert's next state (None: inactive)."""
    if verdict == UNKNOWN:
        return replace(old) if old is not None else None
    if verdict == CLEAR:
        if old is None or old.state == "pending":
            return None
        if old.state == "firing" and now - old.last_held_at >= rule.keep_firing_for_s:
            return replace(old, state="resolved", resolved_at=now)
        return replace(old)
    value, threshold, labels = _figures(rule, item)
    if old is None or old.state == "resolved":
        new = AlertState(
            rule.name,
            item.subject if item else "",
            "pending",
            active_since=now,
            last_held_at=now,
            value=value,
            threshold=threshold,
            labels=labels,
        )
    else:
        new = replace(old, last_held_at=now, value=value, threshold=threshold, labels=labels)
    if new.state == "pending" and now - new.active_since >= rule.for_s:
        new.state, new.fired_at = "firing", now
    return new


def _figures(rule: AlertRule, item: Observed | None) -> tuple[float | None, float | None, dict[str, str]]:
    if item is None:
        return None, None, {}
    threshold = rule.condition.threshold if isinstance(rule.condition, KpiCondition) else item.threshold
    return item.value, threshold, dict(item.labels)


def _mutes(
    current: list[tuple[AlertRule, AlertState]],
    silences: list[Silence],
    inhibitions: tuple[Inhibition, ...],
    now: float,
) -> dict[tuple[str, str], str]:
    """Why each muted alert is muted: ``silence ID (comment)`` or ``inhibited by RULE on SUBJECT``."""
    mutes: dict[tuple[str, str], str] = {}
    for rule, st in current:
        for inh in inhibitions:
            if key_of(rule.condition) not in inh.targets:
                continue
            for src_rule, src in current:
                if (
                    key_of(src_rule.condition) == inh.source
                    and src.state in ("pending", "firing")
                    and _same_labels(src, st, inh.equal)
                ):
                    mutes[st.key] = f"inhibited by {src.rule} on {src.subject}"
        silence = next((s for s in silences if s.matches(st.rule, st.subject, now)), None)
        if silence is not None:
            mutes[st.key] = f"silence {silence.id}" + (f" ({silence.comment})" if silence.comment else "")
    return mutes


def _same_labels(a: AlertState, b: AlertState, names: tuple[str, ...]) -> bool:
    return all(a.labels.get(n) is not None and a.labels.get(n) == b.labels.get(n) for n in names)


def _resolved_now(out: Evaluation, st: AlertState) -> bool:
    return any(t.rule == st.rule and t.subject == st.subject and t.new == "resolved" for t in out.transitions)


def _notify(
    rule: AlertRule, st: AlertState, now: float, settings: Settings, *, resolved_now: bool
) -> list[Notification]:
    """The notification this state calls for now, if any; updates ``notified_at`` / ``repeats``."""
    if st.state == "resolved":
        # Sent even while silenced: the people who heard it fire should hear it end.
        return (
            [_notification("resolved", rule, st, now)] if resolved_now and st.notified_at is not None else []
        )
    if st.state != "firing" or st.muted_by is not None:
        return []
    kind: NotificationKind
    if st.notified_at is None:
        kind = "firing"
    elif now - st.notified_at >= settings.repeat_interval_s:
        kind, st.repeats = "repeat", st.repeats + 1
    else:
        return []
    st.notified_at = now
    return [_notification(kind, rule, st, now)]


def _notification(kind: NotificationKind, rule: AlertRule | None, st: AlertState, now: float) -> Notification:
    if rule is None:  # the rule is gone: say so instead of rendering its templates
        summary, description, severity, url = f"{st.rule} on {st.subject}: rule removed", "", "", ""
    else:

        def fill(template: str) -> str:
            return rule.render(template, value=st.value, threshold=st.threshold, subject=st.subject)

        summary, description, severity, url = (
            fill(rule.summary),
            fill(rule.description),
            rule.severity,
            rule.runbook_url,
        )
    episode = f"{st.rule}|{st.subject}|{st.fired_at}"
    suffix = f"|{st.repeats}" if kind == "repeat" else ""
    return Notification(
        kind,
        st.rule,
        st.subject,
        severity,
        summary,
        description,
        url,  # type: ignore[arg-type]
        st.value,
        st.threshold,
        st.fired_at or st.active_since,
        now,
        dict(st.labels),
        key=f"{episode}|{kind}{suffix}",
    )

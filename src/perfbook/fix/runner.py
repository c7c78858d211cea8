"""Plan, confirm, re-plan, apply, verify, audit: the one workflow every fix goes through.

No terminal I/O here: the CLI passes ``confirm`` (a prompt on a TTY, ``lambda plan: True`` for
``--yes``) and prints what comes back. Every plan and every apply is written to the audit log,
including refusals, declines and failures, so the log tells the whole story.

    plan = make_plan(fix, ctx, store)                       # audited as mode=plan
    result = perform(fix, ctx, store, plan, confirm=ask)     # re-plans if the target changed
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfbook.errors import PerfbookError
from perfbook.fix.base import Fix, Outcome, Plan, given_params
from perfbook.fix.context import FixContext
from perfbook.fix.verify import VerifyResult, compare, measure
from perfbook.redact import redact_doc, redact_text
from perfbook.store import Store
from perfbook.store import record_audit as _store_audit

Confirm = Callable[[Plan], bool]


@dataclass
class FixResult:
    """What one ``perform`` did: the plan acted on, the outcome, why it re-planned, the verification."""

    plan: Plan
    outcome: Outcome
    replanned: str | None = None
    verify: VerifyResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "outcome": self.outcome.to_dict(),
            "replanned": self.replanned,
            "verify": self.verify.to_dict() if self.verify else None,
        }


def make_plan(fix: Fix, ctx: FixContext, store: Store) -> Plan:
    """``fix.plan(ctx)`` audited as ``mode=plan``; a failure is audited too, then raised as one line."""
    try:
        plan = fix.plan(ctx)
    except Exception as err:
        message = error_line(fix.id, "plan", err)
        record_audit(
            store,
            os_user=ctx.os_user,
            target=ctx.target_for(fix.layer),
            action=fix.id,
            mode="plan",
            params=_jsonable_params(fix),
            outcome="failed",
            error=message,
        )
        if isinstance(err, PerfbookError):
            raise
        raise PerfbookError(message) from None
    outcome = "refused" if plan.refusal else ("nothing" if plan.nothing_to_do else "planned")
    record_audit(
        store,
        os_user=ctx.os_user,
        target=plan.target,
        action=fix.id,
        mode="plan",
        params=plan.params,
        plan=plan.to_dict(),
        outcome=outcome,
        summary=plan.summary,
        error=plan.refusal,
    )
    return plan


def record_audit(store: Store, **fields: Any) -> int:
    """One audit entry, every string in it redacted (plans and summaries can quote commands and URLs)."""
    return _store_audit(store, **redact_doc(fields))


def record_skip(
    fix_id: str, layer: str, params: dict[str, Any], ctx: FixContext, store: Store, why: str
) -> None:
    """Audit a recommended fix that was not even planned (``--from-report``: its finding is gone)."""
    record_audit(
        store,
        os_user=ctx.os_user,
        target=ctx.target_for(layer),
        action=fix_id,
        mode="plan",
        params=params,
        outcome="skipped",
        summary=why,
    )


def perform(
    fix: Fix,
    ctx: FixContext,
    store: Store,
    plan: Plan,
    *,
    confirm: Confirm,
    verify_window_s: float | None = None,
    before_report: Any = None,
    on_replan: Callable[[Plan, str], None] | None = None,
    also_findings: tuple[str, ...] = (),
) -> FixResult:
    """Confirm ``plan``, re-plan if its target changed, apply, verify, and audit the apply.

    ``before_report`` (a Report or a saved report's dict) stands for the "before" triage; without
    one, and with ``verify_window_s``, the named probes run once before and once after.
    ``also_findings`` (``code:subject``) are verified besides the fix's own: the findings that
    recommended it in a report.
    """
    if plan.refusal or plan.nothing_to_do:
        raise PerfbookError(f"{fix.id}: {plan.refusal or plan.summary}")
    if not confirm(plan):
        return _audited(store, ctx, fix, FixResult(plan, Outcome("declined", "not applied: declined")))
    spec = fix.verify(plan)
    spec = dataclasses.replace(spec, findings=tuple(dict.fromkeys(spec.findings + also_findings)))
    if verify_window_s and before_report is None:
        before_report = measure(ctx.cfg, spec, verify_window_s)
    try:
        fresh, why = _replan(fix, ctx, plan)
    except Exception as err:  # the target went away between plan and apply: nothing was done
        message = error_line(fix.id, "re-plan", err)
        failed = Outcome("failed", message, not_done=plan.steps, error=message)
        return _audited(store, ctx, fix, FixResult(plan, failed))
    if why:
        if on_replan:
            on_replan(fresh, why)
        if fresh.refusal or fresh.nothing_to_do or not confirm(fresh):
            outcome = Outcome(
                "refused" if fresh.refusal else ("nothing" if fresh.nothing_to_do else "declined"),
                f"not applied: {why}; {fresh.refusal or fresh.summary}",
            )
            return _audited(store, ctx, fix, FixResult(fresh, outcome, replanned=why))
    try:
        outcome = _apply(fix, ctx, fresh)
    except KeyboardInterrupt:  # Ctrl-C mid-apply: record that the state is unknown, then stop (exit 130)
        interrupted = Outcome(
            "failed",
            "interrupted during apply: some steps may have run",
            not_done=fresh.steps,
            error="interrupted during apply (check the target before retrying)",
        )
        _audited(store, ctx, fix, FixResult(fresh, interrupted, replanned=why))
        raise
    result = FixResult(fresh, outcome, replanned=why)
    try:
        if verify_window_s and outcome.status in ("done", "partial"):
            result.verify = compare(
                spec, before_report, measure(ctx.cfg, spec, verify_window_s), verify_window_s
            )
    except BaseException:  # Ctrl-C / SIGTERM while verifying: the apply happened, the audit must say so
        _audited(store, ctx, fix, result)
        raise
    return _audited(store, ctx, fix, result)


def _replan(fix: Fix, ctx: FixContext, plan: Plan) -> tuple[Plan, str | None]:
    """A fresh plan, and why it differs from ``plan`` (None when the target is unchanged)."""
    fresh = fix.plan(ctx)
    if fresh.fingerprint == plan.fingerprint and fresh.refusal == plan.refusal:
        return plan, None
    return fresh, f"the target changed since the plan (was: {plan.summary}; now: {fresh.summary})"


def _apply(fix: Fix, ctx: FixContext, plan: Plan) -> Outcome:
    """``fix.apply`` with any exception turned into a failed Outcome (one line, type named)."""
    try:
        return fix.apply(ctx, plan)
    except Exception as err:  # the audit must record every failure, whatever raised it
        message = error_line(fix.id, "apply", err)
        return Outcome("failed", message, not_done=plan.steps, error=message)


def _audited(store: Store, ctx: FixContext, fix: Fix, result: FixResult) -> FixResult:
    before = {k: v.get("before") for k, v in result.outcome.figures.items()}
    after = {k: v.get("after") for k, v in result.outcome.figures.items()}
    if result.verify:
        for name, pair in result.verify.figures().items():
            before[name], after[name] = pair
    summary = result.outcome.summary + (f" (re-planned: {result.replanned})" if result.replanned else "")
    record_audit(
        store,
        os_user=ctx.os_user,
        target=result.plan.target,
        action=fix.id,
        mode="apply",
        params=result.plan.params,
        plan=result.plan.to_dict(),
        outcome=result.outcome.status,
        summary=summary,
        error=result.outcome.error,
        before=before,
        after=after,
        reason=ctx.reason,
        ticket=ctx.ticket,
        incident=ctx.incident,
    )
    return result


def error_line(fix_id: str, phase: str, err: BaseException) -> str:
    """``pg.vacuum: apply failed: OperationalError: …`` — one line, redacted."""
    if isinstance(err, PerfbookError):
        return redact_text(str(err))
    lines = str(err).strip().splitlines()
    return redact_text(
        f"{fix_id}: {phase} failed: {type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    )


def _jsonable_params(fix: Fix) -> dict[str, Any]:
    return given_params(fix.values)

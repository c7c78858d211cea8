"""A fix applied by someone who is not at a terminal: plan first, then apply only the plan they confirmed.

``perfbook serve`` cannot prompt. A person (or a script) asks for the plan, reads it, and sends
back its ``fingerprint`` with the apply: the apply re-plans, and acts only when the fresh plan is
the one confirmed. When the target changed in between, nothing is applied and the new plan comes
back to be read and confirmed again. Both steps go through :mod:`perfbook.fix.runner`, so both are
audited exactly as the CLI's are.

    plan = plan_fix(cfg, store, "pg.vacuum", {"table": ["public.t"]}, actor="ana")
    outcome = apply_confirmed(cfg, store, "pg.vacuum", {"table": ["public.t"]}, plan.fingerprint, actor="ana")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfbook.config import Config
from perfbook.errors import ConflictError, UsageError
from perfbook.fix.base import Plan
from perfbook.fix.catalog import make_fix
from perfbook.fix.context import FixContext
from perfbook.fix.runner import FixResult, make_plan, perform
from perfbook.store import Store


@dataclass
class ConfirmedApply:
    """What an apply did: the result, or (``changed``) the fresh plan that differs from the one confirmed."""

    result: FixResult | None
    changed: Plan | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.result is None:
            return {
                "applied": False,
                "changed": True,
                "plan": self.changed.to_dict() if self.changed else None,
            }
        return {
            "applied": self.result.outcome.status in ("done", "partial"),
            "changed": False,
            **self.result.to_dict(),
        }


def plan_fix(cfg: Config, store: Store, action: str, params: dict[str, Any], *, actor: str) -> Plan:
    """The plan of ``action`` with ``params`` (snake_case keys) against ``cfg``'s target, audited as a plan."""
    fixer = make_fix(action, params)
    with FixContext(cfg, os_user=actor) as ctx:
        return make_plan(fixer, ctx, store)


def apply_confirmed(
    cfg: Config,
    store: Store,
    action: str,
    params: dict[str, Any],
    fingerprint: str,
    *,
    actor: str,
    verify_window_s: float | None = None,
) -> ConfirmedApply:
    """Apply ``action`` only when its plan now is the confirmed one (same ``fingerprint``); audited."""
    if not fingerprint:
        raise UsageError(
            "an apply needs the fingerprint of the plan that was confirmed",
            hint="ask for the plan first, read it, then send its fingerprint",
        )
    fixer = make_fix(action, params)
    with FixContext(cfg, os_user=actor) as ctx:
        plan = make_plan(fixer, ctx, store)
        if plan.refusal or plan.nothing_to_do:
            raise ConflictError(f"{action}: not applied: {plan.refusal or plan.summary}")
        if plan.fingerprint != fingerprint:
            return ConfirmedApply(None, changed=plan)
        result = perform(
            fixer,
            ctx,
            store,
            plan,
            confirm=lambda p: p.fingerprint == fingerprint,
            verify_window_s=verify_window_s,
        )
    return ConfirmedApply(result)

"""The shape every fix has: parameters, a Plan, an Outcome, what to verify, and the Fix base class.

A fix is one small class. ``plan(ctx)`` only reads (read-only connections, bounded SCANs) and
returns the exact statements / API calls it would make and what they would touch; ``apply(ctx,
plan)`` performs that plan and nothing else; ``verify()`` names the probes to rerun and the
finding codes and KPIs that should move. Plans carry a ``fingerprint`` of their target (pids with
their start times, a key count …) so the runner can re-plan instead of acting on stale evidence.

    class PgVacuum(Fix):
        id = "pg.vacuum"
        changes = "reclaims dead tuples of the named tables (VACUUM, never FULL unless --full)"
        params = (Param("table", "list", "schema.table[,…]"), Param("full", "flag", "VACUUM FULL"))
        def plan(self, ctx): ...
        def apply(self, ctx, plan): ...
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from perfbook.errors import UsageError

if TYPE_CHECKING:
    from perfbook.fix.context import FixContext

ParamKind = Literal["str", "int", "float", "flag", "list", "int_list"]
OutcomeStatus = Literal["done", "partial", "failed", "nothing", "refused", "declined"]


_KIND_WORDS = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "flag": "true or false",
    "list": "a comma-separated list",
    "int_list": "comma-separated integers",
}


@dataclass(frozen=True)
class Param:
    """One ``--kebab-case`` option of a fix; ``name`` is the snake_case key of ``Action.params``."""

    name: str
    kind: ParamKind
    help: str
    required: bool = False
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, raw: Any) -> Any:
        """``raw`` (a CLI string, or a value from a report's ``params``) as this parameter's type."""
        try:
            if self.kind == "flag":
                return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes", "on", ""}
            if self.kind in ("list", "int_list"):
                items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
                items = [str(v).strip() for v in items if str(v).strip()]
                return [int(v) for v in items] if self.kind == "int_list" else items
            return {"str": str, "int": int, "float": float}[self.kind](raw)
        except ValueError:
            raise UsageError(f"{self.flag} expects {_KIND_WORDS[self.kind]}, got {raw!r}") from None


@dataclass
class Plan:
    """What a fix would do against the current state: exact steps and what they touch.

    ``refusal`` set means the fix will not run, and says why; no ``steps`` means nothing to do.
    ``data`` is what ``apply`` needs beyond the steps (pids with start times, key names …).
    """

    action: str
    target: str  # redacted connection / engine the fix acts on
    params: dict[str, Any]
    summary: str
    steps: list[str] = field(default_factory=list)
    affects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refusal: str | None = None
    fingerprint: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def nothing_to_do(self) -> bool:
        return self.refusal is None and not self.steps

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the audit log's ``plan`` column and ``--json`` output)."""
        out = {
            k: getattr(self, k)
            for k in (
                "action",
                "target",
                "params",
                "summary",
                "steps",
                "affects",
                "notes",
                "refusal",
                "fingerprint",
            )
        }
        out["nothing_to_do"] = self.nothing_to_do
        return out


@dataclass
class Outcome:
    """What an apply did: status, what was and was not done, before / after figures, error."""

    status: OutcomeStatus
    summary: str
    done: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"before": x, "after": y}
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "summary": self.summary,
            "done": self.done,
            "not_done": self.not_done,
            "figures": self.figures,
            "error": self.error,
        }


@dataclass(frozen=True)
class VerifySpec:
    """What to measure after an apply: probes to rerun, findings that should go, KPIs that should move.

    ``findings`` are ``code`` (any subject) or ``code:subject`` (``pg.dead_tuples:public.t``).
    """

    probes: tuple[str, ...]
    findings: tuple[str, ...] = ()
    kpis: tuple[str, ...] = ()

    def matches(self, code: str, subject: str) -> bool:
        """True when the finding ``code`` on ``subject`` is one this fix should make go away."""
        return any(f in (code, f"{code}:{subject}") for f in self.findings)


def fingerprint(value: Any) -> str:
    """A short stable hash of the target's identity (pids + start times, key counts …).

    >>> fingerprint({"pids": [1, 2]}) == fingerprint({"pids": [1, 2]})
    True
    """
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Fix:
    """Base of every catalog entry. Subclasses set the ClassVars and implement plan / apply / verify."""

    id: ClassVar[str]
    changes: ClassVar[str]  # what it changes, one line, for --list
    layer: ClassVar[str]  # postgres | pgbouncer | redis | containers | process
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, **values: Any) -> None:
        self.values = parse_values(self.params, values, self.id)

    def plan(self, ctx: FixContext) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def verify(self, plan: Plan) -> VerifySpec:  # pragma: no cover - abstract
        raise NotImplementedError

    def new_plan(self, ctx: FixContext, summary: str, **kw: Any) -> Plan:
        """A Plan of this fix on ``ctx``'s target with the parsed parameters."""
        params = given_params(self.values)
        return Plan(action=self.id, target=ctx.target_for(self.layer), params=params, summary=summary, **kw)


def given_params(values: dict[str, Any]) -> dict[str, Any]:
    """The parameters that say something (not None, not a False flag, not an empty list; 0 stays).

    >>> given_params({"db": 0, "full": False, "table": [], "pid": None, "pattern": "a:*"})
    {'db': 0, 'pattern': 'a:*'}
    """
    return {k: v for k, v in values.items() if v is not None and v is not False and v != []}


def parse_values(spec: tuple[Param, ...], values: dict[str, Any], fix_id: str) -> dict[str, Any]:
    """Check ``values`` (snake_case keys) against ``spec``: types converted, unknown or missing refused."""
    by_name = {p.name: p for p in spec}
    unknown = [k for k in values if k not in by_name]
    if unknown:
        allowed = " ".join(p.flag for p in spec) or "none"
        raise UsageError(f"{fix_id}: unknown parameter --{unknown[0].replace('_', '-')} (allowed: {allowed})")
    out = {}
    for p in spec:
        raw = values.get(p.name)
        default = False if p.kind == "flag" and p.default is None else p.default
        out[p.name] = default if raw is None else p.convert(raw)
        if p.required and out[p.name] in (None, []):
            raise UsageError(f"{fix_id} needs {p.flag} ({p.help})")
    return out


_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "1", "0", "on", "off"})


def parse_cli_args(spec: tuple[Param, ...], args: list[str], fix_id: str) -> dict[str, Any]:
    """``["--table", "public.users", "--full"]`` -> ``{"table": "public.users", "full": True}``."""
    by_flag = {p.flag: p for p in spec}
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        param = by_flag.get(flag)
        if param is None:
            allowed = " ".join(by_flag) or "none"
            raise UsageError(f"{fix_id}: unknown parameter {flag} (allowed: {allowed})")
        if param.kind == "flag":
            values[param.name] = inline if eq else True
            i += 1
            # `--blocking True` (older reports)
            if not eq and i < len(args) and args[i].lower() in _BOOL_WORDS:
                values[param.name] = args[i].lower() in ("true", "yes", "1", "on")
                i += 1
            continue
        if eq:
            values[param.name] = inline
            i += 1
        elif i + 1 < len(args):
            values[param.name] = args[i + 1]
            i += 2
        else:
            raise UsageError(f"{fix_id}: {flag} needs a value ({param.help})")
    return values

"""What links a finding of one layer to an endpoint in trouble: only what the evidence shows. Pure.

A cross-layer cause explains a symptom only through a link the evidence holds:

- **the endpoint's statements or tables**: a route naming a table the window's statements touch,
  or a statement / session naming the route (:meth:`Context.symptoms_for_table`);
- **the same window's co-movement**: a dependency refusing connections while the route answers
  5xx, a full Redis refusing writes while requests fail, cache misses matched by database
  statements;
- **the same component**: the backend's own process, the host it runs on, the backend itself.

Without one, the finding is no explanation: :func:`perfbook.causes.rank_causes` lists its cause as
"also seen", below the ranked causes. The join families call :func:`linked_symptom` only after
establishing a link, with ``among`` the symptoms that link covers.
"""

from __future__ import annotations

from perfbook.causes.context import Context, Symptom, probe_timed_out, symptom_lead
from perfbook.causes.score import SYMPTOM_MATCHED, SYMPTOM_UNMATCHED, Score, first_action, make_cause, pct
from perfbook.model import Cause, Finding

# Findings that rarely explain a slow request on their own: a lifetime ratio, a PING round trip.
WEAK_CODES = {"pg.cache_hit_low": 0.2, "redis.latency_high": 0.2}


def linked_symptom(
    ctx: Context,
    score: Score,
    why: str,
    weight: float = SYMPTOM_UNMATCHED,
    among: list[Symptom] | None = None,
) -> Symptom | None:
    """The worst endpoint in trouble among those a link covers (``among``; every endpoint in
    trouble when the link is the same component serving them all), scored with ``why``."""
    candidates = ctx.suffering() if among is None else [s for s in ctx.suffering() if s in among]
    if not candidates:
        return None
    sym = candidates[0]
    score.add(weight, f"{sym.label} {sym.describe()} in the same window ({why})")
    return sym


def db_symptoms(ctx: Context) -> list[Symptom]:
    """Endpoints in trouble the evidence ties to the database: a route that reads a table the
    window's statements touch, or that a statement or session names."""
    return table_symptoms(ctx, sorted({t for st in ctx.statements() for t in st.tables}))


def table_symptoms(ctx: Context, tables: list[str]) -> list[Symptom]:
    """Endpoints in trouble that read one of ``tables`` (by the links of :meth:`Context.symptoms_for_table`)."""
    linked: list[Symptom] = []
    for table in tables:
        for sym, _ in ctx.symptoms_for_table(table):
            if sym not in linked:
                linked.append(sym)
    return linked


def single_cause(
    ctx: Context,
    f: Finding,
    layer: str,
    why: str,
    extra: tuple[float, str] | None = None,
    among: list[Symptom] | None = None,
) -> Cause:
    """A cause of one finding alone, joined to the endpoints in trouble its link covers.

    ``among`` are the symptoms the caller linked it to; None means no link, except for the app
    layer (the backend itself serves every endpoint). A dependency that refuses connections while
    endpoints answer 5xx explains those 5xx (co-movement). Alone means uncorroborated: it weighs
    less when requests are fine, for a weak code (WEAK_CODES), and when "unreachable" is a probe
    timeout rather than a refusal.
    """
    score = Score()
    if f.code in WEAK_CODES:
        score.add(WEAK_CODES[f.code], f"{f.title} [{f.code}, rarely slows a request on its own]")
    else:
        score.finding(f, f.title)
    if extra is not None:
        score.add(*extra)
    reason = str(f.evidence.get("reason") or "")
    timed_out = probe_timed_out(f)
    if timed_out:
        score.add(
            -0.1, f"the probe timed out ({reason}) rather than being refused: it may be load on this host"
        )
    failing = [s for s in ctx.suffering() if s.errors is not None]
    down = f.code in ("pg.unreachable", "redis.unreachable") and not timed_out and failing
    linked: list[Symptom] = []
    if down:
        sym: Symptom | None = failing[0]
        score.add(
            SYMPTOM_MATCHED,
            f"{failing[0].label} answers 5xx ({pct(failing[0].error_share)}) while it is down",
        )
        linked = failing
    elif layer == "app" or among:
        sym = linked_symptom(ctx, score, why, SYMPTOM_MATCHED if among else SYMPTOM_UNMATCHED, among)
        linked = [sym] if sym is not None else []
    else:
        sym = None
    if ctx.user_facing_fine():
        score.add(-0.1, "no endpoint is slow or failing in the same window")
    act = first_action([f])
    summary = f"{symptom_lead(sym)}{f.title}" + (f"; fix: {act.summary}" if act else "")
    evidence = {"finding": f.evidence, "endpoints": [s.endpoint for s in failing] if down else []}
    keys = [f, *(x for s in linked for x in s.findings)]
    return make_cause(summary, score, keys, layer, evidence, act)


SYMPTOM_CODES = ("http.slow_response:", "http.error_rate_high:")


def explains_a_symptom(cause: Cause) -> bool:
    """True when the cause joins an endpoint's slow or error finding (it names what it explains)."""
    return any(key.startswith(SYMPTOM_CODES) for key in cause.findings)

"""Triage: run the probes concurrently under their budgets, apply the rules, classify, rank.

    report = triage(load_config(), window_s=2.0, only=["postgres", "redis"])

The flow of docs/architecture.md: probes (I/O) -> evidence -> rules (pure) -> findings -> severity.
No probe can take triage down: :func:`perfbook.probes.base.run_probe` turns every failure into
evidence, and a probe that is not configured or not installed is ``skipped`` with the reason.
What each layer needs, its budget, its target and its rules come from the probes' own
declarations (:mod:`perfbook.probes`), never from a table here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from perfbook import __version__
from perfbook.config import Config
from perfbook.errors import UsageError
from perfbook.locality import is_local_host
from perfbook.model import (
    Cause,
    Evidence,
    Finding,
    IssueType,
    Kpis,
    Level,
    Report,
    UnreliableFigure,
    sort_findings,
)
from perfbook.probes import load_probe, probe_classes, probe_names, rules_of
from perfbook.probes.base import Probe, ProbeContext, run_probe
from perfbook.probes.loop_lag import LoopLagSampler
from perfbook.redact import redact_url
from perfbook.severity import classify
from perfbook.targets import fingerprint

USER_FACING = ("http", "metrics", "prometheus")
EXTRAS = {"docker": "docker", "requests": "docker"}  # a probe's missing package -> the extra that brings it
ProgressFn = Callable[[str, Evidence], None]
StartFn = Callable[[str, float], None]  # a probe's name and its time budget (s), as it starts


def parse_probe_list(text: str | None, flag: str) -> list[str] | None:
    """``"postgres,redis"`` -> ["postgres", "redis"]; an unknown name is a UsageError naming ``flag``."""
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = probe_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"{flag}: unknown probe {', '.join(unknown)} (choose from: {', '.join(known)})")
    return names


def configured_skip(name: str, cfg: Config, local: bool) -> str | None:
    """Why probe ``name`` has nothing to do under this config, or None when it should run."""
    cls = probe_classes()[name]
    if cls.local:
        if cfg.host.remote == "skip":
            return '[host] remote = "skip"'
        if not local and cfg.host.remote != "force":
            return 'remote target: this probe describes this machine (set [host] remote = "force")'
    return cls.unconfigured(cfg)


def target_hosts(cfg: Config) -> list[str]:
    """The host names of every configured target (of the probes that do not describe this machine)."""
    urls = [cls.target(cfg) for cls in probe_classes().values() if not cls.local]
    hosts = []
    for url in urls:
        if url:
            host = urlsplit(url).hostname
            hosts.append(host or "localhost")  # a DSN with no host uses the local socket
    return hosts


def describe_targets(cfg: Config, local: bool) -> dict[str, object]:
    """The report's ``target``: each configured target (redacted), and where each came from."""
    target: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name, cls in probe_classes().items():
        value = cls.target(cfg)
        if value and cls.target_key is not None:
            target[name] = redact_url(value)
            sources[name] = cfg.source_of(cls.target_key)
    target["host"] = f"this machine ({socket.gethostname()})" if local else "remote: host probes skipped"
    target["fingerprint"] = fingerprint({k: v for k, v in target.items() if isinstance(v, str)})
    target["config"] = str(cfg.path) if cfg.path else "built-in defaults"
    target["sources"] = sources
    return target


async def run_triage(
    cfg: Config,
    *,
    window_s: float | None = None,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    clock: Callable[[], float] = time.monotonic,
    on_probe_done: ProgressFn | None = None,
    on_probe_start: StartFn | None = None,
) -> Report:
    """Gather every selected layer's evidence concurrently and build the report."""
    window_s = cfg.triage.window_s if window_s is None else window_s
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = clock()
    local = all(is_local_host(h) for h in target_hosts(cfg))
    selected = [n for n in probe_names() if (only is None or n in only) and n not in set(skip)]
    evidence: dict[str, Evidence] = {}
    probes: dict[str, Probe] = {}
    for name in selected:  # every import before any probe starts timing (see probes/base.Probe)
        reason = configured_skip(name, cfg, local)
        loaded = _load(name) if reason is None else Evidence(name, "skipped", 0.0, reason=reason)
        if isinstance(loaded, Evidence):
            evidence[name] = loaded
        else:
            probes[name] = loaded
    # perfbook's own loop, measured while the probes time their targets on it (see probes/loop_lag.py)
    sampler = LoopLagSampler(clock=clock)
    sampler.start()
    try:
        jobs = [
            _run_one(probe, cfg, window_s, local, clock, on_probe_done, sampler, on_probe_start)
            for probe in probes.values()
        ]
        for ev in await asyncio.gather(*jobs):
            evidence[ev.probe] = ev
    finally:
        loop_lag = await sampler.stop()
    findings = _apply_rules(evidence, cfg)
    loop_lag.unreliable = _unreliable(evidence, cfg)
    causes, also_seen = _rank_causes(findings, evidence, cfg)
    kpis = _kpis(evidence, cfg)
    measured = any(
        evidence.get(n) is not None and evidence[n].status not in ("skipped", "error") for n in USER_FACING
    )
    severity, reason = classify(findings, kpis, measured, cfg.thresholds, cfg.http.min_window_requests)
    return Report(
        started_at=started_at,
        duration_s=round(clock() - t0, 3),
        window_s=window_s,
        target=describe_targets(cfg, local),
        severity=severity,
        severity_reason=reason,
        issue_types=issue_types(findings),
        kpis=kpis,
        findings=findings,
        probes={n: evidence[n] for n in selected},
        causes=causes,
        perfbook=__version__,
        loop_lag=loop_lag if probes else None,
        also_seen=also_seen,
    )


def triage(cfg: Config, **kwargs) -> Report:
    """Synchronous :func:`run_triage` (for the CLI and scripts)."""
    return asyncio.run(run_triage(cfg, **kwargs))


def _load(name: str) -> Probe | Evidence:
    """The probe, or ``skipped`` evidence saying what is missing."""
    try:
        return load_probe(name)
    except ModuleNotFoundError as err:
        extra = EXTRAS.get((err.name or "").split(".")[0], "all")
        return Evidence(
            name,
            "skipped",
            0.0,
            reason=f"needs the Python package {err.name!r}: pip install 'perfbook[{extra}]'",
        )


async def _run_one(
    probe: Probe,
    cfg: Config,
    window_s: float,
    local: bool,
    clock: Callable[[], float],
    on_done: ProgressFn | None,
    sampler: LoopLagSampler,
    on_start: StartFn | None = None,
) -> Evidence:
    budget_s = probe_classes()[probe.name].budget_s(cfg, window_s)
    if on_start is not None:
        on_start(probe.name, budget_s)
    ctx = ProbeContext(
        config=cfg,
        window_s=window_s,
        deadline=clock() + budget_s,
        local=local,
        clock=clock,
        stall_s=sampler.stall_s,
    )
    ev = await run_probe(probe, ctx, budget_s)
    if on_done is not None:
        on_done(probe.name, ev)
    return ev


def _apply_rules(evidence: dict[str, Evidence], cfg: Config) -> list[Finding]:
    """Every rules module over the evidence; one finding per code:subject, the worse kept."""
    by_key: dict[str, Finding] = {}
    for layer in probe_names():
        module = rules_of(layer)
        if module is None:
            continue
        try:
            found = module.evaluate(evidence, cfg)
        except Exception as err:  # a bug in a rule: show it on its layer, keep the others
            old = evidence.get(layer)
            if old is not None:
                evidence[layer] = dataclasses.replace(
                    old, status="error", reason=f"rules failed: {type(err).__name__}: {err}"
                )
            continue
        for f in found:
            same = by_key.get(f.key)
            if same is None or (f.level.rank, -(f.value or 0)) < (same.level.rank, -(same.value or 0)):
                by_key[f.key] = f
    return sort_findings(list(by_key.values()))


def _rank_causes(
    findings: list[Finding], evidence: dict[str, Evidence], cfg: Config
) -> tuple[list[Cause], list[Cause]]:
    """The ranked causes and the "also seen" ones (perfbook.causes); a bug there never breaks
    triage: no causes, and a warning on stderr."""
    try:
        from perfbook.causes import split_causes

        return split_causes(findings, evidence, cfg)
    except Exception as err:  # noqa: BLE001 - the findings stand without causes
        warnings.warn(
            f"cause ranking failed, the report has no causes: {type(err).__name__}: {err}",
            RuntimeWarning,
            stacklevel=2,
        )
        return [], []


def _unreliable(evidence: dict[str, Evidence], cfg: Config) -> list[UnreliableFigure]:
    """The latency figures perfbook's own event-loop stalls explain, from each rules module that judges one."""
    out: list[UnreliableFigure] = []
    for layer in probe_names():
        fn = getattr(rules_of(layer), "unreliable", None)
        if fn is None:
            continue
        try:
            out += fn(evidence, cfg)
        except Exception:  # noqa: BLE001 - a note we cannot compute is left out, never a crash
            continue
    return out


def _kpis(evidence: dict[str, Evidence], cfg: Config) -> Kpis:
    kpis = Kpis()
    for layer in probe_names():
        fn = getattr(rules_of(layer), "kpis", None)
        if fn is None:
            continue
        try:
            values = fn(evidence, cfg)
        except Exception:  # noqa: BLE001 - a KPI we cannot compute is "not measured", never a crash
            continue
        for key, value in values.items():
            if hasattr(kpis, key) and value is not None:
                setattr(kpis, key, value)
    return kpis


def issue_types(findings: list[Finding]) -> list[IssueType]:
    """The issue types of the critical and warning findings, worst first, each once."""
    seen: list[IssueType] = []
    for f in findings:
        if f.level is not Level.INFO and not f.low_confidence and f.issue_type not in seen:
            seen.append(f.issue_type)
    return seen

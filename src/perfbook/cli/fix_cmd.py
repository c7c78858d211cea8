"""perfbook fix: the runbook's remediations, safe by default — plan (dry run), apply, audit, verify."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.cli.exit import ExitCode
from perfbook.cli.incident_common import INCIDENT_OPTION, attach_and_publish
from perfbook.errors import PerfbookError, UsageError

HELP = """Apply the runbook's fixes safely: show the plan, apply only with --apply, audit, verify.

Dry run is the default: perfbook prints the exact statements / API calls and what they touch
(pids, tables, keys, containers) and changes nothing. --apply asks on a terminal (--yes in
scripts), re-plans if the target changed meanwhile, applies, reruns the fix's probes for one
window and prints before / after. Every plan and apply goes to the audit log (fix history).
Each action takes its own parameters (--table, --pid, --pattern …): see --list.

Examples:

  perfbook fix --list

  perfbook fix pg.terminate --idle-in-transaction --older-than-s 300

  perfbook fix pg.create_index --table public.users --columns email --apply

  perfbook fix --from-report report.json --apply --yes

  perfbook fix history --json | jq '.entries[0]'

  perfbook fix history pg.terminate --limit 5

  perfbook fix history --target db-1 --since 2h --incident INC-7
"""


def register(app: typer.Typer) -> None:
    """Add ``perfbook fix`` to the root app."""
    app.command(
        "fix",
        help=HELP,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(fix)


def fix(
    ctx: typer.Context,
    action_id: str = typer.Argument(
        None, metavar="[ID|history]", help="A catalog id (see --list), or 'history'."
    ),
    list_: bool = typer.Option(False, "--list", help="Show the catalog of fixes and their parameters."),
    apply: bool = typer.Option(
        False, "--apply", help="Perform the plan (after a confirmation on a terminal)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm without asking (scripts)."),
    from_report: Annotated[
        Path | None,
        typer.Option("--from-report", help="Walk the fixes a saved triage --json report recommends."),
    ] = None,
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    window: str = typer.Option(
        None, "--window", help="Verify window, e.g. 2s or 500ms (default \\[triage] window_s)."
    ),
    no_verify: bool = typer.Option(False, "--no-verify", help="Do not rerun probes after --apply."),
    limit: int = typer.Option(50, "--limit", help="history: how many entries."),
    plans: bool = typer.Option(
        False,
        "--plans",
        "--all",
        help="history: show every dry run too (by default they are collapsed between the applies).",
    ),
    target: str | None = typer.Option(
        None, "--target", help="history: only entries whose target contains this."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="history: only entries this recent (e.g. 2h, 30m) or since an ISO date (2026-12-01).",
    ),
    reason: str | None = typer.Option(
        None, "--reason", help="With --apply: why, stored with the apply (fix history)."
    ),
    ticket: str | None = typer.Option(
        None, "--ticket", help="With --apply: the ticket it answers, stored with the apply."
    ),
    config: Path | None = CONFIG_OPTION,
    incident: str | None = INCIDENT_OPTION,
    help_: bool = typer.Option(
        False,
        "--help",
        "-h",
        help="Show this message; after an ACTION, that fix's parameters, safety rules and examples.",
    ),
) -> None:
    from perfbook.fix import catalog
    from perfbook.incidents.attach import incident_number

    if help_:
        _help(ctx, action_id, json_out)
        return
    if list_:
        rows = catalog.describe()
        _emit(json_out, {"actions": rows}, _render().catalog_lines(rows, min(current().out.width, 100)))
        return
    if action_id == "history":
        # the env's PERFBOOK_INCIDENT (the incident being worked on) never filters silently: --incident does
        given = getattr(ctx.get_parameter_source("incident"), "name", "") == "COMMANDLINE"
        query = HistoryQuery(
            limit, plans, target, _since(since), incident_number(incident) if given else None
        )
        _history(config, query, json_out, ctx.args)
        return
    if (reason or ticket) and not apply:
        raise UsageError("--reason and --ticket go with --apply (a dry run changes nothing to explain)")
    if ticket is not None and not 0 < len(ticket) <= 128:
        raise UsageError(f"--ticket takes 1 to 128 characters, got {len(ticket)}")
    note = (reason, ticket)
    if apply and not yes and not current().interactive:
        raise UsageError(
            "--apply needs a confirmation and there is no terminal: add --yes to apply in scripts"
        )
    if from_report is not None:
        if action_id or ctx.args:
            raise UsageError("--from-report takes no action id or parameters (they come from the report)")
        window_s = _verify_window(config, window, no_verify)
        raise typer.Exit(
            _from_report(
                from_report,
                config,
                apply,
                yes,
                json_out,
                window_s,
                incident_number(incident) if apply else None,
                note,
            )
        )
    if not action_id:
        raise UsageError("perfbook fix needs an action id", hint="see: perfbook fix --list")
    from perfbook.fix.base import parse_cli_args

    cls = catalog.fix_class(action_id)
    fixer = cls(**parse_cli_args(cls.params, list(ctx.args), action_id))
    raise typer.Exit(
        _one(
            fixer,
            config,
            apply,
            yes,
            json_out,
            _verify_window(config, window, no_verify),
            incident_number(incident) if apply else None,
            note,
        )
    )


def _help(ctx: typer.Context, action_id: str | None, json_out: bool) -> None:
    """``fix --help`` (the command's own), or ``fix ACTION --help`` (that fix's manual)."""
    from perfbook.fix import catalog

    if not action_id or action_id == "history":
        ctx.get_help()  # Typer's Rich help prints itself (to the Env's stdout)
        return
    doc = catalog.manual(action_id)
    _emit(json_out, doc, _render().manual_lines(doc, current().out.width))


def _render() -> Any:
    from perfbook.fix import render

    return render


def _emit(json_out: bool, doc: Any, lines: list[str]) -> None:
    env = current()
    if json_out:
        env.json(doc)
    else:
        for line in lines:
            env.echo(line)


def _config(path: Path | None) -> Any:
    return current().config(path)


def _verify_window(config: Path | None, window: str | None, no_verify: bool) -> float | None:
    """Seconds of the verify window (None: --no-verify)."""
    from perfbook.units import parse_duration

    if no_verify:
        return None
    if window is None:
        return _config(config).triage.window_s
    try:
        window_s = parse_duration(window)
    except ValueError as err:
        raise UsageError(f"--window: {err}") from None
    if window_s <= 0:
        raise UsageError(f"--window must be more than 0 s, got {window!r}")
    return window_s


@dataclass(frozen=True)
class HistoryQuery:
    """``fix history``'s options: how many applies, dry runs too, the target and time filters."""

    limit: int
    plans: bool
    target: str | None
    since: str | None  # ISO 8601 UTC
    incident: int | None = None


def _since(text: str | None) -> str | None:
    """``--since 2h`` / ``--since 2026-12-01`` as an ISO 8601 UTC lower bound."""
    import datetime as dt

    from perfbook.units import parse_duration

    if text is None:
        return None
    try:
        ago = parse_duration(text)
    except ValueError:
        try:
            day = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"--since expects a duration (2h, 30m) or an ISO date (2026-12-01), got {text!r}"
            ) from None
        day = day if day.tzinfo else day.replace(tzinfo=dt.UTC)
        return day.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _history(config: Path | None, query: HistoryQuery, json_out: bool, extra: list[str]) -> None:
    """``perfbook fix history [ACTION]``: the audit log, newest first (JSON: every entry, dry runs included)."""
    from perfbook.fix.catalog import CATALOG
    from perfbook.store import audit_history, open_store

    if len(extra) > 1 or (extra and extra[0] not in CATALOG):
        raise UsageError(
            f"fix history: unexpected {extra[-1]}",
            hint="usage: perfbook fix history [ACTION] [--target T] [--since 2h] [--plans] [--json]",
        )
    # the text collapses dry runs, so it reads further back to show --limit applies
    fetch = query.limit if json_out or query.plans else query.limit * 20
    store = open_store(_config(config))
    try:
        rows = audit_history(
            store,
            limit=fetch,
            action=extra[0] if extra else None,
            target=query.target,
            since=query.since,
            incident=query.incident,
        )
    finally:
        store.close()
    if not json_out and not query.plans:
        rows = _up_to_applies(rows, query.limit)
    _emit(json_out, {"entries": rows}, _render().history_lines(rows, current().out.width, plans=query.plans))


def _up_to_applies(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The newest rows up to and including the ``limit``-th apply."""
    applies = 0
    for i, row in enumerate(rows):
        applies += row["mode"] == "apply"
        if applies == limit:
            return rows[: i + 1]
    return rows


def _confirmer(yes: bool, json_out: bool) -> Callable[[Any], bool]:
    """``--yes`` accepts every plan; on a terminal each plan (and each re-plan) is asked for."""
    if yes:
        return lambda plan: True

    env = current()

    def ask(plan: Any) -> bool:
        if json_out:  # stdout carries only JSON: show the plan where the prompt is
            env.echo("\n".join(_render().plan_lines(plan, dry_run=False)), err=True)
        return env.confirm(f"apply {plan.action} ({plan.summary})?")

    return ask


def _one(
    fixer: Any,
    config: Path | None,
    apply: bool,
    yes: bool,
    json_out: bool,
    window_s: float | None,
    incident: int | None = None,
    note: tuple[str | None, str | None] = (None, None),
) -> int:
    """Plan one fix, and apply it with --apply; the exit code."""
    from perfbook.fix.context import FixContext
    from perfbook.incidents.attach import check_open
    from perfbook.store import open_store

    cfg = _config(config)
    check_open(cfg, incident)
    store = open_store(cfg)
    try:
        with FixContext(cfg) as ctx:
            ctx.reason, ctx.ticket = note
            ctx.incident = incident
            doc, code, _ = _plan_and_apply(
                fixer, ctx, store, apply, yes, json_out, window_s, None, incident=incident
            )
    finally:
        store.close()
    if json_out:
        current().json(doc)
    return code


def _plan_and_apply(
    fixer: Any,
    ctx: Any,
    store: Any,
    apply: bool,
    yes: bool,
    json_out: bool,
    window_s: float | None,
    before: Any,
    findings: tuple[str, ...] = (),
    incident: int | None = None,
) -> tuple[dict[str, Any], int, Any]:
    """The core of one action for both entry points: (the JSON document, the exit code, the result)."""
    from perfbook.fix.runner import make_plan, perform

    render, env = _render(), current()
    plan = make_plan(fixer, ctx, store)
    doc: dict[str, Any] = {"action": fixer.id, "dry_run": not apply, "plan": plan.to_dict()}
    if not json_out:
        env.echo("\n".join(render.plan_lines(plan, dry_run=not apply)))
    if plan.refusal:
        _error(f"{fixer.id} refused: {plan.refusal}")
        return doc, ExitCode.FAILED, None
    if not apply or plan.nothing_to_do:
        return doc, ExitCode.OK, None

    def on_replan(fresh: Any, why: str) -> None:
        env.echo(f"re-planned: {why}", err=True)
        if not json_out:
            env.echo("\n".join(render.plan_lines(fresh, dry_run=False)))

    result = perform(
        fixer,
        ctx,
        store,
        plan,
        confirm=_confirmer(yes, json_out),
        verify_window_s=window_s,
        before_report=before,
        on_replan=on_replan,
        also_findings=findings,
    )
    doc.update(result.to_dict(), dry_run=False)
    # evidence of the incident: the applied fix with its before / after
    attach_and_publish(ctx.cfg, incident, "fix", {**doc, "findings": list(findings)}, actor=ctx.os_user)
    if not json_out:
        env.echo("\n".join(render.outcome_lines(result.outcome) + render.verify_lines(result.verify)))
    if result.outcome.status in ("failed", "partial", "refused"):
        _error(f"{fixer.id} {result.outcome.status}: {result.outcome.error or result.outcome.summary}")
        return doc, ExitCode.FAILED, result
    return doc, ExitCode.OK, result


def _from_report(
    path: Path,
    config: Path | None,
    apply: bool,
    yes: bool,
    json_out: bool,
    window_s: float | None,
    incident: int | None = None,
    note: tuple[str | None, str | None] = (None, None),
) -> int:
    """The live fixes a saved report points at, one plan (and confirmation) at a time; the exit code."""
    from perfbook.fix.catalog import fix_class, make_fix
    from perfbook.fix.context import FixContext
    from perfbook.fix.from_report import from_live_system, load_report
    from perfbook.fix.runner import record_skip
    from perfbook.fix.verify import merge_reports
    from perfbook.incidents.attach import check_open
    from perfbook.store import open_store

    report = load_report(path)
    cfg = _config(config)
    check_open(cfg, incident)
    store = open_store(cfg)
    results: list[dict[str, Any]] = []
    code: int = ExitCode.OK
    try:
        with FixContext(cfg) as ctx:
            ctx.reason, ctx.ticket = note
            ctx.incident = incident
            live = from_live_system(report, ctx, store, window_s or cfg.triage.window_s)
            for skip in live.skipped:
                _say(
                    json_out, f"skipped {skip['action']} for {', '.join(skip['findings'])}: {skip['skipped']}"
                )
            todo, results = live.todo, list(live.skipped)
            resolved: set[str] = set()  # findings an earlier fix of this run made go away
            latest = live.report
            for rec in todo:
                if not json_out:
                    current().echo(f"\n# {rec.fix_id} for {', '.join(rec.findings)}")
                if set(rec.findings) <= resolved:
                    why = f"skipped: {', '.join(rec.findings)} already gone after an earlier fix"
                    _say(json_out, why)
                    record_skip(rec.fix_id, fix_class(rec.fix_id).layer, rec.params, ctx, store, why)
                    results.append(
                        {"findings": list(rec.findings), "action": rec.fix_id, "skipped": "already gone"}
                    )
                    continue
                try:
                    doc, rc, result = _plan_and_apply(
                        make_fix(rec.fix_id, rec.params),
                        ctx,
                        store,
                        apply,
                        yes,
                        json_out,
                        window_s,
                        latest,
                        rec.findings,
                        incident,
                    )
                except PerfbookError as err:
                    _error(f"{rec.fix_id}: {err}")
                    doc, rc, result = {"action": rec.fix_id, "error": str(err)}, ExitCode.FAILED, None
                # the next fix starts from what this one left
                if result is not None and result.verify is not None:
                    latest = merge_reports(latest, result.verify.after_report)
                resolved |= _gone(doc)
                results.append({"findings": list(rec.findings), **doc})
                code = max(code, rc)
    finally:
        store.close()
    if json_out:
        current().json({"report": str(path), "results": results})
    elif not todo:
        current().echo(
            "nothing to fix now: no finding of the report that perfbook can fix is present on the live system"
        )
    return code


def _gone(doc: dict[str, Any]) -> set[str]:
    """The findings a verified apply shows gone (before present, after absent)."""
    verify = doc.get("verify") or {}
    return {
        f["finding"] for f in verify.get("findings", []) if f["before"] != "absent" and f["after"] == "absent"
    }


def _say(json_out: bool, message: str) -> None:
    current().echo(message, err=json_out)


def _error(message: str) -> None:
    current().echo(f"error: {message}", err=True)

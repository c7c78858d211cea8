"""``perfbook alerts rules | export``: the effective alert rules, also for Prometheus and Alertmanager."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.errors import UsageError

HELP = """Alert rules: the runbook's four done right, one per other KPI and critical finding, and yours.

Rules are data: [[alerts.rules]] in perfbook.toml adds a rule, or replaces a built-in one by
its name (keys left out keep the built-in's values; enabled = false turns it off). The same
rules export to Prometheus alerting rules with promtool tests, and to an Alertmanager route.
"""

alerts_app = typer.Typer(help=HELP, no_args_is_help=True)


def _write(path: Path, text: str, what: str, *, private: bool = False) -> None:
    """Write atomically; readable by others (a Prometheus running as its own user) unless ``private``."""
    from perfbook.files import write_atomic

    write_atomic(path, text, what=what)
    if not private:  # the temporary file write_atomic renames is 0600
        umask = os.umask(0)
        os.umask(umask)
        path.chmod(0o666 & ~umask)


@alerts_app.command("rules")
def rules_command(
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the effective rules as one JSON document."),
) -> None:
    """Show the effective rules: built-ins, replaced or turned off by [[alerts.rules]], then yours.

    Examples:

      perfbook alerts rules

      perfbook alerts rules --json | jq '.rules[] | select(.severity == "critical") | .name'
    """
    from perfbook.alerts.prometheus import prom_duration
    from perfbook.alerts.rules import effective_rules

    env = current()
    cfg = env.config(config)
    rules = effective_rules(cfg)
    if as_json:
        env.json({"rules": [r.to_dict() for r in rules], "repeat_interval": cfg.alerts.repeat_interval})
        return
    table = Table(
        title=f"alert rules ({cfg.path or 'built-in defaults'})", title_justify="left", show_edge=False
    )
    for col in ("rule", "when", "for", "keep firing", "severity", "from"):  # names whole, the rest folds
        table.add_column(col, no_wrap=col == "rule", overflow="fold")
    for r in rules:
        style = "bold" if r.origin != "built-in" else ""
        severity = Text(r.severity, style="red" if r.severity == "critical" else "")
        table.add_row(
            Text(r.name, style=style),
            Text(r.when),
            prom_duration(r.for_s),
            prom_duration(r.keep_firing_for_s),
            severity,
            Text(r.origin),
        )
    console = env.out
    if not console.is_terminal:  # a pipe or a file: room for whole rule names and conditions
        console.width = max(console.width, 120)
    console.print(table)


@alerts_app.command("export")
def export_command(
    prometheus: Path | None = typer.Option(
        None, "--prometheus", dir_okay=False, help="Write the rules as a Prometheus alerting-rules file."
    ),
    tests: Path | None = typer.Option(
        None, "--tests", dir_okay=False, help="Also write promtool test cases for them (needs --prometheus)."
    ),
    alertmanager: Path | None = typer.Option(
        None,
        "--alertmanager",
        dir_okay=False,
        help="Write the Alertmanager receiver and route to perfbook serve.",
    ),
    serve_url: str | None = typer.Option(
        None, "--serve-url", help="perfbook serve's URL for Alertmanager (default \\[alerts] serve_url)."
    ),
    token_file: str | None = typer.Option(
        None,
        "--token-file",
        help="Let Alertmanager read the token from "
        "this file instead of writing PERFBOOK_SERVE_TOKEN into the config.",
    ),
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print what was written as one JSON document."),
) -> None:
    """Export the effective rules for Prometheus (with promtool tests) and an Alertmanager route.

    The rules read the standard exporters' metric names: the app's request histogram and counter
    (\\[alerts] duration_histogram, requests_counter, prometheus_selector), node_exporter, cAdvisor,
    postgres_exporter and redis_exporter. The Alertmanager config posts to perfbook serve's
    /hooks/alertmanager with a Bearer token: PERFBOOK_SERVE_TOKEN written into the file (mode 0600),
    or --token-file for Alertmanager to read it.

    Examples:

      perfbook alerts export --prometheus rules.yml --tests rules_test.yml

      promtool test rules rules_test.yml

      PERFBOOK_SERVE_TOKEN=*** perfbook alerts export --alertmanager alertmanager.yml

      perfbook alerts export --alertmanager am.yml --token-file /etc/alertmanager/perfbook.token
    """
    if tests is not None and prometheus is None:
        raise UsageError("--tests needs --prometheus (the tests load that rules file)")
    if prometheus is None and alertmanager is None:
        raise UsageError("nothing to export: give --prometheus FILE and/or --alertmanager FILE")
    env = current()
    cfg = env.config(config)
    files = _build(cfg, prometheus, tests, alertmanager, serve_url, token_file)
    for path, _, what, _ in files["write"]:  # every directory checked before the first file is written
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise UsageError(f"cannot write {what} {path}: {parent} is not a writable directory")
    for path, text, what, private in files["write"]:
        _write(path, text, what, private=private)
    summary = files["summary"]
    if as_json:
        env.json(summary)
        return
    for line in files["lines"]:
        env.echo(line, err=True)  # plain lines: a path or an expression must not be wrapped


def _build(
    cfg: Any,
    prometheus: Path | None,
    tests: Path | None,
    alertmanager: Path | None,
    serve_url: str | None,
    token_file: str | None,
) -> dict[str, Any]:
    """Every document first, then the files: a bad input writes nothing."""
    from perfbook.alerts.prometheus import exported_rules, prometheus_rules, to_yaml
    from perfbook.alerts.rules import effective_rules

    rules = effective_rules(cfg)
    write: list[tuple[Path, str, str, bool]] = []
    summary: dict[str, Any] = {}
    lines: list[str] = []
    if prometheus is not None:
        doc, skipped = prometheus_rules(rules, cfg)
        write.append((prometheus, to_yaml(doc), "Prometheus rules", False))
        count = len(doc["groups"][0]["rules"])
        summary["prometheus"] = {
            "path": str(prometheus),
            "rules": count,
            "skipped": [{"rule": n, "reason": why} for n, why in skipped],
        }
        lines.append(f"wrote {prometheus}: {count} alerting rules")
        lines += [f"  left out {n}: {why}" for n, why in skipped]
    if tests is not None and prometheus is not None:
        from perfbook.alerts.promtool_tests import promtool_tests

        # promtool resolves the rules file from the tests file's directory
        rel = os.path.relpath(prometheus.resolve(), tests.resolve().parent)
        doc, untested = promtool_tests(exported_rules(rules, cfg)[0], rel, cfg)
        write.append((tests, to_yaml(doc), "promtool tests", False))
        summary["tests"] = {"path": str(tests), "cases": len(doc["tests"]), "untested": untested}
        run = f"run: promtool test rules {tests.name} in {tests.parent}"
        lines.append(f"wrote {tests}: {len(doc['tests'])} promtool test cases ({run})")
        lines += [f"  untested {u}" for u in untested]
    if alertmanager is not None:
        write.append(_alertmanager(cfg, rules, alertmanager, serve_url, token_file, summary, lines))
    return {"write": write, "summary": summary, "lines": lines}


def _alertmanager(
    cfg: Any,
    rules: list[Any],
    path: Path,
    serve_url: str | None,
    token_file: str | None,
    summary: dict[str, Any],
    lines: list[str],
) -> tuple[Path, str, str, bool]:
    from perfbook.alerts.alertmanager import alertmanager_config
    from perfbook.alerts.prometheus import to_yaml

    token = None if token_file else os.environ.get("PERFBOOK_SERVE_TOKEN")
    if token_file is None and not token:
        raise UsageError(
            "--alertmanager needs perfbook serve's token: set PERFBOOK_SERVE_TOKEN",
            hint="or pass --token-file FILE for Alertmanager to read it",
        )
    doc = alertmanager_config(rules, cfg, token=token, token_file=token_file, url=serve_url)
    url = doc["receivers"][0]["webhook_configs"][0]["url"]
    source = (
        f"read by Alertmanager from {token_file}"
        if token_file
        else "from PERFBOOK_SERVE_TOKEN, file mode 0600"
    )
    summary["alertmanager"] = {
        "path": str(path),
        "url": url,
        "token": source,
        "inhibit_rules": len(doc.get("inhibit_rules", [])),
    }
    lines.append(f"wrote {path}: receiver perfbook -> {url} (token {source})")
    return path, to_yaml(doc), "Alertmanager config", token_file is None


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` group to the root app."""
    app.add_typer(alerts_app, name="alerts")

"""The manual commands of the HTTP findings, in the user's own names. Pure.

How to read the backend's log comes from ``[http] backend_logs`` (a file, or a command such as
``journalctl -u api``), else from the backend's process as the process probe found it (its systemd
unit or its container), else a placeholder a person fills in — never a container name of the
runbook's example stack, and never ``docker`` on a stack perfbook has seen no container in.

    >>> BackendLogs.of(Config.model_validate({"http": {"backend_logs": "/var/log/api.log"}}), {}).recent
    'tail -n 500 /var/log/api.log'
    >>> print(BackendLogs.of(Config(), {}).errors().replace("  # ", "\\n# "))
    tail -n 500 BACKEND_LOG 2>&1 | grep -E ' 5[0-9]{2} |Traceback|Error' | tail -50
    # BACKEND_LOG: the backend's log file (set [http] backend_logs to name it)
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.process import ProcessEvidence
from perfbook.model import Action, Evidence

PLACEHOLDER = "BACKEND_LOG"
ERROR_LINES = r"grep -E ' 5[0-9]{2} |Traceback|Error' | tail -50"


@dataclass(frozen=True)
class BackendLogs:
    """How to see the backend's recent log lines, and its state, with the names at hand."""

    recent: str  # a command printing recent log lines ("tail -n 500 FILE", "journalctl -u api …")
    status: str | None = None  # a command showing whether it runs (systemctl status UNIT), if known
    note: str = ""  # what a placeholder stands for

    @classmethod
    def of(cls, cfg: Config, evidence: Mapping[str, Evidence[Any]]) -> BackendLogs:
        """From ``[http] backend_logs``, else the backend's process, else a placeholder."""
        configured = cfg.http.backend_logs.strip()
        if configured:
            is_file = configured.startswith(("/", "./", "~")) and " " not in configured
            return cls(f"tail -n 500 {shlex.quote(configured)}" if is_file else configured)
        proc = usable(evidence.get("process"), ProcessEvidence)
        for p in proc.processes if proc is not None else []:
            if p.matched_by.startswith("child of"):
                continue
            if p.unit:
                unit = shlex.quote(p.unit)
                return cls(
                    f"journalctl -u {unit} --since -10min --no-pager", f"systemctl status {unit} --no-pager"
                )
            if p.container_id:
                return cls(
                    f"docker logs --since 10m {p.container_id}", f"docker ps -a --filter id={p.container_id}"
                )
        return cls(
            f"tail -n 500 {PLACEHOLDER}",
            note=f"  # {PLACEHOLDER}: the backend's log file (set [http] backend_logs to name it)",
        )

    def errors(self) -> str:
        """The recent lines that show 5xx answers or exceptions."""
        return f"{self.recent} 2>&1 | {ERROR_LINES}{self.note}"

    def tail(self) -> str:
        """The last hundred lines."""
        return f"{self.recent} 2>&1 | tail -100{self.note}"


def inspect_backend(logs: BackendLogs, url: str) -> Action:
    """See whether the backend runs and why it does not answer."""
    status = f"{logs.status}; " if logs.status else ""
    return Action(
        "manual.inspect_backend",
        "see whether the backend runs and why it does not answer",
        manual=f"curl -sv -m 5 {url}; {status}{logs.tail()}",
    )


def read_health_logs(logs: BackendLogs, url: str) -> Action:
    """Read the backend's log around a failing health check."""
    return Action(
        "manual.inspect_backend",
        "read the backend's logs around the failing health check",
        manual=f"curl -sv -m 5 {url}; {logs.tail()}",
    )


def read_errors(logs: BackendLogs, subject: str) -> Action:
    """Read the backend's errors for one route."""
    return Action("manual.read_errors", f"read the backend's errors for {subject}", manual=logs.errors())

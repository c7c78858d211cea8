"""process.restart: run the restart command the operator configured for a name, never ``pkill -f``.

``pkill -f PATTERN`` kills every process whose command line matches, which inside a container or
on a shared host includes things nobody meant. perfbook only runs the exact command from
``[fix] restart_commands`` (split like a shell would, run without a shell, with a timeout).
"""

from __future__ import annotations

import shlex
import subprocess

from perfbook.errors import ConfigError
from perfbook.fix.base import Fix, Outcome, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext
from perfbook.redact import redact_text

TIMEOUT_S = 120.0


class ProcessRestart(Fix):
    """Restart a process through ``[fix] restart_commands.NAME``."""

    id = "process.restart"
    changes = "runs the restart command configured in [fix] restart_commands for --name"
    layer = "process"
    params = (
        Param("name", "str", "a key of [fix] restart_commands", required=True),
        Param("pid", "int", "the pid a finding named (shown, never signalled)"),
    )

    def plan(self, ctx: FixContext) -> Plan:
        name = self.values["name"]
        commands = ctx.cfg.fix.restart_commands
        command = commands.get(name)
        if not command:
            known = ", ".join(sorted(commands)) or "none configured"
            raise ConfigError(
                f"process.restart: no restart command for {name!r} (known: {known})",
                hint=f'add to perfbook.toml: [fix] restart_commands = {{ {name} = "systemctl restart …" }}',
            )
        argv = shlex.split(command)
        shown = redact_text(shlex.join(argv))  # a restart command may carry a token: never print or store it
        affects = [{"name": name, "command": shown, "pid": self.values["pid"]}]
        plan = self.new_plan(
            ctx,
            f"restart {name}: {shown}",
            steps=[shown],
            affects=affects,
            notes=[f"runs without a shell, {TIMEOUT_S:.0f} s timeout"],
            fingerprint=fingerprint(argv),
        )
        plan.data["argv"] = argv
        return plan

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        argv = plan.data["argv"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return Outcome("failed", f"{argv[0]} did not run", not_done=plan.steps, error=str(err))
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            error = f"exit {proc.returncode}: {last[0][:200]}"
            return Outcome("failed", f"restart command failed ({error})", not_done=plan.steps, error=error)
        return Outcome("done", f"restart command exited 0: {plan.steps[0]}", done=plan.steps)

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("process", "http"), ("process.memory_growth", "process.cpu_hog"), kpis=("p95_s",))

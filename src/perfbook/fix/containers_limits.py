"""container.update_limits: a container's memory / CPU limit changed in place, old and new shown first.

Docker takes ``POST /containers/{id}/update`` (``Memory``, ``MemorySwap``, ``NanoCpus`` — the SDK's
``update_container`` knows no ``NanoCpus``, so the planned body is posted as is). Podman 4's
Docker-compatible API has no such endpoint; its own ``/libpod/containers/{id}/update`` takes OCI
resources, and its inspect output keeps the old figures, so the memory limit after the update is
read from the live cgroup through the stats endpoint on either engine.
"""

from __future__ import annotations

import json
from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.base import Fix, Outcome, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.containers import container_row, get_container, parse_memory
from perfbook.fix.context import FixContext
from perfbook.units import format_bytes

CPU_PERIOD_US = 100_000


def is_podman(client: Any) -> bool:
    """True when the engine behind the Docker API is Podman (its version names the component)."""
    return any(c.get("Name") == "Podman Engine" for c in client.version().get("Components") or [])


def inspected_limits(attrs: dict[str, Any]) -> dict[str, float]:
    """``memory_bytes`` and ``cpus`` (0 = unlimited) as the engine's inspect output states them."""
    host = attrs.get("HostConfig") or {}
    cpus = (host.get("NanoCpus") or 0) / 1e9
    if not cpus and host.get("CpuQuota") and host.get("CpuPeriod"):
        cpus = host["CpuQuota"] / host["CpuPeriod"]
    return {"memory_bytes": host.get("Memory") or 0, "cpus": round(cpus, 3)}


def live_limits(c: Any) -> dict[str, float] | None:
    """The limits in the container's own cgroup (v2, else v1), or None when it has no ``cat`` to read them."""
    script = (
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null || cat "
        "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
        "/sys/fs/cgroup/cpu/cpu.cfs_period_us"
    )
    words: list[str] = []
    for _ in range(3):  # Podman's exec now and then returns before the output arrives
        try:
            code, out = c.exec_run(["sh", "-c", script])
        except Exception:  # no shell in the image, or the engine refuses exec: the figure is unknown
            return None
        words = out.decode(errors="replace").split() if code == 0 else []
        if words or code != 0:
            break
    if len(words) != 3 or not all(w.lstrip("-").isdigit() or w == "max" for w in words):
        return None
    memory = 0 if words[0] == "max" or int(words[0]) >= 2**62 else int(words[0])
    quota, period = words[1], int(words[2])
    cpus = 0.0 if quota in ("max", "-1") else round(int(quota) / period, 3)
    return {"memory_bytes": memory, "cpus": cpus}


def update_call(
    short_id: str, podman: bool, memory: int | None, swap: int | None, cpus: float | None
) -> tuple[str, dict]:
    """The API path and body that set these limits on this engine (pure)."""
    if podman:
        body: dict[str, Any] = {}
        if memory is not None:
            body["memory"] = {"limit": memory, **({"swap": swap} if swap else {})}
        if cpus is not None:
            body["cpu"] = {"quota": int(cpus * CPU_PERIOD_US), "period": CPU_PERIOD_US}
        return f"/v4.0.0/libpod/containers/{short_id}/update", body
    body = {}
    if memory is not None:
        body["Memory"] = memory
        if swap:
            body["MemorySwap"] = swap
    if cpus is not None:
        body["NanoCpus"] = int(cpus * 1e9)
    return f"/containers/{short_id}/update", body


class ContainerUpdateLimits(Fix):
    """Change a container's memory and / or CPU limit in place (no restart)."""

    id = "container.update_limits"
    changes = "changes one container's memory / CPU limits in place (docker update), old and new shown"
    layer = "containers"
    params = (
        Param("container", "str", "container name or id", required=True),
        Param("memory", "str", "new memory limit (512m, 1g)"),
        Param("cpus", "float", "new CPU limit in cores (1.5)"),
    )

    def plan(self, ctx: FixContext) -> Plan:
        memory_text, cpus = self.values["memory"], self.values["cpus"]
        if memory_text is None and cpus is None:
            raise UsageError("container.update_limits needs --memory and / or --cpus")
        c = get_container(ctx, self.values["container"])
        old = inspected_limits(c.attrs)
        memory = parse_memory(memory_text) if memory_text is not None else None
        new = {
            "memory_bytes": old["memory_bytes"] if memory is None else memory,
            "cpus": old["cpus"] if cpus is None else cpus,
        }
        host = c.attrs.get("HostConfig") or {}
        swap = None
        if memory is not None and (host.get("MemorySwap") or 0) > 0 and old["memory_bytes"]:
            # the engine refuses a memory limit above the swap limit: keep the old swap / memory ratio
            swap = int(memory * host["MemorySwap"] / old["memory_bytes"])
        podman = is_podman(ctx.docker())
        path, body = update_call(c.short_id, podman, memory, swap, cpus)
        affects = [
            {
                **container_row(c),
                "old_memory": _limit(old["memory_bytes"]),
                "new_memory": _limit(new["memory_bytes"]),
                "old_cpus": old["cpus"] or "unlimited",
                "new_cpus": new["cpus"] or "unlimited",
            }
        ]
        ident = fingerprint([c.id, old])
        if new == old:
            return self.new_plan(
                ctx, f"nothing to do: {c.name} already has these limits", affects=affects, fingerprint=ident
            )
        plan = self.new_plan(
            ctx,
            f"update limits of {c.name}",
            affects=affects,
            fingerprint=ident,
            steps=[f"POST {path} {json.dumps(body, sort_keys=True)}"],
            notes=["a memory limit under the container's usage gets it OOM-killed"],
        )
        plan.data.update(
            id=c.id, path=path.replace(c.short_id, c.id), body=body, old=old, new=new, podman=podman
        )
        return plan

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        client = ctx.docker()
        c = client.containers.get(plan.data["id"])
        version = "" if plan.data["podman"] else f"/v{client.api.api_version}"
        res = client.api.post(
            f"{client.api.base_url}{version}{plan.data['path']}", json=plan.data["body"], timeout=30
        )
        if res.status_code >= 400:
            error = f"{plan.steps[0].split(' {')[0]}: {res.status_code} {res.text.strip()[:200]}"
            return Outcome("failed", f"{c.name}: limits not changed", not_done=plan.steps, error=error)
        c.reload()
        # Podman 4's inspect and stats keep the old limits; the container's own cgroup has the new ones
        after = live_limits(c) if plan.data["podman"] else inspected_limits(c.attrs)
        wanted = [k for k, v in plan.data["new"].items() if v != plan.data["old"][k]]
        if after is None:
            figures = {
                k: {"before": plan.data["old"][k], "after": "not reported by this engine"} for k in wanted
            }
            return Outcome(
                "done", f"{c.name}: limits sent, the engine accepted them", done=plan.steps, figures=figures
            )
        figures = {k: {"before": plan.data["old"][k], "after": after[k]} for k in wanted}
        missed = [k for k in wanted if after[k] != plan.data["new"][k]]
        if missed:
            return Outcome(
                "failed",
                f"{c.name}: the engine did not apply {', '.join(missed)}",
                figures=figures,
                done=plan.steps,
                error=f"{', '.join(missed)} unchanged after the update",
            )
        return Outcome("done", f"{c.name}: limits updated", done=plan.steps, figures=figures)

    def verify(self, plan: Plan) -> VerifySpec:
        name = plan.affects[0]["container"] if plan.affects else ""
        return VerifySpec(("containers",), (f"container.memory_high:{name}", f"container.cpu_high:{name}"))


def _limit(n: float) -> str:
    return format_bytes(n) if n else "unlimited"

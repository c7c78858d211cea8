"""container.restart and engine.prune through the Docker Engine API (docker SDK).

The runbook restarts everything, runs ``docker update`` blind and prunes with ``docker system
prune -f`` and ``docker volume prune -f`` — the last can delete a stopped database's data. Here one
named container restarts and its health is checked after; prune
takes stopped containers, dangling images and build cache, never volumes, and says what it frees.
"""

from __future__ import annotations

import re
import time
from typing import Any

from perfbook.errors import PerfbookError, UsageError
from perfbook.fix.base import Fix, Outcome, OutcomeStatus, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext
from perfbook.units import format_bytes

_MEM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$", re.IGNORECASE)


def parse_memory(text: str) -> int:
    """Bytes from docker's ``--memory`` syntax (k/m/g are powers of 1024).

    >>> parse_memory("512m"), parse_memory("1g"), parse_memory("1048576")
    (536870912, 1073741824, 1048576)
    """
    m = _MEM.match(str(text))
    if not m:
        raise UsageError(f"--memory expects bytes or k/m/g (e.g. 512m), got {text!r}")
    return int(float(m.group(1)) * 1024 ** " kmg".index((m.group(2) or " ").lower()))


def get_container(ctx: FixContext, name: str) -> Any:
    """The container ``name`` (name or id); UsageError when the engine has none."""
    import docker.errors

    try:
        return ctx.docker().containers.get(name)
    except docker.errors.NotFound:
        raise UsageError(f"no container {name!r} on {ctx.target_for('containers')}") from None


def container_row(c: Any) -> dict[str, Any]:
    """What a plan shows of a container."""
    state = c.attrs.get("State", {})
    return {
        "container": c.name,
        "id": c.short_id,
        "status": c.status,
        "image": (c.attrs.get("Config") or {}).get("Image"),
        "health": (state.get("Health") or {}).get("Status"),
        "started_at": state.get("StartedAt"),
        "restart_count": c.attrs.get("RestartCount"),
    }


class ContainerRestart(Fix):
    """Restart one container and wait until it is healthy (or running, without a health check)."""

    id = "container.restart"
    changes = "restarts one container (10 s graceful stop), then checks its health"
    layer = "containers"
    params = (
        Param("container", "str", "container name or id", required=True),
        Param("timeout_s", "int", "seconds to wait for a graceful stop", default=10),
        Param("health_timeout_s", "float", "seconds to wait for healthy (or running) after", default=60.0),
    )

    def plan(self, ctx: FixContext) -> Plan:
        c = get_container(ctx, self.values["container"])
        plan = self.new_plan(
            ctx,
            f"restart container {c.name}",
            affects=[container_row(c)],
            steps=[f"POST /containers/{c.short_id}/restart?t={self.values['timeout_s']}"],
            notes=["requests in flight on this container fail; its clients reconnect"],
            fingerprint=fingerprint(c.id),
        )
        plan.data.update(id=c.id, started_at=container_row(c)["started_at"])
        return plan

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        c = ctx.docker().containers.get(plan.data["id"])
        c.restart(timeout=self.values["timeout_s"])
        limit_s = self.values["health_timeout_s"]
        state = wait_healthy(c, limit_s)
        row = container_row(c)
        figures = {
            "started_at": {"before": plan.data["started_at"], "after": row["started_at"]},
            "status": {"before": plan.affects[0]["status"], "after": state},
        }
        if state not in ("healthy", "running"):
            return Outcome(
                "failed",
                f"{c.name} restarted but is {state}",
                done=plan.steps,
                figures=figures,
                error=f"{c.name} is {state} {limit_s:g} s after the restart",
            )
        return Outcome("done", f"{c.name} restarted and {state}", done=plan.steps, figures=figures)

    def verify(self, plan: Plan) -> VerifySpec:
        name = plan.affects[0]["container"] if plan.affects else ""
        return VerifySpec(
            ("containers",),
            (f"container.memory_high:{name}", f"container.restarting:{name}", f"container.cpu_high:{name}"),
        )


def wait_healthy(c: Any, timeout_s: float) -> str:
    """Poll until ``c`` is healthy (with a health check) or running for 1 s (without); its last state."""
    deadline, running_since = time.monotonic() + timeout_s, None
    while True:
        c.reload()
        health = ((c.attrs.get("State") or {}).get("Health") or {}).get("Status") or None  # Podman: "" = none
        if health in ("healthy", "unhealthy"):
            return health
        if health is None and c.status == "running":
            running_since = running_since or time.monotonic()
            if time.monotonic() - running_since >= 1.0:
                return "running"
        elif c.status != "running":
            running_since = None
        if time.monotonic() > deadline:
            return health or c.status
        time.sleep(0.2)


class EnginePrune(Fix):
    """Remove stopped containers, dangling images and build cache — never volumes."""

    id = "engine.prune"
    changes = "removes stopped containers, dangling images and build cache; never volumes"
    layer = "containers"
    params = ()

    def plan(self, ctx: FixContext) -> Plan:
        client = ctx.docker()
        # filtered here: Podman refuses a status filter of "dead"
        stopped = [c for c in client.containers.list(all=True) if c.status in ("exited", "created", "dead")]
        images = client.images.list(filters={"dangling": True})
        volumes = client.volumes.list()
        sizes, cache_bytes = disk_usage(client)
        affects = [
            {"container": c.name, "id": c.short_id, "status": c.status, "size_bytes": sizes.get(c.id)}
            for c in stopped
        ]
        affects += [{"image": i.short_id, "size_bytes": i.attrs.get("Size")} for i in images]
        total = sum(a.get("size_bytes") or 0 for a in affects) + cache_bytes
        steps = [
            "POST /containers/prune",
            'POST /images/prune?filters={"dangling":["true"]}',
            "POST /build/prune",
        ]
        summary = (
            f"remove {len(stopped)} stopped container(s), {len(images)} dangling image(s) and the build "
            f"cache: frees about {format_bytes(total)}"
        )
        ident = fingerprint(sorted([c.id for c in stopped] + [i.id for i in images]))
        return self.new_plan(
            ctx,
            summary,
            steps=steps,
            affects=affects,
            fingerprint=ident,
            notes=[
                f"volumes are never pruned here ({len(volumes)} kept, data of stopped databases included)"
            ],
        )

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        client = ctx.docker()
        import docker.errors

        done, not_done, unsupported, freed = [], [], [], 0
        calls = (client.containers.prune, _prune_images, client.api.prune_builds)
        for step, call in zip(plan.steps, calls, strict=True):
            try:
                result = call(client) if call is _prune_images else call()
                freed += int((result or {}).get("SpaceReclaimed") or 0)
                done.append(step)
            except docker.errors.NotFound:  # Podman has no build-cache endpoint: nothing there to free
                unsupported.append(f"{step}: not supported by this engine")
            except docker.errors.APIError as err:
                not_done.append(f"{step}: {str(err).splitlines()[0][:160]}")
        figures = {"space reclaimed bytes": {"before": 0, "after": freed}}
        status: OutcomeStatus = "done" if not not_done else ("partial" if done else "failed")
        not_done += unsupported
        if status == "failed":
            raise PerfbookError(f"engine.prune: nothing pruned: {not_done[0]}")
        return Outcome(
            status, f"pruned, {format_bytes(freed)} reclaimed", done=done, not_done=not_done, figures=figures
        )

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("host",), ("host.disk_high",), kpis=("disk_pct",))


def disk_usage(client: Any) -> tuple[dict[str, int], int]:
    """Container id -> writable-layer bytes, and unused build-cache bytes (``/system/df``; {} and 0 if absent)."""
    try:
        df = client.df()
    except Exception:  # an engine without /system/df: sizes stay unknown, the plan says so by omission
        return {}, 0
    sizes = {c["Id"]: int(c.get("SizeRw") or 0) for c in df.get("Containers") or [] if c.get("Id")}
    cache = sum(int(b.get("Size") or 0) for b in df.get("BuildCache") or [] if not b.get("InUse"))
    return sizes, cache


def _prune_images(client: Any) -> dict[str, Any]:
    return client.images.prune(filters={"dangling": True})

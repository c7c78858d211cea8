"""redis.set_policy and redis.set_maxmemory: ``CONFIG SET`` with old and new values shown first.

``CONFIG SET`` lasts until Redis restarts. Persisting it is ``CONFIG REWRITE``, which edits the
server's config file: offered (``--rewrite``), never done silently, and refused up front when the
server runs without a config file.
"""

from __future__ import annotations

import re
from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.base import Fix, Outcome, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext
from perfbook.units import format_bytes

POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
_SIZE = re.compile(r"^\s*(\d+)\s*(k|kb|m|mb|g|gb)?\s*$", re.IGNORECASE)
# Redis' own units: k/m/g are powers of 1000, kb/mb/gb powers of 1024 (redis.conf header).
_MULT = {None: 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def parse_redis_bytes(text: str) -> int:
    """Bytes from Redis' size syntax.

    >>> parse_redis_bytes("256mb"), parse_redis_bytes("1g"), parse_redis_bytes("0")
    (268435456, 1000000000, 0)
    """
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"--maxmemory expects bytes or Redis units (e.g. 256mb, 1gb), got {text!r}")
    return int(m.group(1)) * _MULT[(m.group(2) or "").lower() or None]


class _ConfigSet(Fix):
    layer = "redis"
    setting = ""

    def new_value(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_notes(self, info: dict[str, Any], new: str) -> list[str]:
        return []

    def plan(self, ctx: FixContext) -> Plan:
        client = ctx.redis()
        old = str(client.config_get(self.setting).get(self.setting, ""))
        new = self.new_value()
        info = client.info("memory") | client.info("server")
        affects = [{"setting": self.setting, "old": old, "new": new}]
        if old == new:
            return self.new_plan(
                ctx,
                f"nothing to do: {self.setting} is already {new}",
                affects=affects,
                fingerprint=fingerprint(old),
            )
        steps = [f"CONFIG SET {self.setting} {new}"]
        notes = self.extra_notes(info, new)
        if self.values["rewrite"]:
            if not info.get("config_file"):
                raise UsageError(
                    "--rewrite: this Redis runs without a config file, CONFIG REWRITE would fail",
                    hint="drop --rewrite and put the setting in the config your deployment uses",
                )
            steps.append("CONFIG REWRITE")
        else:
            notes.append(
                "lasts until Redis restarts: add --rewrite to persist it with CONFIG REWRITE"
                f" ({info.get('config_file') or 'this server has no config file'})"
            )
        plan = self.new_plan(
            ctx,
            f"{self.setting}: {old} -> {new}",
            steps=steps,
            affects=affects,
            notes=notes,
            fingerprint=fingerprint(old),
        )
        plan.data.update(old=old, new=new)
        return plan

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        import redis

        client = ctx.redis()
        done: list[str] = []
        try:
            client.config_set(self.setting, plan.data["new"])
            done.append(plan.steps[0])
            if "CONFIG REWRITE" in plan.steps:
                client.config_rewrite()
                done.append("CONFIG REWRITE")
        except redis.RedisError as err:
            missed = [s for s in plan.steps if s not in done]
            return Outcome(
                "partial" if done else "failed",
                f"{self.setting} not (fully) changed",
                done=done,
                not_done=[f"{missed[0]}: {err}", *missed[1:]],
                error=f"{missed[0]}: {err}",
            )
        now = str(client.config_get(self.setting).get(self.setting, ""))
        figures = {self.setting: {"before": plan.data["old"], "after": now}}
        return Outcome("done", f"{self.setting}: {plan.data['old']} -> {now}", done=done, figures=figures)


class RedisSetPolicy(_ConfigSet):
    """Change maxmemory-policy (e.g. noeviction -> allkeys-lru for a cache)."""

    id = "redis.set_policy"
    changes = "sets maxmemory-policy (CONFIG SET; CONFIG REWRITE only with --rewrite)"
    setting = "maxmemory-policy"
    params = (
        Param("policy", "str", f"one of {', '.join(POLICIES)}", required=True),
        Param("rewrite", "flag", "persist with CONFIG REWRITE"),
    )

    def new_value(self) -> str:
        policy = self.values["policy"]
        if policy not in POLICIES:
            raise UsageError(f"--policy {policy!r} is not a Redis policy (one of {', '.join(POLICIES)})")
        return policy

    def extra_notes(self, info: dict[str, Any], new: str) -> list[str]:
        if new.startswith("volatile"):
            return [f"{new} evicts only keys with a TTL: keys without one still fill memory"]
        if new == "noeviction":
            return ["noeviction: at maxmemory every write fails with OOM"]
        return []

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("redis",), ("redis.oom_rejections", "redis.memory_high"), kpis=("cache_hit_rate",))


class RedisSetMaxmemory(_ConfigSet):
    """Change maxmemory (bytes, or Redis units such as 256mb)."""

    id = "redis.set_maxmemory"
    changes = "sets maxmemory (CONFIG SET; CONFIG REWRITE only with --rewrite)"
    setting = "maxmemory"
    params = (
        Param("maxmemory", "str", "bytes or Redis units (256mb, 1gb); 0 = no limit", required=True),
        Param("rewrite", "flag", "persist with CONFIG REWRITE"),
    )

    def new_value(self) -> str:
        return str(parse_redis_bytes(self.values["maxmemory"]))

    def extra_notes(self, info: dict[str, Any], new: str) -> list[str]:
        used, limit = int(info.get("used_memory", 0)), int(new)
        if limit and used >= limit:
            policy = info.get("maxmemory_policy", "?")
            effect = "writes will fail with OOM" if policy == "noeviction" else "Redis will evict keys to fit"
            return [f"used memory {format_bytes(used)} is over the new limit {format_bytes(limit)}: {effect}"]
        return [f"used memory {format_bytes(used)}; new limit {format_bytes(limit) if limit else 'none'}"]

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(
            ("redis",),
            ("redis.memory_high", "redis.oom_rejections", "redis.evictions"),
            kpis=("cache_hit_rate",),
        )

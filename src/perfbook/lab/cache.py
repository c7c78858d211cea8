"""The backend's read-through cache in Redis db 0, as the runbook's REDIS_URL.

Hits slide the expiry (GETEX), so the hot keys of steady traffic stay cached and the hit rate of
a healthy lab stays above the runbook's 90 %. A cache must never take the service down: a failed read is a
miss and a failed write (Redis full,
``OOM command not allowed``) is skipped and counted. With the ``nocache`` fault on, every key gets
a random suffix, so every lookup misses and every read goes to the database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

TTL_S = 300


class ReadCache:
    """``await cache.get_or_load(key, loader)``: JSON values, ``TTL_S`` seconds."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.bypass = False  # the nocache fault
        self.write_errors = 0

    def _key(self, key: str) -> str:
        return f"{key}:{uuid.uuid4().hex}" if self.bypass else key

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[Any]]) -> Any:
        key = self._key(key)
        try:
            cached = await self.client.getex(key, ex=TTL_S)
        except RedisError:
            cached = None
        if cached is not None:
            return json.loads(cached)
        value = await loader()
        if value is not None:
            try:
                await self.client.set(key, json.dumps(value, default=str), ex=TTL_S)
            except RedisError:
                self.write_errors += 1
        return value

    async def close(self) -> None:
        await self.client.aclose()

"""The backend app: FastAPI with /health, /metrics, the REST API, /ws echo and the admin endpoint.

``create_app(settings)`` builds one worker's app. Its lifespan opens the pool, the cache (Redis
db 0) and the WebSocket queue (Redis db 1), and runs a poller that keeps the worker in line with
the fault switches (cpu / leak effects, the cache bypass, expired faults, exited fault holders).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis
from fastapi import FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel
from redis.exceptions import RedisError

from perfbook.lab import api, faults
from perfbook.lab.cache import ReadCache
from perfbook.lab.chaos import Chaos
from perfbook.lab.faultstate import FaultStore
from perfbook.lab.metrics import MetricsMiddleware, render_metrics
from perfbook.lab.pool import ConnectionPool
from perfbook.lab.state import BackendSettings, redis_db_url, redis_dbs

POLL_S = 0.2
EXPIRE_EVERY_S = 5.0
WS_QUEUE_KEY = "ws:messages"
WS_QUEUE_MAX = 1000  # the queue is a bounded list: the lab must not fill Redis by itself


class FaultSwitch(BaseModel):
    on: bool
    params: dict = {}


async def _poll_faults(app: FastAPI) -> None:
    settings: BackendSettings = app.state.settings
    last_expire = 0.0
    while True:
        current = app.state.faults.refresh()
        app.state.chaos.sync({name: (e.on, e.params) for name, e in current.items()})
        app.state.cache.bypass = current["nocache"].on
        faults.reap_children()
        if time.monotonic() - last_expire > EXPIRE_EVERY_S:
            last_expire = time.monotonic()
            with contextlib.suppress(Exception):  # a failed auto-off is retried next round
                await asyncio.to_thread(faults.expire, settings)
        await asyncio.sleep(POLL_S)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: BackendSettings = app.state.settings
    app.state.pool = ConnectionPool(settings.app_dsn, size=settings.pool_size)
    app.state.cache = ReadCache(settings.redis_url)
    queue_url = redis_db_url(settings.redis_url, redis_dbs(settings.redis_url)[1])
    app.state.ws_queue = aioredis.Redis.from_url(queue_url, socket_timeout=1.0)
    app.state.faults = FaultStore(Path(settings.state_dir))
    app.state.chaos = Chaos(Path(settings.state_dir))
    poller = asyncio.create_task(_poll_faults(app))
    try:
        yield
    finally:
        poller.cancel()
        app.state.chaos.stop_all()
        await app.state.pool.close()
        await app.state.cache.close()
        await app.state.ws_queue.aclose()


def _check_token(settings: BackendSettings, authorization: str | None) -> None:
    expected = f"Bearer {settings.admin_token}"
    if not authorization or not secrets.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail="admin token required")


def create_app(settings: BackendSettings) -> FastAPI:
    """One worker's app, configured by the supervisor's backend.json."""
    app = FastAPI(title="perfbook lab backend", lifespan=_lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    # The page on the frontend's port calls this API from the browser: allow exactly that origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.frontend_origin] if settings.frontend_origin else [],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    app.add_middleware(MetricsMiddleware)
    app.include_router(api.router)
    app.add_api_route("/metrics", render_metrics, methods=["GET"], include_in_schema=False)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "worker_pid": os.getpid()}

    @app.websocket("/ws")
    async def ws_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive_text()
                await websocket.send_text(message)
                with contextlib.suppress(RedisError):  # the queue is best effort, the echo is not
                    await app.state.ws_queue.lpush(WS_QUEUE_KEY, message[:1024])
                    await app.state.ws_queue.ltrim(WS_QUEUE_KEY, 0, WS_QUEUE_MAX - 1)
        except WebSocketDisconnect:
            return

    @app.get("/admin/faults")
    async def list_faults(authorization: str | None = Header(None)) -> dict:
        _check_token(settings, authorization)
        return {name: vars(entry) for name, entry in app.state.faults.read().items()}

    @app.post("/admin/faults/{name}")
    async def switch_fault(
        name: str, body: FaultSwitch, request: Request, authorization: str | None = Header(None)
    ) -> dict:
        _check_token(settings, authorization)
        try:
            entry = await asyncio.to_thread(faults.switch, settings, name, body.on, body.params)
        except faults.FaultError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        except Exception as err:  # the server refused: report it to the CLI as one line
            raise HTTPException(status_code=500, detail=f"{name}: {type(err).__name__}: {err}") from None
        return {"name": name, **vars(entry)}

    return app

"""The lab's REST API: /api/v1/users and /api/v1/agents — list with paging, get, search, create.

Reads by id and list pages go through the Redis cache; searches do not (they are what an index
is for, and the ``seqscan`` fault shows on them). Every route runs the ``fault_gate`` dependency
after routing, so an injected delay or 5xx is recorded under its route template.
"""

from __future__ import annotations

import asyncio
import random

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field


async def fault_gate(request: Request) -> None:
    """Apply the ``slow`` and ``errors`` faults to this request (the route is known by now)."""
    faults = request.app.state.faults.refresh()
    route_path = getattr(request.scope.get("route"), "path", "")
    slow = faults["slow"]
    if slow.on and route_path == slow.params.get("endpoint"):
        await asyncio.sleep(float(slow.params.get("delay_s", 3.0)))
    errors = faults["errors"]
    if errors.on and random.random() < float(errors.params.get("share", 0.3)):
        raise HTTPException(status_code=500, detail="injected fault: errors")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(fault_gate)])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class AgentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    owner_id: int = Field(ge=1)
    status: str = Field("idle", pattern=r"^(idle|running|paused|error)$")
    config: dict = Field(default_factory=dict)


async def _fetch(request: Request, sql: str, params: tuple | dict = ()) -> list[dict]:
    for attempt in (1, 2):  # a pooled session the server ended is replaced once, as pools do
        try:
            async with request.app.state.pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(sql, params)
                return await cur.fetchall()
        except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable) as err:  # timeouts: stuck
            raise HTTPException(status_code=503, detail=f"database timeout: {err.sqlstate}") from None
        except psycopg.OperationalError:
            if attempt == 2:
                raise HTTPException(status_code=503, detail="database unavailable") from None
            await request.app.state.pool.discard_idle()
    raise AssertionError("unreachable")


async def _cached(request: Request, key: str, sql: str, params: tuple) -> list[dict]:
    return await request.app.state.cache.get_or_load(key, lambda: _fetch(request, sql, params))


USER_COLS = "id, name, email, created_at"
AGENT_COLS = "id, name, owner_id, status, config, created_at"


@router.get("/users")
async def list_users(
    request: Request,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=1_000_000),
    email: str | None = Query(None, max_length=320),
    name: str | None = Query(None, max_length=200),
) -> dict:
    if email is not None:
        rows = await _fetch(request, f"SELECT {USER_COLS} FROM users WHERE email = %s", (email,))
    elif name is not None:
        sql = f"SELECT {USER_COLS} FROM users WHERE lower(name) LIKE lower(%s) || '%%' ORDER BY lower(name) LIMIT %s"
        rows = await _fetch(request, sql, (name.replace("%", ""), limit))
    else:
        sql = f"SELECT {USER_COLS} FROM users ORDER BY id LIMIT %s OFFSET %s"
        rows = await _cached(request, f"users:page:{limit}:{offset}", sql, (limit, offset))
    return {"items": rows, "limit": limit, "offset": offset}


@router.get("/users/{user_id}")
async def get_user(request: Request, user_id: int) -> dict:
    rows = await _cached(
        request, f"user:{user_id}", f"SELECT {USER_COLS} FROM users WHERE id = %s", (user_id,)
    )
    if not rows:
        raise HTTPException(status_code=404, detail="user not found")
    return rows[0]


@router.post("/users", status_code=201)
async def create_user(request: Request, user: UserIn) -> dict:
    sql = f"INSERT INTO users (name, email) VALUES (%s, %s) RETURNING {USER_COLS}"
    try:
        rows = await _fetch(request, sql, (user.name, user.email))
    except psycopg.errors.UniqueViolation:
        raise HTTPException(status_code=409, detail="e-mail already registered") from None
    return rows[0]


@router.get("/agents")
async def list_agents(
    request: Request,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=1_000_000),
    name: str | None = Query(None, max_length=200),
    status: str | None = Query(None, pattern=r"^(idle|running|paused|error)$"),
) -> dict:
    if name is not None:
        sql = f"SELECT {AGENT_COLS} FROM agents WHERE name LIKE %s || '%%' ORDER BY name LIMIT %s"
        rows = await _fetch(request, sql, (name.replace("%", ""), limit))
    elif status is not None:
        sql = f"SELECT {AGENT_COLS} FROM agents WHERE status = %s ORDER BY id LIMIT %s OFFSET %s"
        rows = await _cached(
            request, f"agents:status:{status}:{limit}:{offset}", sql, (status, limit, offset)
        )
    else:
        sql = f"SELECT {AGENT_COLS} FROM agents ORDER BY id LIMIT %s OFFSET %s"
        rows = await _cached(request, f"agents:page:{limit}:{offset}", sql, (limit, offset))
    return {"items": rows, "limit": limit, "offset": offset}


@router.get("/agents/{agent_id}")
async def get_agent(request: Request, agent_id: int) -> dict:
    rows = await _cached(
        request, f"agent:{agent_id}", f"SELECT {AGENT_COLS} FROM agents WHERE id = %s", (agent_id,)
    )
    if not rows:
        raise HTTPException(status_code=404, detail="agent not found")
    return rows[0]


@router.post("/agents", status_code=201)
async def create_agent(request: Request, agent: AgentIn) -> dict:
    sql = (
        f"INSERT INTO agents (name, owner_id, status, config) VALUES (%s, %s, %s, %s) RETURNING {AGENT_COLS}"
    )
    try:
        rows = await _fetch(request, sql, (agent.name, agent.owner_id, agent.status, Jsonb(agent.config)))
    except psycopg.errors.ForeignKeyViolation:
        raise HTTPException(status_code=422, detail="owner_id: no such user") from None
    return rows[0]

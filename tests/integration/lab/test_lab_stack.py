"""The running lab answers like the runbook's stack: API, metrics, WebSocket, frontend, processes, config."""

from __future__ import annotations

import asyncio
import re

import httpx
import psutil
import websockets

from perfbook.config import load_config
from perfbook.lab import labconfig, seed
from perfbook.lab.state import LabState, process_tag


def test_health_and_api_read_search_create(lab: LabState) -> None:
    base = lab.backend_url
    assert httpx.get(f"{base}/health").json()["status"] == "ok"
    page = httpx.get(f"{base}/api/v1/users", params={"limit": 5, "offset": 10}).json()
    assert [u["id"] for u in page["items"]] == [11, 12, 13, 14, 15]
    user = httpx.get(f"{base}/api/v1/users/42").json()
    assert user["email"] == seed.email_of(42) and " " in user["name"]
    found = httpx.get(f"{base}/api/v1/users", params={"email": seed.email_of(42)}).json()["items"]
    assert [u["id"] for u in found] == [42]
    by_name = httpx.get(f"{base}/api/v1/users", params={"name": user["name"][:6], "limit": 3}).json()["items"]
    assert by_name and all(u["name"].lower().startswith(user["name"][:6].lower()) for u in by_name)
    created = httpx.post(f"{base}/api/v1/users", json={"name": "Ada Test", "email": "ada.test@example.test"})
    assert created.status_code == 201
    again = httpx.post(f"{base}/api/v1/users", json={"name": "Ada Test", "email": "ada.test@example.test"})
    assert again.status_code == 409
    agent = httpx.post(f"{base}/api/v1/agents", json={"name": "agent-t", "owner_id": created.json()["id"]})
    assert agent.status_code == 201
    assert httpx.get(f"{base}/api/v1/agents/{agent.json()['id']}").json()["owner_id"] == created.json()["id"]
    assert httpx.get(f"{base}/api/v1/agents", params={"status": "running", "limit": 3}).status_code == 200
    assert httpx.get(f"{base}/api/v1/users/999999999").status_code == 404


def test_metrics_use_route_templates_and_30s_buckets(lab: LabState) -> None:
    for user_id in (1, 2, 3):
        httpx.get(f"{lab.backend_url}/api/v1/users/{user_id}")
    text = httpx.get(f"{lab.backend_url}/metrics").text
    count = re.search(
        r'http_requests_total\{handler="/api/v1/users/\{user_id\}",method="GET",status="200"\} (\S+)', text
    )
    assert count and float(count.group(1)) >= 3
    assert 'le="30.0"' in text and "http_request_duration_seconds_bucket" in text
    assert '/api/v1/users/1"' not in text  # raw paths would explode the label cardinality


def test_both_workers_serve_and_share_metrics(lab: LabState) -> None:
    pids = {httpx.get(f"{lab.backend_url}/health").json()["worker_pid"] for _ in range(20)}
    workers = [p for p in _tagged(lab, "api") if "perfbook.lab.worker" in " ".join(p.cmdline())]
    assert len(workers) == 2
    assert pids <= {p.pid for p in workers}


def test_websocket_echoes(lab: LabState) -> None:
    async def roundtrip() -> str:
        async with websockets.connect(lab.backend_url.replace("http", "ws", 1) + "/ws") as ws:
            await ws.send("hello lab")
            return await ws.recv()

    assert asyncio.run(roundtrip()) == "hello lab"


def test_frontend_serves_page_scripts_styles_images(lab: LabState) -> None:
    page = httpx.get(lab.frontend_url + "/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    kinds = {a.rsplit(".", 1)[1] for a in assets}
    assert {"js", "css", "png", "svg"} <= kinds
    for asset in assets:
        assert httpx.get(lab.frontend_url + asset).status_code == 200, asset
    config_js = httpx.get(lab.frontend_url + "/js/config.js").text
    assert lab.backend_url in config_js  # the page finds the backend on whatever port it got
    preflight = httpx.options(
        f"{lab.backend_url}/api/v1/users",
        headers={"Origin": lab.frontend_url, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers.get("access-control-allow-origin") == lab.frontend_url


def test_every_process_carries_the_lab_tag(lab: LabState) -> None:
    api = _tagged(lab, "api")
    assert len(api) == 3  # the worker manager and its two workers
    assert all(p.name() == process_tag(lab.lab_id, "api") for p in api)
    assert len(_tagged(lab, "web")) == 1


def test_lab_config_points_every_probe_at_the_lab(lab: LabState) -> None:
    cfg = load_config(labconfig.config_path(lab), env={})
    assert cfg.http.base_url == lab.backend_url
    assert any("email=" in e for e in cfg.http.endpoints)
    assert cfg.websocket.url.endswith("/ws") and cfg.websocket.mode == "echo"
    assert cfg.postgres.dsn == lab.app_dsn and cfg.redis.url == lab.redis_url
    assert cfg.process.match == [process_tag(lab.lab_id, "api"), process_tag(lab.lab_id, "web")]
    assert cfg.host.log_dirs == [str(lab.dir / "logs")]


def _tagged(lab: LabState, role: str) -> list[psutil.Process]:
    tag = process_tag(lab.lab_id, role)
    return [p for p in psutil.process_iter(["cmdline"]) if tag in (p.info["cmdline"] or [])]


def test_foreground_traffic_reaches_every_layer(lab: LabState, perfbook) -> None:
    before = httpx.get(f"{lab.backend_url}/metrics").text.count("\n")
    result = perfbook("lab", "traffic", "-d", "2s", "--rate", "20", "--dir", lab.state_dir)
    assert result.exit_code == 0, result.stderr
    sent = int(result.stdout.split()[0])
    assert 30 <= sent <= 45 and "5xx" not in result.stdout and "0 failed" in result.stdout
    assert "WebSocket echoes" in result.stdout
    assert httpx.get(f"{lab.backend_url}/metrics").text.count("\n") >= before

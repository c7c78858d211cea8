"""``perfbook lab up | status | config | down``: what a user sees, and nothing left behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psutil
import pytest

from perfbook import services
from perfbook.lab.state import LabState


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _lab_pids(state: LabState) -> set[int]:
    """Every process of the lab: tagged ones, the postmaster and its children, redis-server."""
    tag = f"pblab-{state.lab_id}-"
    pids = {p.pid for p in psutil.process_iter(["cmdline"]) if any(tag in a for a in p.info["cmdline"] or [])}
    postmaster = int((Path(state.postgres["base_dir"]) / "data" / "postmaster.pid").read_text().split()[0])
    pids |= {postmaster, *(c.pid for c in psutil.Process(postmaster).children(recursive=True))}
    pids.add(services.RedisServer(**state.redis).pid())
    return pids


def test_up_status_config_down_leaves_no_process_and_no_port(perfbook, state_dir: Path) -> None:
    up = perfbook(
        "lab",
        "up",
        "--port",
        "0",
        "--frontend-port",
        "0",
        "--dir",
        str(state_dir),
        env={"PERFBOOK_POSTGRES_DSN": "postgresql://elsewhere/db"},
    )
    if up.exit_code != 0 and "not found" in up.stderr and not services.require_services():
        pytest.skip(up.stderr.strip())
    assert up.exit_code == 0, up.stderr
    assert "ignores PERFBOOK_POSTGRES_DSN" in up.stderr
    state = LabState.load(state_dir)
    status = perfbook("lab", "status", "--json", "--dir", str(state_dir))
    assert status.exit_code == 0 and status.json["backend"].startswith(state.backend_url)
    config = perfbook("lab", "config", "--dir", str(state_dir))
    assert config.stdout.strip() == str(state_dir / "perfbook.toml")
    assert "elsewhere" not in Path(config.stdout.strip()).read_text()
    fault = perfbook("lab", "fault", "lock", "on", "--dir", str(state_dir))
    assert fault.exit_code == 0 and fault.stdout.startswith("fault lock is on: "), fault.stderr
    pids = _lab_pids(state)
    assert any(
        p.info["cmdline"] and f"pblab-{state.lab_id}-hold" in p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
    )
    ports = [
        state.processes["api"].port,
        state.processes["web"].port,
        state.postgres["port"],
        state.redis["port"],
    ]
    assert len(pids) >= 8 and not any(_port_free(p) for p in ports)

    down = perfbook("lab", "down", "--dir", str(state_dir))
    assert down.exit_code == 0
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert all(_port_free(p) for p in ports)
    assert not (state_dir / "state.json").exists()
    assert perfbook("lab", "down", "--dir", str(state_dir)).exit_code == 0  # idempotent


def test_port_in_use_is_one_line_and_starts_nothing(perfbook, state_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = perfbook(
            "lab", "up", "--port", str(busy.getsockname()[1]), "--frontend-port", "0", "--dir", str(state_dir)
        )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot listen on 127.0.0.1:")
    assert "hint: choose another --port" in result.stderr
    assert LabState.load(state_dir) is None


def test_status_and_fault_without_a_lab_say_so(perfbook, state_dir: Path) -> None:
    for args in (("lab", "status"), ("lab", "fault", "slow", "on"), ("lab", "config")):
        result = perfbook(*args, "--dir", str(state_dir))
        assert result.exit_code == 1
        assert result.stderr.splitlines()[0] == f"error: no lab is running from {state_dir.resolve()}"


def test_fault_usage_errors_exit_2(perfbook, state_dir: Path) -> None:
    assert perfbook("lab", "fault", "slow", "maybe", "--dir", str(state_dir)).exit_code == 2
    bad = perfbook("lab", "demo", "--fault", "nosuch", "--dir", str(state_dir))
    assert bad.exit_code == 2 and "unknown fault 'nosuch'" in bad.stderr


def test_status_json_is_one_document(perfbook, state_dir: Path) -> None:
    result = perfbook("lab", "status", "--json", "--dir", str(state_dir))
    assert result.exit_code == 1 and result.stdout == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)

"""TCP retransmits made for real: a network namespace the test creates, iptables dropping a random
share of the segments to one port, traffic over it, and perfbook's network probe run inside the
namespace (its /proc/net is the namespace's). Skips without root, ip or iptables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

INSIDE = textwrap.dedent("""
    import asyncio, json, socket, threading, time
    from perfbook.config import Config
    from perfbook.probes.base import ProbeContext, run_probe
    from perfbook.probes.network import NetworkProbe
    from perfbook.rules import network

    PORT = {port}
    server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", PORT)); server.listen(16)
    stop = time.monotonic() + 4.0

    def sink():
        while time.monotonic() < stop:
            conn, _ = server.accept()
            threading.Thread(target=lambda c=conn: [c.recv(65536) for _ in iter(int, 1) if time.monotonic() < stop],
                             daemon=True).start()

    def send():
        while time.monotonic() < stop:
            with socket.create_connection(("127.0.0.1", PORT), timeout=2) as c:
                try:
                    for _ in range(200):
                        c.sendall(b"x" * 1400)
                except OSError:
                    pass

    threading.Thread(target=sink, daemon=True).start()
    for _ in range(4):
        threading.Thread(target=send, daemon=True).start()
    time.sleep(0.3)
    cfg = Config.model_validate({{"http": {{"base_url": ""}}, "frontend": {{"url": ""}}, "postgres": {{"dsn": ""}},
                                 "redis": {{"url": ""}}}})
    ctx = ProbeContext(config=cfg, window_s=2.0, deadline=time.monotonic() + 6)
    ev = asyncio.run(run_probe(NetworkProbe(), ctx, 5.0))
    found = network.evaluate({{"network": ev}}, cfg)
    print(json.dumps({{"status": ev.status, "tcp": ev.data.tcp.__dict__,
                      "findings": [[f.code, f.level.value, f.value] for f in found]}}))
""")


def run(*argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_random_drops_in_a_namespace_are_tcp_retransmits():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/system-deps.sh installs it)")
    ns = f"perfbook-{uuid.uuid4().hex[:8]}"
    made = run("ip", "netns", "add", ns)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        run("ip", "-n", ns, "link", "set", "lo", "up")
        drop = run(
            "ip",
            "netns",
            "exec",
            ns,
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "9555",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            "0.1",
            "-j",
            "DROP",
        )
        if drop.returncode != 0:
            pytest.skip(f"iptables cannot add a random-drop rule here: {drop.stderr.strip()}")
        inside = run("ip", "netns", "exec", ns, sys.executable, "-c", INSIDE.format(port=9555), timeout=20)
    finally:
        run("ip", "netns", "del", ns)
    assert inside.returncode == 0, inside.stderr[-2000:]
    out = json.loads(inside.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok"
    tcp = out["tcp"]
    assert tcp["out_segs"] >= 500 and tcp["retrans_segs"] > 0, tcp
    codes = {code: (level, value) for code, level, value in out["findings"]}
    assert "net.tcp_retransmits" in codes, (tcp, out["findings"])
    level, share = codes["net.tcp_retransmits"]
    assert level == "warning" and share >= 0.02

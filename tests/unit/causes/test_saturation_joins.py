"""Joins: saturation ↔ what it slows — listen overflows on the backend's port ↔ its slow endpoints,
I/O pressure ↔ slow statements that read from disk — and the near misses that link nothing."""

from __future__ import annotations

from dataclasses import replace

from causes_stack import handler, healthy, keys, metrics_ev, statement, with_pg

from perfbook.evidence.host import HostEvidence, HostSaturation, Pressure
from perfbook.evidence.network import Listener, NetworkEvidence, SocketStates, TcpCounters
from perfbook.model import Evidence


def overflowing(port: int) -> Evidence:
    tcp = TcpCounters(
        out_segs=4000,
        retrans_segs=0,
        retrans_share=0.0,
        listen_overflows=57,
        listen_drops=57,
        attempt_fails=0,
        estab_resets=0,
        in_errs=0,
    )
    sockets = SocketStates(
        established=40, time_wait=10, close_wait=0, syn_recv=0, listeners=[Listener(port, 129)]
    )
    return Evidence("network", "ok", 2.0, data=NetworkEvidence(window_s=2.0, tcp=tcp, sockets=sockets))


def test_listen_overflows_on_the_backends_port_explain_its_slow_endpoints(rank):
    ev = healthy()
    ev["network"] = overflowing(8001)  # the default [http] base_url's port
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 2.8), handler("/api/v1/agents"))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "network" and {
        "net.listen_overflows:port 8001",
        "http.slow_response:/api/v1/users",
    } <= keys(top)
    assert "the backend's accept queue (port 8001) overflows" in top.summary
    assert top.confidence >= 0.6


def test_listen_overflows_on_another_port_explain_nothing(split):
    ev = healthy()
    ev["network"] = overflowing(5672)
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 2.8), handler("/api/v1/agents"))
    _, causes, also = split(ev)
    assert not any("net.listen_overflows:port 5672" in c.findings for c in causes)
    (seen,) = [c for c in also if "net.listen_overflows:port 5672" in c.findings]
    assert (
        "not the backend's port" in seen.summary and "http.slow_response:/api/v1/users" not in seen.findings
    )


def test_io_pressure_joins_slow_statements_that_read_from_disk(rank):
    reads = replace(
        statement(
            "SELECT a.* FROM agents a WHERE a.status = $1",
            mean_ms=400.0,
            calls=20,
            tables=["public.agents"],
            filter_columns=["status"],
            queryid=21,
        ),
        shared_blks_read=9000,
    )
    ev = with_pg(healthy(), statements=[reads])
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 2.2))
    host = ev["host"].data
    sat = HostSaturation(window_s=2.0, cpu=None, memory=None, io_psi=Pressure(some_pct=70.0, full_pct=40.0))
    ev["host"] = replace(ev["host"], data=replace(host, saturation=sat))
    assert isinstance(ev["host"].data, HostEvidence)
    _, causes = rank(ev)
    io = next(c for c in causes if any(k.startswith("host.disk_io_saturated:") for k in c.findings))
    assert "pg.slow_queries:codexos_db" in io.findings and "http.slow_response:/api/v1/agents" in io.findings
    assert any("read blocks from disk" in r for r in io.reasons)


def throttled_container(cid: str = "abc123abc123") -> Evidence:
    from perfbook.evidence.containers import ContainersEvidence, ContainerStats

    c = ContainerStats(
        "api",
        cid,
        None,
        "running",
        0,
        None,
        None,
        False,
        None,
        100.0,
        None,
        cpu_limit_cores=0.5,
        cpu_cores_pct=50.0,
        online_cpus=2,
        cpu_periods=20,
        cpu_throttled_periods=18,
        cpu_throttled_s=1.5,
        cpu_throttled_share=0.9,
        cpu_throttling_source="engine",
    )
    data = ContainersEvidence(
        "unix:///run/docker.sock", "docker", "27", "1.41", 2.0, 600.0, "all running", [c]
    )
    return Evidence("containers", "ok", 2.0, data=data)


def test_a_throttled_container_the_backend_runs_in_explains_its_slow_endpoint(rank):
    from causes_stack import backend, process_ev

    ev = healthy()
    ev["containers"] = throttled_container()
    ev["process"] = process_ev(replace(backend(), container_id="abc123abc123"))
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 2.8), handler("/api/v1/agents"))
    _, causes = rank(ev)
    cause = next(c for c in causes if "container.cpu_throttled:api" in c.findings)
    assert "http.slow_response:/api/v1/users" in cause.findings and cause.layer == "containers"
    assert "raise api's CPU limit to 1 cores" in cause.summary


def test_a_throttled_container_the_backend_does_not_run_in_explains_nothing(split):
    ev = healthy()
    ev["containers"] = throttled_container()
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 2.8), handler("/api/v1/agents"))
    _, causes, also = split(ev)
    assert not any("container.cpu_throttled:api" in c.findings for c in causes)
    assert any("container.cpu_throttled:api" in c.findings for c in also)


def test_slow_connects_to_postgres_join_the_endpoints_its_statements_serve(rank):
    from perfbook.evidence.network import DependencyLatency

    slow = DependencyLatency("postgres", "127.0.0.1:5432", 5, 0, 0, 180.0, 450.0, 460.0)
    report = statement(
        "SELECT a.* FROM agents a WHERE a.status = $1",
        mean_ms=400.0,
        calls=20,
        tables=["public.agents"],
        filter_columns=["status"],
        queryid=21,
    )
    ev = with_pg(healthy(), statements=[report])
    ev["network"] = Evidence(
        "network", "ok", 2.0, data=NetworkEvidence(window_s=2.0, tcp=None, latency=[slow])
    )
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 2.2))
    _, causes = rank(ev)
    net = next(c for c in causes if "net.dependency_latency:postgres" in c.findings)
    assert "http.slow_response:/api/v1/agents" in net.findings and net.layer == "network"

"""container.* and engine.prune performed for real on a private Podman (Docker Engine API)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fixkit import Runner, make_cfg

from perfbook import services
from podman_engine import EngineUnavailable, PodmanEngine, start_podman_engine

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

MIB = 1024**2


@pytest.fixture(scope="module")
def podman() -> Iterator[PodmanEngine]:
    """One private Podman API service for this module; every container is removed at the end."""
    try:
        engine = start_podman_engine(ready_timeout_s=45)  # a loaded machine starts it slowly
    except EngineUnavailable as err:
        if services.require_services():
            pytest.fail(f"required container engine could not start: {err}")
        pytest.skip(f"container engine not available here: {err}")
    yield engine
    engine.stop()


@pytest.fixture
def client(podman: PodmanEngine):
    c = podman.client()
    yield c
    c.close()


@pytest.fixture
def run(podman: PodmanEngine, tmp_path, store) -> Runner:
    return Runner(make_cfg(tmp_path, containers={"engine": podman.url}), store)


def _start(podman: PodmanEngine, client, name: str, **kw):
    return client.containers.run(
        image=podman.image, command=["sleep", "3600"], name=name, detach=True, network_mode="none", **kw
    )


def test_restart_one_container_and_check_it(run: Runner, podman: PodmanEngine, client) -> None:
    c = _start(podman, client, "pb-fix-web")
    other = _start(podman, client, "pb-fix-other")
    c.reload()
    other.reload()
    started, other_started = c.attrs["State"]["StartedAt"], other.attrs["State"]["StartedAt"]
    plan = run.plan("container.restart", container="pb-fix-web", timeout_s=1)
    assert (
        plan.steps == [f"POST /containers/{c.short_id}/restart?t=1"]
        and plan.affects[0]["status"] == "running"
    )
    c.reload()
    assert c.attrs["State"]["StartedAt"] == started, "a plan must not change anything"
    time.sleep(1.0)  # StartedAt has a resolution the restart must step over
    result = run.apply("container.restart", container="pb-fix-web", timeout_s=1)
    assert result.outcome.status == "done", result.outcome
    c.reload()
    other.reload()
    assert c.status == "running" and c.attrs["State"]["StartedAt"] != started
    assert other.attrs["State"]["StartedAt"] == other_started and other.status == "running"
    assert result.outcome.figures["status"]["after"] == "running"


def test_restart_that_never_gets_healthy_fails_cleanly(run: Runner, podman: PodmanEngine, client) -> None:
    _start(
        podman,
        client,
        "pb-fix-sick",
        healthcheck={"test": ["CMD", "false"], "interval": 500_000_000, "retries": 1},
    )
    result = run.apply("container.restart", container="pb-fix-sick", timeout_s=0, health_timeout_s=2)
    assert result.outcome.status == "failed"
    assert result.outcome.error in (
        "pb-fix-sick is unhealthy 2 s after the restart",
        "pb-fix-sick is starting 2 s after the restart",
    ), result.outcome
    assert run.audit("container.restart")[0]["outcome"] == "failed"


def test_update_limits_shows_old_and_new(run: Runner, podman: PodmanEngine, client) -> None:
    c = _start(podman, client, "pb-fix-limits", mem_limit=32 * MIB, memswap_limit=64 * MIB)
    plan = run.plan("container.update_limits", container="pb-fix-limits", memory="48m", cpus=0.5)
    row = plan.affects[0]
    assert (row["old_memory"], row["new_memory"], row["old_cpus"], row["new_cpus"]) == (
        "32.0 MiB",
        "48.0 MiB",
        "unlimited",
        0.5,
    )
    result = run.apply("container.update_limits", container="pb-fix-limits", memory="48m", cpus=0.5)
    assert result.outcome.status == "done", result.outcome
    assert result.outcome.figures["memory_bytes"] == {"before": 32 * MIB, "after": 48 * MIB}, result.outcome
    # checked from the outside: the container's own cgroup (v1 or v2 layout)
    memory = _cgroup(c, "memory.max", "memory/memory.limit_in_bytes")
    quota = _cgroup(c, "cpu.max", "cpu/cpu.cfs_quota_us")
    assert memory == str(48 * MIB) and quota.split()[0] == "50000"


def _cgroup(c, v2: str, v1: str) -> str:
    for _ in range(5):  # Podman's exec now and then returns before the output arrives
        code, out = c.exec_run(
            ["sh", "-c", f"cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}"]
        )
        assert code == 0, out
        if out.strip():
            return out.decode().strip()
    raise AssertionError(f"no output reading {v1}")


def test_prune_frees_stopped_and_dangling_but_never_volumes(
    run: Runner, podman: PodmanEngine, client
) -> None:
    client.volumes.create("pb-fix-data")
    db = client.containers.run(
        image=podman.image,
        command=["sh", "-c", "echo rows > /data/db; exit 0"],
        name="pb-fix-db",
        volumes={"pb-fix-data": {"bind": "/data", "mode": "rw"}},
        network_mode="none",
        detach=True,
    )
    db.wait(timeout=30)
    source = _start(podman, client, "pb-fix-src")
    source.exec_run(["sh", "-c", "echo x > /tmp/layer"])
    dangling = source.commit()  # no repository: a dangling image
    running = _start(podman, client, "pb-fix-running")
    plan = run.plan("engine.prune")
    assert {a.get("container") for a in plan.affects} >= {"pb-fix-db"}
    assert "pb-fix-running" not in {a.get("container") for a in plan.affects}
    assert any(a.get("image") == dangling.short_id for a in plan.affects)
    assert any("never pruned" in n for n in plan.notes) and "frees about" in plan.summary
    result = run.apply("engine.prune")
    assert result.outcome.status == "done", result.outcome
    names = {c.name for c in client.containers.list(all=True)}
    assert "pb-fix-db" not in names and running.name in names
    assert "pb-fix-data" in {v.name for v in client.volumes.list()}
    assert dangling.id not in {i.id for i in client.images.list(all=True)}
    check = client.containers.run(
        image=podman.image,
        command=["cat", "/data/db"],
        remove=True,
        network_mode="none",
        volumes={"pb-fix-data": {"bind": "/data", "mode": "ro"}},
    )
    assert check.strip() == b"rows"


def test_missing_container_is_a_clean_failure(run: Runner) -> None:
    from perfbook.errors import UsageError

    with pytest.raises(UsageError, match="no container 'nope'"):
        run.plan("container.restart", container="nope")
    assert run.audit("container.restart")[0]["outcome"] == "failed"

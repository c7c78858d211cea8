"""The Dask cluster of the --cluster tests: one scheduler and two workers for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` + two ``dask worker --nworkers 1 --nthreads 1`` on 127.0.0.1 (torn down after)."""
    pytest.importorskip(
        "distributed", reason="the cluster extra is not installed: pip install 'perfbook[cluster]'"
    )
    from dask_cluster import DaskCluster

    tmp = tmp_path_factory.mktemp("dask")
    samples = tmp / "samples"
    samples.mkdir()
    tap = {
        "PERFBOOK_TEST_SAMPLES": str(samples),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE / "tap"), os.environ.get("PYTHONPATH")])),
    }
    with DaskCluster(tmp, workers=2, env=tap) as dc:
        dc.samples = samples
        yield dc


@pytest.fixture
def cluster(dask_cluster):
    """The session cluster with exactly its two workers (a test that added or killed one is undone)."""
    dask_cluster.wait_for(2)
    for path in dask_cluster.samples.iterdir():
        path.unlink()
    return dask_cluster

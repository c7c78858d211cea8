"""``dask worker --preload`` for the merge test: every latency the engine records also goes to a file.

Not a mock: the engine runs unchanged and its histograms get exactly what they got before; this
only keeps a copy of the raw samples (seconds, one per line, a file per worker process), so the
test can build ONE histogram from all workers' samples and compare it with the merged report.
Active only when PERFBOOK_TEST_SAMPLES names a directory.
"""

from __future__ import annotations

import os


def dask_setup(worker) -> None:
    out = os.environ.get("PERFBOOK_TEST_SAMPLES")
    if not out:
        return
    from perfbook.load import hist

    original = hist.record_batch

    def record_batch(histogram, latencies_s) -> None:
        if latencies_s:
            with open(os.path.join(out, f"{os.getpid()}-{id(histogram)}.txt"), "a") as fh:
                fh.write("".join(f"{v!r}\n" for v in latencies_s))
        original(histogram, latencies_s)

    hist.record_batch = record_batch

"""On the PYTHONPATH of the test cluster's workers (and so of their engine processes): every latency
the engine records also goes to a file, for the merge test.

Not a mock: the engine runs unchanged and its histograms get exactly what they got before; this
only keeps a copy of the raw samples (seconds, one per line, a file per engine process and
histogram), so the test can build ONE histogram from all workers' samples and compare it with the
merged report. Active only when PERFBOOK_TEST_SAMPLES names a directory. Only the run's whole
histograms (recorded by the engine's ``flush``) are copied, not the per-second series' ones.
"""

import os
import sys

if os.environ.get("PERFBOOK_TEST_SAMPLES"):
    from perfbook.load import hist

    _out = os.environ["PERFBOOK_TEST_SAMPLES"]
    _record_batch = hist.record_batch

    def _tapped(histogram, latencies_s) -> None:
        if latencies_s and sys._getframe(1).f_code.co_name == "flush":
            with open(os.path.join(_out, f"{os.getpid()}-{id(histogram)}.txt"), "a") as fh:
                fh.write("".join(f"{v!r}\n" for v in latencies_s))
        _record_batch(histogram, latencies_s)

    hist.record_batch = _tapped

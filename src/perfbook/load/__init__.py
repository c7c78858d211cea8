"""Load, capacity and stress testing: the engine, its workers and cluster shares, their results and reports."""

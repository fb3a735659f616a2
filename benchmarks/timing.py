"""The one timing helper of the benchmark scripts (no fastgrad import: callers set threads first)."""
import time

import numpy as np


def median_seconds(run, rounds, warmup=3):
    """Median wall time of ``run()`` over ``rounds`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))

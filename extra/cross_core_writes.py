"""Does writing memory that the other thread wrote last cost more while the two cores share no
cache? Two threads, each second: per pass, each thread writes (or reads) one 2 MiB half of a
buffer; in "own" mode always the same half, in "swap" mode the halves trade owners every pass.
Printed next to the core-to-core latency of split_step_monitor.py.

    python extra/cross_core_writes.py SECONDS
"""
import sys
import threading
import time

import numba
import numpy as np

sys.path.insert(0, "extra")
from split_step_monitor import bounce, on_two_threads  # noqa: E402

HALF = 1 << 19  # float32 elements: 2 MiB


@numba.njit(nogil=True, cache=True)
def write(out, value):
    for i in range(out.size):
        out[i] = value


@numba.njit(nogil=True, cache=True)
def read(x):
    total = 0.0
    for i in range(x.size):
        total += x[i]
    return total


def passes(kind, swap, count):
    halves = [np.zeros(HALF, np.float32), np.zeros(HALF, np.float32)]
    barrier = threading.Barrier(2)
    spent = [0.0, 0.0]

    def worker(me):
        for i in range(count):
            half = halves[(me + i) % 2 if swap else me]
            barrier.wait()
            t = time.perf_counter()
            write(half, float(i)) if kind == "write" else read(half)
            spent[me] += time.perf_counter() - t
            barrier.wait()

    on_two_threads(worker, (0,), (1,))
    return 1e6 * max(spent) / count


def main(seconds):
    flag = np.zeros(1, np.int64)
    passes("write", False, 2)
    passes("read", False, 2)
    on_two_threads(bounce, (flag, 0, 10), (flag, 1, 10))
    end = time.time() + seconds
    while time.time() < end:
        figures = {f"{kind} {'swap' if swap else 'own'}": passes(kind, swap, 200)
                   for kind in ("write", "read") for swap in (False, True)}
        flag[0] = 0
        hop = on_two_threads(bounce, (flag, 0, 100_000), (flag, 1, 100_000)) / 200_000
        print("  ".join(f"{k} {v:6.0f} us" for k, v in figures.items()),
              f" core to core {1e9 * hop:.0f} ns", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

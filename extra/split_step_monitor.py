"""Watch a CNN training step second by second, with what it needs to tell the host's two
moods apart: per second, the steps per second, the time in each kind of compiled chunk, and
the time for a flag to pass from this thread to a second one and back (core to core), next to
a one- and a two-thread streaming loop that share no data.

    python extra/split_step_monitor.py SECONDS [THREADS]

Found with it (docs/performance.md, "Cores that share no cache"): steps at half speed exactly
while a core-to-core pass takes ~170 ns instead of ~45, the streaming loops unchanged.
"""
import collections
import sys
import threading
import time

import numba
import numpy as np

import fastgrad
from fastgrad.kernels import threads
from fastgrad.kernels.native import atomic_load, atomic_store
from fastgrad.ops import conv, gemm, pooling
from fastgrad.optim import sgd

sys.path.insert(0, "benchmarks")
import cases  # noqa: E402

NAMES = {1: "matmul", 2: "conv fwd", 3: "conv bwd", 4: "pool fwd", 6: "pool bwd", 7: "sgd",
         8: "linear fwd"}


@numba.njit(nogil=True, cache=True)
def stream(a, b, reps):
    for _ in range(reps):
        for i in range(a.size):
            b[i] = a[i] * 0.999 + b[i]


@numba.njit(nogil=True, cache=True)
def bounce(flag, me, rounds):
    for _ in range(rounds):
        while atomic_load(flag, 0) != me:
            pass
        atomic_store(flag, 0, 1 - me)


def on_two_threads(fn, args_here, args_there):
    start = time.perf_counter()
    other = threading.Thread(target=fn, args=args_there)
    other.start()
    fn(*args_here)
    other.join()
    return time.perf_counter() - start


def main(seconds, num_threads=2):
    fastgrad.set_num_threads(num_threads)
    spent = collections.Counter()
    original = threads.run_compiled_chunks

    def timed(rows):
        start = time.perf_counter()
        original(rows)
        spent[int(rows[0, 1])] += time.perf_counter() - start

    for module in (conv, pooling, gemm, sgd):
        module.run_compiled_chunks = timed
    step = cases.train_step_case("cnn", "im2col")
    for _ in range(50):
        step()
    buffers = [np.ones(1 << 18, np.float32) for _ in range(4)]  # 1 MB each
    flag = np.zeros(1, np.int64)
    stream(buffers[0], buffers[1], 1)
    on_two_threads(bounce, (flag, 0, 10), (flag, 1, 10))
    end = time.time() + seconds
    while time.time() < end:
        spent.clear()
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < 1.0:
            step()
            n += 1
        elapsed = time.perf_counter() - start
        chunks = {NAMES[k]: round(1e3 * v / n, 3) for k, v in sorted(spent.items())}
        t = time.perf_counter()
        stream(buffers[0], buffers[1], 50)
        one = time.perf_counter() - t
        two = on_two_threads(stream, (buffers[0], buffers[1], 50), (buffers[2], buffers[3], 50))
        flag[0] = 0
        hop = on_two_threads(bounce, (flag, 0, 100_000), (flag, 1, 100_000)) / 200_000
        print(f"{n / elapsed:4.0f} steps/s  chunks ms {chunks}  streaming 1 / 2 threads "
              f"{1e3 * one:.1f} / {1e3 * two:.1f} ms  core to core {1e9 * hop:.0f} ns", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]), *(int(a) for a in sys.argv[2:]))

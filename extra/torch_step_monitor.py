"""PyTorch's CNN / MLP training step, second by second, next to the core-to-core latency of
split_step_monitor.py: does PyTorch slow down in the host's far-cores periods too?

    python extra/torch_step_monitor.py SECONDS [cnn|mlp] [THREADS]
"""
import sys
import time

import numpy as np

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "extra")
import cases  # noqa: E402
from split_step_monitor import bounce, on_two_threads  # noqa: E402


def main(seconds, model="cnn", num_threads=None):
    import torch

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    step = cases.train_step_case(model, "torch")
    for _ in range(50):
        step()
    flag = np.zeros(1, np.int64)
    on_two_threads(bounce, (flag, 0, 10), (flag, 1, 10))
    end = time.time() + seconds
    while time.time() < end:
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < 1.0:
            step()
            n += 1
        rate = n / (time.perf_counter() - start)
        flag[0] = 0
        hop = on_two_threads(bounce, (flag, 0, 100_000), (flag, 1, 100_000)) / 200_000
        print(f"{rate:5.0f} steps/s  core to core {1e9 * hop:.0f} ns", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]), *(sys.argv[2:3] or ["cnn"]), *(int(a) for a in sys.argv[3:4]))

"""Depthwise 3x3 conv, (64, 32, 28, 28), padding 1, forward + backward: fastgrad against PyTorch,
each in its own fresh process, alternating (issue 12: "should not be slower than PyTorch's").
`python extra/depthwise_vs_torch.py [--pairs 5]`; prints per-pair medians and the ratio."""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
lib, threads = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x_np = rng.standard_normal((64, 32, 28, 28), dtype=np.float32)
w_np = rng.standard_normal((32, 1, 3, 3), dtype=np.float32)
if lib == "torch":
    import torch
    if threads:
        torch.set_num_threads(threads)
    x = torch.from_numpy(x_np).requires_grad_(); w = torch.from_numpy(w_np).requires_grad_()
    F = torch.nn.functional
else:
    import fastgrad
    x = fastgrad.from_numpy(x_np).requires_grad_(); w = fastgrad.from_numpy(w_np).requires_grad_()
    F = fastgrad.nn.functional
g_np = rng.standard_normal((64, 32, 28, 28), dtype=np.float32)
g = torch.from_numpy(g_np) if lib == "torch" else fastgrad.from_numpy(g_np)
def step():
    x.grad = None; w.grad = None
    F.conv2d(x, w, None, 1, 1, 1, 32).backward(g)
for _ in range(10): step()
ts = []
for _ in range(100):
    t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
print(json.dumps(sorted(ts)[len(ts) // 2]))
"""


def run(lib, threads, root):
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", CHILD, lib, str(threads)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", type=int, default=5)
    args = p.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print("load before", os.getloadavg())
    ratios = []
    for i in range(args.pairs):
        order = ["fastgrad", "torch"] if i % 2 == 0 else ["torch", "fastgrad"]
        res = {}
        for lib in order:
            res[lib] = run(lib, 0, root) if lib == "fastgrad" else min(run(lib, 0, root),
                                                                        run(lib, 1, root))
        ratios.append(res["torch"] / res["fastgrad"])
        print(f"pair {i}: fastgrad {res['fastgrad']*1e3:.2f} ms  torch (best of default, 1 "
              f"thread) {res['torch']*1e3:.2f} ms  torch/fastgrad {ratios[-1]:.2f}x", flush=True)
    print("load after", os.getloadavg())
    ratios.sort()
    print(f"torch / fastgrad median {ratios[len(ratios) // 2]:.2f}x, spread {ratios[0]:.2f}-{ratios[-1]:.2f}x")


if __name__ == "__main__":
    main()

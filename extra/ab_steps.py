"""A/B of two source trees of fastgrad (or of PyTorch) on the benchmark cases, in alternating
fresh processes: `python extra/ab_steps.py TREE_A TREE_B [--pairs 5] [--rounds 200] [--cases cnn,mlp]`.

A tree is a path to a fastgrad checkout, or "torch" / "torch2" (PyTorch at its default / at 2
threads, from the current tree's benchmark cases). Prints each pair's medians, the ratio B/A
per pair, and the load average before and after.
"""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, os
tree, impl, rounds, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
sys.path.insert(0, os.path.join(tree, "benchmarks")); sys.path.insert(0, tree)
import cases
from timing import median_seconds
if impl == "torch2":
    import torch; torch.set_num_threads(2); impl = "torch"
res = {}
for case in wanted:
    if case in ("cnn", "mlp"):
        res[case] = median_seconds(cases.train_step_case(case, impl), rounds)
    else:
        res[case] = median_seconds(cases.layer_case(case, impl, True), rounds)
print(json.dumps(res))
"""


def run(tree, rounds, wanted):
    impl = "im2col"
    if tree in ("torch", "torch2"):
        impl, tree = tree, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",)}
    env["PYTHONPATH"] = tree
    out = subprocess.run([sys.executable, "-c", CHILD, tree, impl, str(rounds), wanted], env=env,
                         capture_output=True, text=True, cwd=tree)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--cases", default="cnn,mlp,conv1,pool1,conv2,pool2",
                   help="comma-separated: cnn, mlp, conv1, pool1, conv2, pool2")
    args = p.parse_args()
    print("load before", os.getloadavg())
    ratios = {}
    for i in range(args.pairs):
        order = [args.a, args.b] if i % 2 == 0 else [args.b, args.a]
        res = {t: run(t, args.rounds, args.cases) for t in order}
        a, b = res[args.a], res[args.b]
        line = "  ".join(f"{k} {a[k]*1e3:.2f}/{b[k]*1e3:.2f}" for k in a)
        print(f"pair {i}: A/B ms  {line}", flush=True)
        for k in a:
            ratios.setdefault(k, []).append(a[k] / b[k])
    print("load after", os.getloadavg())
    for k, r in ratios.items():
        r = sorted(r)
        print(f"{k}: A time / B time median {r[len(r)//2]:.2f}x  spread {r[0]:.2f}-{r[-1]:.2f}")


if __name__ == "__main__":
    main()

"""Measure data-parallel training on this machine: 2 MPI ranks x 1 thread against 1 process x
2 threads (images/s over one epoch of the reference CNN, global batch 64), the time a step
spends averaging gradients, overlapped against after-backward bucket reduction, and a bare
MPI Allreduce of the gradient's size. Prints a markdown table and writes JSON; the numbers and
the cost model built on them are in docs/distributed.md.

    python scripts/benchmark_distributed.py [--limit-train N] [--json PATH]

Each configuration runs in its own fresh process(es), one after the other; the machine's load
average is recorded with each, since other work on the machine moves these numbers.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
MPIEXEC = Path(sys.executable).parent / "mpiexec"


# ----------------------------------------------------------------------------- workers
def train_epoch(args):
    """One timed epoch (after one untimed compile step); returns a dict of figures (rank 0)."""
    import fastgrad
    import fastgrad.distributed as dist
    from fastgrad import nn, optim
    from fastgrad.data import DataLoader, DistributedSampler, load_mnist, mnist_transform
    from fastgrad.models import MNISTClassificationModel
    from fastgrad.nn.parallel import DistributedDataParallel
    from fastgrad.nn.parallel import reducer as reducer_module

    fastgrad.set_num_threads(args.threads)
    # At one fastgrad thread, fastgrad's GEMMs run outside its BLAS limit, at BLAS's own count
    # (all cores): with 2 ranks on 2 cores that is 4 busy threads, 3-7x slower. This process
    # is the benchmark's own, so it sets BLAS to the same count (see docs/distributed.md).
    from threadpoolctl import threadpool_limits
    threadpool_limits(args.threads, user_api="blas")
    images, labels = load_mnist(train=True)
    x = mnist_transform(images[:args.limit_train], add_channel=True)
    y = labels[:args.limit_train]
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    ranks, rank = 1, 0
    reduce_seconds = [0.0]
    if args.role == "ddp":
        dist.init_process_group("mpi")
        ranks, rank = dist.get_world_size(), dist.get_rank()
        model = DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb)
        model.reducer.overlap = args.overlap
        finish = reducer_module.Round._finish

        def timed_finish(self):  # the wait for the reductions at the end of backward
            start = time.perf_counter()
            finish(self)
            reduce_seconds[0] += time.perf_counter() - start
        reducer_module.Round._finish = timed_finish
        sampler = DistributedSampler(len(x), shuffle=True, seed=0)
        loader = DataLoader((x, y), batch_size=args.global_batch // ranks, sampler=sampler)
    else:
        loader = DataLoader((x, y), batch_size=args.global_batch, shuffle=True, seed=0)
    criterion = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = next(iter(loader))
    criterion(model(batch[0]), batch[1]).backward()  # compile / load the numba cache
    model.zero_grad()
    reduce_seconds[0] = 0.0
    if args.role == "ddp":
        dist.barrier()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    steps = 0
    for xb, yb in loader:
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
        steps += 1
    seconds = time.perf_counter() - start
    result = {"role": args.role, "ranks": ranks, "threads_per_rank": args.threads,
              "images": steps * args.global_batch, "steps": steps, "seconds": seconds,
              "images_per_s": steps * args.global_batch / seconds,
              "load_average_before": load_before, "load_average_after": os.getloadavg()[0]}
    if args.role == "ddp":
        gradient_bytes = sum(p.arr.nbytes for p in model.parameters())
        result.update({
            "bucket_cap_mb": args.bucket_cap_mb, "buckets": len(model.reducer.buckets),
            "overlap": args.overlap, "gradient_bytes": gradient_bytes,
            # ring allreduce: each rank sends (and receives) 2 (p-1)/p of the buffer
            "ring_bytes_sent_per_rank_per_step": 2 * (ranks - 1) / ranks * gradient_bytes,
            "reduce_ms_per_step": 1e3 * reduce_seconds[0] / steps,
            "step_ms": 1e3 * seconds / steps})
        slowest = fastgrad.tensor([seconds], dtype=fastgrad.float64)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        result["seconds_slowest_rank"] = slowest.item()
    else:
        result["step_ms"] = 1e3 * seconds / steps
    return result if rank == 0 else None


def mlp_step(args):
    """ms per image of a training step of a 10M-parameter MLP (784-4096-1664-10) at one
    thread, per-rank batch ``args.global_batch // 2``: the compute side of the cost model."""
    import fastgrad
    from fastgrad import nn, optim
    from threadpoolctl import threadpool_limits

    fastgrad.set_num_threads(1)
    threadpool_limits(1, user_api="blas")
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 4096), nn.ReLU(), nn.Linear(4096, 1664),
                          nn.ReLU(), nn.Linear(1664, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = args.global_batch // 2
    x, y = fastgrad.randn(batch, 1, 28, 28), fastgrad.randint(0, 10, (batch,))
    times = []
    for i in range(13):
        start = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return {"role": "mlp10m", "parameters": sum(p.numel() for p in model.parameters()),
            "batch": batch, "ms_per_image": 1e3 * float(np.median(times)) / batch}


def cost_model(ms_per_image, gradient_bytes, per_rank_batch=32,
               ranks=(8, 64, 512), networks=(("10 Gbit/s", 1.25e9, 20e-6),
                                              ("100 Gbit/s", 12.5e9, 2e-6))):
    """Predicted images/s of ring-allreduce data parallelism, one rank per core.

    step = per_rank_batch x ms_per_image (compute, measured here at one thread) + allreduce,
    allreduce = 2 (p-1)/p x gradient_bytes / bandwidth + 2 (p-1) x latency (a ring's 2 (p-1)
    messages per rank), not overlapped with compute. Returns rows of
    (network, p, compute ms, allreduce ms, images/s, efficiency vs p x one rank alone).
    """
    compute = per_rank_batch * ms_per_image / 1e3
    rows = []
    for network, bandwidth, latency in networks:
        for p in ranks:
            allreduce = 2 * (p - 1) / p * gradient_bytes / bandwidth + 2 * (p - 1) * latency
            step = compute + allreduce
            rows.append((network, p, 1e3 * compute, 1e3 * allreduce, p * per_rank_batch / step,
                         compute / step))
    return rows


def bare_allreduce(args):
    """Median time of an in-place MPI Allreduce of ``args.bytes`` of float32 (rank 0)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    buf = np.ones(args.bytes // 4, dtype=np.float32)
    times = []
    for i in range(args.repeats + 10):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        if i >= 10:
            times.append(time.perf_counter() - start)
    if comm.rank:
        return None
    median = float(np.median(times))
    return {"role": "allreduce", "ranks": comm.size, "bytes": args.bytes,
            "median_ms": 1e3 * median, "algorithm_bandwidth_GB_s": args.bytes / median / 1e9}


# ------------------------------------------------------------------------------ driver
def _median_run(runs):
    """The run with the median images/s (of an odd count; the upper middle of an even one)."""
    return sorted(runs, key=lambda r: r["images_per_s"])[len(runs) // 2]


def launch(worker_args, ranks):
    command = [sys.executable, str(HERE), "--worker", *worker_args]
    if ranks > 1:
        command = [str(MPIEXEC), "-launcher", "fork", "-n", str(ranks), *command]
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--role", choices=("single", "ddp", "allreduce", "mlp10m"),
                        default="single")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--bytes", type=int, default=111_934 * 4)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--limit-train", type=int, default=60_000,
                        help="images per epoch (MNIST has 60,000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each configuration")
    parser.add_argument("--json", metavar="PATH", help="write all results as JSON")
    args = parser.parse_args(argv)
    if args.worker:
        worker = {"allreduce": bare_allreduce, "mlp10m": mlp_step}.get(args.role, train_epoch)
        result = worker(args)
        if result is not None:
            print(json.dumps(result), flush=True)
        return result

    common = ["--limit-train", str(args.limit_train), "--global-batch", str(args.global_batch)]
    configurations = {
        "1 process x 2 threads": (["--role", "single", "--threads", "2"], 1),
        "2 ranks x 1 thread, 1 bucket": (["--role", "ddp", "--threads", "1"], 2),
        "2 ranks x 1 thread, 0.1 MB buckets, overlapped":
            (["--role", "ddp", "--threads", "1", "--bucket-cap-mb", "0.1"], 2),
        "2 ranks x 1 thread, 0.1 MB buckets, after backward":
            (["--role", "ddp", "--threads", "1", "--bucket-cap-mb", "0.1", "--overlap", "0"], 2),
        "1 process x 1 thread": (["--role", "single", "--threads", "1"], 1),
    }
    results = {name: [] for name in configurations}
    for _ in range(args.rounds):  # configurations alternate, so drifting load hits them all
        for name, (worker_args, ranks) in configurations.items():
            results[name].append(launch([*worker_args, *common], ranks))
    runs = [(name, _median_run(rs)) for name, rs in results.items()]
    sizes = [111_934 * 4, 10_000_000 * 4]
    allreduces = [launch(["--role", "allreduce", "--bytes", str(b)], 2) for b in sizes]

    print(f"median of {args.rounds} alternating runs, one epoch of {args.limit_train} images each")
    print("| configuration | images/s | range | step ms | reduce ms/step | buckets | load avg |")
    print("|---|---|---|---|---|---|---|")
    for name, r in runs:
        reduce_ms = f"{r['reduce_ms_per_step']:.2f}" if "reduce_ms_per_step" in r else "-"
        spread = [x["images_per_s"] for x in results[name]]
        print(f"| {name} | {r['images_per_s']:,.0f} | {min(spread):,.0f}-{max(spread):,.0f} | "
              f"{r['step_ms']:.2f} | {reduce_ms} | {r.get('buckets', '-')} | "
              f"{r['load_average_before']:.2f} |")
    print()
    print("| bare Allreduce, 2 ranks | median ms | GB/s (bytes / time) |")
    print("|---|---|---|")
    for r in allreduces:
        print(f"| {r['bytes']:,} bytes | {r['median_ms']:.3f} | "
              f"{r['algorithm_bandwidth_GB_s']:.2f} |")
    mlp = launch(["--role", "mlp10m", *common], 1)
    one_rank = dict(runs)["1 process x 1 thread"]
    models = (("reference CNN", 1e3 / one_rank["images_per_s"], 111_934 * 4),
              (f"MLP, {mlp['parameters']:,} parameters", mlp["ms_per_image"],
               mlp["parameters"] * 4))
    print("\nCost model (32 images per rank, one rank per core, ring allreduce, no overlap):")
    print("| model | network | ranks | compute ms | allreduce ms | images/s | efficiency |")
    print("|---|---|---|---|---|---|---|")
    for model_name, ms_per_image, gradient_bytes in models:
        for network, p, compute, allreduce, images_per_s, efficiency in cost_model(
                ms_per_image, gradient_bytes):
            print(f"| {model_name} | {network} | {p} | {compute:.2f} | {allreduce:.2f} | "
                  f"{images_per_s:,.0f} | {efficiency:.0%} |")
    ddp = runs[1][1]
    print(f"\ngradient {ddp['gradient_bytes']:,} bytes per step; a ring allreduce sends "
          f"{ddp['ring_bytes_sent_per_rank_per_step']:,.0f} bytes per rank per step")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "allreduce": allreduces,
                                               "mlp10m": mlp},
                                              indent=2))
    return runs, allreduces


if __name__ == "__main__":
    main(sys.argv[1:])

"""Run the whole speed comparison and write benchmarks/RESULTS.md and benchmarks/results.png.

naive (loop over output positions) vs im2col (numba kernels) vs PyTorch CPU (when installed),
per layer and per training step on real MNIST batches, plus one timed epoch, numba compile
times (cold and warm cache) and the peak memory of an epoch. The machine is shared and noisy,
so implementations are timed interleaved, round by round, and compared as ratios of medians.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import cases  # noqa: E402


def interleaved_medians(runs, rounds, warmup=2):
    """{name: median seconds} timing each callable once per round, in turn."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def available_impls():
    return [i for i in cases.IMPLS if i != "torch" or cases.torch_available()]


def layer_table(rounds):
    rows = []
    for layer in cases.LAYERS:
        for backward in (False, True):
            runs = {impl: cases.layer_case(layer, impl, backward) for impl in available_impls()}
            # The naive version is ~100x slower: fewer rounds keep the run short.
            med = interleaved_medians({k: v for k, v in runs.items() if k != "naive"}, rounds)
            med["naive"] = interleaved_medians({"naive": runs["naive"]}, max(3, rounds // 10))["naive"]
            rows.append((layer, "fwd+bwd" if backward else "fwd", med))
    return rows


def step_table(rounds):
    rows = []
    runs = {impl: cases.train_step_case("cnn", impl) for impl in available_impls() if impl != "naive"}
    med = interleaved_medians(runs, rounds)
    med["naive"] = interleaved_medians({"naive": cases.train_step_case("cnn", "naive")}, 5)["naive"]
    rows.append(("CNN", med))
    mlp_runs = {"im2col": cases.train_step_case("mlp", "im2col")}
    if cases.torch_available():
        mlp_runs["torch"] = cases.train_step_case("mlp", "torch")
    rows.append(("MLP 784-256-10", interleaved_medians(mlp_runs, rounds * 3)))
    return rows


def timed_epoch(impl):
    """Seconds for one epoch over the 60,000 training images at batch 64 (CNN, SGD)."""
    from fastgrad.data import DataLoader, load_mnist, mnist_transform

    images, labels = load_mnist(train=True)
    x = mnist_transform(images, add_channel=True)
    y = labels.astype(np.int64)
    steps = len(x) // cases.BATCH
    if impl == "torch":
        import torch

        step = cases.train_step_case("cnn", "torch")
        # Same loop shape as fastgrad's: shuffled batches from arrays.
        order = np.random.default_rng(0).permutation(len(x))
        model_step = step
        start = time.perf_counter()
        for i in range(steps):
            idx = order[i * 64:(i + 1) * 64]
            xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
            _torch_step(model_step, xb, yb)
        return time.perf_counter() - start
    import fastgrad
    from fastgrad import nn, optim
    from fastgrad.models import MNISTClassificationModel

    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader((x, y), batch_size=cases.BATCH, shuffle=True, seed=0, drop_last=True)
    start = time.perf_counter()
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    return time.perf_counter() - start


_TORCH_STATE = {}


def _torch_step(_, xb, yb):
    import torch

    if not _TORCH_STATE:
        model, _t = cases._torch_cnn()
        _TORCH_STATE.update(model=model, opt=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                            loss=torch.nn.CrossEntropyLoss())
    s = _TORCH_STATE
    s["opt"].zero_grad()
    s["loss"](s["model"](xb), yb).backward()
    s["opt"].step()


def compile_times():
    """(cold, warm) seconds for a fresh process to import fastgrad and run one CNN step."""
    code = ("import time; t = time.perf_counter(); import sys; sys.path.insert(0, %r); "
            "import cases; cases.train_step_case('cnn', 'im2col')(); "
            "print(time.perf_counter() - t)") % str(ROOT / "benchmarks")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        times = []
        for _ in range(2):  # the first run compiles into the empty cache, the second loads it
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True, cwd=ROOT)
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return times[0], times[1]


def peak_memory_mib():
    """Peak resident memory (MiB) of a process that trains one CNN epoch at batch 64."""
    code = ("import resource, sys; sys.path.insert(0, %r); sys.path.insert(0, %r); "
            "import benchmark_report as r; r.timed_epoch('im2col'); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)") % (
        str(ROOT / "benchmarks"), str(ROOT / "scripts"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def versions():
    import numba

    import fastgrad

    info = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "fastgrad": fastgrad.__version__}
    if cases.torch_available():
        import torch

        info["torch"] = torch.__version__
    return info


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def write_report(layers, steps, epochs, compile_s, memory, path_md, path_png):
    ms = lambda s: f"{s * 1e3:.2f}"  # noqa: E731
    has_torch = cases.torch_available()
    lines = ["# Benchmark results", "",
             f"Written by `scripts/benchmark_report.py` on {time.strftime('%Y-%m-%d %H:%M')}; "
             f"{cpu_name()}, {os.cpu_count()} cores; "
             + ", ".join(f"{k} {v}" for k, v in versions().items()) + "; "
             + ", ".join(f"{k}={v}" for k, v in cases.thread_info().items()) + ".", "",
             "Times are medians of interleaved runs in one process (float32, batch 64, real MNIST "
             "batch). A ratio above 1 means fastgrad (im2col) is faster.", "",
             "## Training step", "",
             "| model | naive ms | im2col ms | torch ms | im2col img/s | im2col vs naive | im2col vs torch |",
             "|---|---|---|---|---|---|---|"]
    for name, med in steps:
        naive = med.get("naive")
        torch_t = med.get("torch")
        lines.append(f"| {name} | {ms(naive) if naive else '-'} | {ms(med['im2col'])} | "
                     f"{ms(torch_t) if torch_t else '-'} | {64 / med['im2col']:,.0f} | "
                     f"{ratio(naive, med['im2col']) if naive else '-'} | {ratio(torch_t, med['im2col'])} |")
    lines += ["", "## Layers (reference shapes)", "",
              "| layer | pass | naive ms | im2col ms | torch ms | im2col vs naive | im2col vs torch |",
              "|---|---|---|---|---|---|---|"]
    for layer, mode, med in layers:
        torch_t = med.get("torch")
        lines.append(f"| {layer} | {mode} | {ms(med['naive'])} | {ms(med['im2col'])} | "
                     f"{ms(torch_t) if torch_t else '-'} | {ratio(med['naive'], med['im2col'])} | "
                     f"{ratio(torch_t, med['im2col'])} |")
    lines += ["", "## One epoch (60,000 images, CNN, SGD)", ""]
    for impl, seconds in epochs.items():
        lines.append(f"- {impl}: {seconds:.1f} s ({60000 / seconds:,.0f} images/s)")
    if "im2col" in epochs and "torch" in epochs:
        lines.append(f"- im2col vs torch: {ratio(epochs['torch'], epochs['im2col'])}")
    lines += ["", "## Compile time and memory", "",
              f"- import + first CNN step, cold numba cache (compiles every kernel): {compile_s[0]:.1f} s",
              f"- import + first CNN step, warm numba cache: {compile_s[1]:.2f} s",
              f"- peak resident memory of a process training one epoch: {memory:.0f} MiB", ""]
    if not has_torch:
        lines.append("PyTorch was not installed, so its columns are empty (`pip install torch==2.13.0`).")
    Path(path_md).write_text("\n".join(lines) + "\n")
    _chart(layers, steps, path_png)


def _chart(layers, steps, path_png):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    labels = [f"{layer}\n{mode}" for layer, mode, _ in layers] + [name for name, _ in steps]
    meds = [m for _, _, m in layers] + [m for _, m in steps]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.27
    for i, impl in enumerate(("naive", "im2col", "torch")):
        values = [m.get(impl, np.nan) * 1e3 for m in meds]
        ax.bar(np.arange(len(labels)) + (i - 1) * width, values, width, label=impl)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale, lower is better)")
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    ax.legend()
    ax.set_title("fastgrad: naive vs im2col vs PyTorch, batch 64 float32")
    fig.tight_layout()
    fig.savefig(path_png, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-epoch", action="store_true", help="skip the timed epochs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--png", default=str(ROOT / "benchmarks" / "results.png"))
    args = parser.parse_args(argv)
    layers = layer_table(args.rounds)
    steps = step_table(args.rounds)
    epochs = {}
    if not args.no_epoch:
        epochs["im2col"] = timed_epoch("im2col")
        if cases.torch_available():
            epochs["torch"] = timed_epoch("torch")
    compile_s = compile_times()
    memory = peak_memory_mib()
    write_report(layers, steps, epochs, compile_s, memory, args.out, args.png)
    print(Path(args.out).read_text())
    print(json.dumps({"steps": steps, "epochs": epochs}, default=str)[:2000])


if __name__ == "__main__":
    main()

"""Run the whole speed comparison and write benchmarks/RESULTS.md and benchmarks/results.png.

naive (loop over output positions) vs im2col (numba kernels) vs PyTorch CPU (when installed),
per layer and per training step on a real MNIST batch, plus one timed epoch, numba compile
times (cold and warm cache) and the peak memory of an epoch.

Each implementation is measured in a process of its own, because thread pools that share a
process slow each other down (PyTorch's OpenMP threads spin after each op, fastgrad sets
OMP_WAIT_POLICY=PASSIVE for numba's). The processes alternate, several repeats each, and
the report compares medians as ratios: the machine is noisy, so only ratios measured in the
same run mean anything.
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

from timing import median_seconds  # noqa: E402


# ----------------------------------------------------------------------------- children
def child_measure(impl, rounds):
    """{"layers": {"conv1 fwd": s, ...}, "steps": {"cnn": s, "mlp": s}} for one implementation."""
    import cases

    result = {"layers": {}, "steps": {}, "threads": cases.thread_info()}
    for layer in cases.LAYERS:
        for backward in (False, True):
            run = cases.layer_case(layer, impl, backward)
            result["layers"][f"{layer} {'fwd+bwd' if backward else 'fwd'}"] = median_seconds(run, rounds)
    result["steps"]["cnn"] = median_seconds(cases.train_step_case("cnn", impl), rounds)
    if impl != "naive":
        result["steps"]["mlp"] = median_seconds(cases.train_step_case("mlp", impl), rounds * 3)
    return result


def child_epoch(impl):
    """Seconds for one epoch over the 60,000 training images (CNN, SGD, batch 64), and peak RSS."""
    import resource

    import cases
    from fastgrad.data import load_mnist, mnist_transform

    images, labels = load_mnist(train=True)
    x = mnist_transform(images, add_channel=True)
    y = labels.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    steps = len(x) // cases.BATCH
    step = cases.train_step_case("cnn", impl, with_batch=True)
    if impl == "torch":
        import torch

        as_input = torch.from_numpy
    else:
        import fastgrad

        as_input = fastgrad.Tensor
    start = time.perf_counter()
    for i in range(steps):
        idx = order[i * cases.BATCH:(i + 1) * cases.BATCH]
        step(as_input(x[idx]), as_input(y[idx]))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images": steps * cases.BATCH,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child_env(impl):
    env = dict(os.environ)
    if impl == "torch":
        # fastgrad is imported only to read MNIST: keep its threading policy off PyTorch.
        env["FASTGRAD_THREADING"] = "off"
    return env


def run_child(args, impl):
    out = subprocess.run([sys.executable, __file__, "--child", impl] + args, env=_child_env(impl),
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child {impl} {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- parent
def available_impls():
    import cases

    return [i for i in cases.IMPLS if i != "torch" or cases.torch_available()]


def measure_all(impls, repeats, rounds):
    """Median over ``repeats`` alternating child processes of each implementation's medians."""
    samples = {impl: [] for impl in impls}
    for r in range(repeats):
        for impl in impls[r % len(impls):] + impls[:r % len(impls)]:
            # The naive baseline too, as often and as long as the others (~8 s a process):
            # with one short process its times moved by 25% between reports.
            samples[impl].append(run_child(["--rounds", str(rounds)], impl))
    merged = {}
    for impl, runs in samples.items():
        # "runs" keeps each process's medians: the r-th processes of two implementations ran
        # back to back, so their ratio shows how far one ratio moves with the machine.
        merged[impl] = {"threads": runs[0]["threads"], "runs": runs}
        for section in ("layers", "steps"):
            merged[impl][section] = {key: float(np.median([run[section][key] for run in runs]))
                                     for key in runs[0][section]}
    return merged


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


def versions():
    import numba

    import cases
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


def _ratio(slow, fast):
    return f"{slow / fast:.2f}x" if slow and fast else "-"


def _ms(seconds):
    return f"{seconds * 1e3:.2f}" if seconds else "-"


def write_report(results, epochs, compile_s, path_md, path_png):
    fg = results["im2col"]
    naive = results.get("naive", {})
    torch_r = results.get("torch", {})
    threads = ", ".join(f"{k}={v}" for k, v in fg["threads"].items() if k != "torch_threads")
    lines = [
        "# Benchmark results", "",
        f"Written by `scripts/benchmark_report.py` on {time.strftime('%Y-%m-%d %H:%M')}: "
        f"{cpu_name()}, {os.cpu_count()} cores; " + ", ".join(f"{k} {v}" for k, v in versions().items())
        + f"; fastgrad threads: {threads}"
        + (f"; PyTorch threads: {torch_r['threads'].get('torch_threads')}" if torch_r else "") + ".", "",
        "float32, batch 64, a real MNIST batch. Each implementation ran in its own processes "
        "(alternating); times are medians. A ratio above 1 means fastgrad's im2col version is faster.",
        "", "## Training step (SGD, momentum 0.9)", "",
        "| model | naive ms | im2col ms | PyTorch ms | im2col images/s | im2col vs naive | im2col vs PyTorch |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"cnn": "reference CNN", "mlp": "MLP 784-256-10"}
    for key, label in names.items():
        t_fg = fg["steps"][key]
        t_naive = naive.get("steps", {}).get(key)
        t_torch = torch_r.get("steps", {}).get(key)
        lines.append(f"| {label} | {_ms(t_naive)} | {_ms(t_fg)} | {_ms(t_torch)} | {64 / t_fg:,.0f} | "
                     f"{_ratio(t_naive, t_fg)} | {_ratio(t_torch, t_fg)} |")
    lines += ["", "## Layers at the reference shapes", "",
              "| layer | pass | naive ms | im2col ms | PyTorch ms | im2col vs naive | im2col vs PyTorch |",
              "|---|---|---|---|---|---|---|"]
    for key, t_fg in fg["layers"].items():
        layer, mode = key.split(" ")
        t_naive = naive.get("layers", {}).get(key)
        t_torch = torch_r.get("layers", {}).get(key)
        lines.append(f"| {layer} | {mode} | {_ms(t_naive)} | {_ms(t_fg)} | {_ms(t_torch)} | "
                     f"{_ratio(t_naive, t_fg)} | {_ratio(t_torch, t_fg)} |")
    if epochs:
        lines += ["", "## One epoch (CNN, 60,000 training images, batch 64)", "",
                  "| implementation | seconds | images/s | peak memory (MiB) |", "|---|---|---|---|"]
        for impl, e in epochs.items():
            lines.append(f"| {impl} | {e['seconds']:.1f} | {e['images'] / e['seconds']:,.0f} | "
                         f"{e['peak_rss_mib']:.0f} |")
        if "im2col" in epochs and "torch" in epochs:
            lines.append(f"\nEpoch ratio, im2col vs PyTorch: "
                         f"{_ratio(epochs['torch']['seconds'], epochs['im2col']['seconds'])}.")
    lines += _target_lines(results, epochs, compile_s)
    lines += ["", "## numba compile time", "",
              f"- import fastgrad + first CNN training step, empty numba cache (compiles the kernels): "
              f"{compile_s[0]:.1f} s",
              f"- the same with the cache warm: {compile_s[1]:.2f} s", ""]
    if not torch_r:
        lines.append("PyTorch was not installed, so its columns are empty (`pip install torch==2.13.0`).")
    Path(path_md).write_text("\n".join(lines) + "\n")
    _chart(results, path_png)


def _target_lines(results, epochs, compile_s):
    """The speed targets the suite was built for, each with this run's measurement."""
    fg, naive, torch_r = results["im2col"], results.get("naive"), results.get("torch")
    rows = []  # (target, measured value or None, threshold, formatted measurement, spread)

    def ratio_row(label, slow_impl, section, key, at_least):
        slow, fast = slow_impl[section][key], fg[section][key]
        value = slow / fast if slow and fast else None
        pairs = [a[section][key] / b[section][key]
                 for a, b in zip(slow_impl.get("runs", []), fg.get("runs", []))]
        spread = f"{min(pairs):.2f}-{max(pairs):.2f}x" if pairs else "-"
        rows.append((label, value, at_least, f"{value:.2f}x" if value else "-", spread))

    for impl, name in ((naive, "naive"), (torch_r, "PyTorch")):
        if impl is None:
            continue
        ratio_row(f"CNN training step, {name} time / im2col time >= {10 if impl is naive else 1}",
                  impl, "steps", "cnn", 10.0 if impl is naive else 1.0)
    if naive:
        for layer, at_least in (("conv1", 10.0), ("conv2", 10.0), ("pool1", 20.0), ("pool2", 20.0)):
            ratio_row(f"{layer} fwd+bwd, naive / im2col >= {at_least:.0f}",
                      naive, "layers", f"{layer} fwd+bwd", at_least)
    if torch_r:
        for layer in ("pool1", "pool2"):
            ratio_row(f"{layer} fwd+bwd faster than PyTorch's (PyTorch / im2col > 1)",
                      torch_r, "layers", f"{layer} fwd+bwd", 1.0)
        ratio_row("MLP step within 1.5x of PyTorch (PyTorch / im2col >= 0.67)",
                  torch_r, "steps", "mlp", 1 / 1.5)
    rows.append(("warm numba cache: import + first CNN step < 2 s", 2.0 - compile_s[1], 0.0,
                 f"{compile_s[1]:.2f} s", "-"))
    if "im2col" in epochs:
        peak = epochs["im2col"]["peak_rss_mib"]
        rows.append(("peak memory of an epoch < 1024 MiB", 1024 - peak, 0.0, f"{peak:.0f} MiB", "-"))
    lines = ["", "## Targets", "",
             "Judged on the ratio of medians; the spread is the lowest and highest ratio of one "
             "process of each implementation run back to back.", "",
             "| target | this run | spread over process pairs | met |", "|---|---|---|---|"]
    for label, value, threshold, shown, spread in rows:
        met = "-" if value is None else ("yes" if value >= threshold else "**no**")
        lines.append(f"| {label} | {shown} | {spread} | {met} |")
    return lines


README_START = "<!-- benchmark-results:start -->"
README_END = "<!-- benchmark-results:end -->"


def update_readme(path_md, readme=ROOT / "README.md"):
    """Copy the report's training-step and layer tables into README.md between the markers."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return
    report = Path(path_md).read_text().splitlines()
    keep = [line for line in report if not line.startswith("# ")]
    block = "\n".join(line.replace("## ", "#### ") for line in keep).strip()
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    readme.write_text(f"{head}{README_START}\n{block}\n{README_END}{tail}")


def _chart(results, path_png):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fg = results["im2col"]
    labels = list(fg["layers"]) + ["CNN step", "MLP step"]
    fig, ax = plt.subplots(figsize=(13, 4.5))
    width = 0.27
    for i, impl in enumerate(("naive", "im2col", "torch")):
        if impl not in results:
            continue
        r = results[impl]
        values = [r["layers"].get(k, np.nan) * 1e3 for k in fg["layers"]]
        values += [r["steps"].get("cnn", np.nan) * 1e3, r["steps"].get("mlp", np.nan) * 1e3]
        ax.bar(np.arange(len(labels)) + (i - 1) * width, values, width,
               label={"torch": "PyTorch"}.get(impl, impl))
    ax.set_yscale("log")
    ax.set_ylabel("ms, log scale (lower is better)")
    ax.set_xticks(np.arange(len(labels)), [l.replace(" ", "\n") for l in labels], fontsize=8)
    ax.legend()
    ax.set_title("fastgrad: naive vs im2col vs PyTorch (batch 64, float32)")
    fig.tight_layout()
    fig.savefig(path_png, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="timed calls per case in a process")
    parser.add_argument("--repeats", type=int, default=5, help="processes per implementation")
    parser.add_argument("--no-epoch", action="store_true", help="skip the timed epochs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--png", default=str(ROOT / "benchmarks" / "results.png"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--epoch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child_epoch(args.child) if args.epoch else child_measure(args.child, args.rounds)
        print(json.dumps(result))
        return
    impls = available_impls()
    results = measure_all(impls, args.repeats, args.rounds)
    epochs = {}
    if not args.no_epoch:
        for impl in [i for i in impls if i != "naive"]:
            epochs[impl] = run_child(["--epoch"], impl)
    compile_s = compile_times()
    write_report(results, epochs, compile_s, args.out, args.png)
    if Path(args.out).resolve() == (ROOT / "benchmarks" / "RESULTS.md").resolve():
        update_readme(args.out)
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()

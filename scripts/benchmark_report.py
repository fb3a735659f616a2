"""Run the whole speed comparison and write benchmarks/RESULTS.md and benchmarks/results.png.

naive (loop over output positions) vs im2col (numba kernels) vs PyTorch CPU (when installed),
per layer and per training step on a real MNIST batch, plus one timed epoch, numba compile
times (cold and warm cache), the peak memory of an epoch, a step with another process busy on
one core, each layer's share of the machine's measured GEMM peak, and, where MPI's mpiexec is
installed, data-parallel epochs (2 ranks x 1 thread against 1 process x 2 threads).

Baselines run at their best, in their own fresh processes:
- every child process gets the environment this script started with (``USER_ENV``, taken
  before anything else is imported), never one that an import has changed;
- PyTorch runs at its default thread count and at 1 and 2 threads, each in its own processes;
  for every case the fastest setting is the baseline;
- every implementation loads the same MNIST arrays before timing (the same allocator history).
The processes alternate, several repeats each, and the report compares medians as ratios,
with the spread over back-to-back process pairs. The CPU time other processes took while the
measurements ran is read from /proc/stat; when they held more than half a core on average
during any measured process, the report says so in bold and README.md is left alone.
"""
import os

USER_ENV = dict(os.environ)  # first of all: what the user's environment was

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import median_seconds  # noqa: E402

BATCH = 64
OTHER_LOAD_LIMIT = 0.5  # cores that other processes may take on average before a run is void
LAYERS = ("conv1", "pool1", "conv2", "pool2")
STEPS = ("cnn", "cnn16", "cnn256", "mlp")
STEP_LABELS = {"cnn": "reference CNN, batch 64", "cnn16": "reference CNN, batch 16",
               "cnn256": "reference CNN, batch 256", "mlp": "MLP 784-256-10, batch 64"}


# ------------------------------------------------------------------------------ work done
def conv_flops(n, c, o, k, out_hw, input_grad):
    """Multiply-adds x 2 of a conv's forward + backward (dW, and dX when ``input_grad``)."""
    forward = 2 * n * o * c * k * k * out_hw * out_hw
    return forward * (3 if input_grad else 2)


def linear_flops(n, fan_in, fan_out, input_grad):
    forward = 2 * n * fan_in * fan_out
    return forward * (3 if input_grad else 2)


LAYER_FLOPS = {"conv1 fwd+bwd": conv_flops(BATCH, 1, 16, 3, 26, False),
               "conv2 fwd+bwd": conv_flops(BATCH, 16, 32, 3, 11, True)}


def step_flops(name):
    """FLOPs of one training step's GEMM-shaped work (conv and Linear, forward and backward)."""
    if name == "mlp":
        return linear_flops(BATCH, 784, 256, False) + linear_flops(BATCH, 256, 10, True)
    n = {"cnn": 64, "cnn16": 16, "cnn256": 256}[name]
    return (conv_flops(n, 1, 16, 3, 26, False) + conv_flops(n, 16, 32, 3, 11, True)
            + linear_flops(n, 800, 120, True) + linear_flops(n, 120, 84, True)
            + linear_flops(n, 84, 10, True))


# ----------------------------------------------------------------------------- children
def child_measure(impl, rounds):
    """{"layers": {"conv1 fwd": s, ...}, "steps": {"cnn": s, ...}} for one implementation."""
    import cases

    result = {"layers": {}, "steps": {}, "threads": cases.thread_info()}
    for layer in LAYERS:
        for backward in (False, True):
            run = cases.layer_case(layer, impl, backward)
            result["layers"][f"{layer} {'fwd+bwd' if backward else 'fwd'}"] = median_seconds(run, rounds)
    result["steps"]["cnn"] = median_seconds(cases.train_step_case("cnn", impl), rounds)
    if impl != "naive":
        result["steps"]["cnn16"] = median_seconds(cases.train_step_case("cnn", impl, batch=16), rounds * 2)
        result["steps"]["cnn256"] = median_seconds(cases.train_step_case("cnn", impl, batch=256),
                                                   max(rounds // 3, 5))
        result["steps"]["mlp"] = median_seconds(cases.train_step_case("mlp", impl), rounds * 3)
    return result


def child_step(impl, rounds):
    """Median seconds of the batch-64 CNN step alone (for the busy-core comparison)."""
    import cases

    return {"cnn": median_seconds(cases.train_step_case("cnn", impl), rounds)}


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


def child_sgemm_peak():
    """GFLOP/s of a large float32 GEMM (2048^3) at NumPy's BLAS defaults: the machine's peak."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    b = a.T.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(7))
    return {"gflops": 2 * 2048 ** 3 / best / 1e9}


def child_env():
    return {"env": dict(os.environ)}


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _child_env():
    """The environment every child runs in: the user's, as it was before this script ran."""
    return dict(USER_ENV)


def run_child(args, impl, torch_threads=None):
    """Run this script as ``--child impl`` with ``args`` in a fresh process; its JSON result,
    with ``other_cores``: the cores other processes used on average while it ran."""
    command = [sys.executable, __file__, "--child", impl] + args
    if torch_threads is not None:
        command += ["--torch-threads", str(torch_threads)]
    load = MachineLoad()
    out = subprocess.run(command, env=_child_env(), capture_output=True, text=True, cwd=ROOT)
    other_cores = load.other_cores()
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child {impl} {args} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["other_cores"] = other_cores
    return result


# --------------------------------------------------------------------------- machine load
def _cpu_busy_seconds(stat_line=None):
    """CPU seconds all processes have used since boot (user + nice + system + irq + softirq +
    steal), from the first line of /proc/stat."""
    if stat_line is None:
        with open("/proc/stat") as f:
            stat_line = f.readline()
    fields = [int(v) for v in stat_line.split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class MachineLoad:
    """How many cores other processes used, on average, from construction to ``other_cores()``.

    All CPU time on the machine minus this process's own and its waited-for children's.
    """

    def __init__(self):
        self.start = (time.perf_counter(), _cpu_busy_seconds(), _own_cpu_seconds())

    def other_cores(self):
        wall, busy, own = self.start
        wall = time.perf_counter() - wall
        others = (_cpu_busy_seconds() - busy) - (_own_cpu_seconds() - own)
        return max(others, 0.0) / wall if wall > 0 else 0.0


# ------------------------------------------------------------------------------- parent
def torch_available():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def torch_settings():
    """PyTorch's thread settings to try: its default (None), 1 and 2 threads."""
    cores = len(os.sched_getaffinity(0))
    return [None] + sorted({1, min(2, cores)})


def measure_all(impls, repeats, rounds):
    """Every implementation (and each PyTorch thread setting) in ``repeats`` alternating
    processes; returns {impl: {"layers", "steps", "runs", "threads"}} with medians, where
    "torch" holds, for every case, the fastest setting's numbers."""
    variants = []
    for impl in impls:
        if impl == "torch":
            variants += [("torch", k) for k in torch_settings()]
        else:
            variants.append((impl, None))
    samples = {v: [] for v in variants}
    for r in range(repeats):
        for variant in variants[r % len(variants):] + variants[:r % len(variants)]:
            impl, threads = variant
            samples[variant].append(run_child(["--rounds", str(rounds)], impl, threads))
    merged = {}
    for (impl, threads), runs in samples.items():
        entry = {"threads": runs[0]["threads"], "runs": runs, "torch_threads": threads,
                 "other_cores": max(run["other_cores"] for run in runs)}
        for section in ("layers", "steps"):
            entry[section] = {key: float(np.median([run[section][key] for run in runs]))
                              for key in runs[0][section]}
        merged.setdefault(impl, []).append(entry)
    results = {impl: entries[0] for impl, entries in merged.items() if impl != "torch"}
    if "torch" in merged:
        results["torch"] = best_of(merged["torch"])
    return results


def best_of(entries):
    """One result from several settings of an implementation: for each case, the setting with
    the lowest median (its runs too, for the spread). ``chosen`` names the setting per case."""
    best = {"layers": {}, "steps": {}, "case_runs": {}, "chosen": {},
            "threads": entries[0]["threads"],
            "other_cores": max(e["other_cores"] for e in entries)}
    for section in ("layers", "steps"):
        for key in entries[0][section]:
            winner = min(entries, key=lambda e: e[section][key])
            best[section][key] = winner[section][key]
            best["case_runs"][key] = [run[section][key] for run in winner["runs"]]
            setting = winner["torch_threads"]
            best["chosen"][key] = "default" if setting is None else f"{setting} thread(s)"
    return best


def case_runs(entry, section, key):
    """The per-process medians of one case (in process order)."""
    if "case_runs" in entry:
        return entry["case_runs"].get(key, [])
    return [run[section][key] for run in entry.get("runs", []) if key in run[section]]


def busy_core_steps(pairs=2, rounds=100):
    """(quiet, busy) median seconds of the im2col CNN step, alternating, with a process
    spinning on one core during the busy runs."""
    quiet, busy = [], []
    for _ in range(pairs):
        quiet.append(run_child(["--rounds", str(rounds), "--step-only"], "im2col")["cnn"])
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"], env=_child_env())
        try:
            time.sleep(0.5)
            busy.append(run_child(["--rounds", str(rounds), "--step-only"], "im2col")["cnn"])
        finally:
            hog.kill()
            hog.wait()
    return float(np.median(quiet)), float(np.median(busy))


def busy_ratio(fg, busy_pair):
    """busy / quiet for the CNN step, the quiet figure being the faster of the busy pairs'
    quiet runs and the main measurement: a quiet run caught in one of the host's slow periods
    (docs/performance.md, "Cores that share no cache") would otherwise flatter the ratio.
    Returns (ratio, quiet seconds used)."""
    quiet, busy = busy_pair
    main = fg.get("steps", {}).get("cnn")
    quiet = min(quiet, main) if main else quiet
    return busy / quiet, quiet


def distributed_scaling(rounds=1):
    """Images/s of one CNN epoch per data-parallel configuration (``scripts/
    benchmark_distributed.py``: 2 MPI ranks x 1 thread against 1 process x 2 threads), medians
    over ``rounds`` alternating runs; None when MPI's ``mpiexec`` is not installed."""
    if not (Path(sys.executable).parent / "mpiexec").exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "distributed.json"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_distributed.py"),
                        "--rounds", str(rounds), "--json", str(path)], env=_child_env(),
                       check=True, capture_output=True, text=True)
        runs = json.loads(path.read_text())["runs"]
    return {name: {"images_per_s": float(np.median([r["images_per_s"] for r in rs])),
                   "reduce_ms": (float(np.median([r["reduce_ms_per_step"] for r in rs]))
                                 if "reduce_ms_per_step" in rs[0] else None)}
            for name, rs in runs.items()}


def _distributed_lines(scaling):
    """The report's data-parallel section (``scaling`` from ``distributed_scaling``)."""
    base = scaling.get("1 process x 2 threads", {}).get("images_per_s")
    lines = ["", "## Data-parallel over MPI (one CNN epoch, global batch 64)", "",
             "| configuration | images/s | vs 1 process x 2 threads | gradient averaging ms/step |",
             "|---|---|---|---|"]
    for name, r in scaling.items():
        ratio = f"{r['images_per_s'] / base:.2f}x" if base else "-"
        reduce_ms = "-" if r["reduce_ms"] is None else f"{r['reduce_ms']:.2f}"
        lines.append(f"| {name} | {r['images_per_s']:,.0f} | {ratio} | {reduce_ms} |")
    lines.append("\nMore configurations, the bare Allreduce and a cost model for 8-512 ranks: "
                 "`scripts/benchmark_distributed.py`, docs/distributed.md.")
    return lines


def compile_times():
    """(cold, warm) seconds for a fresh process to import fastgrad and run one CNN step."""
    code = ("import time; t = time.perf_counter(); import sys; sys.path.insert(0, %r); "
            "import cases; cases.train_step_case('cnn', 'im2col')(); "
            "print(time.perf_counter() - t)") % str(ROOT / "benchmarks")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(_child_env(), NUMBA_CACHE_DIR=cache)
        times = []
        for _ in range(2):  # the first run compiles into the empty cache, the second loads it
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True, cwd=ROOT)
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return times[0], times[1]


def versions():
    import numba

    import fastgrad

    info = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "fastgrad": fastgrad.__version__}
    if torch_available():
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


def _peak_share(flops, seconds, peak_gflops):
    if not (flops and seconds and peak_gflops):
        return "-"
    gflops = flops / seconds / 1e9
    return f"{gflops:.0f} ({100 * gflops / peak_gflops:.0f}%)"


def write_report(results, extras, path_md, path_png):
    """Write the report; ``extras`` holds "epochs", "compile_s", "busy" (quiet, busy seconds),
    "peak_gflops" and "load" (the machine's load averages before and after, and the most
    cores other processes took during any measured process)."""
    fg = results["im2col"]
    naive = results.get("naive", {})
    torch_r = results.get("torch", {})
    epochs, compile_s, load = extras.get("epochs", {}), extras["compile_s"], extras["load"]
    peak = extras.get("peak_gflops")
    lines = ["# Benchmark results", ""]
    if load["other_cores"] > OTHER_LOAD_LIMIT:
        lines += [f"**Not a valid measurement: other processes took {load['other_cores']:.2f} "
                  f"cores on average during at least one measured process (limit "
                  f"{OTHER_LOAD_LIMIT}). Run it again on a quiet machine.**", ""]
    lines += [
        f"Written by `scripts/benchmark_report.py` on {time.strftime('%Y-%m-%d %H:%M')}: "
        f"{cpu_name()}, {os.cpu_count()} cores; " + ", ".join(f"{k} {v}" for k, v in versions().items())
        + f"; fastgrad threads: {fg['threads'].get('fastgrad_threads')}.", "",
        f"Machine load: 1-minute load average {load['before']:.2f} before, {load['after']:.2f} "
        f"after; other processes took at most {load['other_cores']:.2f} cores during a measured "
        f"process.", "",
        "float32, a real MNIST batch, loaded the same way in every process before timing (the "
        "same allocator history). Each implementation ran in its own fresh processes, "
        "alternating, with the environment the script started with; times are medians. "
        "PyTorch ran at its default threads and at 1 and 2 threads; each case's PyTorch column "
        "is its fastest setting. A ratio above 1 means fastgrad (im2col) is faster.", "",
        "## Training step (SGD, momentum 0.9)", "",
        "| model | naive ms | im2col ms | PyTorch ms | im2col images/s | im2col vs naive | "
        "im2col vs PyTorch | im2col GFLOP/s (% of peak) | PyTorch GFLOP/s (% of peak) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in STEP_LABELS.items():
        t_fg = fg["steps"].get(key)
        if t_fg is None:
            continue
        t_naive = naive.get("steps", {}).get(key)
        t_torch = torch_r.get("steps", {}).get(key)
        batch = {"cnn16": 16, "cnn256": 256}.get(key, 64)
        flops = step_flops(key)
        lines.append(f"| {label} | {_ms(t_naive)} | {_ms(t_fg)} | {_ms(t_torch)} | "
                     f"{batch / t_fg:,.0f} | {_ratio(t_naive, t_fg)} | {_ratio(t_torch, t_fg)} | "
                     f"{_peak_share(flops, t_fg, peak)} | {_peak_share(flops, t_torch, peak)} |")
    lines += ["", "## Layers at the reference shapes (batch 64)", "",
              "| layer | pass | naive ms | im2col ms | PyTorch ms | im2col vs naive | "
              "im2col vs PyTorch | im2col GFLOP/s (% of peak) | PyTorch GFLOP/s (% of peak) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key, t_fg in fg["layers"].items():
        layer, mode = key.split(" ")
        t_naive = naive.get("layers", {}).get(key)
        t_torch = torch_r.get("layers", {}).get(key)
        flops = LAYER_FLOPS.get(key)
        lines.append(f"| {layer} | {mode} | {_ms(t_naive)} | {_ms(t_fg)} | {_ms(t_torch)} | "
                     f"{_ratio(t_naive, t_fg)} | {_ratio(t_torch, t_fg)} | "
                     f"{_peak_share(flops, t_fg, peak)} | {_peak_share(flops, t_torch, peak)} |")
    if peak:
        lines += ["", f"Peak: a 2048x2048x2048 float32 GEMM in NumPy at its BLAS defaults ran at "
                      f"{peak:.0f} GFLOP/s in this run. GFLOP/s count the conv and Linear GEMM "
                      "work (forward and backward); pooling and the rest are memory-bound."]
    if torch_r:
        chosen = sorted(set(torch_r["chosen"].values()))
        lines += ["", "PyTorch's fastest thread setting per case: " + ", ".join(
            f"{k} {v}" for k, v in torch_r["chosen"].items()) + f" (settings used: {', '.join(chosen)})."]
    if epochs:
        lines += ["", "## One epoch (CNN, 60,000 training images, batch 64)", "",
                  "| implementation | seconds | images/s | peak memory (MiB) |", "|---|---|---|---|"]
        for impl, e in epochs.items():
            lines.append(f"| {impl} | {e['seconds']:.1f} | {e['images'] / e['seconds']:,.0f} | "
                         f"{e['peak_rss_mib']:.0f} |")
        if "im2col" in epochs and "torch" in epochs:
            lines.append(f"\nEpoch ratio, im2col vs PyTorch (its default threads): "
                         f"{_ratio(epochs['torch']['seconds'], epochs['im2col']['seconds'])}.")
    if extras.get("busy"):
        quiet_pairs, busy = extras["busy"]
        ratio, quiet = busy_ratio(fg, extras["busy"])
        lines += ["", "## With another process busy on one core", "",
                  f"CNN step at batch 64: {_ms(busy)} ms with a process spinning on one core, "
                  f"{_ms(quiet_pairs)} ms quiet in the same alternation and "
                  f"{_ms(fg['steps']['cnn'])} ms in the main measurement; against the faster "
                  f"quiet figure, {ratio:.2f}x."]
    if extras.get("distributed"):
        lines += _distributed_lines(extras["distributed"])
    lines += _target_lines(results, extras)
    lines += ["", "## numba compile time", "",
              f"- import fastgrad + first CNN training step, empty numba cache (compiles the kernels): "
              f"{compile_s[0]:.1f} s",
              f"- the same with the cache warm: {compile_s[1]:.2f} s", ""]
    if not torch_r:
        lines.append("PyTorch was not installed, so its columns are empty (`pip install torch==2.13.0`).")
    Path(path_md).write_text("\n".join(lines) + "\n")
    _chart(results, path_png)


def _target_lines(results, extras):
    """The speed targets of the suite, each with this run's measurement."""
    fg, naive, torch_r = results["im2col"], results.get("naive"), results.get("torch")
    rows = []  # (target, measured value or None, threshold, formatted measurement, spread)

    def ratio_row(label, slow_impl, section, key, at_least):
        slow, fast = slow_impl[section].get(key), fg[section].get(key)
        value = slow / fast if slow and fast else None
        pairs = [a / b for a, b in zip(case_runs(slow_impl, section, key),
                                       case_runs(fg, section, key))]
        spread = f"{min(pairs):.2f}-{max(pairs):.2f}x" if pairs else "-"
        rows.append((label, value, at_least, f"{value:.2f}x" if value else "-", spread))

    if naive:
        ratio_row("CNN step, naive time / im2col time >= 10", naive, "steps", "cnn", 10.0)
    if torch_r:
        ratio_row("CNN step at batch 64, PyTorch time / im2col time >= 1.5 (aim 2)",
                  torch_r, "steps", "cnn", 1.5)
        ratio_row("CNN step at batch 16, PyTorch / im2col >= 1.3", torch_r, "steps", "cnn16", 1.3)
        ratio_row("CNN step at batch 256, PyTorch / im2col >= 1.3", torch_r, "steps", "cnn256", 1.3)
        ratio_row("MLP step, PyTorch / im2col >= 1.2", torch_r, "steps", "mlp", 1.2)
        for layer in ("conv1", "conv2"):
            ratio_row(f"{layer} fwd+bwd, PyTorch / im2col >= 1", torch_r, "layers",
                      f"{layer} fwd+bwd", 1.0)
        for layer in ("pool1", "pool2"):
            ratio_row(f"{layer} fwd+bwd, PyTorch / im2col >= 2", torch_r, "layers",
                      f"{layer} fwd+bwd", 2.0)
    if extras.get("busy"):
        ratio, _ = busy_ratio(fg, extras["busy"])
        rows.append(("CNN step with one core busy at most 1.5x the quiet step",
                     1.5 - ratio, 0.0, f"{ratio:.2f}x", "-"))
    compile_s = extras["compile_s"]
    rows.append(("warm numba cache: import + first CNN step < 2 s", 2.0 - compile_s[1], 0.0,
                 f"{compile_s[1]:.2f} s", "-"))
    epochs = extras.get("epochs", {})
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
    """Copy the report's tables into README.md between the markers."""
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
    steps = [k for k in STEPS if k in fg["steps"]]
    labels = list(fg["layers"]) + [f"{k} step" for k in steps]
    fig, ax = plt.subplots(figsize=(14, 4.5))
    width = 0.27
    for i, impl in enumerate(("naive", "im2col", "torch")):
        if impl not in results:
            continue
        r = results[impl]
        values = [r["layers"].get(k, np.nan) * 1e3 for k in fg["layers"]]
        values += [r["steps"].get(k, np.nan) * 1e3 for k in steps]
        ax.bar(np.arange(len(labels)) + (i - 1) * width, values, width,
               label={"torch": "PyTorch (best thread setting)"}.get(impl, impl))
    ax.set_yscale("log")
    ax.set_ylabel("ms, log scale (lower is better)")
    ax.set_xticks(np.arange(len(labels)), [label.replace(" ", "\n") for label in labels], fontsize=8)
    ax.legend()
    ax.set_title("fastgrad: naive vs im2col vs PyTorch (float32)")
    fig.tight_layout()
    fig.savefig(path_png, dpi=100)
    plt.close(fig)


def run_as_child(args):
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.child == "env":
        return child_env()
    if args.child == "sgemm":
        return child_sgemm_peak()
    if args.epoch:
        return child_epoch(args.child)
    if args.step_only:
        return child_step(args.child, args.rounds)
    return child_measure(args.child, args.rounds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="timed calls per case in a process")
    parser.add_argument("--repeats", type=int, default=5, help="processes per implementation")
    parser.add_argument("--no-epoch", action="store_true", help="skip the timed epochs")
    parser.add_argument("--no-busy", action="store_true", help="skip the busy-core comparison")
    parser.add_argument("--no-distributed", action="store_true",
                        help="skip the data-parallel (MPI) epochs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--png", default=str(ROOT / "benchmarks" / "results.png"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--epoch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--step-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--torch-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_as_child(args)))
        return
    impls = ["naive", "im2col"] + (["torch"] if torch_available() else [])
    load_before = os.getloadavg()[0]
    peak = run_child([], "sgemm")
    results = measure_all(impls, args.repeats, args.rounds)
    other = max([entry["other_cores"] for entry in results.values()] + [peak["other_cores"]])
    epochs = {}
    if not args.no_epoch:
        for impl in [i for i in impls if i != "naive"]:
            epochs[impl] = run_child(["--epoch"], impl)
            other = max(other, epochs[impl]["other_cores"])
    busy = None if args.no_busy else busy_core_steps()
    scaling = None if args.no_distributed else distributed_scaling()
    compile_s = compile_times()
    extras = {"epochs": epochs, "compile_s": compile_s, "busy": busy, "peak_gflops": peak["gflops"],
              "distributed": scaling,
              "load": {"before": load_before, "after": os.getloadavg()[0], "other_cores": other}}
    write_report(results, extras, args.out, args.png)
    valid = other <= OTHER_LOAD_LIMIT
    if valid and Path(args.out).resolve() == (ROOT / "benchmarks" / "RESULTS.md").resolve():
        update_readme(args.out)
    print(Path(args.out).read_text())
    if not valid:
        print(f"other processes took {other:.2f} cores: README.md left as it was", file=sys.stderr)


if __name__ == "__main__":
    main()

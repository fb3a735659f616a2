"""Runs every benchmark function once (pytest-benchmark disabled), so the suite cannot rot."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_once():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider",
         "--benchmark-disable"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", done.stdout).group(1))
    skipped = re.search(r"(\d+) skipped", done.stdout)
    skipped = int(skipped.group(1)) if skipped else 0
    # 4 layers x 2 modes x 3 impls, 3 CNN steps, 2 MLP steps = 29, of which 10 are PyTorch's,
    # skipped exactly when PyTorch is not installed.
    torch_cases = 8 + 1 + 1
    assert passed + skipped == 29
    assert skipped == (0 if importlib.util.find_spec("torch") else torch_cases)

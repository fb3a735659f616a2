"""fastgrad.distributed and DistributedDataParallel across two real MPI processes: each test
runs one program of tests/distributed_programs.py under ``mpiexec -n 2`` (the venv's MPICH)
with a timeout, so a hang fails the test instead of stalling the suite."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MPIEXEC = Path(sys.executable).parent / "mpiexec"


def mpiexec(*args, timeout=180):
    """Run ``mpiexec -n 2 python *args`` from the repository root; the CompletedProcess."""
    assert MPIEXEC.exists(), (f"{MPIEXEC} is missing: the test extra installs it "
                              "(pip install -e '.[test]': mpich and mpi4py)")
    # The fork launcher keeps hydra on this machine (no ssh, nothing beyond loopback); one
    # thread per rank as the programs set, so two ranks fit two cores.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "scripts")]))
    return subprocess.run([str(MPIEXEC), "-launcher", "fork", "-n", "2", sys.executable, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_program(name):
    result = mpiexec(str(HERE / "distributed_programs.py"), name)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert f"{name}: ok on 2 ranks" in result.stdout


@pytest.mark.parametrize("name", ["collectives", "ddp_matches_one_process_float32",
                                  "ddp_matches_one_process_float64", "ddp_no_sync",
                                  "ddp_unused_and_tied"])
def test_program(name):
    run_program(name)


def test_a_rank_that_dies_ends_the_job_with_an_error():
    result = mpiexec(str(HERE / "distributed_programs.py"), "rank_dies", timeout=60)
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr


def test_distributed_training_script(tmp_path):
    weights, metrics, plot = tmp_path / "w.npz", tmp_path / "m.json", tmp_path / "p.png"
    result = mpiexec("scripts/train_mnist_cnn.py", "--distributed", "--epochs", "1",
                     "--global-batch-size", "64", "--limit-train", "1024", "--val-size", "500",
                     "--limit-test", "999", "--no-progress", "--save", str(weights),
                     "--json", str(metrics), "--plot", str(plot), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # only rank 0 prints: one line per message
    assert result.stdout.count("test  accuracy") == 1, result.stdout
    assert "2 ranks x 32 images" in result.stdout, result.stdout
    import json

    import fastgrad
    from fastgrad.models import MNISTClassificationModel

    report = json.loads(metrics.read_text())
    assert report["test_images"] == 999  # every test image, gathered from both ranks
    assert 0.3 < report["test_accuracy"] <= 1.0
    model = MNISTClassificationModel()
    model.load_state_dict(fastgrad.load(str(weights)))  # saved without the "module." prefix
    assert plot.stat().st_size > 0

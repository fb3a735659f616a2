"""The MNIST training scripts on a slice of the real data: they learn, report, save, repeat."""
import sys
from pathlib import Path

import numpy as np

import fastgrad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import train_mnist_cnn  # noqa: E402
import train_mnist_mlp  # noqa: E402
from fastgrad.models import MLP  # noqa: E402

QUICK = ["--no-progress", "--limit-train", "3000", "--limit-test", "2000", "--val-size", "1000"]


def test_mlp_script_beats_chance_and_repeats_with_the_same_seed(tmp_path):
    weights = tmp_path / "mlp.npz"
    first = train_mnist_mlp.main(QUICK + ["--epochs", "1", "--save", str(weights), "--seed", "3"])
    assert first["test_accuracy"] > 0.80  # chance is 0.10
    assert 0.75 < first["test_macro_f1"] <= 1.0
    # micro-F1 of single-label classification equals accuracy
    assert abs(first["test_micro_f1"] - first["test_accuracy"]) < 1e-12
    again = train_mnist_mlp.main(QUICK + ["--epochs", "1", "--seed", "3"])
    assert again["test_accuracy"] == first["test_accuracy"]
    assert again["epochs"][0]["loss"] == first["epochs"][0]["loss"]
    model = MLP()
    model.load_state_dict(fastgrad.load(weights))
    assert np.isfinite(model.layers[1].weight.arr).all()


def test_cnn_script_learns_and_writes_plot_and_json(tmp_path):
    plot, report = tmp_path / "curves.png", tmp_path / "metrics.json"
    results = train_mnist_cnn.main(QUICK + ["--epochs", "1", "--plot", str(plot), "--json", str(report)])
    assert results["test_accuracy"] > 0.80
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"test_accuracy"' in report.read_text()
    epoch = results["epochs"][0]
    assert epoch["images_per_s"] > 0 and 0 < epoch["val_accuracy"] <= 1

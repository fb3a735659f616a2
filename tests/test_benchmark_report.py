"""scripts/benchmark_report.py's bookkeeping: the targets table and the README copy."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("benchmark_report", ROOT / "scripts" / "benchmark_report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)

LAYER_KEYS = [f"{layer} {mode}" for layer in ("conv1", "pool1", "conv2", "pool2")
              for mode in ("fwd", "fwd+bwd")]


def _results(naive_factor, torch_factor):
    fast = {"layers": {k: 1e-3 for k in LAYER_KEYS}, "steps": {"cnn": 6e-3, "mlp": 1e-3}}
    scaled = lambda f: {"layers": {k: v * f for k, v in fast["layers"].items()},  # noqa: E731
                        "steps": {k: v * f for k, v in fast["steps"].items()}}
    return {"im2col": fast, "naive": scaled(naive_factor), "torch": scaled(torch_factor)}


def _verdicts(lines):
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and "---" not in line]
    return {row[0].lstrip("| "): row[-1].rstrip(" |") for row in rows[1:]}


def test_targets_are_judged_against_their_thresholds():
    lines = report._target_lines(_results(15.0, 0.9), {"im2col": {"peak_rss_mib": 2000}}, (9.0, 0.8))
    verdict = _verdicts(lines)
    assert verdict["CNN training step, naive time / im2col time >= 10"] == "yes"      # 15x
    assert verdict["pool2 fwd+bwd, naive / im2col >= 20"] == "**no**"                 # 15x
    assert verdict["CNN training step, PyTorch time / im2col time >= 1"] == "**no**"  # 0.9x
    assert verdict["MLP step within 1.5x of PyTorch (PyTorch / im2col >= 0.67)"] == "yes"
    assert verdict["warm numba cache: import + first CNN step < 2 s"] == "yes"
    assert verdict["peak memory of an epoch < 1024 MiB"] == "**no**"


def test_targets_without_pytorch_or_naive_leave_those_rows_out():
    results = _results(15.0, 2.0)
    del results["torch"], results["naive"]
    verdict = _verdicts(report._target_lines(results, {}, (9.0, 2.5)))
    assert list(verdict) == ["warm numba cache: import + first CNN step < 2 s"]
    assert verdict["warm numba cache: import + first CNN step < 2 s"] == "**no**"


def test_readme_gets_the_report_between_its_markers(tmp_path):
    readme, md = tmp_path / "README.md", tmp_path / "RESULTS.md"
    readme.write_text(f"intro\n{report.README_START}\nold\n{report.README_END}\noutro\n")
    md.write_text("# Benchmark results\n\n## Training step\n\n| a | b |\n")
    report.update_readme(md, readme)
    text = readme.read_text()
    assert "old" not in text and "#### Training step" in text and "| a | b |" in text
    assert text.startswith("intro\n") and text.endswith("outro\n")


def test_ratio_targets_show_their_spread_over_process_pairs():
    results = _results(15.0, 2.0)
    fast, slow = results["im2col"], results["naive"]
    # three back-to-back process pairs whose step ratios are 12x, 9x and 15x
    fast["runs"] = [{"steps": {"cnn": 1.0}, "layers": fast["layers"]} for _ in range(3)]
    slow["runs"] = [{"steps": {"cnn": f}, "layers": slow["layers"]} for f in (12.0, 9.0, 15.0)]
    lines = report._target_lines(results, {}, (9.0, 0.8))
    row = next(line for line in lines if line.startswith("| CNN training step, naive"))
    assert row.split(" | ")[2] == "9.00-15.00x"
    assert row.endswith("| yes |")  # judged on the ratio of medians (15x here)

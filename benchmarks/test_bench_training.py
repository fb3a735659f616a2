"""A full SGD training step at batch 64 on a real MNIST batch: the reference CNN and the MLP."""
import pytest

from cases import train_step_case, thread_info


@pytest.mark.parametrize("impl", ["naive", "im2col", "torch"])
def test_cnn_train_step(benchmark, impl):
    step = train_step_case("cnn", impl)
    benchmark.group = "cnn train step"
    benchmark.extra_info.update(dtype="float32", batch=64, impl=impl, **thread_info())
    benchmark.pedantic(step, rounds=5 if impl == "naive" else 40, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("impl", ["fastgrad", "torch"])
def test_mlp_train_step(benchmark, impl):
    step = train_step_case("mlp", "im2col" if impl == "fastgrad" else "torch")
    benchmark.group = "mlp train step"
    benchmark.extra_info.update(dtype="float32", batch=64, impl=impl, **thread_info())
    benchmark.pedantic(step, rounds=100, iterations=1, warmup_rounds=5)

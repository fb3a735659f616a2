"""Per-layer timings at the reference shapes (batch 64, float32): forward, and forward+backward.

Compare implementations within a group: ``pytest benchmarks --benchmark-group-by=group``.
"""
import pytest

from cases import IMPLS, LAYERS, layer_case, thread_info


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer(benchmark, layer, mode, impl):
    run = layer_case(layer, impl, backward=(mode == "fwd+bwd"))
    benchmark.group = f"{layer} {mode}"
    benchmark.extra_info.update(dtype="float32", batch=64, impl=impl, **thread_info())
    rounds = 5 if impl == "naive" else 50
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=2)

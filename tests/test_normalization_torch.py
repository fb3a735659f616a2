"""The normalisation modules against PyTorch's own numbers: outputs, input / weight / bias
gradients and running statistics over several training steps (momentum 0.1, 0.3 and None),
then the eval-mode output. The fixture is written by scripts/make_torch_normalization.py."""
import json
import pathlib

import numpy as np
import pytest

import fastgrad
from fastgrad import nn

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_normalization.npz"
DATA = np.load(FIXTURE)
CASES = sorted({int(key.split("/")[0]) for key in DATA.files if key[0].isdigit()})


def _config(k):
    return json.loads(str(DATA[f"{k}/config"]))


def _close(actual, k, key):
    np.testing.assert_allclose(actual, DATA[f"{k}/{key}"], rtol=1e-10, atol=1e-12,
                               err_msg=f"case {k} {_config(k)}: {key}")


@pytest.mark.parametrize("k", CASES, ids=lambda k: f"{k}-{_config(k)['module']}")
def test_matches_pytorch_over_training_steps_and_in_eval(k):
    config = _config(k)
    module = getattr(nn, config["module"])(*config["args"], **config["kwargs"]).double()
    with fastgrad.no_grad():
        for name, p in module.named_parameters():
            p.copy_(fastgrad.from_numpy(DATA[f"{k}/{name}"]))
    buffer_names = [name for name, _ in module.named_buffers()]
    assert [name for name, _ in module.named_parameters()] == [
        name for name in ("weight", "bias") if f"{k}/{name}" in DATA.files]
    assert buffer_names == [name for name in ("running_mean", "running_var", "num_batches_tracked")
                            if f"{k}/{name}/0" in DATA.files]
    module.train()
    for i in range(config["steps"]):
        x = fastgrad.from_numpy(DATA[f"{k}/input/{i}"].copy()).requires_grad_()
        y = module(x)
        module.zero_grad()
        y.backward(fastgrad.from_numpy(DATA[f"{k}/cotangent/{i}"]))
        _close(y.detach().numpy(), k, f"output/{i}")
        _close(x.grad.numpy(), k, f"grad_input/{i}")
        for name, p in module.named_parameters():
            _close(p.grad.numpy(), k, f"grad_{name}/{i}")
        for name, b in module.named_buffers():
            assert b.dtype == DATA[f"{k}/{name}/{i}"].dtype, name
            _close(b.numpy(), k, f"{name}/{i}")
    module.eval()
    with fastgrad.no_grad():
        _close(module(fastgrad.from_numpy(DATA[f"{k}/eval_input"])).numpy(), k, "eval_output")

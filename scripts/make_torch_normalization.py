"""Write tests/fixtures/torch_normalization.npz: PyTorch's outputs, gradients and running
statistics for its normalisation modules, so that tests/test_normalization_torch.py checks
fastgrad against PyTorch itself without importing it.

Run where PyTorch is installed (the fixture records the version that made it)::

    pip install torch==2.13.0 numpy
    python scripts/make_torch_normalization.py

Each case k stores ``k/config`` (a JSON string: module name, positional and keyword
arguments, number of training steps), the module's starting ``k/weight`` and ``k/bias`` (when
it has them), and for each training step i: ``k/input/i``, ``k/cotangent/i``, ``k/output/i``,
the gradients ``k/grad_input/i``, ``k/grad_weight/i``, ``k/grad_bias/i`` along the cotangent
(fresh each step: no optimiser) and the buffers after the step (``k/running_mean/i``, ...);
then ``k/eval_input`` and ``k/eval_output`` in eval mode. All float64.
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_normalization.npz"

# (module, args, kwargs, input shape, training steps): every momentum rule (0.1, another
# value, None = cumulative average), with and without affine / bias / running statistics,
# 2-D and 3-D BatchNorm1d input, LayerNorm over one and two dims, GroupNorm with one channel
# per group and one group for all, InstanceNorm2d with running statistics, unbatched input.
CASES = [
    ("BatchNorm1d", [3], {}, (5, 3), 3),
    ("BatchNorm1d", [3], {"momentum": None}, (4, 3, 7), 3),
    ("BatchNorm1d", [4], {"affine": False, "eps": 1e-3}, (2, 4), 2),
    ("BatchNorm2d", [3], {}, (3, 3, 4, 5), 3),
    ("BatchNorm2d", [2], {"momentum": None, "bias": False}, (3, 2, 3, 3), 4),
    ("BatchNorm2d", [2], {"momentum": 0.3, "track_running_stats": False}, (2, 2, 1, 3), 2),
    ("LayerNorm", [6], {}, (3, 5, 6), 1),
    ("LayerNorm", [[5, 6]], {"bias": False, "eps": 1e-2}, (3, 5, 6), 1),
    ("LayerNorm", [[1, 3]], {"elementwise_affine": False}, (2, 1, 3), 1),
    ("GroupNorm", [3, 6], {}, (2, 6, 3, 5), 1),
    ("GroupNorm", [4, 4], {}, (2, 4, 7), 1),
    ("GroupNorm", [1, 4], {"affine": False}, (2, 4, 3, 1), 1),
    ("InstanceNorm2d", [3], {}, (3, 3, 4, 5), 1),
    ("InstanceNorm2d", [3], {"affine": True, "track_running_stats": True}, (2, 3, 4, 3), 3),
    ("InstanceNorm2d", [2], {"affine": True}, (2, 5, 3), 1),
]


def run_case(k, name, args, kwargs, shape, steps, rng, out):
    module = getattr(torch.nn, name)(*args, **kwargs).double()
    with torch.no_grad():  # away from ones / zeros, so a weight or bias mix-up shows
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(p.shape)))
    for pname in ("weight", "bias"):
        if getattr(module, pname, None) is not None:
            out[f"{k}/{pname}"] = getattr(module, pname).detach().numpy().copy()
    out[f"{k}/config"] = np.array(json.dumps(
        {"module": name, "args": args, "kwargs": kwargs, "steps": steps}))
    module.train()
    for i in range(steps):
        x = torch.from_numpy(rng.standard_normal(shape) * 2.0 + 0.5 * i).requires_grad_()
        y = module(x)
        cotangent = torch.from_numpy(rng.standard_normal(y.shape))
        module.zero_grad()
        y.backward(cotangent)
        out[f"{k}/input/{i}"] = x.detach().numpy()
        out[f"{k}/cotangent/{i}"] = cotangent.numpy()
        out[f"{k}/output/{i}"] = y.detach().numpy()
        out[f"{k}/grad_input/{i}"] = x.grad.numpy()
        for pname, p in module.named_parameters():
            out[f"{k}/grad_{pname}/{i}"] = p.grad.numpy().copy()
        for bname, b in module.named_buffers():
            out[f"{k}/{bname}/{i}"] = b.numpy().copy()
    module.eval()
    x = torch.from_numpy(rng.standard_normal(shape))
    out[f"{k}/eval_input"] = x.numpy()
    with torch.no_grad():
        out[f"{k}/eval_output"] = module(x).numpy()


def main():
    rng = np.random.default_rng(12)
    out = {"torch_version": np.array(torch.__version__)}
    for k, case in enumerate(CASES):
        run_case(k, *case, rng, out)
    np.savez_compressed(OUT, **out)
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()

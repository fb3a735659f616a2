"""Write tests/fixtures/torch_losses.npz: PyTorch's values and gradients for the losses,
so that tests/test_loss_torch_reference.py checks fastgrad against PyTorch without
importing it.

Run where PyTorch is installed (the fixture records the version that made it)::

    python scripts/make_torch_losses.py

Each case k stores ``k/args`` (a JSON string: function name and keyword arguments), the
float64 array arguments ``k/arg/<name>`` (input, target, weight, pos_weight; target as int64
for class indices), ``k/output``, the cotangent ``k/cotangent`` and ``k/grad/<name>`` for
input and for a float target (gradients along the cotangent).
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_losses.npz"


def _cases(rng):
    """(name, function, arrays, keyword arguments); arrays are float64 unless int targets."""
    normal, uniform = rng.standard_normal, rng.uniform

    def probs(*shape, axis=1):
        p = np.exp(normal(shape))
        return p / p.sum(axis=axis, keepdims=True)

    indices = rng.integers(0, 3, (2, 4, 5))
    indices[0, 1, 2] = indices[1, 3, 0] = -100  # ignored positions
    cases = []
    for reduction in ("mean", "sum", "none"):
        cases += [
            (f"ce_kdim_{reduction}", "cross_entropy",
             dict(input=normal((2, 3, 4, 5)), target=indices, weight=uniform(0.5, 2, 3)),
             dict(reduction=reduction)),
            (f"ce_kdim_smooth_{reduction}", "cross_entropy",
             dict(input=normal((2, 3, 4, 5)), target=indices),
             dict(reduction=reduction, label_smoothing=0.15)),
            (f"ce_prob_{reduction}", "cross_entropy",
             dict(input=normal((4, 5)), target=probs(4, 5), weight=uniform(0.5, 2, 5)),
             dict(reduction=reduction, label_smoothing=0.2)),
            (f"ce_prob_kdim_{reduction}", "cross_entropy",
             dict(input=normal((2, 3, 4)), target=probs(2, 3, 4)), dict(reduction=reduction)),
            (f"nll_kdim_{reduction}", "nll_loss",
             dict(input=normal((2, 3, 4, 5)), target=indices, weight=uniform(0.5, 2, 3)),
             dict(reduction=reduction)),
            (f"bce_{reduction}", "binary_cross_entropy",
             dict(input=np.array([[0.0, 1.0, 0.3], [0.9, 1e-30, 0.5]]),
                  target=uniform(0, 1, (2, 3)), weight=uniform(0.5, 2, 3)),
             dict(reduction=reduction)),
            (f"bce_logits_{reduction}", "binary_cross_entropy_with_logits",
             dict(input=np.array([[200.0, -200.0, 0.0, 3.0], [-40.0, 0.5, -1.5, 80.0]]),
                  target=uniform(0, 1, (2, 4)), weight=uniform(0.5, 2, (2, 1)),
                  pos_weight=uniform(0.5, 3, 4)),
             dict(reduction=reduction)),
            (f"l1_{reduction}", "l1_loss", dict(input=normal((3, 4)), target=normal((3, 4))),
             dict(reduction=reduction)),
            (f"smooth_l1_{reduction}", "smooth_l1_loss",
             dict(input=normal((3, 4)), target=normal((3, 4))),
             dict(reduction=reduction, beta=0.6)),
            (f"huber_{reduction}", "huber_loss",
             dict(input=2 * normal((3, 4)), target=normal((3, 4))),
             dict(reduction=reduction, delta=1.3)),
            (f"kl_div_{reduction}", "kl_div",
             dict(input=np.log(probs(3, 4)), target=probs(3, 4) * (uniform(0, 1, (3, 4)) > 0.3)),
             dict(reduction=reduction)),
            (f"kl_div_log_target_{reduction}", "kl_div",
             dict(input=np.log(probs(3, 4)), target=np.log(probs(3, 4))),
             dict(reduction=reduction, log_target=True)),
        ]
    cases += [
        ("ce_prob_1d", "cross_entropy", dict(input=normal(5), target=probs(5, axis=0)), {}),
        ("ce_prob_empty", "cross_entropy", dict(input=normal((0, 3)), target=normal((0, 3))), {}),
        ("ce_kdim_empty", "cross_entropy",
         dict(input=normal((0, 3, 2)), target=np.zeros((0, 2), np.int64)), {}),
        ("bce_empty", "binary_cross_entropy", dict(input=normal(0), target=normal(0)), {}),
        ("smooth_l1_beta0", "smooth_l1_loss", dict(input=normal(5), target=normal(5)),
         dict(beta=0.0)),
        ("kl_div_batchmean", "kl_div",
         dict(input=np.log(probs(3, 4)), target=probs(3, 4)), dict(reduction="batchmean")),
        ("kl_div_batchmean_empty", "kl_div",
         dict(input=normal((0, 4)), target=normal((0, 4))), dict(reduction="batchmean")),
        ("kl_div_batchmean_0d", "kl_div",
         dict(input=normal(()), target=uniform(0, 1, ())), dict(reduction="batchmean")),
        ("l1_weight", "l1_loss",
         dict(input=normal((3, 4)), target=normal((3, 4)), weight=uniform(0, 2, (3, 4))), {}),
        ("mse_weight", "mse_loss",
         dict(input=normal((3, 4)), target=normal((3, 4)), weight=uniform(0, 2, (3, 4))), {}),
        ("mse_broadcast", "mse_loss", dict(input=normal((3, 4)), target=normal(4)),
         dict(reduction="sum")),
        ("huber_weight", "huber_loss",
         dict(input=normal((3, 4)), target=normal((3, 4)), weight=uniform(0, 2, (3, 4))), {}),
    ]
    return cases


def main():
    rng = np.random.default_rng(12)
    arrays = {"torch_version": np.array(torch.__version__)}
    for name, function, args, kwargs in _cases(rng):
        tensors = {}
        for key, value in args.items():
            value = np.asarray(value)
            t = torch.from_numpy(value.copy())
            if value.dtype.kind == "f" and key in ("input", "target"):
                t.requires_grad_(True)
            tensors[key] = t
            arrays[f"{name}/arg/{key}"] = value
        out = getattr(F, function)(**tensors, **kwargs)
        cotangent = rng.standard_normal(tuple(out.shape))
        arrays[f"{name}/args"] = np.array(json.dumps({"function": function, "kwargs": kwargs}))
        arrays[f"{name}/output"] = out.detach().numpy()
        arrays[f"{name}/cotangent"] = cotangent
        wanted = [k for k, t in tensors.items() if t.requires_grad]
        grads = torch.autograd.grad(out, [tensors[k] for k in wanted],
                                    torch.from_numpy(cotangent), allow_unused=True)
        for key, grad in zip(wanted, grads):
            if grad is not None:
                arrays[f"{name}/grad/{key}"] = grad.numpy()
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({len(arrays)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()

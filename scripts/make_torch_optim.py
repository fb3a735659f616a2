"""Write tests/fixtures/torch_optim.json: PyTorch's optimizers on a few steps (parameters
after each step, float64) with maximize, foreach and the other flags, their defaults, and
which parameter containers they accept, so that tests/test_optim_torch_reference.py checks
fastgrad against PyTorch without importing it.

Run where PyTorch is installed (the fixture records the version that made it)::

    python scripts/make_torch_optim.py
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_optim.json"
STEPS = 5

CASES = {
    "sgd_momentum_maximize": ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True,
                                          foreach=True)),
    "sgd_nesterov_foreach_false": ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, foreach=False)),
    "sgd_fused": ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.2, fused=True)),
    "adam_maximize": ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.1, foreach=True)),
    "adam_amsgrad_fused": ("Adam", dict(lr=0.02, amsgrad=True, fused=True)),
    "adam_decoupled": ("Adam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True)),
    "adamw_maximize": ("AdamW", dict(lr=0.01, maximize=True, foreach=True)),
    "rmsprop_centered_maximize": ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True,
                                                  maximize=True, foreach=True)),
    "adagrad_maximize": ("Adagrad", dict(lr=0.1, lr_decay=0.01, maximize=True, foreach=True)),
    "adagrad_fused": ("Adagrad", dict(lr=0.1, weight_decay=0.05, fused=True)),
    "adadelta_maximize": ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True, foreach=True)),
}
CONTAINERS = ("list", "tuple", "generator", "set", "set_in_group", "named", "partly_named")


def _containers():
    """Which parameter containers the optimizers accept: the error (class name, message), or
    None and the state dict's param_groups."""
    results = {}
    for kind in CONTAINERS:
        p, q = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.ones(1))
        params = {"list": lambda: [p, q], "tuple": lambda: (p, q),
                  "generator": lambda: (x for x in [p, q]), "set": lambda: {p},
                  "set_in_group": lambda: [{"params": {p}}],
                  "named": lambda: [("weight", p), ("bias", q)],
                  "partly_named": lambda: [("weight", p), q]}[kind]()
        try:
            groups = torch.optim.SGD(params, lr=0.1).state_dict()["param_groups"]
            results[kind] = {"error": None, "param_groups": groups}
        except Exception as error:  # noqa: BLE001 - recorded for the test to compare
            results[kind] = {"error": [type(error).__name__, str(error)]}
    return results


def main():
    rng = np.random.default_rng(3)
    start = rng.standard_normal((2, 3))
    grads = [rng.standard_normal((2, 3)) * scale for scale in (1.0, 0.1, 3.0, 1.0, 0.5)][:STEPS]
    results = {"torch_version": torch.__version__, "start": start.tolist(),
               "grads": [g.tolist() for g in grads], "cases": {}, "defaults": {},
               "containers": _containers()}
    for name, (cls, kwargs) in CASES.items():
        p = torch.nn.Parameter(torch.from_numpy(start.copy()))
        optimizer = getattr(torch.optim, cls)([p], **kwargs)
        trajectory = []
        for g in grads:
            p.grad = torch.from_numpy(g.copy())
            optimizer.step()
            trajectory.append(p.detach().numpy().tolist())
        results["cases"][name] = {"optimizer": cls, "kwargs": kwargs, "trajectory": trajectory}
    for cls in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"):
        defaults = getattr(torch.optim, cls)([torch.nn.Parameter(torch.zeros(1))]).defaults
        results["defaults"][cls] = defaults
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()

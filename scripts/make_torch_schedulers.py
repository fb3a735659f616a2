"""Write tests/fixtures/torch_schedulers.json: PyTorch's learning rates (and cycled momenta)
for the lr schedulers over 50 steps, so that tests/test_lr_scheduler_torch_reference.py
checks fastgrad's against PyTorch without importing it.

Run where PyTorch is installed (the fixture records the version that made it)::

    python scripts/make_torch_schedulers.py

Each case holds the optimizer (name, keyword arguments, the lr of each param group), the
scheduler (name, keyword arguments; ``schedulers`` for SequentialLR / ChainedScheduler), the
``epochs`` passed to ``step`` (null: plain ``step()``), and what PyTorch gave after the
constructor and after each step: ``lrs`` and, for schedulers that cycle momentum,
``momenta`` (SGD's momentum or Adam's beta1), one value per param group.
"""
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_schedulers.json"
STEPS = 50


def _sched(name, **kwargs):
    return {"name": name, "kwargs": kwargs}


def _composite(name, schedulers, **kwargs):
    return {"name": name, "schedulers": schedulers, "kwargs": kwargs}


SGD = {"name": "SGD", "kwargs": {"lr": 0.1}, "group_lrs": [0.1]}
SGD_MOMENTUM = {"name": "SGD", "kwargs": {"lr": 0.1, "momentum": 0.9}, "group_lrs": [0.1, 0.03]}
ADAM = {"name": "Adam", "kwargs": {"lr": 0.01}, "group_lrs": [0.01, 0.002]}

CASES = {
    "linear_default": (SGD, _sched("LinearLR"), None),
    "linear_two_groups": (SGD_MOMENTUM, _sched("LinearLR", start_factor=0.25, end_factor=0.9,
                                               total_iters=7), None),
    "linear_decay": (SGD, _sched("LinearLR", start_factor=1.0, end_factor=0.0, total_iters=40),
                     None),
    "constant": (SGD_MOMENTUM, _sched("ConstantLR", factor=0.5, total_iters=4), None),
    "polynomial": (SGD, _sched("PolynomialLR", total_iters=20, power=2.0), None),
    "polynomial_default": (SGD_MOMENTUM, _sched("PolynomialLR"), None),
    "cyclic_triangular": (SGD_MOMENTUM, _sched("CyclicLR", base_lr=0.01, max_lr=0.1,
                                               step_size_up=4, step_size_down=6), None),
    "cyclic_triangular2_adam": (ADAM, _sched("CyclicLR", base_lr=[0.001, 0.0005],
                                             max_lr=[0.01, 0.004], step_size_up=5,
                                             mode="triangular2"), None),
    "cyclic_exp_range": (SGD, _sched("CyclicLR", base_lr=0.01, max_lr=0.2, step_size_up=3,
                                     mode="exp_range", gamma=0.95, cycle_momentum=False), None),
    "one_cycle": (SGD_MOMENTUM, _sched("OneCycleLR", max_lr=0.5, total_steps=50), None),
    "one_cycle_three_phase_linear": (ADAM, _sched("OneCycleLR", max_lr=[0.05, 0.02], epochs=5,
                                                  steps_per_epoch=10, pct_start=0.25,
                                                  anneal_strategy="linear", three_phase=True,
                                                  div_factor=10.0, final_div_factor=100.0),
                                     None),
    "one_cycle_no_momentum": (SGD, _sched("OneCycleLR", max_lr=1.0, total_steps=60,
                                          cycle_momentum=False, pct_start=0.4), None),
    "warm_restarts": (SGD, _sched("CosineAnnealingWarmRestarts", T_0=7), None),
    "warm_restarts_mult": (SGD_MOMENTUM, _sched("CosineAnnealingWarmRestarts", T_0=3, T_mult=2,
                                                eta_min=0.001), None),
    "warm_restarts_fractional": (SGD, _sched("CosineAnnealingWarmRestarts", T_0=2, T_mult=3,
                                             eta_min=0.01), [0.37 * i for i in range(1, STEPS + 1)]),
    "sequential_warmup_exponential": (
        SGD_MOMENTUM, _composite("SequentialLR", [_sched("LinearLR", start_factor=0.1, total_iters=5),
                                                  _sched("ExponentialLR", gamma=0.9)],
                                 milestones=[5]), None),
    "sequential_three": (
        SGD, _composite("SequentialLR", [_sched("ConstantLR", factor=0.2, total_iters=10),
                                         _sched("CosineAnnealingLR", T_max=10),
                                         _sched("StepLR", step_size=6, gamma=0.5)],
                        milestones=[3, 20]), None),
    "chained_constant_exponential": (
        SGD_MOMENTUM, _composite("ChainedScheduler", [_sched("ConstantLR", factor=0.1, total_iters=5),
                                                      _sched("ExponentialLR", gamma=0.95)]), None),
    "chained_linear_step": (
        SGD, _composite("ChainedScheduler", [_sched("LinearLR", start_factor=0.5, total_iters=10),
                                             _sched("StepLR", step_size=7, gamma=0.5)]), None),
}


def _build(spec, optimizer):
    scheduler_module = torch.optim.lr_scheduler
    cls = getattr(scheduler_module, spec["name"])
    if "schedulers" not in spec:
        return cls(optimizer, **spec["kwargs"])
    inner = [_build(s, optimizer) for s in spec["schedulers"]]
    if spec["name"] == "ChainedScheduler":
        return cls(inner, optimizer=optimizer, **spec["kwargs"])
    return cls(optimizer, inner, **spec["kwargs"])


def _momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in optimizer.param_groups]


def main():
    results = {"torch_version": torch.__version__, "steps": STEPS, "cases": {}}
    for name, (opt_spec, sched_spec, epochs) in CASES.items():
        groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr}
                  for lr in opt_spec["group_lrs"]]
        optimizer = getattr(torch.optim, opt_spec["name"])(groups, **opt_spec["kwargs"])
        scheduler = _build(sched_spec, optimizer)
        lrs = [[g["lr"] for g in optimizer.param_groups]]
        momenta = [_momenta(optimizer)]
        for i in range(STEPS):
            optimizer.step()
            scheduler.step() if epochs is None else scheduler.step(epochs[i])
            lrs.append([g["lr"] for g in optimizer.param_groups])
            momenta.append(_momenta(optimizer))
            assert scheduler.get_last_lr() == lrs[-1]
        results["cases"][name] = {"optimizer": opt_spec, "scheduler": sched_spec,
                                  "epochs": epochs, "lrs": lrs, "momenta": momenta}
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()

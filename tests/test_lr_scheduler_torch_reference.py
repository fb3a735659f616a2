"""The lr schedulers against PyTorch's own sequences over 50 steps
(tests/fixtures/torch_schedulers.json, written by scripts/make_torch_schedulers.py):
LinearLR, ConstantLR, PolynomialLR, CyclicLR (every mode, momentum and Adam's beta1 cycled),
OneCycleLR (cos, linear, three phases), CosineAnnealingWarmRestarts (integer and fractional
epochs), SequentialLR and ChainedScheduler."""
import json
import pathlib

import numpy as np
import pytest

import fastgrad
from fastgrad import optim
from fastgrad.optim import lr_scheduler

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_schedulers.json"
_DATA = json.loads(FIXTURE.read_text())


def _build(spec, optimizer):
    cls = getattr(lr_scheduler, spec["name"])
    if "schedulers" not in spec:
        return cls(optimizer, **spec["kwargs"])
    inner = [_build(s, optimizer) for s in spec["schedulers"]]
    if spec["name"] == "ChainedScheduler":
        return cls(inner, optimizer=optimizer, **spec["kwargs"])
    return cls(optimizer, inner, **spec["kwargs"])


def _momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in optimizer.param_groups]


def test_fixture_was_made_by_the_pinned_pytorch():
    assert _DATA["torch_version"].startswith("2.13.0")
    assert _DATA["steps"] == 50 and len(_DATA["cases"]) >= 15


@pytest.mark.parametrize("name", sorted(_DATA["cases"]))
def test_lr_sequence_matches_pytorch(name):
    case = _DATA["cases"][name]
    spec = case["optimizer"]
    groups = [{"params": [fastgrad.zeros(2, requires_grad=True)], "lr": lr}
              for lr in spec["group_lrs"]]
    optimizer = getattr(optim, spec["name"])(groups, **spec["kwargs"])
    scheduler = _build(case["scheduler"], optimizer)
    lrs, momenta = [[g["lr"] for g in optimizer.param_groups]], [_momenta(optimizer)]
    for i in range(_DATA["steps"]):
        optimizer.step()
        scheduler.step() if case["epochs"] is None else scheduler.step(case["epochs"][i])
        lrs.append([g["lr"] for g in optimizer.param_groups])
        momenta.append(_momenta(optimizer))
        assert scheduler.get_last_lr() == lrs[-1]
    np.testing.assert_allclose(lrs, case["lrs"], rtol=1e-13, atol=1e-16)
    expected_momenta = np.array(case["momenta"], dtype=float)  # None (no momentum) is nan
    np.testing.assert_allclose(np.array(momenta, dtype=float), expected_momenta, rtol=1e-13)

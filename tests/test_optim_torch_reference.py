"""The optimizers against PyTorch (tests/fixtures/torch_optim.json, written by
scripts/make_torch_optim.py): a few steps with maximize and the implementation flags
(foreach, fused: one implementation here), their defaults, the parameter containers they
take (a set or a generator at the top level, not a set inside a param group;
``named_parameters()`` pairs, whose names the state dict keeps)."""
import builtins
import json
import pathlib

import numpy as np
import pytest

import fastgrad
from fastgrad import optim

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_optim.json"
_DATA = json.loads(FIXTURE.read_text())
CLASSES = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta")


def _param():
    return fastgrad.tensor(_DATA["start"], dtype=fastgrad.float64, requires_grad=True)


def test_fixture_was_made_by_the_pinned_pytorch():
    assert _DATA["torch_version"].startswith("2.13.0") and len(_DATA["cases"]) >= 10


@pytest.mark.parametrize("name", sorted(_DATA["cases"]))
def test_steps_match_pytorch(name):
    case = _DATA["cases"][name]
    p = _param()
    optimizer = getattr(optim, case["optimizer"])([p], **case["kwargs"])
    for grad, expected in zip(_DATA["grads"], case["trajectory"]):
        p.grad = fastgrad.tensor(grad, dtype=fastgrad.float64)
        optimizer.step()
        np.testing.assert_allclose(p.arr, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", CLASSES)
def test_defaults_are_pytorchs(name):
    defaults = getattr(optim, name)([_param()]).defaults
    expected = dict(_DATA["defaults"][name])
    if "betas" in expected:
        expected["betas"] = tuple(expected["betas"])  # (a list in JSON)
    assert defaults == expected


@pytest.mark.parametrize("kind", sorted(_DATA["containers"]))
def test_parameter_containers_as_pytorch(kind):
    p, q = fastgrad.zeros(2, requires_grad=True), fastgrad.ones(1, requires_grad=True)
    params = {"list": lambda: [p, q], "tuple": lambda: (p, q),
              "generator": lambda: (x for x in [p, q]), "set": lambda: {p},
              "set_in_group": lambda: [{"params": {p}}],
              "named": lambda: [("weight", p), ("bias", q)],
              "partly_named": lambda: [("weight", p), q]}[kind]()
    expected = _DATA["containers"][kind]
    if expected["error"] is None:
        groups = optim.SGD(params, lr=0.1).state_dict()["param_groups"]
        assert groups == expected["param_groups"]  # with 'param_names' for named parameters
    else:
        error_class, message = expected["error"]
        with pytest.raises(getattr(builtins, error_class), match=message[:40]):
            optim.SGD(params, lr=0.1)


def test_implementation_flags_are_checked_as_pytorch():
    p = _param()
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        optim.Adam([p], foreach=True, fused=True)
    with pytest.raises(RuntimeError, match="`fused` does not support `differentiable`"):
        optim.SGD([p], fused=True, differentiable=True)
    with pytest.raises(TypeError, match="fused"):
        optim.RMSprop([p], fused=True)  # not in PyTorch's RMSprop either
    # a step recorded in the graph is what differentiable=True asks for: not done here
    with pytest.raises(NotImplementedError, match="differentiable=True is not supported"):
        optim.SGD([p], differentiable=True)
    for name in ("Adam", "AdamW", "RMSprop", "Adadelta"):
        optimizer = getattr(optim, name)([p], capturable=True)  # accepted, as PyTorch ...
        p.grad = fastgrad.ones_like(p)
        with pytest.raises(AssertionError, match="If capturable=True, params and state_steps"):
            optimizer.step()  # ... which refuses the step on CPU tensors

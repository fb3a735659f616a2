"""fastgrad.optim: update rules against float64 references written from the published
formulas, validation errors, dtypes, param groups, zero_grad, state_dict, and convergence."""
import itertools
import math
import re

import numpy as np
import pytest

import fastgrad
from fastgrad import optim

# --------------------------------------------------------------------------------- helpers
SHAPE = (3, 4)
N_STEPS = 5
# Gradient magnitudes per step: large then small, so that v shrinks at some steps (amsgrad's
# running max then differs from v) and the trajectory is not a constant-gradient one.
GRAD_SCALES = (3.0, 1.0, 0.2, 2.0, 0.1)


def make_grads(seed=0, shape=SHAPE, n=N_STEPS):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for scale in GRAD_SCALES[:n]]


def make_param(seed=1, shape=SHAPE, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return fastgrad.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)


def run(opt_cls, grads, p0=None, dtype=np.float64, **kwargs):
    """Positions of a parameter after each step of ``opt_cls`` fed the gradients ``grads``."""
    p = make_param(dtype=dtype) if p0 is None else p0
    opt = opt_cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = fastgrad.tensor(g, dtype=dtype)
        opt.step()
        out.append(p.arr.copy())
    return out


def assert_trajectory(actual, expected, rtol=1e-12, atol=1e-13):
    assert len(actual) == len(expected)
    for step, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"step {step + 1}")


# ------------------------------------------------- float64 references (published formulas)
def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    out, buf = [], None
    for t, grad in enumerate(grads, start=1):
        d = (-grad if maximize else grad) + weight_decay * p
        if momentum:
            buf = d if t == 1 else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def ref_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    """Kingma & Ba's algorithm with PyTorch's eps placement: eps is added to sqrt(v_hat)."""
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    v_max = np.zeros_like(p)
    out = []
    for t, grad in enumerate(grads, start=1):
        g = -grad if maximize else grad
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def ref_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    v = np.zeros_like(p)
    g_avg = np.zeros_like(p)
    buf = np.zeros_like(p)
    out = []
    for grad in grads:
        g = (-grad if maximize else grad) + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            denom = np.sqrt(v - g_avg ** 2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        out.append(p)
    return out


def ref_adagrad(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    acc = np.full_like(p, initial_accumulator_value)
    out = []
    for t, grad in enumerate(grads, start=1):
        g = (-grad if maximize else grad) + weight_decay * p
        acc = acc + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(acc) + eps)
        out.append(p)
    return out


def ref_adadelta(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    """Zeiler's Adadelta (eps inside both square roots), scaled by lr as in PyTorch."""
    eg2 = np.zeros_like(p)
    edx2 = np.zeros_like(p)
    out = []
    for grad in grads:
        g = (-grad if maximize else grad) + weight_decay * p
        eg2 = rho * eg2 + (1 - rho) * g ** 2
        dx = -np.sqrt(edx2 + eps) / np.sqrt(eg2 + eps) * g
        edx2 = rho * edx2 + (1 - rho) * dx ** 2
        p = p + lr * dx
        out.append(p)
    return out


# ------------------------------------------------------------------------------ trajectories
def _ids(flags):
    return "-".join(f"{k}={v}" for k, v in flags.items())


SGD_CASES = [
    dict(momentum=m, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
    for m, d, n, wd, mx in itertools.product((0.0, 0.9), (0.0, 0.5), (False, True), (0.0, 0.1),
                                             (False, True))
    if not (n and (m == 0 or d != 0))  # the invalid Nesterov settings are tested as errors
]


@pytest.mark.parametrize("flags", SGD_CASES, ids=_ids)
def test_sgd_trajectory(flags):
    grads = make_grads()
    expected = ref_sgd(make_param().arr.copy(), grads, lr=0.1, **flags)
    assert_trajectory(run(optim.SGD, grads, lr=0.1, **flags), expected)


def test_sgd_momentum_literal_numbers():
    # p=1, lr=0.1, momentum=0.9, grads 1, 2, 0.5:
    #   step 1: buf = 1 (the gradient itself)        p = 1    - 0.1 * 1    = 0.9
    #   step 2: buf = 0.9 * 1 + 2 = 2.9              p = 0.9  - 0.1 * 2.9  = 0.61
    #   step 3: buf = 0.9 * 2.9 + 0.5 = 3.11         p = 0.61 - 0.1 * 3.11 = 0.299
    out = run(optim.SGD, [np.array(1.0), np.array(2.0), np.array(0.5)],
              p0=fastgrad.tensor(1.0, dtype=np.float64, requires_grad=True), lr=0.1, momentum=0.9)
    np.testing.assert_allclose(out, [0.9, 0.61, 0.299], rtol=1e-14)


def test_sgd_first_buffer_is_not_dampened():
    # dampening=0.5: step 1 buf = g = 1 (not 0.5), p = 0.9; step 2 buf = 0.9 + 0.5 * 2 = 1.9,
    # p = 0.9 - 0.19 = 0.71.
    out = run(optim.SGD, [np.array(1.0), np.array(2.0)],
              p0=fastgrad.tensor(1.0, dtype=np.float64, requires_grad=True),
              lr=0.1, momentum=0.9, dampening=0.5)
    np.testing.assert_allclose(out, [0.9, 0.71], rtol=1e-14)


def test_sgd_nesterov_literal_numbers():
    # step 1: buf = 1, d = 1 + 0.9 * 1 = 1.9, p = 1 - 0.19 = 0.81
    # step 2: buf = 0.9 + 2 = 2.9, d = 2 + 0.9 * 2.9 = 4.61, p = 0.81 - 0.461 = 0.349
    out = run(optim.SGD, [np.array(1.0), np.array(2.0)],
              p0=fastgrad.tensor(1.0, dtype=np.float64, requires_grad=True),
              lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(out, [0.81, 0.349], rtol=1e-14)


def test_sgd_maximize_negates_the_gradient_before_weight_decay():
    # PyTorch's code: d = -grad + wd * p = -1 + 0.5 = -0.5, p = 1 + 0.05 = 1.05 (weight decay
    # still shrinks p). Negating after weight decay would give p = 1 + 0.1 * 1.5 = 1.15.
    out = run(optim.SGD, [np.array(1.0)],
              p0=fastgrad.tensor(1.0, dtype=np.float64, requires_grad=True),
              lr=0.1, weight_decay=0.5, maximize=True)
    np.testing.assert_allclose(out, [1.05], rtol=1e-14)


def test_adam_first_step_moves_each_coordinate_by_lr():
    # m_hat = g and v_hat = g^2 after one step, so the move is lr * g / (|g| + eps) ~ lr*sign(g).
    p = fastgrad.tensor([1.0, 1.0, 1.0], dtype=np.float64, requires_grad=True)
    out = run(optim.Adam, [np.array([2.0, -0.001, 50.0])], p0=p, lr=0.1)
    np.testing.assert_allclose(out[0], [0.9, 1.1, 0.9], rtol=1e-6)


ADAM_CASES = [
    dict(weight_decay=wd, amsgrad=a, maximize=mx)
    for wd, a, mx in itertools.product((0.0, 0.1), (False, True), (False, True))
]


@pytest.mark.parametrize("flags", ADAM_CASES, ids=_ids)
def test_adam_trajectory(flags):
    grads = make_grads()
    kwargs = dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3, **flags)
    expected = ref_adam(make_param().arr.copy(), grads, **kwargs)
    assert_trajectory(run(optim.Adam, grads, **kwargs), expected)


def test_adam_amsgrad_changes_the_trajectory():
    # Guards the amsgrad test above against gradients for which max(v) == v at every step.
    grads = make_grads()
    plain = ref_adam(make_param().arr.copy(), grads, lr=0.05, betas=(0.8, 0.95), eps=1e-3)
    ams = run(optim.Adam, grads, lr=0.05, betas=(0.8, 0.95), eps=1e-3, amsgrad=True)
    assert np.abs(plain[-1] - ams[-1]).max() > 1e-3


@pytest.mark.parametrize("flags", ADAM_CASES, ids=_ids)
def test_adamw_trajectory(flags):
    grads = make_grads()
    kwargs = dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3, **flags)
    expected = ref_adam(make_param().arr.copy(), grads, decoupled=True, **kwargs)
    assert_trajectory(run(optim.AdamW, grads, **kwargs), expected)


def test_adamw_default_weight_decay_is_decoupled():
    grads = make_grads()
    expected = ref_adam(make_param().arr.copy(), grads, lr=0.01, weight_decay=1e-2,
                        decoupled=True)
    assert_trajectory(run(optim.AdamW, grads, lr=0.01), expected)
    coupled = ref_adam(make_param().arr.copy(), grads, lr=0.01, weight_decay=1e-2)
    assert np.abs(coupled[-1] - expected[-1]).max() > 1e-6


RMSPROP_CASES = [
    dict(centered=c, momentum=m, weight_decay=wd, maximize=mx)
    for c, m, wd, mx in itertools.product((False, True), (0.0, 0.9), (0.0, 0.1), (False, True))
]


@pytest.mark.parametrize("flags", RMSPROP_CASES, ids=_ids)
def test_rmsprop_trajectory(flags):
    grads = make_grads()
    kwargs = dict(lr=0.01, alpha=0.9, eps=1e-4, **flags)
    expected = ref_rmsprop(make_param().arr.copy(), grads, **kwargs)
    assert_trajectory(run(optim.RMSprop, grads, **kwargs), expected)


ADAGRAD_CASES = [
    dict(lr_decay=d, weight_decay=wd, initial_accumulator_value=a, maximize=mx)
    for d, wd, a, mx in itertools.product((0.0, 0.5), (0.0, 0.1), (0.0, 0.3), (False, True))
]


@pytest.mark.parametrize("flags", ADAGRAD_CASES, ids=_ids)
def test_adagrad_trajectory(flags):
    grads = make_grads()
    kwargs = dict(lr=0.1, eps=1e-6, **flags)
    expected = ref_adagrad(make_param().arr.copy(), grads, **kwargs)
    assert_trajectory(run(optim.Adagrad, grads, **kwargs), expected)


ADADELTA_CASES = [
    dict(lr=lr, weight_decay=wd, maximize=mx)
    for lr, wd, mx in itertools.product((1.0, 0.5), (0.0, 0.1), (False, True))
]


@pytest.mark.parametrize("flags", ADADELTA_CASES, ids=_ids)
def test_adadelta_trajectory(flags):
    grads = make_grads()
    kwargs = dict(rho=0.8, eps=1e-3, **flags)
    expected = ref_adadelta(make_param().arr.copy(), grads, **kwargs)
    assert_trajectory(run(optim.Adadelta, grads, **kwargs), expected)


# (the defaults against PyTorch's own: test_optim_torch_reference.py)


# ------------------------------------------------------------- gradients from backward()
def quadratic_grad(A, b, w):
    """Gradient of 0.5 * w^T A w - b^T w (A symmetric)."""
    return A @ w - b


@pytest.mark.parametrize("cls, kwargs, ref", [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), ref_sgd),
    (optim.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.01), ref_adam),
])
def test_trajectory_with_gradients_from_backward(cls, kwargs, ref):
    rng = np.random.default_rng(3)
    M = rng.standard_normal((4, 4))
    A = M @ M.T + np.eye(4)
    b = rng.standard_normal(4)
    w0 = rng.standard_normal(4)
    A_t = fastgrad.tensor(A, dtype=np.float64)
    b_t = fastgrad.tensor(b, dtype=np.float64)
    w = fastgrad.tensor(w0, dtype=np.float64, requires_grad=True)
    opt = cls([w], **kwargs)
    actual = []
    for _ in range(6):
        opt.zero_grad()
        loss = 0.5 * (w * (A_t @ w)).sum() - (b_t * w).sum()
        loss.backward()
        opt.step()
        actual.append(w.arr.copy())

    # The reference recomputes each gradient at its own iterate; as it is a pure function of
    # the gradient history, replaying that history gives the iterate after each step.
    expected, grads, p = [], [], w0
    for _ in range(6):
        grads.append(quadratic_grad(A, b, p))
        p = ref(w0, grads, **kwargs)[-1]
        expected.append(p)
    assert_trajectory(actual, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------ validation errors
def _p():
    return fastgrad.tensor([1.0, 2.0], requires_grad=True)


INVALID = [
    (optim.SGD, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.SGD, dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    (optim.SGD, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (optim.SGD, dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1),
     "Nesterov momentum requires a momentum and zero dampening"),
    (optim.Adam, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.Adam, dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, dict(betas=(-0.1, 0.999)), "Invalid beta parameter at index 0: -0.1"),
    (optim.Adam, dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (optim.Adam, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.AdamW, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.AdamW, dict(betas=(0.9, -0.5)), "Invalid beta parameter at index 1: -0.5"),
    (optim.AdamW, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.RMSprop, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.RMSprop, dict(eps=-1), "Invalid epsilon value: -1"),
    (optim.RMSprop, dict(momentum=-1), "Invalid momentum value: -1"),
    (optim.RMSprop, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.RMSprop, dict(alpha=-1), "Invalid alpha value: -1"),
    (optim.Adagrad, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    (optim.Adagrad, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.Adagrad, dict(initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon value: -1"),
    (optim.Adadelta, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.Adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
    (optim.Adadelta, dict(rho=-0.1), "Invalid rho value: -0.1"),
    (optim.Adadelta, dict(eps=-1), "Invalid epsilon value: -1"),
    (optim.Adadelta, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
]


@pytest.mark.parametrize("cls, kwargs, message", INVALID,
                         ids=[f"{c.__name__}-{_ids(k)}" for c, k, _ in INVALID])
def test_invalid_hyper_parameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        cls([_p()], **kwargs)


def test_boundary_hyper_parameters_are_accepted():
    optim.SGD([_p()], lr=0.0, momentum=0.0, weight_decay=0.0)
    optim.Adam([_p()], lr=0.0, eps=0.0, betas=(0.0, 0.0))
    optim.Adadelta([_p()], rho=0.0)
    optim.Adadelta([_p()], rho=1.0)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                 optim.Adagrad, optim.Adadelta])
def test_empty_parameter_list(cls):
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        cls([])
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        cls(iter(()))


def test_parameter_that_is_not_a_tensor():
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the "
                                        "params is numpy.ndarray"):
        optim.SGD([_p(), np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the "
                                        "params is float"):
        optim.SGD([{"params": [1.0]}], lr=0.1)


def test_params_must_be_an_iterable_of_tensors_or_dicts():
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got "
                                        "fastgrad.autograd.tensor.Tensor"):
        optim.SGD(_p(), lr=0.1)
    # PyTorch 2.13 takes a set at the top level, but not as a group's params (its order
    # numbers the state_dict's parameters; test_optim_torch_reference.py has the fixture)
    assert len(optim.SGD({_p()}, lr=0.1).param_groups[0]["params"]) == 1
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {_p()}}], lr=0.1)


def test_parameter_in_two_groups():
    a, b = _p(), _p()
    with pytest.raises(ValueError, match="^some parameters appear in more than one parameter "
                                         "group$"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1


def test_duplicate_parameter_in_one_group_warns_as_pytorch():
    a = _p()
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([a, a], lr=0.1)


def test_non_leaf_tensor():
    a = _p()
    with pytest.raises(ValueError, match="^can't optimize a non-leaf Tensor$"):
        optim.SGD([a * 2], lr=0.1)


def test_add_param_group_rejects_a_non_dict():
    opt = optim.SGD([_p()], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        opt.add_param_group([_p()])


# ------------------------------------------------------------------------------- dtypes
ALL_FEATURES = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1, maximize=True)),
    (optim.Adam, dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
    (optim.AdamW, dict(lr=0.1, amsgrad=True, maximize=True)),
    (optim.RMSprop, dict(lr=0.1, momentum=0.9, centered=True, weight_decay=0.1)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.1)),
    (optim.Adadelta, dict(weight_decay=0.1)),
]
ALL_IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(ALL_FEATURES)]
REFERENCES = {optim.SGD: ref_sgd, optim.Adam: ref_adam, optim.RMSprop: ref_rmsprop,
              optim.Adagrad: ref_adagrad, optim.Adadelta: ref_adadelta,
              # AdamW's default weight decay is 1e-2, ref_adam's is 0.
              optim.AdamW: lambda p, g, weight_decay=1e-2, **k: ref_adam(
                  p, g, decoupled=True, weight_decay=weight_decay, **k)}


@pytest.mark.parametrize("cls, kwargs", ALL_FEATURES, ids=ALL_IDS)
def test_float32_params_stay_float32(cls, kwargs):
    grads = make_grads()
    p = make_param(dtype=np.float32)
    p0 = p.arr.astype(np.float64)
    opt = cls([p], **kwargs)
    # A learning rate stored as a NumPy float64 scalar must not promote the update either.
    opt.param_groups[0]["lr"] = np.float64(kwargs["lr"] if "lr" in kwargs else 1.0)
    out = []
    for g in grads:
        p.grad = fastgrad.tensor(g)  # float32
        opt.step()
        assert p.arr.dtype == np.float32
        out.append(p.arr.astype(np.float64))
    for name, value in opt.state[p].items():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32, name
    # float32 arithmetic still follows the float64 reference closely.
    f32_grads = [g.astype(np.float32).astype(np.float64) for g in grads]
    expected = REFERENCES[cls](p0, f32_grads, **kwargs)
    assert_trajectory(out, expected, rtol=1e-4, atol=1e-5)


def test_float32_update_is_computed_in_float32():
    # Not only stored as float32: computed in float32 as PyTorch does, even with a float64
    # hyper-parameter (a float64 intermediate would round differently in some elements).
    rng = np.random.default_rng(4)
    p0 = rng.standard_normal(1000).astype(np.float32)
    g1, g2 = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
    p = fastgrad.tensor(p0, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.param_groups[0]["lr"] = np.float64(0.1)
    opt.param_groups[0]["momentum"] = np.float64(0.9)
    lr, m = np.float32(0.1), np.float32(0.9)
    p.grad = fastgrad.tensor(g1)
    opt.step()
    expected = p0 + -lr * g1
    np.testing.assert_array_equal(p.arr, expected)
    p.grad = fastgrad.tensor(g2)
    opt.step()
    buf = g1 * m + np.float32(1.0) * g2
    expected = expected + -lr * buf
    np.testing.assert_array_equal(p.arr, expected)

    # Without momentum the gradient itself (plus weight decay) feeds the update.
    q = fastgrad.tensor(p0, requires_grad=True)
    opt = optim.SGD([q], lr=0.1, weight_decay=0.1)
    opt.param_groups[0]["weight_decay"] = np.float64(0.1)
    q.grad = fastgrad.tensor(g1)
    opt.step()
    np.testing.assert_array_equal(q.arr, p0 + -lr * (g1 + np.float32(0.1) * p0))
    # The check is sharp: the same update in float64, rounded once at the end, differs.
    in_float64 = (p0 - 0.1 * (g1.astype(np.float64) + 0.1 * p0)).astype(np.float32)
    assert not np.array_equal(q.arr, in_float64)


@pytest.mark.parametrize("cls, kwargs", ALL_FEATURES, ids=ALL_IDS)
def test_step_builds_no_graph_and_updates_in_place(cls, kwargs):
    p = make_param(dtype=np.float32)
    alias = p.arr  # a reference taken before the step must see the update
    before = p.arr.copy()
    version = p._version
    opt = cls([p], **kwargs)
    (p * p).sum().backward()
    opt.step()
    assert p.grad_fn is None and p.is_leaf and p.requires_grad
    assert p.arr is alias and not np.array_equal(alias, before)
    assert p._version > version


def test_step_invalidates_a_graph_that_saved_the_old_parameter():
    p = make_param()
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    pending = (p * p).sum()  # saves p at its current version
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        pending.backward()


def test_step_under_no_grad_and_with_grad_enabled_give_the_same_result():
    grads = make_grads()
    a = run(optim.Adam, grads, lr=0.1)
    with fastgrad.no_grad():
        b = run(optim.Adam, grads, lr=0.1)
    assert_trajectory(b, a, rtol=0, atol=0)


@pytest.mark.parametrize("cls, kwargs", ALL_FEATURES, ids=ALL_IDS)
def test_zero_dim_parameter(cls, kwargs):
    # A 0-d gradient of x * x comes back from the engine as a NumPy scalar, not an ndarray;
    # state must still be arrays updated in place across steps.
    p = fastgrad.tensor(1.5, dtype=np.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    out, grads = [], []
    for _ in range(3):
        opt.zero_grad()
        (p * p).backward()
        grads.append(np.array(2 * p.arr))
        opt.step()
        out.append(p.arr.copy())
    assert isinstance(p.arr, np.ndarray) and p.arr.shape == ()
    expected = []
    for t in range(1, 4):
        expected.append(REFERENCES[cls](np.array(1.5), grads[:t], **kwargs)[-1])
    assert_trajectory(out, expected)


def test_parameters_without_grad_are_skipped():
    a, b = make_param(seed=1), make_param(seed=2)
    b_before = b.arr.copy()
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = fastgrad.tensor(np.ones(SHAPE), dtype=np.float64)
    opt.step()
    np.testing.assert_array_equal(b.arr, b_before)
    assert b not in opt.state and opt.state[a]["step"] == 1


def test_step_does_not_modify_the_gradient():
    p = make_param()
    g = np.random.default_rng(0).standard_normal(SHAPE)
    for cls, kwargs in ALL_FEATURES:
        opt = cls([p], **kwargs)
        p.grad = fastgrad.tensor(g, dtype=np.float64)
        grad_arr = p.grad.arr
        for _ in range(2):
            opt.step()
        assert p.grad.arr is grad_arr
        np.testing.assert_array_equal(grad_arr, g, err_msg=cls.__name__)


# ------------------------------------------------------------------------- closure
def test_step_returns_the_closure_loss_evaluated_with_grad_enabled():
    p = make_param()
    opt = optim.SGD([p], lr=0.1)
    calls = []

    def closure():
        calls.append(fastgrad.is_grad_enabled())
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    before = p.arr.copy()
    with fastgrad.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert loss.item() == pytest.approx((before ** 2).sum())
    np.testing.assert_allclose(p.arr, before - 0.1 * 2 * before, rtol=1e-14)
    assert opt.step() is None


# ------------------------------------------------------------------------- zero_grad
def test_zero_grad_set_to_none():
    p = make_param()
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad()
    assert p.grad is None
    opt.zero_grad()  # no gradient at all: nothing to do


def test_zero_grad_keep_tensor_and_do_not_touch_the_old_array():
    p = make_param()
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    grad_tensor = p.grad
    old = p.grad.arr
    old_copy = old.copy()
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad_tensor
    np.testing.assert_array_equal(p.grad.arr, np.zeros(SHAPE))
    assert p.grad.arr.dtype == p.arr.dtype
    np.testing.assert_array_equal(old, old_copy)  # whoever held the old array still has it
    # A zero gradient leaves a plain SGD parameter where it is; backward accumulates afresh.
    before = p.arr.copy()
    opt.step()
    np.testing.assert_array_equal(p.arr, before)
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.arr, 2 * p.arr, rtol=1e-14)


def test_zero_grad_without_set_to_none_replaces_a_gradient_that_has_a_graph():
    p = make_param()
    q = make_param(seed=5)
    opt = optim.SGD([p], lr=0.1)
    p.grad = q * 2  # a gradient with a grad_fn
    opt.zero_grad(set_to_none=False)
    assert p.grad.grad_fn is None and not p.grad.requires_grad
    np.testing.assert_array_equal(p.grad.arr, np.zeros(SHAPE))


# ---------------------------------------------------------------------- param groups
def test_param_groups_with_different_lrs_and_defaults():
    a, b = make_param(seed=1), make_param(seed=2)
    a0, b0 = a.arr.copy(), b.arr.copy()
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.01}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert all(g["momentum"] == 0.5 for g in opt.param_groups)
    assert opt.param_groups[1]["params"] == [b]  # a lone tensor becomes a one-element list
    g = np.ones(SHAPE)
    a.grad = fastgrad.tensor(g, dtype=np.float64)
    b.grad = fastgrad.tensor(g, dtype=np.float64)
    opt.step()
    np.testing.assert_allclose(a.arr, a0 - 0.1 * g, rtol=1e-14)
    np.testing.assert_allclose(b.arr, b0 - 0.01 * g, rtol=1e-14)


def test_add_param_group_after_construction():
    a, b = make_param(seed=1), make_param(seed=2)
    b0 = b.arr.copy()
    opt = optim.Adagrad([a], lr=0.1)
    group = {"params": [b], "lr": 0.5}
    opt.add_param_group(group)
    assert "lr_decay" not in group  # the caller's dict is not modified
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["eps"] == 1e-10
    grads = make_grads(n=2)
    for g in grads:
        b.grad = fastgrad.tensor(g, dtype=np.float64)
        opt.step()
    assert_trajectory([b.arr], [ref_adagrad(b0, grads, lr=0.5)[-1]])


def test_changing_a_group_lr_between_steps_takes_effect():
    p = make_param()
    p0 = p.arr.copy()
    opt = optim.SGD([p], lr=0.1)
    g = np.ones(SHAPE)
    p.grad = fastgrad.tensor(g, dtype=np.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.2
    opt.step()
    np.testing.assert_allclose(p.arr, p0 - 0.3 * g, rtol=1e-14)


def test_repr_lists_the_groups():
    opt = optim.SGD([{"params": [_p()]}, {"params": [_p()], "lr": 0.5}], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 1" in text and "lr: 0.5" in text


# ---------------------------------------------------------------------- state_dict
@pytest.mark.parametrize("cls, kwargs", ALL_FEATURES, ids=ALL_IDS)
def test_state_dict_round_trip_continues_identically(cls, kwargs):
    grads = make_grads(n=5) + make_grads(seed=7, n=3)
    a1, b1 = make_param(seed=1), make_param(seed=2, shape=(5,))
    opt1 = cls([{"params": [a1]}, {"params": [b1], "lr": 0.05}], **kwargs)
    rng = np.random.default_rng(11)
    b_grads = [rng.standard_normal(5) for _ in grads]

    def step(opt, a, b, i):
        a.grad = fastgrad.tensor(grads[i], dtype=np.float64)
        b.grad = fastgrad.tensor(b_grads[i], dtype=np.float64)
        opt.step()

    for i in range(4):
        step(opt1, a1, b1, i)
    saved = opt1.state_dict()

    # A fresh optimizer (other hyper-parameters) on copies of the parameters.
    a2 = fastgrad.tensor(a1.arr, dtype=np.float64, requires_grad=True)
    b2 = fastgrad.tensor(b1.arr, dtype=np.float64, requires_grad=True)
    opt2 = cls([{"params": [a2]}, {"params": [b2]}], lr=0.3)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.05 and opt2.param_groups[0]["params"] == [a2]

    for i in range(4, len(grads)):
        step(opt1, a1, b1, i)
        step(opt2, a2, b2, i)
        np.testing.assert_array_equal(a1.arr, a2.arr)
        np.testing.assert_array_equal(b1.arr, b2.arr)


def test_state_dict_format():
    a, b, c = make_param(seed=1), make_param(seed=2), make_param(seed=3)
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in (a, c):  # b has no gradient: no state
        p.grad = fastgrad.tensor(np.ones(SHAPE), dtype=np.float64)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 2]
    assert list(sd["state"][0]) == ["momentum_buffer"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1] == dict(lr=0.5, momentum=0.9, dampening=0, weight_decay=0,
                                         nesterov=False, maximize=False, foreach=None,
                                         differentiable=False, fused=None, params=[2])


def test_state_dict_is_a_snapshot_and_load_copies():
    p = make_param()
    opt = optim.Adam([p], lr=0.1)
    p.grad = fastgrad.tensor(np.ones(SHAPE), dtype=np.float64)
    opt.step()
    sd = opt.state_dict()
    saved_m = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved_m)
    assert sd["state"][0]["step"] == 1

    q = make_param()
    opt2 = optim.Adam([q], lr=0.1)
    opt2.load_state_dict(sd)
    sd["state"][0]["exp_avg"][...] = 123.0  # changing the dict afterwards changes nothing
    sd["param_groups"][0]["lr"] = 9.0
    np.testing.assert_array_equal(opt2.state[q]["exp_avg"], saved_m)
    assert opt2.param_groups[0]["lr"] == 0.1


def test_load_state_dict_casts_floating_state_to_the_parameter_dtype():
    p64 = make_param()
    opt64 = optim.SGD([p64], lr=0.1, momentum=0.9)
    p64.grad = fastgrad.tensor(np.ones(SHAPE), dtype=np.float64)
    opt64.step()
    p32 = make_param(dtype=np.float32)
    opt32 = optim.SGD([p32], lr=0.1, momentum=0.9)
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["momentum_buffer"].dtype == np.float32
    p32.grad = fastgrad.tensor(np.ones(SHAPE))
    opt32.step()
    assert p32.arr.dtype == np.float32


def test_load_state_dict_checks_groups():
    a, b = _p(), _p()
    sd = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="^loaded state dict has a different number of parameter "
                                         "groups$"):
        optim.SGD([_p()], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="^loaded state dict contains a parameter group that "
                                         "doesn't match the size of optimizer's group$"):
        optim.SGD([{"params": [_p(), _p()]}, {"params": [_p()]}], lr=0.1).load_state_dict(sd)


def test_fresh_adagrad_state_dict_holds_the_accumulators():
    # As PyTorch: Adagrad creates its state when built, not at the first step.
    opt = optim.Adagrad([make_param()], initial_accumulator_value=0.25)
    sd = opt.state_dict()
    assert sd["state"][0]["step"] == 0
    np.testing.assert_array_equal(sd["state"][0]["sum"], np.full(SHAPE, 0.25))


# ----------------------------------------------------------------------- minimisation
def _least_squares(seed=0, n=40, d=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    w_opt = np.linalg.lstsq(X, y, rcond=None)[0]
    f_opt = np.mean((X @ w_opt - y) ** 2)
    # f(w) = mean((Xw - y)^2) has Hessian H = 2 X^T X / n.
    eig = np.linalg.eigvalsh(2 * X.T @ X / n)
    return X, y, f_opt, eig[0], eig[-1]


def _minimise(opt_cls, X, y, steps, **kwargs):
    X_t, y_t = fastgrad.tensor(X), fastgrad.tensor(y)  # float32
    w = fastgrad.zeros(X.shape[1], requires_grad=True)
    opt = opt_cls([w], **kwargs)

    def closure():
        opt.zero_grad()
        loss = ((X_t @ w - y_t) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    w_final = w.arr.astype(np.float64)
    return np.mean((X @ w_final - y) ** 2)


def test_sgd_minimises_least_squares_at_the_predicted_rate():
    X, y, f_opt, mu, L = _least_squares()
    f0 = np.mean(y ** 2)
    steps = 60
    f_final = _minimise(optim.SGD, X, y, steps, lr=1 / L)
    # Gradient descent with step 1/L on a quadratic contracts the distance to the optimum by
    # (1 - mu/L) per step, so f - f* shrinks by at least (1 - mu/L)^2 per step. float32 adds a
    # rounding floor of a few ulps of f*.
    bound = (1 - mu / L) ** (2 * steps) * (f0 - f_opt)
    assert f_final - f_opt <= bound * 1.01 + 1e-6 * f_opt
    assert bound < 1e-3 * (f0 - f_opt)  # the bound itself demands real progress


def test_sgd_with_momentum_minimises_least_squares():
    X, y, f_opt, mu, L = _least_squares(seed=1)
    # Heavy ball with Polyak's tuning converges at rate (sqrt(k)-1)/(sqrt(k)+1), k = L/mu.
    kappa = L / mu
    lr = 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2
    momentum = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    f_final = _minimise(optim.SGD, X, y, 100, lr=lr, momentum=momentum)
    assert f_final - f_opt <= 1e-5 * f_opt


def test_adam_minimises_least_squares():
    X, y, f_opt, _, _ = _least_squares(seed=2)
    f0 = np.mean(y ** 2)
    f_final = _minimise(optim.Adam, X, y, 300, lr=0.05)
    assert f_final - f_opt <= 1e-4 * (f0 - f_opt)

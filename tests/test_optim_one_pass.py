"""SGD with momentum on a large parameter runs as one pass (kernels/optim.py): it must give
bit for bit what the NumPy update gives, keep the state PyTorch's way and bump the version."""
import numpy as np
import pytest

import fastgrad
from fastgrad import optim
from fastgrad.optim import sgd as sgd_module


def _numpy_momentum_sgd(p, grads, lr, momentum):
    p = p.copy()
    buf = None
    for g in grads:
        if buf is None:
            buf = g.copy()
        else:
            buf *= momentum
            buf += g
        p += -lr * buf
    return p, buf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(256, 784), (1 << 14,), (3, 5)])
def test_matches_the_numpy_update_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(0)
    start = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(4)]
    p = fastgrad.nn.Parameter(fastgrad.from_numpy(start.copy()))
    opt = optim.SGD([p], lr=0.05, momentum=0.9)
    for g in grads:
        p.grad = fastgrad.from_numpy(g.copy())
        opt.step()
    want_p, want_buf = _numpy_momentum_sgd(start, grads, 0.05, 0.9)
    np.testing.assert_array_equal(p.detach().numpy(), want_p)
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], want_buf)


def test_every_plain_momentum_parameter_takes_the_kernel_after_the_first_step(monkeypatch):
    calls = []
    kernel = sgd_module.sgd_momentum_update
    monkeypatch.setattr(sgd_module, "_SPLIT_MIN_ELEMENTS", 10**9)  # one call, on this thread
    monkeypatch.setattr(sgd_module, "sgd_momentum_update",
                        lambda p, *a: (calls.append(p.shape), kernel(p, *a)))
    big = fastgrad.nn.Parameter(fastgrad.zeros(256, 784))
    small = fastgrad.nn.Parameter(fastgrad.zeros(10))
    opt = optim.SGD([big, small], lr=0.1, momentum=0.9)
    for _ in range(3):
        big.grad, small.grad = fastgrad.ones(256, 784), fastgrad.ones(10)
        version = big._version
        opt.step()
    assert calls == [(256, 784), (10,)] * 2  # the first step only copies the gradient
    assert big._version == version + 1  # an in-place change, as any other update
    np.testing.assert_allclose(big.detach().numpy(), small.detach().numpy()[0], rtol=1e-6)


@pytest.mark.parametrize("options", [dict(nesterov=True), dict(dampening=0.5),
                                     dict(weight_decay=0.01)])
def test_other_variants_take_the_general_path_and_stay_right(options, monkeypatch):
    monkeypatch.setattr(sgd_module, "sgd_momentum_update",
                        lambda *a: pytest.fail("the one-pass kernel ran for " + str(options)))
    p = fastgrad.nn.Parameter(fastgrad.ones(1 << 15))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, **options)
    for _ in range(2):
        p.grad = fastgrad.ones(1 << 15)
        opt.step()
    assert np.isfinite(p.detach().numpy()).all() and not np.allclose(p.detach().numpy(), 1.0)


def test_maximize_takes_the_kernel_with_the_negated_gradient():
    rng = np.random.default_rng(1)
    start = rng.standard_normal(1 << 15).astype(np.float32)
    grads = [rng.standard_normal(1 << 15).astype(np.float32) for _ in range(3)]
    p = fastgrad.nn.Parameter(fastgrad.from_numpy(start.copy()))
    opt = optim.SGD([p], lr=0.05, momentum=0.9, maximize=True)
    for g in grads:
        p.grad = fastgrad.from_numpy(g.copy())
        opt.step()
    want_p, _ = _numpy_momentum_sgd(start, [-g for g in grads], 0.05, 0.9)
    np.testing.assert_array_equal(p.detach().numpy(), want_p)

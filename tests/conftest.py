"""Shared test helpers: a seeded NumPy generator and a one-call gradient check."""
import numpy as np
import pytest

from fastgrad.autograd import gradcheck
from fastgrad.autograd.tensor import Tensor


@pytest.fixture
def rng():
    """A fresh, seeded generator per test, so every test's data is reproducible."""
    return np.random.default_rng(1234)


def check_grad(fn, *arrays, **kwargs):
    """gradcheck ``fn`` at ``arrays``, each wrapped as a float64 Tensor that requires grad.

    Returns the input tensors (their ``.grad`` holds the analytic gradient of the check).
    """
    inputs = [Tensor(np.array(a, dtype=np.float64), dtype=np.float64, requires_grad=True)
              for a in arrays]
    assert gradcheck(fn, inputs, **kwargs)
    return inputs

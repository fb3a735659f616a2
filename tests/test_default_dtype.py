"""get_default_dtype / set_default_dtype, as torch's: the dtype of new float tensors."""
import numpy as np
import pytest

import fastgrad
from fastgrad import nn


@pytest.fixture
def restore_default_dtype():
    before = fastgrad.get_default_dtype()
    yield
    fastgrad.set_default_dtype(before)


def test_default_is_float32():
    assert fastgrad.get_default_dtype() is fastgrad.float32
    assert fastgrad.tensor([1.5]).dtype == np.float32 and fastgrad.zeros(2).dtype == np.float32


@pytest.mark.usefixtures("restore_default_dtype")
def test_float64_default_reaches_constructors_literals_and_layers():
    fastgrad.set_default_dtype(fastgrad.float64)
    assert fastgrad.get_default_dtype() is fastgrad.float64
    made = [fastgrad.tensor([1.2, 3]), fastgrad.tensor(2.5), fastgrad.zeros(2), fastgrad.ones(1),
            fastgrad.empty(1), fastgrad.randn(2), fastgrad.rand(2), fastgrad.linspace(0, 1, 3),
            fastgrad.eye(2), fastgrad.arange(0.0, 1.0, 0.5), nn.Linear(2, 2).weight]
    assert [t.dtype for t in made] == [np.float64] * len(made)
    assert fastgrad.tensor([1, 2]).dtype == np.int64  # integers are not affected
    assert fastgrad.tensor([1.0], dtype=fastgrad.float32).dtype == np.float32
    fastgrad.set_default_dtype(fastgrad.float32)
    assert fastgrad.tensor([1.2]).dtype == np.float32


@pytest.mark.usefixtures("restore_default_dtype")
@pytest.mark.parametrize("dtype", [fastgrad.int64, fastgrad.bool, fastgrad.uint8])
def test_non_float_defaults_raise_type_error(dtype):
    with pytest.raises(TypeError, match="only floating-point types"):
        fastgrad.set_default_dtype(dtype)
    assert fastgrad.get_default_dtype() is fastgrad.float32


@pytest.mark.usefixtures("restore_default_dtype")
@pytest.mark.parametrize("dtype", [fastgrad.float64, fastgrad.float16, fastgrad.float32])
def test_integer_results_that_become_float_take_the_default(dtype):
    # PyTorch: int / int and int * python float are of the default dtype, not always float32
    fastgrad.set_default_dtype(dtype)
    a, b = fastgrad.tensor([1, 2]), fastgrad.tensor([3, 4])
    assert (a / b).dtype == dtype
    assert (a * 2.5).dtype == dtype
    assert (a ** -1.0).dtype == dtype

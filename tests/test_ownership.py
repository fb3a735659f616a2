"""Gradient ownership: a leaf takes a gradient array without a copy only when the node that
returned it declares it fresh (``fresh_grads``), and it is not ``grad_output``, not a view,
and not returned for two inputs. Every other gradient is copied; accumulation never mutates
an array someone else holds."""
import numpy as np
import pytest

import fastgrad
import fastgrad.nn.functional as F
from fastgrad import GradFn, Tensor
from fastgrad.autograd.engine import accumulate_into_leaf


class _Returns(GradFn):
    """A node whose backward returns what ``make(grad_output)`` gives, one per input; the
    returned arrays are recorded for identity checks."""

    def __init__(self, inputs, make, fresh, record):
        super().__init__(*inputs)
        self.make = make
        self.fresh_grads = fresh
        self.record = record  # the test's list: it outlives the node's release

    def backward(self, grad_output):
        grads = self.make(grad_output)
        self.record.append(grads)
        return grads


def _backward_through(make, fresh, *leaves, given=None):
    record = []
    given = np.ones(3, dtype=np.float32) if given is None else given
    out = Tensor._wrap(np.zeros(3, dtype=np.float32), _Returns(leaves, make, fresh, record))
    out.backward(given)
    return record[0]


def _leaf(values=(1.0, 2.0, 3.0), dtype=fastgrad.float32):
    return fastgrad.tensor(list(values), dtype=dtype, requires_grad=True)


def test_a_fresh_gradient_is_taken_without_a_copy():
    x = _leaf()
    returned = _backward_through(lambda g: (g * 2,), True, x)
    assert x.grad.arr is returned[0]


def test_an_undeclared_gradient_is_copied():
    x = _leaf()
    returned = _backward_through(lambda g: (g * 2,), False, x)
    assert x.grad.arr is not returned[0] and not np.shares_memory(x.grad.arr, returned[0])
    np.testing.assert_array_equal(x.grad.arr, [2.0, 2.0, 2.0])


def test_grad_output_itself_is_copied_even_from_a_fresh_node():
    x = _leaf()
    given = np.ones(3, dtype=np.float32)
    returned = _backward_through(lambda g: (g,), True, x, given=given)
    assert returned[0] is given
    assert not np.shares_memory(x.grad.arr, given)
    x.grad.arr[0] = -1.0
    assert given[0] == 1.0


def test_a_view_is_copied_even_from_a_fresh_node():
    x = _leaf()
    base = np.zeros((2, 3), dtype=np.float32)
    returned = _backward_through(lambda g: (base[0],), True, x)
    assert returned[0].base is base
    assert not np.shares_memory(x.grad.arr, base)


def test_an_array_returned_for_two_inputs_is_copied_for_each():
    a, b = _leaf(), _leaf()
    returned = _backward_through(lambda g: (g * 2,) * 2, True, a, b)
    shared = returned[0]
    assert returned[1] is shared
    assert not np.shares_memory(a.grad.arr, shared) and not np.shares_memory(b.grad.arr, shared)
    assert not np.shares_memory(a.grad.arr, b.grad.arr)
    a.grad.arr[0] = -1.0
    assert b.grad.arr[0] == 2.0


def test_the_same_leaf_twice_gets_the_sum_in_an_array_of_its_own():
    x = _leaf()
    returned = _backward_through(lambda g: (g * 2,) * 2, True, x, x)
    assert not np.shares_memory(x.grad.arr, returned[0])
    np.testing.assert_array_equal(x.grad.arr, [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(returned[0], [2.0, 2.0, 2.0])


def test_a_read_only_gradient_is_copied():
    x = _leaf()

    def read_only(g):
        grad = g * 2
        grad.flags.writeable = False
        return (grad,)

    returned = _backward_through(read_only, True, x)
    assert x.grad.arr is not returned[0] and x.grad.arr.flags.writeable


def test_a_gradient_cast_to_the_leaf_dtype_is_taken():
    # The cast makes a new array, owned by nobody else, whether or not the node declared it.
    x = _leaf(dtype=fastgrad.float64)
    given = np.ones(3, dtype=np.float32)
    accumulate_into_leaf(x, given)
    first = x.grad.arr
    assert first.dtype == np.float64 and not np.shares_memory(first, given)
    y = _leaf(dtype=fastgrad.float64)
    converted = []
    original_astype = np.ndarray.astype

    class Recording(np.ndarray):
        def astype(self, dtype, *args, **kwargs):
            out = original_astype(np.asarray(self), dtype, *args, **kwargs)
            converted.append(out)
            return out

    accumulate_into_leaf(y, given.view(Recording))
    assert y.grad.arr is converted[0]


def test_an_unowned_gradient_of_the_leaf_dtype_is_copied():
    x = _leaf()
    given = np.ones(3, dtype=np.float32)
    accumulate_into_leaf(x, given)
    assert not np.shares_memory(x.grad.arr, given)
    y = _leaf()
    accumulate_into_leaf(y, given, owned=True)
    assert y.grad.arr is given


def test_accumulation_never_mutates_an_array_someone_else_holds():
    x = _leaf()
    first = _backward_through(lambda g: (g * 2,), True, x)[0]
    assert x.grad.arr is first
    kept = x.grad.arr  # e.g. an optimiser's or the user's reference to the first gradient
    second = _backward_through(lambda g: (g * 3,), True, x)[0]
    np.testing.assert_array_equal(kept, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(second, [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(x.grad.arr, [5.0, 5.0, 5.0])
    assert not np.shares_memory(x.grad.arr, kept) and not np.shares_memory(x.grad.arr, second)


def test_a_retained_gradient_is_a_copy():
    x = _leaf()
    h = x * 2
    h.retain_grad()
    given = np.ones(3, dtype=np.float32)
    h.backward(given)
    assert not np.shares_memory(h.grad.arr, given)
    assert not np.shares_memory(h.grad.arr, x.grad.arr)


# ---------------------------------------------------------------- the ops that declare it
def _record_backward(monkeypatch, grad_fn_class):
    """Record the arrays ``grad_fn_class.backward`` returns."""
    returned = []
    original = grad_fn_class.backward

    def recording(self, grad_output):
        grads = original(self, grad_output)
        returned.append(grads)
        return grads

    monkeypatch.setattr(grad_fn_class, "backward", recording)
    return returned


def test_linear_parameter_gradients_are_taken_without_a_copy(monkeypatch):
    from fastgrad.ops.linear import LinearGradFn

    returned = _record_backward(monkeypatch, LinearGradFn)
    x = fastgrad.randn(4, 3, requires_grad=True)
    w = fastgrad.randn(2, 3, requires_grad=True)
    b = fastgrad.randn(2, requires_grad=True)
    F.linear(x, w, b).backward(fastgrad.randn(4, 2))
    grad_x, grad_w, grad_b = returned[0]
    assert x.grad.arr is grad_x and w.grad.arr is grad_w and b.grad.arr is grad_b


def test_matmul_gradients_are_taken_without_a_copy(monkeypatch):
    from fastgrad.ops.arithmetic import MatMulGradFn

    returned = _record_backward(monkeypatch, MatMulGradFn)
    a = fastgrad.randn(4, 3, requires_grad=True)
    b = fastgrad.randn(3, 2, requires_grad=True)
    (a @ b).backward(fastgrad.randn(4, 2))
    assert a.grad.arr is returned[0][0] and b.grad.arr is returned[0][1]


@pytest.mark.parametrize("layer", ["conv", "max_pool", "avg_pool"])
def test_conv_and_pool_input_gradients_are_taken_without_a_copy(monkeypatch, layer):
    from fastgrad.ops.conv import Conv2dGradFn
    from fastgrad.ops.pooling import AvgPool2dGradFn, MaxPool2dGradFn

    grad_fn_class = {"conv": Conv2dGradFn, "max_pool": MaxPool2dGradFn,
                     "avg_pool": AvgPool2dGradFn}[layer]
    returned = _record_backward(monkeypatch, grad_fn_class)
    x = fastgrad.randn(2, 3, 6, 6, requires_grad=True)
    if layer == "conv":
        out = F.conv2d(x, fastgrad.randn(4, 3, 3, 3, requires_grad=True))
    else:
        out = (F.max_pool2d if layer == "max_pool" else F.avg_pool2d)(x, 2)
    out.backward(fastgrad.randn(*out.shape))
    assert x.grad.arr is returned[0][0]


def test_a_shape_op_passes_a_view_of_grad_output_which_the_leaf_copies():
    x = _leaf()
    given = np.ones((3, 1), dtype=np.float32)
    x.reshape(3, 1).backward(given)
    assert not np.shares_memory(x.grad.arr, given)

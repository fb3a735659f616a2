"""The Tensor class: construction and dtype rules, autograd flags, array facts, conversions,
methods bound from the ops (and the module-level functions they mirror), in-place methods."""
import numpy as np
import pytest

import fastgrad
import fastgrad.ops
from fastgrad import Tensor


# ---------------------------------------------------------------------------- construction
@pytest.mark.parametrize("data,dtype", [
    (1.5, np.float32),
    ([1.0, 2.0], np.float32),
    (np.array([1.0], dtype=np.float16), np.float16),
    (3, np.int64),
    ([1, 2], np.int64),
    (np.array([1, 2], dtype=np.int32), np.int32),
    (True, np.bool_),
    ([[True], [False]], np.bool_),
])
def test_default_dtypes(data, dtype):
    for t in (Tensor(data), fastgrad.tensor(data)):
        assert t.dtype == dtype
        np.testing.assert_array_equal(t.arr, np.asarray(data))


@pytest.mark.parametrize("data", [np.array([1.0, 2.0]), np.float64(2.0)])
def test_float64_numpy_data_stays_float64_in_tensor_and_becomes_the_default_in_Tensor(data):
    # torch.tensor keeps a NumPy array's (or scalar's) dtype; the Tensor constructor, like
    # torch.Tensor, makes float data the default dtype.
    assert fastgrad.tensor(data).dtype == np.float64
    assert Tensor(data).dtype == np.float32
    np.testing.assert_array_equal(fastgrad.tensor(data).arr, data)


def test_float64_when_asked():
    for t in (Tensor([1.0, 2.0], dtype=np.float64), fastgrad.tensor(np.ones(2), dtype="float64"),
              fastgrad.tensor([1, 2], dtype=fastgrad.double)):
        assert t.dtype == np.float64
    assert (Tensor([1.0, 2.0], dtype=np.float64) * 2).dtype == np.float64


def test_tensor_of_a_tensor_keeps_its_dtype():
    t64 = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64)
    assert fastgrad.tensor(t64).dtype == np.float64
    assert Tensor(t64).dtype == np.float64
    assert fastgrad.tensor(t64, dtype=fastgrad.float32).dtype == np.float32


def test_tensor_copies_but_Tensor_wraps():
    a = np.array([1.0, 2.0], dtype=np.float32)
    copied = fastgrad.tensor(a)
    wrapped = Tensor(a)
    a[0] = 10.0
    assert copied.arr[0] == 1.0 and wrapped.arr[0] == 10.0


def test_unsupported_data_is_a_type_error():
    with pytest.raises(TypeError, match="dtype <U1"):
        Tensor(["a"])
    with pytest.raises(TypeError, match="NoneType"):
        fastgrad.tensor(None)


# -------------------------------------------------------------------------- autograd flags
def test_requires_grad_flags():
    x = fastgrad.tensor([1.0], requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad is None and x.grad_fn is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert y.grad_fn.name() == "MulGradFn" and "MulGradFn" in repr(y)
    assert y.grad_fn.next_functions == (x, None)  # edge to the leaf; the constant has none
    c = fastgrad.tensor([1.0])
    assert not c.requires_grad and (c * 2).grad_fn is None
    assert c.requires_grad_() is c and c.requires_grad
    c.requires_grad_(False)
    assert not c.requires_grad
    y.requires_grad = True  # a no-op on a non-leaf
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad = False


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match=r"floating point dtype.*\(got int64\)"):
        fastgrad.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(got bool\)"):
        fastgrad.tensor([True]).requires_grad_()
    with pytest.raises(RuntimeError, match=r"\(got int32\)"):
        Tensor(np.array([1], dtype=np.int32), requires_grad=True)


def test_detach_():
    x = fastgrad.tensor([1.0], requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert y.grad_fn is None and not y.requires_grad


# ------------------------------------------------------------------------------ array facts
def test_array_facts():
    x = fastgrad.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and x.element_size() == 4
    assert x.is_floating_point() and not fastgrad.tensor([1]).is_floating_point()
    assert x.is_contiguous() and not x.transpose(0, 2).is_contiguous()
    assert x.device == "cpu" and x.cpu() is x
    with pytest.raises(IndexError, match=r"range of \[-3, 2\], but got 3"):
        x.size(3)


def test_conversions():
    x = fastgrad.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert len(x) == 2
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    s = fastgrad.tensor(2.5)
    assert s.item() == 2.5 and float(s) == 2.5 and int(s) == 2 and bool(s)
    assert [10, 20, 30][fastgrad.tensor(1)] == 20  # __index__
    assert np.asarray(x) is x.arr and x.numpy() is x.arr
    assert np.array(x, dtype=np.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match="4 elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match=r"ambiguous \(shape \(2, 2\)\)"):
        bool(x)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(s)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(s)
    with pytest.raises(TypeError, match="integer tensors of a single element"):
        [1, 2][fastgrad.tensor(1.0)]


def test_numpy_of_a_tensor_that_requires_grad():
    x = fastgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        x.numpy()
    with pytest.raises(RuntimeError):
        np.asarray(x)
    assert x.detach().numpy() is x.arr


def test_repr():
    assert repr(fastgrad.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(fastgrad.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=fastgrad.float64" in repr(fastgrad.tensor([1.0], dtype=fastgrad.float64))
    assert repr(fastgrad.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<AddGradFn>" in repr(fastgrad.tensor([1.0], requires_grad=True) + 1)


# ----------------------------------------------------------------- methods and functions
CAST_METHODS = {"float", "double", "half", "long", "int", "bool", "type"}


def test_every_method_is_also_a_module_level_function():
    for name in fastgrad.ops.TENSOR_METHODS:
        assert callable(getattr(Tensor, name)), name
        if name in CAST_METHODS:
            continue  # fastgrad.float etc. are the dtypes, as torch.float is
        assert getattr(fastgrad, name) is getattr(fastgrad.ops, name), name


def test_dtype_names():
    assert fastgrad.float is np.float32 and fastgrad.double is np.float64
    assert fastgrad.long is np.int64 and fastgrad.int is np.int32 and fastgrad.bool is np.bool_
    assert fastgrad.half is np.float16


def test_method_and_function_agree(rng):
    x = Tensor(rng.uniform(0.5, 2.0, (2, 3)))
    np.testing.assert_array_equal(fastgrad.exp(x).arr, x.exp().arr)
    np.testing.assert_array_equal(fastgrad.flatten(x, 1).arr, x.flatten(1).arr)
    np.testing.assert_array_equal(fastgrad.view(x, 3, 2).arr, x.view(3, 2).arr)
    np.testing.assert_array_equal(fastgrad.sum(x, 1).arr, x.sum(1).arr)
    np.testing.assert_array_equal(fastgrad.softmax(x, 0).arr, x.softmax(0).arr)
    np.testing.assert_array_equal(fastgrad.clamp(x, 0.7, 1.2).arr, x.clamp(0.7, 1.2).arr)
    np.testing.assert_array_equal(fastgrad.to(x, fastgrad.float64).arr, x.double().arr)


def test_functions_accept_non_tensor_data():
    out = fastgrad.exp([0.0, 1.0])
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.arr, [1.0, np.e], rtol=1e-6)
    assert fastgrad.sum(np.ones((2, 2))).item() == 4.0


# ------------------------------------------------------------------------ in-place methods
@pytest.mark.parametrize("method,arg,expected", [
    ("add_", 2.0, [3.0, 4.0]), ("sub_", 2.0, [-1.0, 0.0]), ("mul_", 3.0, [3.0, 6.0]),
    ("div_", 2.0, [0.5, 1.0]), ("pow_", 2.0, [1.0, 4.0]),
])
def test_inplace_methods(method, arg, expected):
    x = fastgrad.tensor([1.0, 2.0])
    original = x.arr
    out = getattr(x, method)(arg)
    assert out is x and x.arr is original  # really in place
    assert x.tolist() == expected
    assert x._version == 1


def test_inplace_methods_record_the_graph_on_non_leaves():
    w = fastgrad.tensor([2.0, 3.0], requires_grad=True)
    y = w * 1
    y.mul_(w).add_(w, alpha=2)
    assert y.tolist() == [8.0, 15.0]
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.arr, 2 * w.arr + 2)


def test_inplace_result_must_keep_shape_and_dtype():
    x = fastgrad.zeros(3)
    with pytest.raises(RuntimeError, match=r"output with shape \(3,\) doesn't match the broadcast "
                                           r"shape \(2, 3\)"):
        x += fastgrad.ones(2, 3)
    i = fastgrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired "
                                           "output type int64"):
        i += 0.5
    i += 3
    assert i.tolist() == [4, 5] and i.dtype == np.int64


def test_writing_to_an_expanded_view_is_refused():
    e = fastgrad.tensor([1.0]).expand(3)
    with pytest.raises(RuntimeError, match=r"shape \(3,\) is a read-only view"):
        e[0] = 2.0
    with pytest.raises(RuntimeError, match="read-only view"):
        e += 1


def test_random_fills():
    fastgrad.manual_seed(3)
    x = fastgrad.empty(1000).normal_(2.0, 0.5)
    assert abs(x.arr.mean() - 2.0) < 0.1 and abs(x.arr.std() - 0.5) < 0.1
    u = fastgrad.empty(1000).uniform_(-1.0, 3.0)
    assert u.arr.min() >= -1.0 and u.arr.max() < 3.0 and u.arr.mean() > 0.5
    assert x.dtype == np.float32 and x._version == 1


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "tanh", "relu", "abs", "std"])
def test_a_0d_result_is_a_writable_array(op):
    x = fastgrad.tensor([4.0]) if op == "std" else fastgrad.tensor(4.0)
    y = getattr(x * 1, op)() if op != "std" else fastgrad.tensor([1.0, 3.0]).std()
    assert isinstance(y.arr, np.ndarray) and y.arr.ndim == 0
    before = y.item()
    y.add_(1.0)  # NumPy made these read-only scalars
    assert y.item() == pytest.approx(before + 1.0)

"""gradcheck itself: it passes right gradients and catches wrong ones, naming input and element."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import GradcheckError, GradFn, gradcheck
from fastgrad.autograd.function import needs_grad
from fastgrad.autograd.function import GradFn as BaseGradFn
from fastgrad.autograd.tensor import Tensor
from fastgrad.testing import check_op


class _ScaleGradFn(GradFn):
    """out = x * 3 with a backward chosen by the test (``mode``)."""

    def __init__(self, x, mode):
        super().__init__(x)
        self.mode = mode

    def backward(self, grad_output):
        if self.mode == "right":
            return (grad_output * 3,)
        if self.mode == "wrong_factor":
            return (grad_output * 2,)
        if self.mode == "permuted":
            # Right values, sent to the wrong elements: a plain sum() check would not see it.
            return (np.flip(grad_output * 3),)
        if self.mode == "one_element":
            g = grad_output * 3
            g = g.copy()
            g.reshape(-1)[-1] += 1.0
            return (g,)
        raise AssertionError(self.mode)


def _scale(x, mode):
    fn = _ScaleGradFn(x, mode) if needs_grad(x) else None
    return Tensor._wrap(x.arr * 3, fn)


def _input(shape, seed=0):
    arr = np.random.default_rng(seed).standard_normal(shape)
    return Tensor(arr, dtype=np.float64, requires_grad=True)


def test_gradfn_is_the_public_base_class():
    assert fastgrad.GradFn is BaseGradFn


def test_right_gradient_passes():
    assert gradcheck(lambda x: _scale(x, "right"), [_input((2, 3))])
    check_op(lambda x: _scale(x, "right"), np.ones((2, 3)), extra_shapes=[((),), ((0, 2),)])


def test_wrong_factor_is_caught_and_named():
    x = _input((2, 3))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\).*element \(0, 0\)"):
        gradcheck(lambda x: _scale(x, "wrong_factor"), [x])


def test_permuted_gradient_is_caught():
    # np.flip of a 4-vector moves every element, so the check must fail at element 0.
    x = _input((4,))
    with pytest.raises(GradcheckError, match=r"element \(0,\)"):
        gradcheck(lambda x: _scale(x, "permuted"), [x])


def test_single_wrong_element_is_located():
    x = _input((2, 3))
    with pytest.raises(GradcheckError, match=r"element \(1, 2\).*\(1 of 6 elements differ\)"):
        gradcheck(lambda x: _scale(x, "one_element"), [x])


def test_names_the_second_input_when_only_it_is_wrong():
    a, b = _input((3,), seed=1), _input((3,), seed=2)
    with pytest.raises(GradcheckError, match=r"gradient of input 1 "):
        gradcheck(lambda a, b: a * 2 + _scale(b, "wrong_factor"), [a, b])


def test_raise_exception_false_returns_false():
    result = gradcheck(lambda x: _scale(x, "wrong_factor"), [_input(3)], raise_exception=False)
    assert result is False


def test_rejects_float32_inputs():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="input 0 has dtype float32"):
        gradcheck(lambda x: x * 2, [x])


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input Tensor requires grad"):
        gradcheck(lambda x: x * 2, [Tensor(np.ones(3), dtype=np.float64)])


def test_constant_inputs_are_allowed_and_left_alone():
    c = np.array([1.0, 2.0, 3.0])
    x = _input(3)
    assert gradcheck(lambda x, c: x * c, [x, c], seed=7)
    np.testing.assert_array_equal(c, [1.0, 2.0, 3.0])
    # The analytic gradient left in x.grad is c times the random cotangent drawn from ``seed``.
    cotangent = np.random.default_rng(7).standard_normal(3)
    np.testing.assert_allclose(x.grad.arr, c * cotangent)


def test_missing_gradient_is_caught():
    # An output that ignores the graph (detached) has analytic gradient 0 but a numerical one.
    x = _input(3)
    with pytest.raises(GradcheckError, match="analytic 0, numerical"):
        gradcheck(lambda x: x.detach() * 2 + x * 0, [x])


def test_tuple_outputs_are_all_checked():
    x = _input(3)
    assert gradcheck(lambda x: (x * 2, x.exp()), [x])
    check_op(lambda x: (x * 2, x.exp()), x)
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: (x * 2, _scale(x, "wrong_factor")), [x])


def test_leaves_the_inputs_unchanged():
    x = _input((2, 2))
    before = x.arr.copy()
    gradcheck(lambda x: (x * x).sum(), [x])
    np.testing.assert_array_equal(x.arr, before)


def test_works_inside_no_grad():
    x = _input(3)
    with fastgrad.no_grad():
        assert gradcheck(lambda x: x.exp(), [x])
        check_op(lambda x: x.exp(), x)


def test_gradcheck_and_gradgradcheck_accept_empty_inputs():
    # an empty array shares no memory with anything, which once read as "not contiguous"
    x = fastgrad.tensor(np.zeros((0, 3)), dtype=fastgrad.float64, requires_grad=True)
    y = fastgrad.tensor(np.ones(3), dtype=fastgrad.float64, requires_grad=True)
    assert fastgrad.autograd.gradcheck(lambda x, y: x * y * y, [x, y])
    assert fastgrad.autograd.gradgradcheck(lambda x, y: x * y * y, [x, y])

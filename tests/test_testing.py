"""fastgrad.testing itself: assert_close passes and fails where torch.testing's would, and
check_op catches ops that break each clause of the contract."""
import numpy as np
import pytest

import fastgrad
from fastgrad import Tensor
from fastgrad.autograd import GradFn
from fastgrad.testing import assert_close, check_op


# ---------------------------------------------------------------------------- assert_close
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float16, 1e-3, 1e-5), (np.float32, 1.3e-6, 1e-5),
                                             (np.float64, 1e-7, 1e-7)])
def test_default_tolerances_are_pytorchs(dtype, rtol, atol):
    expected = np.array([0.0, 1.0, 100.0])
    allowed = atol + rtol * np.abs(expected)
    inside = (expected + 0.8 * allowed).astype(dtype)
    outside = (expected + 1.5 * allowed).astype(dtype)
    # The cast to ``dtype`` rounds: make sure each side of the edge is still where it should be.
    assert np.all(np.abs(inside - expected) <= allowed)
    assert np.all(np.abs(outside - expected) > allowed)
    assert_close(inside, expected.astype(dtype))
    with pytest.raises(AssertionError, match="Mismatched elements: 3 / 3"):
        assert_close(outside, expected.astype(dtype))


def test_float32_default_rtol_is_1_3e_6():
    expected = np.array([1000.0], dtype=np.float32)
    assert_close(np.array([1000.0009], dtype=np.float32), expected)  # within 1e-5 + 1.3e-3
    with pytest.raises(AssertionError):
        assert_close(np.array([1000.002], dtype=np.float32), expected)


def test_integers_and_bools_compare_exactly():
    assert_close(np.array([1, 2]), np.array([1, 2]))
    with pytest.raises(AssertionError, match="Tensor-likes are not equal!"):
        assert_close(np.array([1, 2]), np.array([1, 3]))
    with pytest.raises(AssertionError, match="not equal"):
        assert_close(np.array([True]), np.array([False]))


def test_mismatch_message_counts_and_locates_as_torch():
    actual = Tensor(np.array([[1.0, 2.0], [3.0, 4.5]]), dtype=np.float64)
    expected = np.array([[1.0, 2.0], [3.1, 4.0]])
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected)
    assert str(info.value).splitlines() == [
        "Tensor-likes are not close!",
        "",
        "Mismatched elements: 2 / 4 (50.0%)",
        "Greatest absolute difference: 0.5 at index (1, 1) (up to 1e-07 allowed)",
        f"Greatest relative difference: {0.5 / 4.0} at index (1, 1) (up to 1e-07 allowed)",
    ]


def test_nan_is_equal_only_with_equal_nan():
    a = np.array([1.0, np.nan])
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        assert_close(a, a.copy())
    assert_close(a, a.copy(), equal_nan=True)
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan]), np.array([1.0]), equal_nan=True)


def test_infinities_equal_only_to_themselves():
    assert_close(np.array([np.inf, -np.inf]), np.array([np.inf, -np.inf]))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.inf]), np.array([-np.inf]))


def test_dtype_mismatch_fails_unless_unchecked():
    a32, a64 = np.ones(2, dtype=np.float32), np.ones(2, dtype=np.float64)
    with pytest.raises(AssertionError, match="attribute 'dtype' do not match: float32 != float64"):
        assert_close(a32, a64)
    assert_close(a32, a64, check_dtype=False)
    with pytest.raises(AssertionError, match="'dtype'"):
        assert_close(1, 1.0)  # two Python numbers of different types, as in torch


def test_unchecked_dtypes_use_the_looser_tolerance():
    # float32's atol (1e-5) applies when a float32 and a float64 array are compared.
    assert_close(np.array([5e-6], dtype=np.float32), np.zeros(1), check_dtype=False)


def test_shape_mismatch_fails_even_when_broadcastable():
    with pytest.raises(AssertionError, match=r"'shape' do not match: \(1,\) != \(3,\)"):
        assert_close(np.ones(1), np.ones(3))
    with pytest.raises(AssertionError, match="'shape'"):
        assert_close(np.float64(1.0), np.ones(1))


def test_python_numbers_take_the_other_sides_dtype():
    assert_close(fastgrad.tensor([1.0, 2.0]), [1.0, 2.0])  # float32 tensor, Python floats
    assert_close(fastgrad.tensor(3.0).sum(), 3.0)
    with pytest.raises(AssertionError):
        assert_close(fastgrad.tensor([1, 2]), [1, 3])


def test_explicit_tolerances_must_come_in_pairs():
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        assert_close(1.0, 1.0, rtol=1e-3)
    assert_close(np.array([1.0]), np.array([1.05]), rtol=0.1, atol=0.0)


def test_msg_replaces_or_rewrites_the_message():
    with pytest.raises(AssertionError, match="^custom$"):
        assert_close(1.0, 2.0, msg="custom")
    with pytest.raises(AssertionError, match="^context: Tensor-likes are not close"):
        assert_close(1.0, 2.0, msg=lambda m: "context: " + m)


def test_rejects_what_it_cannot_compare():
    with pytest.raises(TypeError, match="cannot compare a str"):
        assert_close("a", "a")


# ------------------------------------------------------------------------------- check_op
class _BrokenScaleGradFn(GradFn):
    """out = 3 * x, with a backward that breaks the contract as ``how`` says while giving
    gradcheck the right numbers."""

    def __init__(self, x, how):
        super().__init__(x)
        self.x, self.how = x, how

    def backward(self, grad_output):
        if self.how == "mutates input":
            self.x.arr += 1.0  # d(3x)/dx does not depend on x: gradcheck cannot see this
        elif self.how == "mutates grad_output":
            grad_output *= 3.0
            return (grad_output,)
        return (grad_output * 3.0,)


def _broken_scale(x, how):
    return Tensor._wrap(x.arr * 3.0, _BrokenScaleGradFn(x, how))


class _SelfAccumulatingSumGradFn(GradFn):
    """out = x + y for two leaves, with a backward that sets their ``.grad`` itself (right
    values, arrays it does not own) instead of returning the gradients to the engine, which
    would copy them; ``alias`` says whose memory the gradients share."""

    def __init__(self, x, y, alias):
        super().__init__(x, y)
        self.leaves, self.alias = (x, y), alias

    def backward(self, grad_output):
        x, y = self.leaves
        if self.alias == "grad_output":
            x.grad = Tensor(grad_output, dtype=grad_output.dtype)  # wraps without a copy
            y.grad = Tensor(grad_output.copy(), dtype=grad_output.dtype)
        else:
            shared = grad_output.copy()
            x.grad = Tensor(shared, dtype=shared.dtype)
            y.grad = Tensor(shared, dtype=shared.dtype)
        return (None, None)


def _self_accumulating_sum(x, y, alias):
    return Tensor._wrap(x.arr + y.arr, _SelfAccumulatingSumGradFn(x, y, alias))


class _GradIsConstantGradFn(GradFn):
    """out = x (a copy), with a backward that hands ``x`` the constant input's array as its
    gradient: right only because the test passes check_op's own cotangent as that constant."""

    def __init__(self, x, constant):
        super().__init__(x)
        self.x, self.constant = x, constant

    def backward(self, grad_output):
        self.x.grad = self.constant
        return (None,)


def test_a_correct_op_passes():
    check_op(lambda a, b: a * b + a.exp(), np.array([[0.5, -1.0, 2.0]]), np.array([[1.5], [0.3]]),
             extra_shapes=[((), ()), ((0, 3), (3,)), ((2, 0), (1, 1))])


def test_catches_a_wrong_gradient():
    with pytest.raises(AssertionError, match=r"check_op\(wrong\).*gradcheck \(float64\).*input 0"):
        check_op(lambda x: x * 2 + x.detach(), np.array([1.0, 2.0]), name="wrong")


class _CubeGradFn(GradFn):
    """x ** 3 with a backward whose second derivative is wrong: it reads x as a constant."""

    def __init__(self, x):
        super().__init__(x)
        self.save_for_backward(x)

    def backward(self, grad_output):
        x, = self.saved_tensors
        x = x.arr if isinstance(x, Tensor) else x
        return (grad_output * 3 * x * x,)


def test_catches_a_wrong_second_derivative():
    with pytest.raises(AssertionError,
                       match=r"check_op\(cube\).*gradgradcheck \(float64\).*input 0"):
        check_op(lambda x: Tensor._wrap(x.arr ** 3, _CubeGradFn(x)), np.array([1.0, 2.0]),
                 name="cube")
    check_op(lambda x: Tensor._wrap(x.arr ** 3, _CubeGradFn(x)), np.array([1.0, 2.0]),
             second_order=False)  # right first derivatives


def test_catches_a_backward_that_mutates_its_input():
    with pytest.raises(AssertionError, match="inputs left alone: input 0 was changed"):
        check_op(lambda x: _broken_scale(x, "mutates input"), np.array([1.0, 2.0]))


def test_catches_a_backward_that_mutates_grad_output():
    with pytest.raises(AssertionError, match=r"cotangent of output 0 \(grad_output\) was changed"):
        # (these broken nodes are first-order only: the second-order clause is not the point)
        check_op(lambda x: _broken_scale(x, "mutates grad_output"), np.array([1.0, 2.0]),
                 second_order=False)


def test_catches_a_grad_sharing_memory_with_grad_output():
    with pytest.raises(AssertionError, match="gradients own their memory: the .grad of input 0 "
                                             "shares memory with the cotangent of output 0"):
        check_op(lambda x, y: _self_accumulating_sum(x, y, "grad_output"),
                 np.array([1.0, 2.0]), np.array([3.0, 4.0]), second_order=False)


def test_catches_two_grads_sharing_memory():
    with pytest.raises(AssertionError,
                       match="the .grad of input 0 shares memory with the .grad of input 1"):
        check_op(lambda x, y: _self_accumulating_sum(x, y, "each other"),
                 np.array([1.0, 2.0]), np.array([3.0, 4.0]), second_order=False)


def test_catches_a_grad_sharing_memory_with_an_input():
    cotangent = np.random.default_rng(0).standard_normal(2)  # the one check_op draws (seed 0)
    constant = Tensor(cotangent, dtype=np.float64)  # an input that does not require grad
    with pytest.raises(AssertionError, match="the .grad of input 0 shares memory with input 1"):
        check_op(lambda x, c: Tensor._wrap(x.arr.copy(), _GradIsConstantGradFn(x, c)),
                 np.array([1.0, 2.0]), constant)


def test_catches_float32_turned_into_float64():
    with pytest.raises(AssertionError, match="float32 stays float32: an output has dtype float64"):
        check_op(lambda x: x.double() * 2, np.array([1.0, 2.0]))
    check_op(lambda x: x.double() * 2, np.array([1.0, 2.0]), check_dtype=False)


def test_catches_an_op_returning_its_input():
    with pytest.raises(AssertionError, match="returns a new Tensor"):
        check_op(lambda x: x, np.array([1.0, 2.0]), name="identity")
    check_op(lambda x: x.contiguous(), np.array([1.0, 2.0]), may_return_input=True)


def test_extra_shapes_reach_0d_and_empty_inputs():
    # An op written for 1-D inputs only: fine on the given input, failing on a 0-d one.
    def first_axis_scale(x):
        return x * x.shape[0]

    check_op(first_axis_scale, np.array([1.0, 2.0]), extra_shapes=[((0,),), ((3,),)])
    with pytest.raises(AssertionError, match=r"check_op\(first_axis_scale\) on inputs of "
                                             r"shapes \[\(\)\].*IndexError"):
        check_op(first_axis_scale, np.array([1.0, 2.0]), extra_shapes=[((),)])


def test_extra_shapes_must_give_one_shape_per_differentiable_input():
    with pytest.raises(ValueError, match="has 1 shapes for 2 differentiable inputs"):
        check_op(lambda a, b: a + b, np.ones(2), np.ones(2), extra_shapes=[((),)])


def test_extra_shape_values_come_from_the_given_input():
    # log needs positive inputs: the 0-d and (2, 3) inputs drawn from [1, 2] stay positive.
    check_op(fastgrad.log, np.array([1.0, 2.0]), extra_shapes=[((),), ((2, 3),)])


def test_integer_inputs_pass_through_as_constants():
    index = np.array([2, 0])
    check_op(lambda x, i: x[i], np.array([1.0, 2.0, 3.0]), index)

"""Every tensor-level name a porting user meets (issue 11's list) exists, as a fastgrad
function and, where PyTorch has one, a Tensor method of the same name."""
import pytest

import fastgrad
import fastgrad.nn.functional as F

FUNCTIONS = """
sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh floor ceil round trunc frac
sign sgn copysign rsqrt reciprocal square log2 log10 log1p exp2 expm1 erf erfc erfinv lerp
logaddexp hypot fmod remainder isinf isnan isfinite isclose allclose nan_to_num
floor_divide div bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift
gather scatter scatter_add scatter_reduce index_select index_add index_fill masked_fill
masked_scatter masked_select take take_along_dim nonzero argwhere where
cumsum cumprod cummax cummin logcumsumexp sort argsort topk kthvalue median mode unique
searchsorted bincount histc
prod all any std_mean var_mean count_nonzero norm nansum nanmean
flip fliplr flipud roll tril triu diag diagonal diag_embed trace split chunk tensor_split
unbind repeat_interleave meshgrid movedim swapaxes narrow atleast_1d atleast_2d atleast_3d
broadcast_tensors
einsum outer inner dot mv bmm baddbmm addmm tensordot kron cross
linspace full_like zeros_like ones_like tril_indices triu_indices logspace
""".split()

# Names that PyTorch has as functions only (no Tensor method).
FUNCTION_ONLY = {"atleast_1d", "atleast_2d", "atleast_3d", "broadcast_tensors", "meshgrid",
                 "einsum", "tensordot", "linspace", "full_like", "zeros_like", "ones_like",
                 "tril_indices", "triu_indices", "logspace", "searchsorted", "std_mean", "var_mean"}

METHODS_ONLY = ["unfold"]  # Tensor.unfold (torch.unfold does not exist)

ACTIVATIONS = """
gelu silu elu celu selu leaky_relu relu6 hardtanh hardsigmoid hardswish softplus mish
logsigmoid softsign tanhshrink glu softmin
""".split()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_exists(name):
    assert callable(getattr(fastgrad, name, None)), f"fastgrad.{name} is missing"


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n not in FUNCTION_ONLY] + METHODS_ONLY)
def test_tensor_method_exists(name):
    assert callable(getattr(fastgrad.Tensor, name, None)), f"Tensor.{name} is missing"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_exists(name):
    assert callable(getattr(F, name, None)), f"nn.functional.{name} is missing"


def test_linalg_vector_norm_exists():
    assert callable(fastgrad.linalg.vector_norm)


@pytest.mark.parametrize("op", ["__floordiv__", "__mod__", "__and__", "__or__", "__xor__",
                                "__lshift__", "__rshift__", "__rfloordiv__", "__rmod__"])
def test_operator_exists(op):
    assert callable(getattr(fastgrad.Tensor, op, None))


def test_tensor_where_takes_its_own_values_where_the_condition_holds():
    x = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = x.where(fastgrad.tensor([True, False, True]), fastgrad.zeros(3))
    assert out.tolist() == [1.0, 0.0, 3.0]
    out.backward(fastgrad.tensor([1.0, 1.0, 1.0]))
    assert x.grad.tolist() == [1.0, 0.0, 1.0]

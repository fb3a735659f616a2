"""ReLU forward and backward, each one pass over its arrays.

Why: NumPy needs two passes and two temporaries for the forward (``np.maximum``, then the
mask ``~(out <= 0)``) and a float-by-bool multiply for the backward: 12 us of the MLP's
(64, 256) layer against ~4 here (docs/performance.md, "ReLU in one pass").
PyTorch's rules, which the NumPy version did not quite follow: relu(-0.0) is -0.0, NaN passes
forward, and the backward is threshold_backward's ``0 if out <= 0 else grad``, so a NaN
gradient where the output is <= 0 gives 0, not NaN.

Callers (``ops/elementwise.py``) pass C-contiguous arrays of one shape; the forward's input and
output share a float dtype, the backward's gradient and result likewise.
"""
import numba

__all__ = ["relu_forward", "relu_backward"]


@numba.njit(cache=True, nogil=True)
def relu_forward(x, out, passes):
    """out = 0 where x < 0, else x (NaN and -0.0 pass as they are); passes = not (out <= 0),
    the mask of where the backward lets the gradient through."""
    source = x.reshape(-1)
    result = out.reshape(-1)
    mask = passes.reshape(-1)
    for i in range(source.size):
        value = source[i]
        kept = 0 if value < 0 else value
        result[i] = kept
        mask[i] = not (kept <= 0)


@numba.njit(cache=True, nogil=True)
def relu_backward(grad_output, passes, grad_input):
    """grad_input = grad_output where passes, else 0."""
    grad = grad_output.reshape(-1)
    mask = passes.reshape(-1)
    result = grad_input.reshape(-1)
    for i in range(grad.size):
        result[i] = grad[i] if mask[i] else 0

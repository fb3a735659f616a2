"""linear(x, weight, bias) = x @ weight.T + bias as one node (one GEMM each way, no transposed
copies): the layer every MLP step spends most of its time in."""
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.ops import backend
from fastgrad.ops.gemm import matmul, matmul_transposed_rhs


class LinearGradFn(GradFn):
    fresh_grads = True  # GEMM results and a sum: the weight and bias gradients need no copy

    def __init__(self, x, weight, bias):
        super().__init__(x, weight, bias)
        need_x, need_w, _ = self.needs_input_grad
        self.x_shape = x.arr.shape
        self.save_for_backward(x if need_w else None, weight if need_x else None)

    def backward(self, grad_output):
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        # Flatten leading batch dims so every gradient is one 2-D GEMM.
        g2 = grad_output.reshape(-1, grad_output.shape[-1])
        grad_x = None
        if need_x:
            grad_x = backend.matmul(g2, weight)
            if grad_x.shape != self.x_shape:
                grad_x = grad_x.reshape(self.x_shape)
        grad_w = backend.matmul(g2.T, x.reshape(-1, x.shape[-1])) if need_w else None
        grad_b = g2.sum(axis=0) if need_b else None
        return grad_x, grad_w, grad_b


def linear(x, weight, bias=None):
    """x (*, in_features), weight (out_features, in_features), bias (out_features,) -> (*, out_features)."""
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied (input shape {x.shape}, weight shape "
            f"{weight.shape}: the input's last dim must be in_features={weight.shape[1]})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise RuntimeError(f"linear: bias shape {bias.shape} does not match out_features {weight.shape[0]}")
    if x.ndim == 2:
        out = matmul_transposed_rhs(x.arr, weight.arr, None if bias is None else bias.arr)
    else:
        out = matmul(x.arr, weight.arr.T)
        if bias is not None:
            out += bias.arr  # ``out`` is a fresh GEMM result, so adding in place is safe
    fn = LinearGradFn(x, weight, bias) if needs_grad(x, weight, bias) else None
    return Tensor._wrap(out, fn)

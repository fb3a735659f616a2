"""The autograd core: Tensor, the GradFn graph node, the backward engine, grad mode, gradcheck,
``grad`` / ``backward`` (first and higher order) and ``functional``."""
from fastgrad.autograd.differentiate import backward, grad
from fastgrad.autograd.function import GradFn, unbroadcast
from fastgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from fastgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from fastgrad.autograd.tensor import Tensor
from fastgrad.autograd import functional  # noqa: F401,E402

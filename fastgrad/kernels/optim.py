"""Optimiser updates as one pass over a parameter's memory.

Why: SGD with momentum in NumPy is four passes over the parameter, its gradient and its
momentum buffer (``buf *= m``, ``buf += g``, ``-lr * buf``, ``p += ...``), each a ufunc call;
for a parameter that does not fit in cache, such as the MLP's 784x256 weight, each pass goes
to memory. One loop reads each array once, and one call costs less than four (docs/
performance.md, "SGD in one pass").
"""
import numba

__all__ = ["sgd_momentum_update"]


@numba.njit(cache=True, nogil=True)
def sgd_momentum_update(param, grad, buf, lr, momentum):
    """buf = momentum * buf + grad; param -= lr * buf, elementwise, in place.

    param, grad, buf: C-contiguous arrays of one shape and one float dtype; lr, momentum
    scalars of that dtype. The same float operations in the same order as the NumPy update
    (a multiply, then an add, rounded each), so the results are bit-identical to it.
    """
    p = param.reshape(-1)
    g = grad.reshape(-1)
    b = buf.reshape(-1)
    for i in range(p.size):
        v = momentum * b[i] + g[i]
        b[i] = v
        p[i] -= lr * v

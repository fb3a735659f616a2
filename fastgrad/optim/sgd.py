"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""
import numpy as np

from fastgrad.kernels import chunk_programs as programs
from fastgrad.kernels.optim import sgd_momentum_update
from fastgrad.kernels.threads import batch_chunks, run_compiled_chunks
from fastgrad.optim.optimizer import Optimizer, _float_hyper, _implementation_options


def _fits_one_pass_update(param, grad, buf):
    """Whether ``sgd_momentum_update`` applies: the parameter, its gradient and its buffer
    C-contiguous, of one shape and one float dtype (at any size: a call costs ~0.4 us, less
    than the NumPy passes it replaces; docs/performance.md, "SGD in one pass")."""
    return (param.dtype == grad.dtype == buf.dtype
            and param.shape == grad.shape == buf.shape and param.flags.c_contiguous
            and grad.flags.c_contiguous and buf.flags.c_contiguous
            and not np.shares_memory(param, grad))


# A parameter of at least this many elements is updated by all of fastgrad's threads, each a
# contiguous part (a memory-bound pass; docs/performance.md, "SGD in one pass").
_SPLIT_MIN_ELEMENTS = 32768


def _one_pass_update(p, grad, buf, lr, momentum):
    """buf = momentum * buf + grad; p -= lr * buf, in one pass (``kernels/optim.py``)."""
    dtype = p.arr.dtype.type
    chunks = batch_chunks(p.arr.size) if p.arr.size >= _SPLIT_MIN_ELEMENTS else ()
    if len(chunks) > 1 and programs.compiled_dtype(p.arr):
        hyper = np.array([lr, momentum], dtype=dtype)
        rows = programs.new_rows(len(chunks), programs.SGD_MOMENTUM, p.arr.dtype)
        programs.encode_sgd_momentum(rows, p.arr, grad, buf, hyper, chunks)
        run_compiled_chunks(rows)
    else:
        sgd_momentum_update(p.arr, grad, buf, dtype(lr), dtype(momentum))
    p._bump_version()


class SGD(Optimizer):
    r"""Stochastic gradient descent, with PyTorch's update rule.

    For each parameter ``p`` with gradient ``grad``, at step ``t``::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        if momentum != 0:
            if t == 1:  buf = g                      (a copy: the buffer is not damped)
            else:       buf = momentum * buf + (1 - dampening) * g
            g = g + momentum * buf  if nesterov  else  buf
        p = p - lr * g

    As PyTorch's code (and unlike its docs' pseudo-code), ``maximize`` negates the gradient
    before weight decay, so weight decay still shrinks ``p`` when maximising.

    State per parameter: ``'momentum_buffer'`` (only when ``momentum != 0``).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        **_implementation_options(foreach, differentiable, fused=fused))
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One SGD update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            lr = _float_hyper(group["lr"])
            momentum = _float_hyper(group["momentum"])
            dampening = _float_hyper(group["dampening"])
            weight_decay = _float_hyper(group["weight_decay"])
            nesterov = group["nesterov"]
            for p in self._params_with_grad(group):
                g = self._grad_array(p, group["maximize"])
                if weight_decay != 0:
                    g = g + weight_decay * p.arr
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = np.array(g, dtype=p.arr.dtype, copy=True)
                        state["momentum_buffer"] = buf
                    elif (dampening == 0 and not nesterov and weight_decay == 0
                          and _fits_one_pass_update(p.arr, g, buf)):
                        _one_pass_update(p, g, buf, lr, momentum)
                        continue
                    else:
                        buf *= momentum
                        # (1 - 0) * g is g exactly: skip that multiply and its temporary
                        buf += g if dampening == 0 else (1.0 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                self._apply_update(p, g, -lr)
        return loss

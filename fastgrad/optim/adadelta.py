"""Adadelta: step sizes from the ratio of running RMS of updates and of gradients."""
import numpy as np

from fastgrad.optim.optimizer import Optimizer, _float_hyper, _implementation_options


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler), with PyTorch's update rule.

    For each parameter ``p`` with gradient ``grad``::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                          (v, u start at zero)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    State per parameter: ``'step'``, ``'square_avg'`` (v) and ``'acc_delta'`` (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        **_implementation_options(foreach, differentiable, capturable=capturable))
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adadelta update of each parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            self._refuse_capturable(group)
            lr = _float_hyper(group["lr"])
            rho = _float_hyper(group["rho"])
            eps = _float_hyper(group["eps"])
            weight_decay = _float_hyper(group["weight_decay"])
            for p in self._params_with_grad(group):
                g = self._grad_array(p, group["maximize"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.arr)
                    state["acc_delta"] = np.zeros_like(p.arr)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.arr
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                square_avg *= rho
                square_avg += (1.0 - rho) * (g * g)
                std = np.sqrt(square_avg + eps)
                delta = np.sqrt(acc_delta + eps) / std * g
                acc_delta *= rho
                acc_delta += (1.0 - rho) * (delta * delta)
                self._apply_update(p, delta, -lr)
        return loss

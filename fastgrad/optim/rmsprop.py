"""RMSprop, optionally centered and with momentum."""
import numpy as np

from fastgrad.optim.optimizer import Optimizer, _float_hyper, _implementation_options, _lerp_


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), with PyTorch's update rule.

    For each parameter ``p`` with gradient ``grad``::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g                      (v, g_avg, buf start at zero)
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            avg = sqrt(v - g_avg * g_avg) + eps
        else:
            avg = sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg

    Note ``eps`` is added outside the square root. State per parameter: ``'step'``,
    ``'square_avg'`` (v), ``'momentum_buffer'`` (momentum > 0), ``'grad_avg'`` (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize,
                        **_implementation_options(foreach, differentiable, capturable=capturable))
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One RMSprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            self._refuse_capturable(group)
            lr = _float_hyper(group["lr"])
            alpha = _float_hyper(group["alpha"])
            eps = _float_hyper(group["eps"])
            weight_decay = _float_hyper(group["weight_decay"])
            momentum = _float_hyper(group["momentum"])
            centered = group["centered"]
            for p in self._params_with_grad(group):
                g = self._grad_array(p, group["maximize"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.arr)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p.arr)
                    if centered:
                        state["grad_avg"] = np.zeros_like(p.arr)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.arr

                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1.0 - alpha) * (g * g)
                if centered:
                    grad_avg = state.setdefault("grad_avg", np.zeros_like(p.arr))
                    _lerp_(grad_avg, g, 1.0 - alpha)
                    avg = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg = avg + eps
                if momentum > 0:
                    buf = state.setdefault("momentum_buffer", np.zeros_like(p.arr))
                    buf *= momentum
                    buf += g / avg
                    self._apply_update(p, buf, -lr)
                else:
                    self._apply_update(p, g / avg, -lr)
        return loss

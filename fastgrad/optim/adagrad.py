"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""
import numpy as np

from fastgrad.optim.optimizer import Optimizer, _float_hyper, _implementation_options


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.), with PyTorch's update rule.

    For each parameter ``p`` with gradient ``grad``; ``t`` counts this parameter's steps::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                        (sum starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(sum) + eps)

    State per parameter: ``'step'`` and ``'sum'``. As in PyTorch, the state is created when
    the optimizer is built (so a fresh optimizer's ``state_dict()`` already holds it).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize,
                        **_implementation_options(foreach, differentiable, fused=fused))
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = 0
        state["sum"] = np.full_like(p.arr, _float_hyper(group["initial_accumulator_value"]))

    def step(self, closure=None):
        """One Adagrad update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            lr = _float_hyper(group["lr"])
            lr_decay = _float_hyper(group["lr_decay"])
            weight_decay = _float_hyper(group["weight_decay"])
            eps = _float_hyper(group["eps"])
            for p in self._params_with_grad(group):
                g = self._grad_array(p, group["maximize"])
                state = self.state[p]
                if not state:
                    # A parameter added by add_param_group after construction.
                    self._init_state(p, group)
                state["step"] += 1
                t = state["step"]
                if weight_decay != 0:
                    g = g + weight_decay * p.arr
                clr = lr / (1.0 + (t - 1) * lr_decay)
                state_sum = state["sum"]
                state_sum += g * g
                std = np.sqrt(state_sum) + eps
                self._apply_update(p, g / std, -clr)
        return loss
